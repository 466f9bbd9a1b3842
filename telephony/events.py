"""Domain events telephony publishes, and the in-process bus that carries them.

Consumers (console, cases, transcripts) subscribe; telephony imports none of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from telephony.records import CallRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallStarted:
    linkedid: str
    caller: str
    caller_name: str
    dialed: str
    hotline: str
    at: float


@dataclass(frozen=True, slots=True)
class CallHolding:
    """A hotline call waits in the dialplan's holding step for Hotline's routing (a Redirect)."""

    linkedid: str
    channel: str
    caller: str
    hotline: str  # the holding step's extension: the hotline the number belongs to
    at: float


@dataclass(frozen=True, slots=True)
class IvrDigit:
    linkedid: str
    digit: str
    digits: str  # all keys so far
    at: float


@dataclass(frozen=True, slots=True)
class CallVariable:
    """A Hotline channel variable set by the IVR (e.g. WAYBILL)."""

    linkedid: str
    name: str
    value: str
    at: float


@dataclass(frozen=True, slots=True)
class CallQueued:
    linkedid: str
    queue: str
    position: int
    at: float
    channel: str = ""  # the waiting caller's channel (what a Redirect moves)


@dataclass(frozen=True, slots=True)
class CallLeftQueue:
    linkedid: str
    queue: str
    reason: str  # "answered" | "abandoned" | "left"
    at: float


@dataclass(frozen=True, slots=True)
class AgentRinging:
    linkedid: str
    agent: str  # peer name, e.g. agent1001
    queue: str
    caller: str
    at: float


@dataclass(frozen=True, slots=True)
class AgentRingStopped:
    linkedid: str
    agent: str
    reason: str  # "no_answer" | "cancelled"
    at: float


@dataclass(frozen=True, slots=True)
class CallAnswered:
    linkedid: str
    agent: str
    queue: str
    at: float
    customer_uniqueid: str = ""  # AgentConnect's Uniqueid (the caller's channel); "" after a resync
    agent_uniqueid: str = ""  # AgentConnect's DestUniqueid (the agent's channel)


@dataclass(frozen=True, slots=True)
class CallEnded:
    record: CallRecord
    at: float


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """A queue member's state (from QueueMemberStatus / pause events)."""

    agent: str
    queue: str
    status: str  # idle | ringing | busy | unavailable | unknown
    paused: bool
    pause_reason: str
    at: float


@dataclass(frozen=True, slots=True)
class PbxConnection:
    """The AMI link went up or down."""

    pbx: str
    connected: bool
    detail: str
    at: float


@dataclass(frozen=True, slots=True)
class AgentWrapUp:
    """The agent's after-call work: paused with the wrap-up reason until `until` (epoch seconds), or
    over (`until` None). Not from AMI: published by the one wrap-up keeper of the site
    (agent_console.wrapup), so every console shows the same timer."""

    agent: str
    until: float | None
    at: float


DomainEvent = (
    CallStarted
    | CallHolding
    | IvrDigit
    | CallVariable
    | CallQueued
    | CallLeftQueue
    | AgentRinging
    | AgentRingStopped
    | CallAnswered
    | CallEnded
    | AgentStatus
    | PbxConnection
    | AgentWrapUp
)

Handler = Callable[[DomainEvent], None]


class EventBus:
    """Synchronous in-process publish/subscribe. A failing subscriber is logged, never fatal."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []
        self._lock = threading.Lock()

    def subscribe(self, handler: Handler) -> None:
        with self._lock:
            self._handlers.append(handler)

    def unsubscribe(self, handler: Handler) -> None:
        with self._lock:
            self._handlers = [h for h in self._handlers if h is not handler]

    def publish(self, event: DomainEvent) -> None:
        for handler in list(self._handlers):
            try:
                handler(event)
            except Exception:  # a subscriber must never stop the AMI stream
                log.exception("event subscriber %r failed on %s", handler, type(event).__name__)
