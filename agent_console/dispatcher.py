"""The console's event worker: domain events (and live transcript events) in, Socket.IO messages out.

Bus handlers run on the AMI reader thread, so `Dispatcher.on_event` only puts the event on a queue; one
background task hands each to its job, in event order:

- screen pops, their withdrawals, answers and call ends: agent_console.screen_pops (its lookup
  prefetched: agent_console.pop_lookups)
- the agent's status and wrap-up timer, the state a page gets on connect: agent_console.agent_pages
- live transcript lines and alerts: agent_console.live_transcripts
- the supervisors' wallboard: agent_console.wallboard_source (probe results: agent_console.probe_poll)
- `pbx` to everyone: {pbx, connected, detail, at}

Server → client events: `agent_state`, `agent_delta`, `agent_status` (agent_pages, agents);
`screen_pop`, `pop_withdrawn` {linkedid, agent, reason: no_answer|cancelled|answered_elsewhere, by},
`ring_stopped` {linkedid, agent, reason, at}, `call_answered` {linkedid, agent, queue, at}, `call_ended`
{linkedid, summary} (screen_pops); `live_transcript`, `live_alert`, `live_call_ended`
(live_transcripts); `wallboard`, `wallboard_delta` (wallboard_source); `pbx`. Client → server:
agent_console.socket_handlers. Rooms: agent_console.console_rooms. The jobs are built, and the modes
chosen, in agent_console.event_wiring.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from flask_socketio import SocketIO

from agent_console.agent_pages import AgentPages
from agent_console.agents import AgentBoard
from agent_console.calls import CallMemory
from agent_console.console_rooms import Rooms
from agent_console.control import ConsoleControl
from agent_console.live_transcripts import LiveTranscripts
from agent_console.pop_lookups import POP_CONTEXT_TTL_S, PopLookups, QueueMembers
from agent_console.screen_pops import ScreenPops
from agent_console.wallboard_source import WallboardSource
from telephony.events import (
    AgentRinging,
    AgentRingStopped,
    AgentStatus,
    AgentWrapUp,
    CallAnswered,
    CallEnded,
    CallQueued,
    CallStarted,
    CallVariable,
    DomainEvent,
    PbxConnection,
)
from transcripts.live_events import LiveAlert, LiveEvent, LiveLine

log = logging.getLogger(__name__)

DISPATCHER_KEY = "hotline_console_dispatcher"
QUEUE_LIMIT = 10_000
_STOP = object()
_PROBES = object()  # the probe results changed: the wallboard is due

ConsoleEvent = DomainEvent | LiveEvent
Handler = Callable[[ConsoleEvent], None]


class EventSource(Protocol):
    """A bus the worker takes events from (telephony.events.EventBus, transcripts.live_events.LiveBus)."""

    def subscribe(self, handler: Handler) -> None: ...

    def unsubscribe(self, handler: Handler) -> None: ...


@dataclass(frozen=True, slots=True)
class ConsoleJobs:
    """What the worker hands events to (built in agent_console.event_wiring)."""

    rooms: Rooms
    calls: CallMemory  # sees every domain event first
    members: QueueMembers
    lookups: PopLookups
    pops: ScreenPops
    pages: AgentPages
    live: LiveTranscripts
    wallboard: WallboardSource


class Dispatcher:
    """Turns domain events into Socket.IO messages, off the AMI reader thread; what the pages' requests
    ask of the console's live state goes through it too."""

    def __init__(self, socketio: SocketIO, sources: tuple[EventSource, ...], jobs: ConsoleJobs, board: AgentBoard,
                 control: ConsoleControl) -> None:
        self._socketio = socketio
        self._sources = sources
        self.jobs = jobs
        self.board = board
        self.control = control
        self._queue: queue.Queue[object] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._started = False
        self._also_stop: list[Callable[[], None]] = []
        self._rings_queued: dict[tuple[str, str], float] = {}  # AgentRinging on the queue -> put there at
        # for tests that look inside: the pop builder (its database lookups) and the lookups per call
        self._pops = jobs.lookups.builder
        self._contexts = jobs.lookups

    # --- the AMI reader thread side -------------------------------------------------------

    def on_event(self, event: ConsoleEvent) -> None:
        """Bus handler (also of the live transcript bus): never blocks, never raises."""
        try:
            if isinstance(event, AgentRinging):  # its wait on the queue is timed (metrics.POP_HOP)
                self._rings_queued[(event.linkedid, event.agent)] = time.monotonic()
                if len(self._rings_queued) > QUEUE_LIMIT:  # one whose handling failed: never popped
                    self._rings_queued.pop(next(iter(self._rings_queued), ("", "")), None)
            self._queue.put_nowait(event)
        except queue.Full:
            if isinstance(event, AgentRinging):
                self._rings_queued.pop((event.linkedid, event.agent), None)
            log.warning("console event queue full: dropped %s", type(event).__name__)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._socketio.start_background_task(self._run)
        self.jobs.wallboard.start(self._probes_changed)
        for source in self._sources:
            source.subscribe(self.on_event)

    def stop(self) -> None:
        """Unsubscribe and let the worker finish what is queued."""
        for source in self._sources:
            source.unsubscribe(self.on_event)
        self.jobs.wallboard.stop()
        if self._started:
            self._queue.put(_STOP)
            self._started = False
        self.jobs.lookups.stop()
        for fn in self._also_stop:
            fn()

    def also_stop(self, fn: Callable[[], None]) -> None:
        """Call `fn` when the dispatcher stops (the app's other background tasks)."""
        self._also_stop.append(fn)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """True once every queued event has been handled (for tests and orderly shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.005)
        return False

    # --- the worker -------------------------------------------------------------------------

    def _run(self) -> None:
        pops, wallboard = self.jobs.pops, self.jobs.wallboard
        self.jobs.pages.seed()
        while True:
            timeout = wallboard.wait_s()
            release = pops.next_release()
            if release is not None:
                hold = max(0.0, release - time.monotonic())
                timeout = hold if timeout is None else min(timeout, hold)
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                pops.release_held()
                wallboard.flush()
                continue
            try:
                if item is _STOP:
                    return
                if item is _PROBES:
                    wallboard.probes_changed()
                else:
                    self._handle(item)  # type: ignore[arg-type]
                pops.release_held()
                if self._queue.qsize() == 0 or wallboard.overdue():
                    wallboard.flush()  # events first: pops never wait behind a wallboard
            except Exception:  # one bad event must not stop the console
                log.exception("console failed to handle %s", type(item).__name__)
            finally:
                self._queue.task_done()

    def _probes_changed(self) -> bool:
        """Wake the worker: the wallboard is due (False when the queue is full)."""
        try:
            self._queue.put_nowait(_PROBES)
        except queue.Full:
            return False
        return True

    def _handle(self, event: ConsoleEvent) -> None:
        jobs = self.jobs
        if isinstance(event, LiveLine | LiveAlert):
            jobs.live.handle(event)
            return
        jobs.calls.observe(event)
        jobs.wallboard.observe(event)
        jobs.members.learn(event)
        if isinstance(event, CallStarted) or (isinstance(event, CallVariable) and event.name == "WAYBILL"):
            jobs.lookups.prefetch(event.linkedid, POP_CONTEXT_TTL_S)
        elif isinstance(event, CallVariable) and event.name == "CASE_ID":
            jobs.lookups.prefetch(event.linkedid, 0.0)  # the IVR (another process) registered a case: look again
        elif isinstance(event, CallQueued):
            jobs.lookups.prefetch(event.linkedid, POP_CONTEXT_TTL_S)
        elif isinstance(event, AgentRinging):
            jobs.pops.ring(event, self._rings_queued.pop((event.linkedid, event.agent), None))
        elif isinstance(event, AgentRingStopped):
            jobs.pops.ring_stopped(event)
        elif isinstance(event, CallAnswered):
            jobs.pops.answered(event)
        elif isinstance(event, CallEnded):
            jobs.live.call_ended(event.record.linkedid, event.record.agent)
            jobs.pops.ended(event.record)
        elif isinstance(event, AgentStatus):
            jobs.pages.status(event)
        elif isinstance(event, AgentWrapUp):
            jobs.pages.wrap_up(event)
        elif isinstance(event, PbxConnection):
            jobs.rooms.emit("pbx", asdict(event), None)

    # --- what the pages ask ------------------------------------------------------------------

    @property
    def pops_built(self) -> int:
        """Screen pops this console built (role mode: its agents' only)."""
        return self.jobs.pops.pops_built

    def map_sizes(self) -> dict[str, int]:
        """How many entries each per-call and per-agent map holds now (/status; all bounded)."""
        return {**self.jobs.live.sizes(), **self.jobs.pops.sizes(), "contexts": len(self.jobs.lookups),
                "rings_queued": len(self._rings_queued), **self.jobs.members.sizes(),
                "board_agents": self.board.agents_count()}

    def agent_snapshot(self, agent: str) -> dict[str, Any]:
        return self.jobs.pages.snapshot(agent)

    def replay_current_call(self, agent: str, sid: str) -> None:
        self.jobs.pages.replay_current_call(agent, sid)

    def replay_live(self, sid: str, agent: str | None) -> None:
        self.jobs.live.replay(sid, agent)

    def extend_wrap_up(self, agent: str) -> float:
        """Another `wrap_up_s` seconds from the site's keeper; NotInWrapUp if none is running."""
        return self.jobs.pages.extend_wrap_up(agent)

    def wallboard(self) -> dict[str, Any]:
        """The whole wallboard as last sent (so its version matches the deltas that follow)."""
        return self.jobs.wallboard.board()

    def refresh_health(self) -> bool:
        """Read the probe results and prompt faults; True (and the wallboard due) when one changed."""
        return self.jobs.wallboard.refresh_health()
