"""Read-only pictures of the live PBX for wallboards: queues, waiting callers, agents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class WaitingCaller:
    linkedid: str
    caller: str
    caller_name: str
    hotline: str
    position: int
    since: float  # epoch seconds when it joined the queue


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    queue: str
    waiting: tuple[WaitingCaller, ...]
    longest_wait_s: float
    answered: int  # calls answered from this queue since start
    abandoned: int


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    agent: str  # peer name, e.g. agent1001
    name: str  # member name as Asterisk knows it, e.g. "Anna Agent"
    status: str  # idle | ringing | busy | unavailable | unknown
    paused: bool
    pause_reason: str
    linkedid: str | None  # the call it is ringing for or talking on
    since: float


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    at: float
    queues: tuple[QueueSnapshot, ...]
    agents: tuple[AgentSnapshot, ...]
    live_calls: int


class LiveView(Protocol):
    """What a wallboard needs from telephony."""

    def snapshot(self, now: float | None = None) -> LiveSnapshot: ...
