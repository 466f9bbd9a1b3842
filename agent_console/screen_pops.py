"""Rings, answers and ends of calls on the agents' pages: the screen pop when a phone rings (every ringing
agent, ring-all included), its withdrawal when the phone stops ringing, and the call's end.

A ring "cancelled" on one phone is reported just before the answer on another (ring-all): its withdrawal
is held `WITHDRAW_HOLD_S` for that answer, so it can say who took the call.

Role mode (`ConsoleConfig.pops_connected_only`, `ScreenPopsForAgentsHere`): a console builds and sends
pops only for agents connected to it; the ring of an agent whose page is elsewhere is kept on the agent's
board without its lookup and built if the page connects here while the call still rings or talks.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict
from typing import Any

from agent_console import map_limits, metrics
from agent_console.agents import AgentBoard
from agent_console.calls import CallMemory
from agent_console.console_rooms import Rooms, agent_room
from agent_console.pop_lookups import PopLookups
from agent_console.wallboard import call_summary
from telephony.events import AgentRinging, AgentRingStopped, CallAnswered
from telephony.records import CallRecord

WITHDRAW_HOLD_S = 0.5


def unbuilt_pop(event: AgentRinging) -> dict[str, Any]:
    """What an agent's board keeps of a ring whose pop was not built by this console."""
    return {"linkedid": event.linkedid, "agent": event.agent, "queue": event.queue, "unbuilt": True}


