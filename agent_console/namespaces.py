"""Socket.IO side of the console: who may connect, which rooms they join, and what the bus sends them.

Rooms: `agent:<username>` (an agent's username is its PBX peer name, e.g. agent1001) and
`supervisors`. Server → client events:

- `agent_state`   to a page on connect, and as the ack of `agent_state`: the agent's whole
                  versioned snapshot (agents.AgentBoard.snapshot)
- `agent_delta`   to `agent:<agent>`: {agent, version, set: {...changed fields}, at}
- `screen_pop`    to `agent:<agent>` on AgentRinging (every ringing agent, ringall included)
- `pop_withdrawn` to `agent:<agent>`: {linkedid, agent, reason: no_answer|cancelled|answered_elsewhere, by}
- `ring_stopped`  to `agent:<agent>`: {linkedid, agent, reason, at}
- `call_answered` to `agent:<agent>`: {linkedid, agent, queue, at}
- `call_ended`    to every agent that rang or talked: {linkedid, summary: {...call summary}}
- `agent_status`  to `agent:<agent>`: {agent, queue, status, paused, pause_reason, at}
- `pbx`           to everyone: {pbx, connected, detail, at}
- `wallboard`     to a supervisor on connect and as the ack of `wallboard_request`: the whole
                  wallboard with its `version`
- `wallboard_delta` to `supervisors`: {version, ...wallboard.wallboard_delta}; at most one per
                  `ConsoleConfig.wallboard_interval_s`, the last change always sent.
- `live_transcript` to `agent:<agent on the call>` and `supervisors`: a live partial or final line
                  {linkedid, agent, speaker: customer|agent, stream, seq, final, text, audio_s, at};
                  a page that (re)connects gets the call's finals so far
- `live_alert`    to `supervisors`: an escalation word (customer) or taboo phrase (agent) heard live
                  {linkedid, agent, speaker, rule: escalation|taboo:<category>, phrase, text, at}
- `live_call_ended` to the same rooms as the call's lines: {linkedid}; the last lines (Vosk
                  finishing a stream after the hang-up) may still follow it

Client → server: `agent_state` (ack: own snapshot; agent roles) and `wallboard_request` (ack: the
whole wallboard; supervisor roles). A page that sees a version gap asks again.

Bus handlers run on the AMI reader thread, so `Dispatcher.on_event` only puts the event on a
queue; one background task does the work in event order. Wrap-up (pause, timer, unpause) is the
site's one keeper's (agent_console.wrapup): the dispatcher shows its `AgentWrapUp` deadlines and
passes "extend" to it (`wrap_ups`: the keeper itself, or the listener's over Redis).

Pop latency: the database lookup of a pop (caller context, customer candidates) is made once per
call, not per ringing phone, and ahead of the ring on a small pool: when the call starts (the caller
is known), when the IVR sets WAYBILL or registers a case (CASE_ID), and again as the caller joins a queue
if the last lookup is older than `POP_CONTEXT_TTL_S`; so the ring itself usually only assembles and sends.
(A lookup made again at every queue join was still running when the phones rang: on a real Asterisk, ten
callers queued at once waited for ten lookups one after another, p99 88 ms from INVITE to pop.) A
prefetched lookup is used while it is younger than `POP_CONTEXT_TTL_S` and made for the same caller
and waybill, and is dropped when the console writes a case (`contexts_changed`); otherwise the ring
looks up afresh. The wallboard is
recomputed when no event is waiting (or once it is overdue), so pops never queue behind it, and not
at all while no supervisor's page is connected to this console (a page that connects gets a whole
board computed then).

Role mode (several web processes on the same events, `ConsoleConfig.pops_connected_only`): a console
builds and sends pops only for agents connected to it, and prefetches a call's lookup only if one of
them may ring for it (`Dispatcher._may_ring_here`: a member of the call's queue, as far as the queue
members' events and rings seen here tell); the ring of an agent
whose page is elsewhere is kept on the agent's board without its lookup and built if the page
connects here while the call still rings or talks. The wallboard is not computed here then: the
listener computes it once and the console relays it (`wallboard`, an agent_console.wallboard.WallboardRelay).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from flask import request
from flask_socketio import SocketIO, join_room

from agent_console import metrics
from agent_console.agents import AgentBoard
from agent_console.auth import optional_user
from agent_console.calls import CallInfo, CallMemory
from agent_console.config import WRAP_UP_REASON, ConsoleConfig
from agent_console.control import ConsoleControl
from agent_console.pop import PopBuilder, PopLookup
from agent_console.sessions import current_key
from agent_console.socket_sessions import SocketSessions
from agent_console.wallboard import (
    HotlineHealth,
    WallboardFeed,
    WallboardRelay,
    call_summary,
    wallboard_settings,
)
from agent_console.wrapup import NotInWrapUp, WrapUpService
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
    EventBus,
    PbxConnection,
)
from telephony.live import LiveView
from transcripts.live_events import LiveAlert, LiveBus, LiveEvent, LiveLine

log = logging.getLogger(__name__)

SUPERVISORS_ROOM = "supervisors"
DISPATCHER_KEY = "hotline_console_dispatcher"
QUEUE_LIMIT = 10_000
# A ring "cancelled" on one phone is reported just before the answer on another (ringall); the
# withdrawal waits this long for that answer so it can say who took the call.
WITHDRAW_HOLD_S = 0.5
LIVE_LINES_KEPT = 200  # finals per live call replayed to a page that (re)connects
LIVE_ENDED_KEPT = 4096  # ended calls remembered so that their late lines are not kept again
POP_CONTEXT_TTL_S = 30.0
MAX_POP_CONTEXTS = 2000
MAX_UNBUILT_PER_AGENT = 50
# Every map kept per call or per agent is bounded (#16, finding 8): events that never come (a CallEnded
# or AgentRingStopped lost with the AMI link) or a stream of names must not grow them without end.
# The oldest entry goes first. (`_held` lives WITHDRAW_HOLD_S per call; `_rings_queued` as long as its
# event is on the queue of QUEUE_LIMIT.)
MAX_LIVE_CALLS = 2000  # calls whose live transcript finals are kept for pages that (re)connect
MAX_UNBUILT_AGENTS = 5000  # agents with rings whose pops were not built here
MAX_LEARNED = 5000  # agents, and hotlines, whose queues role mode's prefetch gate remembers
MAX_QUEUES_EACH = 100  # queues remembered per agent or hotline
_STOP = object()
_PROBES = object()  # the probe results changed: the wallboard is due


@dataclass(slots=True)
class _PopContext:
    key: tuple[str, str | None]  # (caller, waybill) it was looked up for
    made: float  # time.monotonic() when the lookup started
    generation: int  # Dispatcher._generation then
    result: Future[PopLookup]


def agent_room(agent: str) -> str:
    return f"agent:{agent}"


def unbuilt_pop(event: AgentRinging) -> dict[str, Any]:
    """What an agent's board keeps of a ring whose pop was not built by this console."""
    return {"linkedid": event.linkedid, "agent": event.agent, "queue": event.queue, "unbuilt": True}


