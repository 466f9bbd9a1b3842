"""Queue wait limits (the AMI listener's side): a caller waiting in a queue longer than that
queue's limit is Redirected into the dialplan's `[callback-offer]` (see `hotline asterisk-config`),
where the IVR offers a callback (key 1: a callback request, recorded as a callback task, and a
goodbye; anything else: back to the same queue). Each call is moved at most once: the watcher
remembers whom it moved, and asks the channel's CALLBACK_OFFER (set by the dialplan) first, so a
restarted listener does not move a caller a second time either.

Subscribe `watcher.on_event` to the bus; the watcher's own thread sends the Redirects.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from telephony.actions import Actions
from telephony.connection import AmiError
from telephony.events import CallEnded, CallLeftQueue, CallQueued, DomainEvent
from telephony.pbxlink import PbxNotConnected

log = logging.getLogger(__name__)

CALLBACK_CONTEXT = "callback-offer"
OFFERED_VARIABLE = "CALLBACK_OFFER"  # set on the channel by [callback-offer]: offered once, never moved again
_FORGET_AFTER = 10_000  # moved calls remembered (a call is moved at most once)


class WaitLimitError(ValueError):
    """A wait limit that cannot be used (unknown queue name form, not a positive number of seconds)."""


def check_limits(limits: Mapping[str, float]) -> dict[str, float]:
    """Queue name -> seconds, checked: names as Asterisk's queues.conf has them, limits 1 s to 1 day."""
    out: dict[str, float] = {}
    for queue, seconds in limits.items():
        if not queue or not all(ch.isalnum() or ch in "_-" for ch in queue):
            raise WaitLimitError(f"queue name {queue!r} is not a queue name (letters, digits, _ and -)")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 1 <= seconds <= 86_400:
            raise WaitLimitError(f"wait limit of queue {queue!r} must be 1 to 86400 seconds, not {seconds!r}")
        out[queue] = float(seconds)
    return out


@dataclass(frozen=True, slots=True)
class WaitLimitMove:
    """One caller moved (or not: ok False) to the callback offer."""

    linkedid: str
    queue: str
    channel: str
    waited_s: float  # in the queue when the Redirect went out
    due_at: float  # when the limit passed
    done_at: float  # when Asterisk answered the Redirect
    ok: bool
    detail: str = ""

    @property
    def latency_s(self) -> float:
        return self.done_at - self.due_at


@dataclass(slots=True)
class _Waiting:
    linkedid: str
    queue: str
    channel: str
    since: float


class WaitLimitWatcher:
    """Watches waiting callers (CallQueued / CallLeftQueue / CallEnded) and moves those past their
    queue's limit. `actions_for(linkedid)` gives the Actions of the call's Asterisk."""

    def __init__(self, actions_for: Callable[[str], Actions], limits: Mapping[str, float], *,
                 context: str = CALLBACK_CONTEXT, clock: Callable[[], float] = time.time,
                 on_move: Callable[[WaitLimitMove], None] | None = None, tick_s: float = 0.1) -> None:
        self.actions_for = actions_for
        self.limits = check_limits(limits)
        self.context = context
        self.clock = clock
        self.on_move = on_move
        self.tick_s = tick_s
        self.moves: list[WaitLimitMove] = []
        self._waiting: dict[str, _Waiting] = {}
        self._moved: OrderedDict[str, None] = OrderedDict()
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="wait-limit", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ events (AMI thread)
    def on_event(self, event: DomainEvent) -> None:
        if isinstance(event, CallQueued):
            if event.queue in self.limits and event.linkedid not in self._moved and event.channel:
                with self._cond:
                    self._waiting[event.linkedid] = _Waiting(event.linkedid, event.queue, event.channel, event.at)
                    self._cond.notify()
        elif isinstance(event, CallLeftQueue):
            with self._cond:
                w = self._waiting.get(event.linkedid)
                if w is not None and w.queue == event.queue:
                    del self._waiting[event.linkedid]
        elif isinstance(event, CallEnded):
            with self._cond:
                self._waiting.pop(event.record.linkedid, None)

    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    # ------------------------------------------------------------------ the watcher's thread
    def _due(self, now: float) -> list[tuple[_Waiting, float]]:
        due = []
        for w in list(self._waiting.values()):
            at = w.since + self.limits[w.queue]
            if at <= now:
                due.append((w, at))
                del self._waiting[w.linkedid]
                self._moved[w.linkedid] = None
                if len(self._moved) > _FORGET_AFTER:
                    self._moved.popitem(last=False)
        return due

    def _next_due(self) -> float | None:
        return min((w.since + self.limits[w.queue] for w in self._waiting.values()), default=None)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stop:
                    return
                nxt = self._next_due()
                wait = self.tick_s if nxt is None else max(0.0, min(nxt - self.clock(), 1.0))
                if wait > 0:
                    self._cond.wait(wait)
                if self._stop:
                    return
                due = self._due(self.clock())
            for w, at in due:
                self._move(w, at)

    def _move(self, w: _Waiting, due_at: float) -> None:
        start = self.clock()
        try:
            actions = self.actions_for(w.linkedid)
            if actions.getvar(w.channel, OFFERED_VARIABLE):
                # offered before (e.g. by a listener that has restarted since): never twice
                move = WaitLimitMove(w.linkedid, w.queue, w.channel, round(start - w.since, 3), due_at, self.clock(),
                                     False, f"{OFFERED_VARIABLE} already set: offered before")
                log.info("call %s past the wait limit of %s again: already offered a callback", w.linkedid, w.queue)
                self._record(move)
                return
            actions.redirect(w.channel, self.context, w.queue, 1)
            move = WaitLimitMove(w.linkedid, w.queue, w.channel, round(start - w.since, 3), due_at, self.clock(), True)
            log.info("call %s waited %.0f s in %s (limit %.0f s): moved to the callback offer", w.linkedid,
                     start - w.since, w.queue, self.limits[w.queue])
        except (AmiError, PbxNotConnected, LookupError) as exc:  # gone meanwhile, or the PBX refused: it stays queued
            move = WaitLimitMove(w.linkedid, w.queue, w.channel, round(start - w.since, 3), due_at, self.clock(),
                                 False, str(exc))
            log.warning("call %s not moved to the callback offer: %s", w.linkedid, exc)
        self._record(move)

    def _record(self, move: WaitLimitMove) -> None:
        self.moves.append(move)
        if self.on_move is not None:
            try:
                self.on_move(move)
            except Exception:
                log.exception("wait-limit move hook failed")

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
