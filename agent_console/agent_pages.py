"""What an agent's page is told: the agent's whole versioned state when it connects (and as the ack of
`agent_state`), the agent's queue status as AMI reports it, and the wrap-up timer the site's keeper
holds (agent_console.wrapup: the page may extend it).

Server → client: `agent_state` (agents.AgentBoard.snapshot), then for simple clients the pops again
(`screen_pop`, `call_answered`); `agent_status` to `agent:<agent>`: {agent, queue, status, paused,
pause_reason, at}. `agent_delta` is the board's own (agents.AgentBoard).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any, Protocol

from agent_console.agents import AgentBoard
from agent_console.config import WRAP_UP_REASON
from agent_console.console_rooms import Rooms, agent_room
from agent_console.wrapup import WrapUpService
from telephony.events import AgentStatus, AgentWrapUp
from telephony.live import LiveView

log = logging.getLogger(__name__)


class UnbuiltPops(Protocol):
    """The pops of rings this console did not build while the agent's page was elsewhere
    (agent_console.screen_pops)."""

    def has_unbuilt(self, agent: str) -> bool: ...

    def build_unbuilt(self, agent: str) -> None: ...


class AgentPages:
    """`seed`, `status` and `wrap_up` run on the event worker; the rest on a page's request."""

    def __init__(self, board: AgentBoard, rooms: Rooms, pops: UnbuiltPops, live: LiveView,
                 wrap_ups: WrapUpService) -> None:
        self._board = board
        self._rooms = rooms
        self._pops = pops
        self._live = live
        self._wrap_ups = wrap_ups

    def seed(self) -> None:
        """Agents' states as the tracker knows them (after its resync), before any event."""
        try:
            self._board.seed(self._live.snapshot().agents)
        except Exception:
            log.exception("console could not read the live agents")

    def status(self, event: AgentStatus) -> None:
        self._board.status(event.agent, event.status, event.paused, event.pause_reason, at=event.at)
        self._rooms.emit("agent_status", asdict(event), agent_room(event.agent))

    def wrap_up(self, event: AgentWrapUp) -> None:
        self._board.set_wrap_up(event.agent, event.until)

    def extend_wrap_up(self, agent: str) -> float:
        """Another `wrap_up_s` seconds from the site's keeper; NotInWrapUp if none is running."""
        return self._wrap_ups.extend(agent)

    def snapshot(self, agent: str) -> dict[str, Any]:
        """The agent's versioned state; an agent AMI has not spoken of yet is read from the tracker.
        Pops of rings this console did not build (the page was elsewhere) are built now."""
        if self._pops.has_unbuilt(agent):
            try:
                self._pops.build_unbuilt(agent)
            except Exception:
                log.exception("could not build the pops of %s", agent)
        if not self._board.knows(agent):
            try:
                self._board.seed(tuple(a for a in self._live.snapshot().agents if a.agent == agent))
            except Exception:
                log.exception("console could not read the live agents")
        snap = self._board.snapshot(agent)
        if snap["paused"] and snap["pause_reason"] == WRAP_UP_REASON and snap["wrap_up_until"] is None:
            try:  # a wrap-up that began before this console: ask its keeper
                until = self._wrap_ups.until(agent)
            except Exception:
                log.exception("could not read the wrap-up of %s", agent)
                until = None
            if until is not None:
                self._board.set_wrap_up(agent, until)
                snap = self._board.snapshot(agent)
        return snap

    def replay_current_call(self, agent: str, sid: str) -> None:
        """A newly connected page: the agent's snapshot, then (for simple clients) the pops again."""
        snap = self.snapshot(agent)
        self._rooms.emit("agent_state", snap, sid)
        for pop in snap["pops"]:
            self._rooms.emit("screen_pop", pop, sid)
        call = snap["call"]
        if call is not None and call.get("pop") is not None:
            self._rooms.emit("screen_pop", call["pop"], sid)
            self._rooms.emit("call_answered", {"linkedid": call["linkedid"], "agent": agent, "queue": call["queue"]},
                             sid)
