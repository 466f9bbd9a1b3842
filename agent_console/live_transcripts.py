"""Live transcripts on the pages: each partial or final line to the agent on the call and to the
supervisors (never to another agent), escalation and taboo alerts to the supervisors, and the finals so
far to a page that (re)connects.

A call's end goes to the same rooms as its lines (`live_call_ended`); the last lines (Vosk finishing a
stream after the hang-up) may still follow it, and are delivered but not kept for pages that connect
later. Called on the worker thread, except `replay` (a page connecting).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict
from typing import Any

from agent_console import map_limits
from agent_console.console_rooms import SUPERVISORS_ROOM, Rooms, agent_room
from transcripts.live_events import LiveAlert, LiveLine


class LiveTranscripts:
    """`lines_come`: a live transcript bus feeds this console (else no line comes, and a call's end
    says nothing)."""

    def __init__(self, rooms: Rooms, lines_come: bool) -> None:
        self._rooms = rooms
        self._lines_come = lines_come
        # linkedid -> (agent, finals), oldest call first
        self._calls: OrderedDict[str, tuple[str, list[dict[str, Any]]]] = OrderedDict()
        # calls whose end was sent: their last lines (Vosk finishing after the hang-up) are still
        # delivered, but not kept for pages that connect later
        self._done: OrderedDict[str, None] = OrderedDict()

    def handle(self, event: LiveLine | LiveAlert) -> None:
        payload = asdict(event)
        if isinstance(event, LiveAlert):
            self._rooms.emit("live_alert", payload, SUPERVISORS_ROOM)
            return
        if event.linkedid in self._done:
            self._rooms.emit("live_transcript", payload, [agent_room(event.agent), SUPERVISORS_ROOM])
            return
        kept = self._calls.get(event.linkedid)
        if kept is None:
            kept = self._calls[event.linkedid] = (event.agent, [])
            while len(self._calls) > map_limits.MAX_LIVE_CALLS:  # calls whose end never came
                self._calls.popitem(last=False)
        _, finals = kept
        if event.final:
            finals.append(payload)
            del finals[:-map_limits.LIVE_LINES_KEPT]
        # only the agent on the call and the supervisors: never another agent
        self._rooms.emit("live_transcript", payload, [agent_room(event.agent), SUPERVISORS_ROOM])

    def call_ended(self, linkedid: str, agent: str | None) -> None:
        kept = self._calls.pop(linkedid, None)
        if kept is not None:
            agent = kept[0]
        elif not self._lines_come or agent is None:
            return  # no live transcripts here, or nobody answered: no line came and none will
        # an answered call without a line yet still ends: on a loaded machine recognition can run so
        # far behind that its first lines come after the hang-up (the pages then show them as ended)
        self._done[linkedid] = None
        while len(self._done) > map_limits.LIVE_ENDED_KEPT:
            self._done.popitem(last=False)
        self._rooms.emit("live_call_ended", {"linkedid": linkedid}, [agent_room(agent), SUPERVISORS_ROOM])

    def replay(self, sid: str, agent: str | None) -> None:
        """A page that (re)connects: the finals so far of the live calls it may see (its own call's
        for an agent, every call's for a supervisor: agent None)."""
        for _, (owner, finals) in list(self._calls.items()):
            if agent is None or owner == agent:
                for line in list(finals):
                    self._rooms.emit("live_transcript", line, sid)

    def sizes(self) -> dict[str, int]:
        return {"live_calls": len(self._calls), "live_done": len(self._done)}