class Dispatcher:
    """Turns domain events into Socket.IO messages, off the AMI reader thread."""

    def __init__(
        self,
        socketio: SocketIO,
        bus: EventBus,
        live: LiveView,
        calls: CallMemory,
        pops: PopBuilder,
        config: ConsoleConfig,
        control: ConsoleControl,
        health: Callable[[], HotlineHealth] | None = None,
        live_bus: LiveBus | None = None,
        wallboard: WallboardRelay | None = None,
        wrap_ups: WrapUpService | None = None,
    ) -> None:
        """`health` reads the last probe result per hotline and the prompts the PBX could not play lately (from
        the database); polled every
        `config.probe_poll_s`. `wallboard`: the wallboard is computed elsewhere (role mode: the
        listener) and only relayed from there; otherwise it is computed here from the events.
        `wrap_ups` extends wrap-ups (None: no wrap-up here)."""
        self._socketio = socketio
        self._bus = bus
        self._live_bus = live_bus
        # linkedid -> (agent, finals), oldest call first
        self._live_calls: OrderedDict[str, tuple[str, list[dict[str, Any]]]] = OrderedDict()
        # calls whose end was sent: their last lines (Vosk finishing after the hang-up) are still
        # delivered, but not kept for pages that connect later
        self._live_done: OrderedDict[str, None] = OrderedDict()
        self._live = live
        self._calls = calls
        self._pops = pops
        self._config = config
        self.control = control
        self.wrap_ups = wrap_ups
        self._queue: queue.Queue[object] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._started = False
        self._stopped = threading.Event()
        self.board = AgentBoard(lambda name, payload, agent: self._emit(name, payload, agent_room(agent)))
        self._relay = wallboard
        self._feed = None if wallboard is not None else WallboardFeed(
            live, calls, wallboard_settings(config), config.wallboard_interval_s)
        self._read_health = health if wallboard is None else None  # the listener reads them then
        # pops only for agents connected here (role mode); the others' rings are kept unbuilt, so a
        # page that connects while its phone rings gets its pop built then
        self._pops_here_only = config.pops_connected_only
        self._unbuilt: dict[str, dict[str, AgentRinging]] = {}  # agent -> linkedid -> its ring
        self._unbuilt_lock = threading.Lock()
        self.pops_built = 0
        self._held: dict[str, tuple[list[str], float]] = {}  # linkedid -> (agents, send by)
        self._pop_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="console-pop")
        self._contexts: dict[str, _PopContext] = {}  # linkedid -> its pop lookup (dispatcher thread only)
        self._generation = 0  # bumped when cases change: older lookups are not used
        self._also_stop: list[Callable[[], None]] = []
        self._rings_queued: dict[tuple[str, str], float] = {}  # AgentRinging on the queue -> put there at
        # role mode's prefetch gate (dispatcher thread only): the queues each agent was seen in
        # (AgentStatus, AgentRinging) and the queues calls of each hotline were seen to join
        self._agent_queues: dict[str, set[str]] = {}
        self._hotline_queues: dict[str, set[str]] = {}

    # --- the AMI reader thread side -------------------------------------------------------

    def on_event(self, event: DomainEvent | LiveEvent) -> None:
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
        self._stopped.clear()
        self._socketio.start_background_task(self._run)
        if self._read_health is not None:
            self.refresh_health()
            self._socketio.start_background_task(self._probe_timer)
        if self._relay is not None:
            self._relay.subscribe(self._relayed)
        self._bus.subscribe(self.on_event)
        if self._live_bus is not None:
            self._live_bus.subscribe(self.on_event)

    def stop(self) -> None:
        """Unsubscribe and let the worker finish what is queued."""
        self._bus.unsubscribe(self.on_event)
        if self._live_bus is not None:
            self._live_bus.unsubscribe(self.on_event)
        if self._relay is not None:
            self._relay.unsubscribe(self._relayed)
        self._stopped.set()
        if self._started:
            self._queue.put(_STOP)
            self._started = False
        self._pop_pool.shutdown(wait=False, cancel_futures=True)
        for fn in self._also_stop:
            fn()

    def also_stop(self, fn: Callable[[], None]) -> None:
        """Call `fn` when the dispatcher stops (the app's other background tasks)."""
        self._also_stop.append(fn)

    def contexts_changed(self) -> None:
        """Cases changed: pops from now on look the caller up again (any thread)."""
        self._generation += 1

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
        self._seed()
        while True:
            timeout = self._feed.wait_s() if self._feed is not None else None
            if self._held:
                hold = max(0.0, min(by for _, by in self._held.values()) - time.monotonic())
                timeout = hold if timeout is None else min(timeout, hold)
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._release_held()
                self._flush_wallboard()
                continue
            try:
                if item is _STOP:
                    return
                if item is _PROBES:
                    if self._feed is not None:
                        self._feed.mark_due()
                else:
                    self._handle(item)  # type: ignore[arg-type]
                self._release_held()
                if self._queue.qsize() == 0 or (self._feed is not None and self._feed.overdue()):
                    self._flush_wallboard()  # events first: pops never wait behind a wallboard
            except Exception:  # one bad event must not stop the console
                log.exception("console failed to handle %s", type(item).__name__)
            finally:
                self._queue.task_done()

    def _seed(self) -> None:
        """Agents' states as the tracker knows them (after its resync), before any event."""
        try:
            self.board.seed(self._live.snapshot().agents)
        except Exception:
            log.exception("console could not read the live agents")

    def _handle(self, event: DomainEvent | LiveEvent) -> None:
        if isinstance(event, LiveLine | LiveAlert):
            self._handle_live(event)
            return
        self._calls.observe(event)
        if self._feed is not None:
            self._feed.observe(event)
        self._learn_queues(event)
        if isinstance(event, CallStarted) or (isinstance(event, CallVariable) and event.name == "WAYBILL"):
            self._prefetch(event.linkedid, POP_CONTEXT_TTL_S)
        elif isinstance(event, CallVariable) and event.name == "CASE_ID":
            self._prefetch(event.linkedid, 0.0)  # the IVR (another process) registered a case: look again
        elif isinstance(event, CallQueued):
            self._prefetch(event.linkedid, POP_CONTEXT_TTL_S)
        elif isinstance(event, AgentRinging):
            self._emit_pop(event)
        elif isinstance(event, AgentRingStopped):
            self._forget_unbuilt(event.agent, event.linkedid)
            if self.board.withdraw(event.agent, event.linkedid):
                if event.reason == "cancelled":
                    agents, _ = self._held.setdefault(event.linkedid, ([], time.monotonic() + WITHDRAW_HOLD_S))
                    agents.append(event.agent)
                else:
                    self._withdrawn(event.linkedid, event.agent, event.reason, None)
            self._emit("ring_stopped", asdict(event), agent_room(event.agent))
        elif isinstance(event, CallAnswered):
            self.board.answered(event.agent, event.linkedid, event.queue, event.at)
            self._emit("call_answered", asdict(event), agent_room(event.agent))
            held, _ = self._held.pop(event.linkedid, ([], 0.0))
            for other in held:
                self._withdrawn(event.linkedid, other, "answered_elsewhere", event.agent)
            for other in self.board.ringing_agents(event.linkedid):
                if other != event.agent and self.board.withdraw(other, event.linkedid):
                    self._withdrawn(event.linkedid, other, "answered_elsewhere", event.agent)
        elif isinstance(event, CallEnded):
            record = event.record
            self._live_ended(record.linkedid, record.agent)
            self._contexts.pop(record.linkedid, None)
            held, _ = self._held.pop(record.linkedid, ([], 0.0))
            for other in held:
                self._withdrawn(record.linkedid, other, "cancelled", None)
            payload = {"linkedid": record.linkedid, "summary": call_summary(record)}
            involved = {*record.rang, *record.agents, *([record.agent] if record.agent else [])}
            for agent in sorted(involved):
                self._forget_unbuilt(agent, record.linkedid)
                self.board.ended(agent, record.linkedid)
                self._emit("call_ended", payload, agent_room(agent))
        elif isinstance(event, AgentStatus):
            self.board.status(event.agent, event.status, event.paused, event.pause_reason, at=event.at)
            self._emit("agent_status", asdict(event), agent_room(event.agent))
        elif isinstance(event, AgentWrapUp):
            self.board.set_wrap_up(event.agent, event.until)
        elif isinstance(event, PbxConnection):
            self._emit("pbx", asdict(event), None)

    # --- live transcripts ----------------------------------------------------------------------

    def _handle_live(self, event: LiveLine | LiveAlert) -> None:
        payload = asdict(event)
        if isinstance(event, LiveAlert):
            self._emit("live_alert", payload, SUPERVISORS_ROOM)
            return
        if event.linkedid in self._live_done:
            self._emit("live_transcript", payload, [agent_room(event.agent), SUPERVISORS_ROOM])
            return
        kept = self._live_calls.get(event.linkedid)
        if kept is None:
            kept = self._live_calls[event.linkedid] = (event.agent, [])
            while len(self._live_calls) > MAX_LIVE_CALLS:  # calls whose end never came
                self._live_calls.popitem(last=False)
        agent, finals = kept
        if event.final:
            finals.append(payload)
            del finals[:-LIVE_LINES_KEPT]
        # only the agent on the call and the supervisors: never another agent
        self._emit("live_transcript", payload, [agent_room(event.agent), SUPERVISORS_ROOM])

    def _live_ended(self, linkedid: str, agent: str | None) -> None:
        kept = self._live_calls.pop(linkedid, None)
        if kept is not None:
            agent = kept[0]
        elif self._live_bus is None or agent is None:
            return  # no live transcripts here, or nobody answered: no line came and none will
        # an answered call without a line yet still ends: on a loaded machine recognition can run so
        # far behind that its first lines come after the hang-up (the pages then show them as ended)
        self._live_done[linkedid] = None
        while len(self._live_done) > LIVE_ENDED_KEPT:
            self._live_done.popitem(last=False)
        self._emit("live_call_ended", {"linkedid": linkedid}, [agent_room(agent), SUPERVISORS_ROOM])

    def replay_live(self, sid: str, agent: str | None) -> None:
        """A page that (re)connects: the finals so far of the live calls it may see (its own call's
        for an agent, every call's for a supervisor: agent None)."""
        for _, (owner, finals) in list(self._live_calls.items()):
            if agent is None or owner == agent:
                for line in list(finals):
                    self._emit("live_transcript", line, sid)

    def _withdrawn(self, linkedid: str, agent: str, reason: str, by: str | None) -> None:
        self._emit("pop_withdrawn", {"linkedid": linkedid, "agent": agent, "reason": reason, "by": by},
                   agent_room(agent))

    def _release_held(self) -> None:
        now = time.monotonic()
        for linkedid, (agents, by) in list(self._held.items()):
            if by <= now:
                del self._held[linkedid]
                for agent in agents:
                    self._withdrawn(linkedid, agent, "cancelled", None)

    def _prefetch(self, linkedid: str, max_age: float) -> None:
        """Start the pop's database lookup before any phone rings, unless one for the same caller and
        waybill younger than `max_age` is there."""
        info = self._calls.get(linkedid)
        if info is None or not info.caller:
            return
        if self._pops_here_only and not self._may_ring_here(info):
            return  # no pop will be built here: a ring looks the caller up then
        key = (info.caller, info.waybill)
        known = self._contexts.get(linkedid)
        if known is not None and known.key == key and self._fresh(known, max_age):
            return
        self._remember(linkedid, key, self._pop_pool.submit(self._pops.lookup, key[0], key[1], linkedid))

    def _remember(self, linkedid: str, key: tuple[str, str | None], result: Future[PopLookup]) -> None:
        self._contexts.pop(linkedid, None)
        self._contexts[linkedid] = _PopContext(key, time.monotonic(), self._generation, result)
        while len(self._contexts) > MAX_POP_CONTEXTS:  # calls whose CallEnded never came
            del self._contexts[next(iter(self._contexts))]

    def _fresh(self, ctx: _PopContext, max_age: float = POP_CONTEXT_TTL_S) -> bool:
        return ctx.generation == self._generation and time.monotonic() - ctx.made < max_age

    def _lookup(self, event: AgentRinging, info: CallInfo | None) -> PopLookup:
        """The call's lookup: prefetched or made for an earlier ring of this call, else made now."""
        key = self._pops.lookup_key(event, info)
        known = self._contexts.get(event.linkedid)
        if known is not None and known.key == key and self._fresh(known):
            try:
                return known.result.result()
            except Exception:  # the pool was shut down or the lookup raised: look up here
                log.exception("prefetched pop lookup for %s failed", event.linkedid)
        done: Future[PopLookup] = Future()
        done.set_result(self._pops.lookup(key[0], key[1], event.linkedid))
        self._remember(event.linkedid, key, done)
        return done.result()

    def _emit_pop(self, event: AgentRinging) -> None:
        dequeued = time.monotonic()
        queued = self._rings_queued.pop((event.linkedid, event.agent), None)
        if self._pops_here_only and not self._connected_here(event.agent):
            # the agent's page is on another web process (or nowhere): its board knows the ring, the
            # pop itself is built if the page connects here while the phone still rings
            with self._unbuilt_lock:
                self._unbuilt.setdefault(event.agent, {})[event.linkedid] = event
                if len(self._unbuilt[event.agent]) > MAX_UNBUILT_PER_AGENT:  # ends that never came
                    del self._unbuilt[event.agent][next(iter(self._unbuilt[event.agent]))]
                while len(self._unbuilt) > MAX_UNBUILT_AGENTS:
                    del self._unbuilt[next(iter(self._unbuilt))]
            self.board.ring(event.agent, unbuilt_pop(event))
            if self._connected_here(event.agent):  # connected meanwhile, after its snapshot was read
                self._build_unbuilt(event.agent)
            return
        info = self._calls.get(event.linkedid)
        payload = self._pops.from_lookup(event, info, self._lookup(event, info)).to_json()
        self.board.ring(event.agent, payload)
        built = time.monotonic()
        self._emit("screen_pop", payload, agent_room(event.agent))
        self._count_pop()
        metrics.pop_delivered(event.at)
        if queued is not None:
            metrics.pop_hop("queue", dequeued - queued)
        metrics.pop_hop("build", built - dequeued)
        metrics.pop_hop("emit", time.monotonic() - built)

    def _count_pop(self) -> None:
        with self._unbuilt_lock:
            self.pops_built += 1

    def _forget_unbuilt(self, agent: str, linkedid: str) -> None:
        with self._unbuilt_lock:
            rings = self._unbuilt.get(agent)
            if rings is not None and rings.pop(linkedid, None) is not None and not rings:
                del self._unbuilt[agent]

    def _build_unbuilt(self, agent: str) -> None:
        """The pops of the agent's calls that rang (or were answered) while its page was elsewhere."""
        with self._unbuilt_lock:
            rings = list(self._unbuilt.pop(agent, {}).values())
        for event in rings:
            info = self._calls.get(event.linkedid)
            key = self._pops.lookup_key(event, info)
            pop = self._pops.from_lookup(event, info, self._pops.lookup(key[0], key[1], event.linkedid)).to_json()
            if self.board.fill_pop(agent, event.linkedid, pop):
                self._count_pop()

    def _connected_here(self, agent: str) -> bool:
        return self._room_here(agent_room(agent))

    def _room_here(self, room: str) -> bool:
        return any(True for _ in self._socketio.server.manager.get_participants("/", room))

    def _agents_here(self) -> list[str]:
        rooms = self._socketio.server.manager.rooms.get("/", {})
        return [name.removeprefix("agent:") for name, sids in list(rooms.items())
                if name and name.startswith("agent:") and sids]

    def _learn_queues(self, event: DomainEvent) -> None:
        """Which queues agents are members of, and which queues calls of a hotline go to, as the events
        seen here show. Only ever added to: a queue member's removal is not told apart from its status
        by the events, and a stale entry costs only a prefetch that was not needed."""
        if isinstance(event, AgentStatus | AgentRinging) and event.queue:
            _learn(self._agent_queues, event.agent, event.queue)
        elif isinstance(event, CallQueued):
            info = self._calls.get(event.linkedid)
            if info is not None and info.hotline:
                _learn(self._hotline_queues, info.hotline, event.queue)

    def _may_ring_here(self, info: CallInfo) -> bool:
        """Whether an agent connected here may ring for the call (role mode's prefetch gate).

        The call's queue once it joined one; before that, the queues calls of its hotline were seen to
        join (any queue while none was seen yet). An agent whose queues no event here told yet may ring
        for any. A wrong "no" costs no pop: the ring looks the caller up then (only later)."""
        agents = self._agents_here()
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

    def map_sizes(self) -> dict[str, int]:
        """How many entries each per-call and per-agent map holds now (/status; all bounded)."""
        with self._unbuilt_lock:
            unbuilt = len(self._unbuilt)
        return {"live_calls": len(self._live_calls), "live_done": len(self._live_done), "unbuilt_agents": unbuilt,
                "held": len(self._held), "contexts": len(self._contexts), "rings_queued": len(self._rings_queued),
                "agent_queues": len(self._agent_queues), "hotline_queues": len(self._hotline_queues),
                "board_agents": self.board.agents_count()}

    # --- wrap-up ------------------------------------------------------------------------------

    def extend_wrap_up(self, agent: str) -> float:
        """Another `wrap_up_s` seconds from the site's keeper; NotInWrapUp if none is running."""
        if self.wrap_ups is None:
            raise NotInWrapUp("no wrap-up after calls here")
        return self.wrap_ups.extend(agent)

    # --- on connect -----------------------------------------------------------------------------

    def agent_snapshot(self, agent: str) -> dict[str, Any]:
        """The agent's versioned state; an agent AMI has not spoken of yet is read from the tracker.
        Pops of rings this console did not build (the page was elsewhere) are built now."""
        if self._unbuilt.get(agent):
            try:
                self._build_unbuilt(agent)
            except Exception:
                log.exception("could not build the pops of %s", agent)
        if not self.board.knows(agent):
            try:
                self.board.seed(tuple(a for a in self._live.snapshot().agents if a.agent == agent))
            except Exception:
                log.exception("console could not read the live agents")
        snap = self.board.snapshot(agent)
        if (snap["paused"] and snap["pause_reason"] == WRAP_UP_REASON and snap["wrap_up_until"] is None
                and self.wrap_ups is not None):  # a wrap-up that began before this console: ask its keeper
            try:
                until = self.wrap_ups.until(agent)
            except Exception:
                log.exception("could not read the wrap-up of %s", agent)
                until = None
            if until is not None:
                self.board.set_wrap_up(agent, until)
                snap = self.board.snapshot(agent)
        return snap

    def replay_current_call(self, agent: str, sid: str) -> None:
        """A newly connected page: the agent's snapshot, then (for simple clients) the pops again."""
        snap = self.agent_snapshot(agent)
        self._emit("agent_state", snap, sid)
        for pop in snap["pops"]:
            self._emit("screen_pop", pop, sid)
        call = snap["call"]
        if call is not None and call.get("pop") is not None:
            self._emit("screen_pop", call["pop"], sid)
            self._emit("call_answered", {"linkedid": call["linkedid"], "agent": agent, "queue": call["queue"]}, sid)

    # --- wallboard ------------------------------------------------------------------------------

    def refresh_health(self) -> bool:
        """Read the probe results and prompt faults; True (and the wallboard due) when one changed."""
        if self._read_health is None or self._feed is None:
            return False
        try:
            health = self._read_health()
        except Exception:  # the database may be away for a moment: the board keeps the last results
            log.exception("could not read the probe results and prompt faults")
            return False
        if not self._feed.set_health(health):
            return False
        try:
            self._queue.put_nowait(_PROBES)  # wakes the worker: the board goes out
        except queue.Full:
            log.warning("console event queue full: probe update deferred")
            self._feed.forget_health()
        return True

    def _probe_timer(self) -> None:
        while not self._stopped.wait(self._config.probe_poll_s):
            self.refresh_health()

    def _flush_wallboard(self) -> None:
        if self._feed is None:
            return
        if (self._feed.wait_s() == 0 and not self._config.message_queue
                and not self._room_here(SUPERVISORS_ROOM)):
            # no supervisor's page on this console: computing the board would only hold the GIL
            # while pops wait; a page that connects gets a whole board computed then
            self._feed.skip()
            return
        delta = self._feed.flush()
        if delta is not None:
            self._emit("wallboard_delta", delta, SUPERVISORS_ROOM)

    def _relayed(self, name: str, payload: dict[str, Any]) -> None:
        """A wallboard update from where it is computed: to this console's supervisors."""
        self._emit(name, payload, SUPERVISORS_ROOM)

    def wallboard(self) -> dict[str, Any]:
        """The whole wallboard as last sent (so its version matches the deltas that follow)."""
        if self._relay is not None:
            return self._relay.board()
        assert self._feed is not None
        return self._feed.board()

    def _emit(self, name: str, payload: dict[str, Any], room: str | list[str] | None) -> None:
        if self._pops_here_only and isinstance(room, str) and room.startswith("agent:") and not self._room_here(room):
            return  # the agent's page is on another web process: not even encoded here
        self._socketio.emit(name, payload, to=room)


