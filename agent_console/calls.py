"""What the console remembers about calls in progress: IVR digits and variables per Linkedid.

Fed from the domain events in order (on the console's dispatcher thread); bounded so a
stream of calls whose CallEnded never arrives cannot grow it without limit.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace

from telephony.events import (
    CallAnswered,
    CallEnded,
    CallLeftQueue,
    CallQueued,
    CallStarted,
    CallVariable,
    DomainEvent,
    IvrDigit,
)
from telephony.records import CallRecord, join_ivr_path

log = logging.getLogger(__name__)

MAX_CALLS = 2000
MAX_RECENT = 20


@dataclass(slots=True)
class CallInfo:
    """One live call as the console saw it so far."""

    linkedid: str
    caller: str = ""
    caller_name: str = ""
    dialed: str = ""
    hotline: str = ""
    started_at: float | None = None
    digits: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    queue: str | None = None
    in_queue: bool = False
    agent: str | None = None  # the agent talking (CallAnswered)
    answered_at: float | None = None
    ivr_path: str | None = None  # every IVR visit so far (IVR_PATH values, telephony.records.join_ivr_path)

    @property
    def waybill(self) -> str | None:
        return self.variables.get("WAYBILL") or None


class CallMemory:
    """Live calls by Linkedid (dropped on CallEnded) and the last few ended calls."""

    def __init__(self, max_calls: int = MAX_CALLS, max_recent: int = MAX_RECENT) -> None:
        self._calls: OrderedDict[str, CallInfo] = OrderedDict()
        self._recent: deque[CallRecord] = deque(maxlen=max_recent)
        self._max_calls = max_calls
        self._lock = threading.Lock()

    def observe(self, event: DomainEvent) -> None:
        """Update from one domain event; events that say nothing about a call's data are ignored."""
        with self._lock:
            if isinstance(event, CallStarted):
                info = self._get_or_add(event.linkedid)
                info.caller = event.caller
                info.caller_name = event.caller_name
                info.dialed = event.dialed
                info.hotline = event.hotline
                info.started_at = event.at
            elif isinstance(event, IvrDigit):
                self._get_or_add(event.linkedid).digits = event.digits
            elif isinstance(event, CallVariable):
                info = self._get_or_add(event.linkedid)
                info.variables[event.name] = event.value
                if event.name == "IVR_PATH":
                    info.ivr_path = join_ivr_path(info.ivr_path, event.value)
            elif isinstance(event, CallQueued):
                info = self._get_or_add(event.linkedid)
                info.queue = event.queue
                info.in_queue = True
            elif isinstance(event, CallLeftQueue):
                self._get_or_add(event.linkedid).in_queue = False
            elif isinstance(event, CallAnswered):
                info = self._get_or_add(event.linkedid)
                info.agent = event.agent
                info.answered_at = event.at
                info.queue = event.queue or info.queue
            elif isinstance(event, CallEnded):
                self._calls.pop(event.record.linkedid, None)
                self._recent.appendleft(event.record)

    def get(self, linkedid: str) -> CallInfo | None:
        with self._lock:
            info = self._calls.get(linkedid)
            return _copy(info) if info is not None else None

    def live(self) -> list[CallInfo]:
        """Calls in progress, oldest first."""
        with self._lock:
            return [_copy(info) for info in self._calls.values()]

    def recent(self) -> list[CallRecord]:
        """Ended calls, newest first."""
        with self._lock:
            return list(self._recent)

    def ended(self, linkedid: str) -> CallRecord | None:
        """The record of a call that ended lately (the last `max_recent`), if this is one."""
        with self._lock:
            return next((r for r in self._recent if r.linkedid == linkedid), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)

    def _get_or_add(self, linkedid: str) -> CallInfo:
        info = self._calls.get(linkedid)
        if info is None:
            info = CallInfo(linkedid=linkedid)
            self._calls[linkedid] = info
            if len(self._calls) > self._max_calls:
                dropped, _ = self._calls.popitem(last=False)
                log.warning("call memory full (%s calls): forgot the oldest, %s", self._max_calls, dropped)
        return info


def _copy(info: CallInfo) -> CallInfo:
    return replace(info, variables=dict(info.variables))
