"""The screen pop's database lookup (caller context, customer candidates): made once per call, not per
ringing phone, and ahead of the ring on a small pool.

Made when the call starts (the caller is known), when the IVR sets WAYBILL or registers a case
(CASE_ID), and again as the caller joins a queue if the last lookup is older than `POP_CONTEXT_TTL_S`;
so the ring itself usually only assembles and sends. (A lookup made again at every queue join was still
running when the phones rang: on a real Asterisk, ten callers queued at once waited for ten lookups one
after another, p99 88 ms from INVITE to pop.) A prefetched lookup is used while it is younger than
`POP_CONTEXT_TTL_S` and made for the same caller and waybill, and is dropped when a case is written
(`PopLookups.changed`, agent_console.case_writes); otherwise the ring looks up afresh.

Which calls are prefetched is the `PrefetchGate`'s: every call with a caller (`EveryCall`, one web
process), or in role mode (`ConsoleConfig.pops_connected_only`) only a call one of the agents connected
here may ring for (`QueueMembersHere`: a member of the call's queue, as far as the queue members' events
and the rings seen here tell, `QueueMembers`).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from agent_console import map_limits
from agent_console.calls import CallInfo, CallMemory
from agent_console.console_rooms import Rooms
from agent_console.pop import PopBuilder, PopLookup
from telephony.events import AgentRinging, AgentStatus, CallQueued, DomainEvent

log = logging.getLogger(__name__)

POP_CONTEXT_TTL_S = 30.0


class PrefetchGate(Protocol):
    """Whether a pop may be built here for the call, so that its lookup is worth making before the ring."""

    def may_ring_here(self, info: CallInfo) -> bool: ...


class EveryCall:
    """One web process: every agent's pop is built here, so every call's lookup is prefetched."""

    def may_ring_here(self, info: CallInfo) -> bool:
        return True


class QueueMembers:
    """Which queues agents are members of, and which queues calls of a hotline go to, as the events seen
    here show (AgentStatus, AgentRinging; CallQueued). Only ever added to: a queue member's removal is
    not told apart from its status by the events, and a stale entry costs only a prefetch that was not
    needed. Learned on the worker thread only."""

    def __init__(self, calls: CallMemory) -> None:
        self._calls = calls
        self._agent_queues: dict[str, set[str]] = {}
        self._hotline_queues: dict[str, set[str]] = {}

    def learn(self, event: DomainEvent) -> None:
        if isinstance(event, AgentStatus | AgentRinging) and event.queue:
            _learn(self._agent_queues, event.agent, event.queue)
        elif isinstance(event, CallQueued):
            info = self._calls.get(event.linkedid)
            if info is not None and info.hotline:
                _learn(self._hotline_queues, info.hotline, event.queue)

    def may_ring(self, agents: list[str], info: CallInfo) -> bool:
        """Whether one of `agents` may ring for the call: the call's queue once it joined one; before
        that, the queues calls of its hotline were seen to join (any queue while none was seen yet). An
        agent whose queues no event here told yet may ring for any."""
        if not agents:
            return False
        if info.queue:
            queues = {info.queue}
        else:
            seen = self._hotline_queues.get(info.hotline)
            if not seen:
                return True
            queues = seen
        return any(not queues.isdisjoint(self._agent_queues.get(agent, queues)) for agent in agents)

    def sizes(self) -> dict[str, int]:
        return {"agent_queues": len(self._agent_queues), "hotline_queues": len(self._hotline_queues)}


def _learn(seen: dict[str, set[str]], key: str, queue_name: str) -> None:
    """Remember that `key` (an agent, a hotline) was seen with `queue_name`; bounded both ways."""
    queues = seen.get(key)
    if queues is None:
        queues = seen[key] = set()
        while len(seen) > map_limits.MAX_LEARNED:
            del seen[next(iter(seen))]
    if len(queues) < map_limits.MAX_QUEUES_EACH:
        queues.add(queue_name)


class QueueMembersHere:
    """Role mode's gate: an agent whose page is connected here may ring for the call (`QueueMembers`).
    A wrong "no" costs no pop: the ring looks the caller up then (only later)."""

    def __init__(self, members: QueueMembers, rooms: Rooms) -> None:
        self._members = members
        self._rooms = rooms

    def may_ring_here(self, info: CallInfo) -> bool:
        return self._members.may_ring(self._rooms.agents_here(), info)


@dataclass(slots=True)
class _PopContext:
    key: tuple[str, str | None]  # (caller, waybill) it was looked up for
    made: float  # time.monotonic() when the lookup started
    generation: int  # PopLookups._generation then
    result: Future[PopLookup]


class PopLookups:
    """The lookup of each call (see the module text). The worker thread prefetches, builds pops from and
    forgets lookups; `changed` and `pop_now` may be called from any thread. `linkedid in lookups`: the
    call's lookup is kept."""

    def __init__(self, builder: PopBuilder, calls: CallMemory, gate: PrefetchGate) -> None:
        self.builder = builder
        self._calls = calls
        self._gate = gate
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="console-pop")
        self._contexts: dict[str, _PopContext] = {}  # linkedid -> its pop lookup (worker thread only)
        self._generation = 0  # bumped when cases change: older lookups are not used

    def __contains__(self, linkedid: object) -> bool:
        return linkedid in self._contexts

    def __len__(self) -> int:
        return len(self._contexts)

    def changed(self) -> None:
        """Cases changed: pops from now on look the caller up again (any thread)."""
        self._generation += 1

    def prefetch(self, linkedid: str, max_age: float) -> None:
        """Start the pop's database lookup before any phone rings, unless one for the same caller and
        waybill younger than `max_age` is there."""
        info = self._calls.get(linkedid)
        if info is None or not info.caller:
            return
        if not self._gate.may_ring_here(info):
            return  # no pop will be built here: a ring looks the caller up then
        key = (info.caller, info.waybill)
        known = self._contexts.get(linkedid)
        if known is not None and known.key == key and self._fresh(known, max_age):
            return
        self._remember(linkedid, key, self._pool.submit(self.builder.lookup, key[0], key[1], linkedid))

    def pop(self, event: AgentRinging, info: CallInfo | None) -> dict[str, Any]:
        """The ring's pop from the call's lookup: prefetched or made for an earlier ring of this call,
        else made now."""
        return self.builder.from_lookup(event, info, self._lookup(event, info)).to_json()

    def pop_now(self, event: AgentRinging, info: CallInfo | None) -> dict[str, Any]:
        """The ring's pop from a lookup made now (any thread; nothing kept)."""
        key = self.builder.lookup_key(event, info)
        return self.builder.from_lookup(event, info, self.builder.lookup(key[0], key[1], event.linkedid)).to_json()

    def forget(self, linkedid: str) -> None:
        self._contexts.pop(linkedid, None)

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _remember(self, linkedid: str, key: tuple[str, str | None], result: Future[PopLookup]) -> None:
        self._contexts.pop(linkedid, None)
        self._contexts[linkedid] = _PopContext(key, time.monotonic(), self._generation, result)
        while len(self._contexts) > map_limits.MAX_POP_CONTEXTS:  # calls whose CallEnded never came
            del self._contexts[next(iter(self._contexts))]

    def _fresh(self, ctx: _PopContext, max_age: float = POP_CONTEXT_TTL_S) -> bool:
        return ctx.generation == self._generation and time.monotonic() - ctx.made < max_age

    def _lookup(self, event: AgentRinging, info: CallInfo | None) -> PopLookup:
        key = self.builder.lookup_key(event, info)
        known = self._contexts.get(event.linkedid)
        if known is not None and known.key == key and self._fresh(known):
            try:
                return known.result.result()
            except Exception:  # the pool was shut down or the lookup raised: look up here
                log.exception("prefetched pop lookup for %s failed", event.linkedid)
        done: Future[PopLookup] = Future()
        done.set_result(self.builder.lookup(key[0], key[1], event.linkedid))
        self._remember(event.linkedid, key, done)
        return done.result()