def _learn(seen: dict[str, set[str]], key: str, queue_name: str) -> None:
    """Remember that `key` (an agent, a hotline) was seen with `queue_name`; bounded both ways."""
    queues = seen.get(key)
    if queues is None:
        queues = seen[key] = set()
        while len(seen) > MAX_LEARNED:
            del seen[next(iter(seen))]
    if len(queues) < MAX_QUEUES_EACH:
        queues.add(queue_name)


def register_socket_handlers(socketio: SocketIO, dispatcher: Dispatcher, sockets: SocketSessions) -> None:
    """Connect: only with a valid session (checked on the server, agent_console.sessions), remembered
    in `sockets` so that the connection closes when the session ends; join the user's rooms;
    supervisors get a wallboard."""

    def on_connect(*_auth: object) -> bool:
        user = optional_user()
        key = current_key()
        if user is None or key is None:
            log.info("socket connect refused: not logged in")
            return False
        sid: str = request.sid  # type: ignore[attr-defined]
        sockets.add(sid, key)
        if user.can("agent_console"):
            join_room(agent_room(user.username))
        if user.can("wallboard"):
            join_room(SUPERVISORS_ROOM)
            try:
                socketio.emit("wallboard", dispatcher.wallboard(), to=sid)
            except Exception:  # the page still works; the next event brings a wallboard
                log.exception("could not send the first wallboard to %s", user.username)
        socketio.emit("hello", {"username": user.username, "role": user.role}, to=sid)
        if user.can("agent_console"):
            dispatcher.replay_current_call(user.username, sid)
        dispatcher.replay_live(sid, None if user.can("wallboard") else user.username if user.can("agent_console")
                               else "")
        return True

    def on_disconnect(*_reason: object) -> None:
        sockets.remove(request.sid)  # type: ignore[attr-defined]

    # the events take whatever a client sends (nothing is read from it): a handler that named fewer
    # parameters raised TypeError on extra arguments
    def on_wallboard_request(*_args: object) -> dict[str, Any]:
        """Ack with the whole wallboard (supervisors): after a version gap or the page was hidden."""
        user = optional_user()
        if user is None or not user.can("wallboard"):
            return {"error": "forbidden"}
        return dispatcher.wallboard()

    def on_agent_state(*_args: object) -> dict[str, Any]:
        """Ack with the caller's own agent snapshot (after a version gap or a reconnect)."""
        user = optional_user()
        if user is None or not user.can("agent_console"):
            return {"error": "forbidden"}
        return dispatcher.agent_snapshot(user.username)

    socketio.on_event("connect", on_connect)
    socketio.on_event("disconnect", on_disconnect)
    socketio.on_event("wallboard_request", on_wallboard_request)
    socketio.on_event("agent_state", on_agent_state)
