"""The simulated PBX's event clock: every event of its call scripts still to send, in time order, each
with the call it belongs to. Not locked: the PBX's lock guards it."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from telephony.simulator.scenario import Fields


@dataclass(order=True, slots=True)
class _Due:
    at: float
    seq: int
    fields: Fields = field(compare=False)
    call: str = field(compare=False, default="")


class EventClock:
    def __init__(self) -> None:
        self._heap: list[_Due] = []
        self._seq = itertools.count()  # events due at the same time go in the order they were added

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, at: float, fields: Fields, call: str = "") -> None:
        heapq.heappush(self._heap, _Due(at, next(self._seq), fields, call))

    def drop(self, call: str, when: Callable[[float], bool] = lambda at: True) -> None:
        """Forget the events of `call` due at a time `when` accepts (all of them by default)."""
        self._heap = [d for d in self._heap if not (d.call == call and when(d.at))]
        heapq.heapify(self._heap)

    def take_due(self, now: float) -> list[Fields]:
        """The events due by `now`, in order; they are gone from the clock."""
        due: list[Fields] = []
        while self._heap and self._heap[0].at <= now:
            due.append(heapq.heappop(self._heap).fields)
        return due

    def any_due_by(self, at: float) -> bool:
        return any(d.at <= at for d in self._heap)

    def next_at(self) -> float | None:
        return self._heap[0].at if self._heap else None

    def clear(self) -> None:
        self._heap.clear()
