"""Socket.IO side of the console: who may connect, which rooms they join, and what the bus sends them.

Rooms: `agent:<username>` (an agent's username is its PBX peer name, e.g. agent1001) and
`supervisors`. Server → client events:

- `screen_pop`    to `agent:<agent>` on AgentRinging: a `ScreenPop` as JSON (see pop.py)
- `ring_stopped`  to `agent:<agent>`: {linkedid, agent, reason, at}
- `call_answered` to `agent:<agent>`: {linkedid, agent, queue, at}
- `call_ended`    to every agent that rang or talked: {linkedid, summary: {...call summary}}
                  (a page that connects mid-call gets that call's `screen_pop` and, if answered,
                  `call_answered` {linkedid, agent, queue} right after `hello`)
- `agent_status`  to `agent:<agent>`: {agent, queue, status, paused, pause_reason, at}
- `pbx`           to everyone: {pbx, connected, detail, at}
- `wallboard`     to `supervisors` (and on connect): see wallboard.wallboard_payload; at most
                  one per `ConsoleConfig.wallboard_interval_s`, the last change always sent.

Bus handlers run on the AMI reader thread, so `Dispatcher.on_event` only puts the event on a
queue; one background task (started with socketio.start_background_task) does the work in event
order: remembering IVR data, the database lookup behind a pop, emitting.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import asdict
from typing import Any

from flask import request
from flask_socketio import SocketIO, join_room

from agent_console.auth import current_user
from agent_console.calls import CallMemory
from agent_console.pop import PopBuilder
from agent_console.wallboard import WALLBOARD_EVENTS, call_summary, wallboard_payload
from telephony.events import (
    AgentRinging,
    AgentRingStopped,
    AgentStatus,
    CallAnswered,
    CallEnded,
    DomainEvent,
    EventBus,
    PbxConnection,
)
from telephony.live import LiveView

log = logging.getLogger(__name__)

SUPERVISORS_ROOM = "supervisors"
QUEUE_LIMIT = 10_000
_STOP = object()


def agent_room(agent: str) -> str:
    return f"agent:{agent}"


class Dispatcher:
    """Turns domain events into Socket.IO messages, off the AMI reader thread."""

    def __init__(
        self,
        socketio: SocketIO,
        bus: EventBus,
        live: LiveView,
        calls: CallMemory,
        pops: PopBuilder,
        wallboard_interval_s: float,
    ) -> None:
        self._socketio = socketio
        self._bus = bus
        self._live = live
        self._calls = calls
        self._pops = pops
        self._interval = wallboard_interval_s
        self._queue: queue.Queue[object] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._wallboard_due = False
        self._last_wallboard = 0.0
        self._started = False
        # agent -> (pop payload, answered?): a page opened or reloaded mid-call gets it again
        self._current: dict[str, tuple[dict[str, Any], bool]] = {}
        self._current_lock = threading.Lock()

    # --- the AMI reader thread side -------------------------------------------------------

    def on_event(self, event: DomainEvent) -> None:
        """Bus handler: never blocks, never raises."""
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            log.warning("console event queue full: dropped %s", type(event).__name__)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._socketio.start_background_task(self._run)
        self._bus.subscribe(self.on_event)

    def stop(self) -> None:
        """Unsubscribe and let the worker finish what is queued."""
        self._bus.unsubscribe(self.on_event)
        if self._started:
            self._queue.put(_STOP)
            self._started = False

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
        while True:
            timeout = None
            if self._wallboard_due:
                timeout = max(0.0, self._last_wallboard + self._interval - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._flush_wallboard()
                continue
            try:
                if item is _STOP:
                    return
                self._handle(item)  # type: ignore[arg-type]
                self._flush_wallboard()
            except Exception:  # one bad event must not stop the console
                log.exception("console failed to handle %s", type(item).__name__)
            finally:
                self._queue.task_done()

    def _handle(self, event: DomainEvent) -> None:
        self._calls.observe(event)
        if isinstance(event, AgentRinging):
            self._emit_pop(event)
        elif isinstance(event, AgentRingStopped):
            self._forget(event.agent, event.linkedid)
            self._emit("ring_stopped", asdict(event), agent_room(event.agent))
        elif isinstance(event, CallAnswered):
            with self._current_lock:
                current = self._current.get(event.agent)
                if current is not None and current[0]["linkedid"] == event.linkedid:
                    self._current[event.agent] = (current[0], True)
            self._emit("call_answered", asdict(event), agent_room(event.agent))
        elif isinstance(event, CallEnded):
            record = event.record
            payload = {"linkedid": record.linkedid, "summary": call_summary(record)}
            involved = {*record.rang, *record.agents, *([record.agent] if record.agent else [])}
            for agent in sorted(involved):
                self._forget(agent, record.linkedid)
                self._emit("call_ended", payload, agent_room(agent))
        elif isinstance(event, AgentStatus):
            self._emit("agent_status", asdict(event), agent_room(event.agent))
        elif isinstance(event, PbxConnection):
            self._emit("pbx", asdict(event), None)
        if isinstance(event, WALLBOARD_EVENTS):
            self._wallboard_due = True

    def _emit_pop(self, event: AgentRinging) -> None:
        payload = self._pops.build(event, self._calls.get(event.linkedid)).to_json()
        with self._current_lock:
            self._current[event.agent] = (payload, False)
        self._emit("screen_pop", payload, agent_room(event.agent))

    def _forget(self, agent: str, linkedid: str) -> None:
        with self._current_lock:
            current = self._current.get(agent)
            if current is not None and current[0]["linkedid"] == linkedid:
                del self._current[agent]

    def replay_current_call(self, agent: str, sid: str) -> None:
        """Send a newly connected page the pop of the call its agent is ringing for or talking on."""
        with self._current_lock:
            current = self._current.get(agent)
        if current is None:
            return
        pop, answered = current
        self._emit("screen_pop", pop, sid)
        if answered:
            self._emit("call_answered", {"linkedid": pop["linkedid"], "agent": agent, "queue": pop["queue"]}, sid)

    def _flush_wallboard(self) -> None:
        if not self._wallboard_due:
            return
        now = time.monotonic()
        if now - self._last_wallboard < self._interval:
            return
        self._wallboard_due = False
        self._last_wallboard = now
        self._emit("wallboard", self.wallboard(), SUPERVISORS_ROOM)

    def wallboard(self) -> dict[str, Any]:
        return wallboard_payload(self._live.snapshot(), self._calls.recent())

    def _emit(self, name: str, payload: dict[str, Any], room: str | None) -> None:
        self._socketio.emit(name, payload, to=room)


def register_socket_handlers(socketio: SocketIO, dispatcher: Dispatcher) -> None:
    """Connect: only with a logged-in session; join the user's rooms; supervisors get a wallboard."""

    def on_connect(auth: object = None) -> bool:
        user = current_user()
        if user is None:
            log.info("socket connect refused: not logged in")
            return False
        join_room(agent_room(user.username))
        sid: str = request.sid  # type: ignore[attr-defined]
        if user.is_supervisor:
            join_room(SUPERVISORS_ROOM)
            try:
                socketio.emit("wallboard", dispatcher.wallboard(), to=sid)
            except Exception:  # the page still works; the next event brings a wallboard
                log.exception("could not send the first wallboard to %s", user.username)
        socketio.emit("hello", {"username": user.username, "role": user.role}, to=sid)
        dispatcher.replay_current_call(user.username, sid)
        return True

    def on_wallboard_request() -> dict[str, Any]:
        """Ack with the current wallboard (supervisors), e.g. after the page was in the background."""
        user = current_user()
        if user is None or not user.is_supervisor:
            return {"error": "forbidden"}
        return dispatcher.wallboard()

    socketio.on_event("connect", on_connect)
    socketio.on_event("wallboard_request", on_wallboard_request)