class ScreenPops:
    """The pops of every ringing agent, built here (one web process). Called on the worker thread,
    except `build_unbuilt`, `has_unbuilt`, `pops_built` and `sizes` (any thread)."""

    def __init__(self, board: AgentBoard, rooms: Rooms, lookups: PopLookups, calls: CallMemory) -> None:
        self._board = board
        self._rooms = rooms
        self._lookups = lookups
        self._calls = calls
        self._held: dict[str, tuple[list[str], float]] = {}  # linkedid -> (agents, send by)
        self._unbuilt: dict[str, dict[str, AgentRinging]] = {}  # agent -> linkedid -> its ring
        self._lock = threading.Lock()  # _unbuilt and pops_built
        self._built = 0

    @property
    def pops_built(self) -> int:
        """Screen pops this console built (role mode: its agents' only)."""
        with self._lock:
            return self._built

    def ring(self, event: AgentRinging, queued: float | None) -> None:
        """`queued`: when the ring was put on the worker's queue (metrics.POP_HOP), if known."""
        dequeued = time.monotonic()
        if self._kept_unbuilt(event):
            return
        info = self._calls.get(event.linkedid)
        payload = self._lookups.pop(event, info)
        self._board.ring(event.agent, payload)
        built = time.monotonic()
        self._rooms.emit("screen_pop", payload, agent_room(event.agent))
        self._count_pop()
        metrics.pop_delivered(event.at)
        if queued is not None:
            metrics.pop_hop("queue", dequeued - queued)
        metrics.pop_hop("build", built - dequeued)
        metrics.pop_hop("emit", time.monotonic() - built)

    def ring_stopped(self, event: AgentRingStopped) -> None:
        self._forget_unbuilt(event.agent, event.linkedid)
        if self._board.withdraw(event.agent, event.linkedid):
            if event.reason == "cancelled":
                agents, _ = self._held.setdefault(event.linkedid, ([], time.monotonic() + WITHDRAW_HOLD_S))
                agents.append(event.agent)
            else:
                self._withdrawn(event.linkedid, event.agent, event.reason, None)
        self._rooms.emit("ring_stopped", asdict(event), agent_room(event.agent))

    def answered(self, event: CallAnswered) -> None:
        self._board.answered(event.agent, event.linkedid, event.queue, event.at)
        self._rooms.emit("call_answered", asdict(event), agent_room(event.agent))
        held, _ = self._held.pop(event.linkedid, ([], 0.0))
        for other in held:
            self._withdrawn(event.linkedid, other, "answered_elsewhere", event.agent)
        for other in self._board.ringing_agents(event.linkedid):
            if other != event.agent and self._board.withdraw(other, event.linkedid):
                self._withdrawn(event.linkedid, other, "answered_elsewhere", event.agent)

    def ended(self, record: CallRecord) -> None:
        self._lookups.forget(record.linkedid)
        held, _ = self._held.pop(record.linkedid, ([], 0.0))
        for other in held:
            self._withdrawn(record.linkedid, other, "cancelled", None)
        payload = {"linkedid": record.linkedid, "summary": call_summary(record)}
        involved = {*record.rang, *record.agents, *([record.agent] if record.agent else [])}
        for agent in sorted(involved):
            self._forget_unbuilt(agent, record.linkedid)
            self._board.ended(agent, record.linkedid)
            self._rooms.emit("call_ended", payload, agent_room(agent))

    def next_release(self) -> float | None:
        """When the first held withdrawal is due (time.monotonic()), None when none is held."""
        if not self._held:
            return None
        return min(by for _, by in self._held.values())

    def release_held(self) -> None:
        """Send the held withdrawals whose answer did not come."""
        now = time.monotonic()
        for linkedid, (agents, by) in list(self._held.items()):
            if by <= now:
                del self._held[linkedid]
                for agent in agents:
                    self._withdrawn(linkedid, agent, "cancelled", None)

    def has_unbuilt(self, agent: str) -> bool:
        return bool(self._unbuilt.get(agent))

    def build_unbuilt(self, agent: str) -> None:
        """The pops of the agent's calls that rang (or were answered) while its page was elsewhere."""
        with self._lock:
            rings = list(self._unbuilt.pop(agent, {}).values())
        for event in rings:
            pop = self._lookups.pop_now(event, self._calls.get(event.linkedid))
            if self._board.fill_pop(agent, event.linkedid, pop):
                self._count_pop()

    def sizes(self) -> dict[str, int]:
        with self._lock:
            unbuilt = len(self._unbuilt)
        return {"unbuilt_agents": unbuilt, "held": len(self._held)}

    def _kept_unbuilt(self, event: AgentRinging) -> bool:
        """Whether the ring is kept without its pop (never here: every pop is built here)."""
        return False

    def _keep_unbuilt(self, event: AgentRinging) -> None:
        with self._lock:
            self._unbuilt.setdefault(event.agent, {})[event.linkedid] = event
            if len(self._unbuilt[event.agent]) > map_limits.MAX_UNBUILT_PER_AGENT:  # ends that never came
                del self._unbuilt[event.agent][next(iter(self._unbuilt[event.agent]))]
            while len(self._unbuilt) > map_limits.MAX_UNBUILT_AGENTS:
                del self._unbuilt[next(iter(self._unbuilt))]

    def _count_pop(self) -> None:
        with self._lock:
            self._built += 1

    def _forget_unbuilt(self, agent: str, linkedid: str) -> None:
        with self._lock:
            rings = self._unbuilt.get(agent)
            if rings is not None and rings.pop(linkedid, None) is not None and not rings:
                del self._unbuilt[agent]

    def _withdrawn(self, linkedid: str, agent: str, reason: str, by: str | None) -> None:
        self._rooms.emit("pop_withdrawn", {"linkedid": linkedid, "agent": agent, "reason": reason, "by": by},
                         agent_room(agent))


class ScreenPopsForAgentsHere(ScreenPops):
    """Role mode: pops only for the agents whose pages are connected to this web process (see the
    module text)."""

    def _kept_unbuilt(self, event: AgentRinging) -> bool:
        if self._rooms.agent_here(event.agent):
            return False
        # the agent's page is on another web process (or nowhere): its board knows the ring, the pop
        # itself is built if the page connects here while the phone still rings
        self._keep_unbuilt(event)
        self._board.ring(event.agent, unbuilt_pop(event))
        if self._rooms.agent_here(event.agent):  # connected meanwhile, after its snapshot was read
            self.build_unbuilt(event.agent)
        return True
