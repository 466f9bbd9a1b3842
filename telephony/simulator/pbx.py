"""The simulated PBX: a call scheduler, its agents' availability and the stream of AMI events it produces.

It plays call scripts cut from real captures (see scenario.py) on a wall clock (its `EventClock`,
clock.py), keeps its agents (people.py) busy while they ring and talk, changes a call's script when
AMI asks (a Redirect, a Hangup: dialplan.py's events) and hands every due message to its listeners
(the AMI server). What it would answer to a snapshot at one instant: snapshot.py.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from telephony.simulator.clock import EventClock
from telephony.simulator.devices import DeviceStates
from telephony.simulator.dialplan import (
    CALLBACK_CONTEXT,
    CHANNEL_KEYS,
    REROUTE_CONTEXT,
    field_of,
    leaving,
    offer_answer,
    offer_declined,
    offer_entry,
    offer_hangup,
    queue_entry,
    requeued,
)
from telephony.simulator.people import DEFAULT_AGENTS, DEFAULT_CALLERS, LOAD_CALLERS, make_callers
from telephony.simulator.scenario import (
    AGENTS_NEEDED,
    SCENARIOS,
    AgentIdentity,
    CallParams,
    CallScript,
    Fields,
    ScenarioError,
    build_script,
)

log = logging.getLogger(__name__)

WRAP_UP_S = 2.0
_QUEUE_ORDER = ("service", "claims", "complaints")
_RING_OFFSET_S = 1.65  # service_answered: from the first event to the first ring of its agent

Listener = Callable[[list[Fields]], None]
ScriptHook = Callable[[CallScript], None]


@dataclass(frozen=True, slots=True)
class IvrVisit:
    """A simulated caller about to meet the IVR: what the IVR hook is told. `script` is the FastAGI
    script when it is not the hotline's menu (`callback-offer`, with `queue` and the caller's `inputs`)."""

    scenario: str
    hotline: str
    caller: str
    caller_name: str
    uniqueid: str
    waybill: str | None
    script: str = ""
    queue: str = ""
    inputs: tuple[str, ...] = ()


IvrHook = Callable[[IvrVisit], dict[str, str]]  # returns the channel variables the IVR set


OFFER_S = 6.0  # a callback offer in the IVR: the apology, the offer, the key (simulated seconds)


@dataclass(slots=True)
class SimCall:
    script: CallScript
    params: CallParams
    agents: list[str]
    offer_key: str = "1"  # what this caller presses at a callback offer ("" = nothing: back to the queue)


class SimulatedPbx:
    """Thread-safe: `start_call` from any thread; `run()` (or `start()`) plays the events."""

    def __init__(
        self,
        recordings_dir: str = "/var/spool/asterisk/monitor",
        agents: tuple[AgentIdentity, ...] = DEFAULT_AGENTS,
        callers: tuple[tuple[str, str], ...] = DEFAULT_CALLERS,
        time_scale: float = 1.0,
        seed: int | None = None,
        wrap_up_s: float = WRAP_UP_S,
        routing: str = "dialplan",
        hold_s: float = 3.0,
        load_callers: int = LOAD_CALLERS,
    ) -> None:
        """`load_callers`: how many distinct numbers load calls come from (0: the `callers`)."""
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.recordings_dir = recordings_dir
        self.agents = {a.peer: a for a in agents}
        self.callers = callers
        self.load_callers = make_callers(load_callers) if load_callers else callers
        self.time_scale = time_scale
        self.wrap_up_s = wrap_up_s
        if routing not in ("dialplan", "ami"):
            raise ValueError(f"routing must be 'dialplan' or 'ami', not {routing!r}")
        self.routing = routing  # "ami": calls wait in the holding step for a Redirect (see hold_s)
        self.hold_s = hold_s
        self.rng = random.Random(seed)
        self._busy_until: dict[str, float] = {a.peer: 0.0 for a in agents}
        self._paused: dict[str, str] = {}
        self._devices = DeviceStates(self.agents)
        self._members: dict[str, list[str]] = {q: [a.peer for a in agents if q == "service" or a.peer != "agent1001"]
                                               for q in ("service", "complaints", "claims")}
        self._events = EventClock()
        self._uid_seq = 0
        self._listeners: list[Listener] = []
        self._script_hooks: list[ScriptHook] = []
        self.ivr_hook: IvrHook | None = None
        self._lock = threading.Condition()
        # held by `step` from taking the due events off the heap until `played_until` says so: a
        # listener joins, and a session takes a snapshot, only between two steps (see `between_steps`)
        self._play = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.calls: dict[str, SimCall] = {}
        self.calls_started = 0
        self.redirects = 0  # calls released from the holding step by a Redirect
        self.queue_redirects = 0  # callers Redirected out of a queue (callback offer, re-route)
        self.offer_threads: list[threading.Thread] = []
        self._channel_calls: dict[str, str] = {}  # channel name -> Linkedid of its live call
        self.events_sent = 0
        self.booted_at = time.time()
        self.played_until = 0.0  # every message due by then has been handed to the listeners

    # ------------------------------------------------------------------ listeners
    def add_listener(self, listener: Listener) -> None:
        """From the next step on, `listener` is handed every event. Never in the middle of a step: the
        events of a step it missed are then in `played_until`, so in its first snapshot."""
        with self._play, self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._play, self._lock:
            self._listeners = [x for x in self._listeners if x is not listener]

    @contextmanager
    def between_steps(self) -> Iterator[None]:
        """Hold the event stream still. A session takes its snapshot (`state_at`) and queues the
        response in here, as Asterisk answers CoreShowChannels at one point of a session's stream:
        every event the session was handed before is in the snapshot, every later one comes after."""
        with self._play:
            yield

    def on_script(self, hook: ScriptHook) -> None:
        """Called with each new call script (e.g. to make its recording)."""
        self._script_hooks.append(hook)

    # ------------------------------------------------------------------ calls
    def free_agents(self, at: float) -> list[str]:
        """Agents neither ringing, talking nor paused at `at`."""
        with self._lock:
            return [p for p, until in self._busy_until.items() if until <= at and p not in self._paused]

    def set_paused(self, peer: str, paused: bool, reason: str = "") -> None:
        with self._lock:
            if paused:
                self._paused[peer] = reason
            else:
                self._paused.pop(peer, None)

    def members_of(self, queue: str) -> list[str]:
        with self._lock:
            return list(self._members.get(queue, []))

    def queues_of(self, peer: str) -> list[str]:
        with self._lock:
            return [q for q, members in self._members.items() if peer in members]

    def set_member(self, peer: str, queue: str, member: bool) -> bool:
        """Add or remove a queue member; False when nothing changed."""
        with self._lock:
            members = self._members.setdefault(queue, [])
            if member == (peer in members):
                return False
            if member:
                members.append(peer)
            else:
                members.remove(peer)
            return True

    def reject_held(self, linkedid: str, cause: int = 21) -> bool:
        """An AMI Hangup of a call waiting in the holding step: its channel goes, nothing else
        of the call is played (built from the captured Hangup events)."""
        now = time.time()
        with self._lock:
            call = self.calls.get(linkedid)
            if call is None or call.script.hold_until is None or call.script.hold_until <= now:
                return False
            msgs = call.script.messages
            uid = call.script.uniqueids[0]
            hangup = next(f for _, f in msgs if f[0] == ("Event", "Hangup") and dict(f).get("Uniqueid") == uid)
            cause_txt = {21: "Call Rejected", 16: "Normal Clearing"}.get(cause, "Unknown")
            soft = [("Event", "SoftHangupRequest") if kv[0] == "Event" else kv for kv in hangup
                    if kv[0] != "Cause-txt"]
            soft = [(k, str(cause) if k == "Cause" else v) for k, v in soft]
            final = [(k, str(cause) if k == "Cause" else cause_txt if k == "Cause-txt" else v) for k, v in hangup]
            self._events.drop(linkedid)
            first_future = next((i for i, (t, _) in enumerate(msgs) if t > now), len(msgs))
            msgs[first_future:] = [(now, soft), (now + 0.001, final)]
            for t, f in msgs[first_future:]:
                self._events.add(t, f, linkedid)
            call.script.end = now + 0.001
            call.script.hold_until = None
            for peer in call.agents:
                self._busy_until[peer] = now
            self._lock.notify_all()
        return True

    def hang_up(self, linkedid: str, *, by_pbx: bool = True) -> bool:
        """End a call now (an AMI Hangup, or Asterisk stopping, while an agent talks): its end events
        are played now. Asterisk itself hangs up: no phone sent BYE, so the template's HangupRequest
        (a phone's BYE) becomes a SoftHangupRequest, as in traces 05 and 06."""
        now = time.time()
        with self._lock:
            call = self.calls.get(linkedid)
            if call is None:
                return False
            msgs = call.script.messages
            connect = next((i for i, (t, f) in enumerate(msgs) if t <= now and dict(f).get("Event") == "AgentConnect"),
                           None)
            if connect is None:
                return False
            end = next((i for i in range(connect, len(msgs)) if dict(msgs[i][1]).get("Event") == "HangupRequest"),
                       None)
            if end is None or msgs[end][0] <= now:
                return False
            delta = msgs[end][0] - now
            # what Asterisk would still have said before the hang-up is never said
            self._events.drop(linkedid, lambda at: at > now)
            first_future = next(i for i, (t, _) in enumerate(msgs) if t > now)
            tail = [(t - delta, [("Event", "SoftHangupRequest") if kv == ("Event", "HangupRequest") and by_pbx
                                 else kv for kv in f]) for t, f in msgs[end:]]
            msgs[first_future:] = tail
            for t, f in tail:
                self._events.add(t, f, linkedid)
            call.script.end = msgs[-1][0]
            self._lock.notify_all()
        return True

    def next_uniqueid(self) -> str:
        """A Uniqueid for a channel outside any call script (an originated AudioSocket tap)."""
        with self._lock:
            seq = self._uid_seq
            self._uid_seq += 1
        return f"{int(time.time())}.{seq}"

    def live_scripts(self, only: str | None = None) -> dict[str, CallScript]:
        """The scripts of the calls going on, by Linkedid (`only`: just that call's, if it is one)."""
        with self._lock:
            if only is not None:
                return {only: self.calls[only].script} if only in self.calls else {}
            return {lid: c.script for lid, c in self.calls.items()}

    def call_of_channel(self, channel: str) -> str | None:
        """The Linkedid of the live call a channel belongs to."""
        with self._lock:
            return self._channel_calls.get(channel)

    def release_hold(self, linkedid: str) -> bool:
        """A Redirect out of the holding step: the rest of the call starts now."""
        now = time.time()
        with self._lock:
            call = self.calls.get(linkedid)
            if call is None or call.script.hold_until is None or call.script.hold_until <= now:
                return False
            until = call.script.hold_until
            delta = until - now
            msgs = call.script.messages
            self._events.drop(linkedid, lambda at: at >= until)
            for i, (t, f) in enumerate(msgs):
                if t >= until:
                    msgs[i] = (t - delta, f)
                    self._events.add(t - delta, f, linkedid)
            call.script.end = msgs[-1][0]
            call.script.hold_until = None
            self.redirects += 1
            self._lock.notify_all()
        return True

    # ------------------------------------------------------------------ Redirect of a queued caller
    def redirect(self, linkedid: str, channel: str, context: str, exten: str) -> bool:
        """An AMI Redirect: out of the holding step (`release_hold`), or a caller waiting in a queue
        moved to the callback offer (`[callback-offer]`, extension = the queue) or re-routed by a
        supervisor (`[to-queue]`, extension = the new queue). A queued caller leaves its queue as
        Asterisk reports it (MusicOnHoldStop, QueueCallerLeave, then Newexten in the new context);
        False when nothing of that applies (the PBX then changes nothing)."""
        if self.release_hold(linkedid):
            return True
        if context not in (CALLBACK_CONTEXT, REROUTE_CONTEXT) or not exten:
            return False
        now = time.time()
        with self._lock:
            call = self.calls.get(linkedid)
            if call is None:
                return False
            msgs = call.script.messages
            uid = call.script.uniqueids[0]
            past = [f for t, f in msgs if t <= now]
            caller = [f for f in past if field_of(f, "Uniqueid") == uid]
            if not caller or field_of(caller[0], "Channel") != channel:
                return False
            joins = [f for f in caller if field_of(f, "Event") == "QueueCallerJoin"]
            left = [f for f in caller if field_of(f, "Event") in ("QueueCallerLeave", "QueueCallerAbandon")]
            if not joins or len(left) >= len(joins) or any(field_of(f, "Event") == "AgentConnect" for f in caller):
                return False  # not waiting in a queue (or already talking)
            join = joins[-1]
            old_queue = field_of(join, "Queue")
            future = [(t, f) for t, f in msgs if t > now]
            self._events.drop(linkedid, lambda at: at > now)
            del msgs[len(msgs) - len(future):]
            chan = [(k, v) for k, v in join if k in CHANNEL_KEYS or k == "ChanVariable"]
            leave = leaving(uid, join, past, future)
            at = now
            out: list[tuple[float, Fields]] = []

            def add(fields: Fields) -> None:
                nonlocal at
                at += 0.001
                out.append((at, fields))

            for f in leave:
                add(f)
            self.queue_redirects += 1
            if context == REROUTE_CONTEXT:
                for f in queue_entry(chan, join, exten, call.script.recording, from_priority=1):
                    add(f)
                rest = [(t, requeued(f, old_queue, exten)) for t, f in future]
                self._splice(call, out + [(max(t, at + 0.001), f) for t, f in rest])
                self._lock.notify_all()
                return True
            hotline = field_of(join, "ChanVariable").partition("=")[2] or "service"
            for f in offer_entry(chan, exten, hotline):
                add(f)
            self._splice(call, out, end_after=OFFER_S / self.time_scale + 30.0)
            visit = IvrVisit("callback_offer", hotline, field_of(join, "CallerIDNum"), field_of(join, "CallerIDName"),
                             uid, None, script="callback-offer", queue=exten, inputs=(call.offer_key,))
            thread = threading.Thread(target=self._offer, args=(call, visit, chan, join, old_queue, future, at),
                                      name="sim-callback-offer", daemon=True)
            self.offer_threads.append(thread)
            self._lock.notify_all()
        thread.start()
        return True

    def _splice(self, call: SimCall, events: list[tuple[float, Fields]], end_after: float = 0.0) -> None:
        """Append events (in time order, all after what was already played) to a call's script."""
        for t, f in events:
            call.script.messages.append((t, f))
            self._events.add(t, f, call.script.linkedid)
        last = call.script.messages[-1][0]
        call.script.end = last + end_after
        if end_after == 0.0:
            call.script.end = last

    def _offer(self, call: SimCall, visit: IvrVisit, chan: Fields, join: Fields, queue: str,
               future: list[tuple[float, Fields]], since: float) -> None:
        """The caller's visit to the IVR's callback offer (FastAGI, through `ivr_hook`), then its end:
        a goodbye and the hang-up, or back into the same queue where its call goes on as scripted."""
        variables: dict[str, str] = {}
        if self.ivr_hook is not None:
            try:
                variables = self.ivr_hook(visit)
            except Exception:
                log.exception("callback offer of simulated call %s failed", visit.uniqueid)
        if "IVR_NEXT" not in variables:  # no IVR (or it failed): the dialplan's own choice
            accepted = visit.inputs[:1] == ("1",) and self.ivr_hook is None
            variables.setdefault("IVR_NEXT", "hangup" if accepted else "queue")
        uid = call.script.uniqueids[0]
        exten = visit.queue
        with self._lock:
            if self.calls.get(call.script.linkedid) is not call:
                return
            at = max(since + OFFER_S / self.time_scale, time.time())
            out: list[tuple[float, Fields]] = []

            def add(fields: Fields) -> None:
                nonlocal at
                at += 0.001
                out.append((at, fields))

            for f in offer_answer(chan, exten, variables):
                add(f)
            if variables["IVR_NEXT"] == "hangup":
                for f in offer_hangup(chan, join, exten, uid, future, self.agents):
                    add(f)
                self._splice(call, out)
                for peer in call.agents:  # the agents its script had booked are free again
                    self._busy_until[peer] = min(self._busy_until.get(peer, at), at)
            else:
                for f in offer_declined(chan, join, exten, call.script.recording):
                    add(f)
                delta = max(0.0, at + 0.001 - future[0][0]) if future else 0.0
                rest = [(t + delta, requeued(f, queue, exten)) for t, f in future]
                self._splice(call, out + rest)
                for peer in call.agents:  # its agents ring that much later
                    self._busy_until[peer] = self._busy_until.get(peer, 0.0) + delta
            self._lock.notify_all()

    def stop_calls(self, *, crash: bool) -> list[str]:
        """Asterisk going away. `core stop now` (crash=False): calls with an agent are hung up with
        their normal end events, as in trace 06; the others vanish. A crash (kill -9): every call
        vanishes without a word. Returns the linkedids of the calls that were live."""
        with self._lock:
            live = list(self.calls)
        if not crash:
            for lid in live:
                self.hang_up(lid)
            deadline = time.time() + 1.0
            while time.time() < deadline:
                with self._lock:
                    ending = self._events.any_due_by(time.time() + 0.05)
                if not ending:
                    break
                time.sleep(0.02)
        with self._lock:
            self._events.clear()
            self.calls.clear()
            self._devices.trunks_idle()
            for peer in self._busy_until:
                self._busy_until[peer] = 0.0
        return live

    def reboot(self) -> None:
        """A fresh Asterisk: uptime and channel counters start again."""
        with self._lock:
            self.booted_at = time.time()
            self._uid_seq = 0
            self._devices.reboot()

    def paused_agents(self) -> set[str]:
        with self._lock:
            return set(self._paused)

    def paused_reasons(self) -> dict[str, str]:
        with self._lock:
            return dict(self._paused)

    def emit(self, batch: list[Fields]) -> None:
        """Send events now, outside any call script (security, member pause)."""
        with self._lock:
            listeners = list(self._listeners)
        self.events_sent += len(batch)
        for listener in listeners:
            try:
                listener(batch)
            except Exception:
                log.exception("simulator listener failed")

    def start_call(
        self,
        scenario: str,
        *,
        caller: tuple[str, str] | None = None,
        agents: list[str] | None = None,
        talk_s: float | None = None,
        waybill: str | None = None,
        extra_wait_s: float = 0.0,
        abandon_after_s: float | None = None,
        delay_s: float = 0.0,
        offer_key: str = "1",
    ) -> CallScript:
        if scenario not in SCENARIOS:
            raise ScenarioError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
        start = time.time() + delay_s
        with self._lock:
            need = AGENTS_NEEDED[scenario]
            if agents is None:
                free = [p for p, until in self._busy_until.items() if until <= start and p not in self._paused]
                self.rng.shuffle(free)
                agents = free[:need]
            unknown = [a for a in agents if a not in self.agents]
            if unknown:
                raise ScenarioError(f"unknown agent(s): {', '.join(unknown)}")
            if len(agents) < need:
                raise ScenarioError(f"scenario {scenario} needs {need} free agents, {len(agents)} free")
            number, name = caller or self.rng.choice(self.callers)
            ivr_variables = None
            if self.ivr_hook is not None:
                visit = IvrVisit(scenario, "claims" if scenario.startswith("claims") else "service", number, name,
                                 f"{int(start)}.{self._uid_seq}", waybill)
                try:
                    ivr_variables = self.ivr_hook(visit)
                except Exception:
                    log.exception("IVR session of a simulated call failed; the call goes on without it")
            params = CallParams(
                caller=number, caller_name=name, agents=[self.agents[a] for a in agents], start=start,
                first_uid_seq=self._uid_seq, recordings_dir=self.recordings_dir, extra_wait_s=extra_wait_s,
                talk_s=talk_s, abandon_after_s=abandon_after_s, waybill=waybill,
                memberships={peer: [q for q in _QUEUE_ORDER if peer in self._members.get(q, [])]
                             for peer in agents},
                ivr_variables=ivr_variables,
                hold_s=self.hold_s if self.routing == "ami" else None,
            )
            script = build_script(scenario, params)
            if self.time_scale != 1.0:
                for i, (t, f) in enumerate(script.messages):
                    script.messages[i] = (start + (t - start) / self.time_scale, f)
                script.end = script.messages[-1][0]
                if script.hold_until is not None:
                    script.hold_until = start + (script.hold_until - start) / self.time_scale
            script.fallback_at = script.hold_until
            self._uid_seq += len(script.uniqueids)
            for peer in script.agents:
                self._busy_until[peer] = max(self._busy_until[peer], self._agent_free_at(script, peer))
            self.calls[script.linkedid] = SimCall(script, params, script.agents, offer_key)
            for _, f in script.messages:
                if f[0] == ("Event", "Newchannel"):
                    self._channel_calls[dict(f)["Channel"]] = script.linkedid
            self.calls_started += 1
            for t, f in script.messages:
                self._events.add(t, f, script.linkedid)
            self._lock.notify_all()
        for hook in self._script_hooks:
            try:
                hook(script)
            except Exception:
                log.exception("simulator script hook failed for %s", script.linkedid)
        log.info("simulated call %s: %s from %s, agents %s", script.linkedid, scenario, number,
                 ",".join(script.agents) or "-")
        return script

    def _agent_free_at(self, script: CallScript, peer: str) -> float:
        """When the agent's member status goes back to not-in-use in this script (+ wrap-up)."""
        last = script.end
        for t, fields in script.messages:
            if fields[0] == ("Event", "QueueMemberStatus"):
                d = dict(fields)
                if d.get("Interface") == f"SIP/{peer}" and d.get("Status") == "1":
                    last = t
        return last + self.wrap_up_s / self.time_scale

    def start_load_call(self, talk_s: float = 4.5) -> CallScript:
        """A call like those of the load capture (07): service hotline, key 1, answered. With nobody
        free, the caller waits in the queue until the first agent is. The caller is one of
        `load_callers` numbers."""
        now = time.time()
        with self._lock:
            caller = self.rng.choice(self.load_callers)
            candidates = [p for p in self._busy_until if p not in self._paused] or list(self._busy_until)
            # a linear queue: the first agent in order who is free, or who frees first
            peer = min(candidates, key=lambda p: (max(self._busy_until[p], now), list(self.agents).index(p)))
            # the caller waits in the queue until that agent is free (the template rings it ~1.65 s in)
            wait = max(0.0, (self._busy_until[peer] - now) * self.time_scale - _RING_OFFSET_S)
        return self.start_call("service_answered", caller=caller, agents=[peer], talk_s=talk_s, extra_wait_s=wait)

    def start_random_call(self, waybills: tuple[str, ...] = ()) -> CallScript:
        """A plausible next call for the demo stream, given who is free now."""
        now = time.time()
        free = len(self.free_agents(now))
        choices = [("service_answered", 5), ("claims_ringall_agent_hangs_up", 2),
                   ("service_ring_no_answer", 2), ("complaints_abandoned", 1)]
        possible = [(s, w) for s, w in choices if AGENTS_NEEDED[s] <= free]
        scenario = self.rng.choices([s for s, _ in possible], [w for _, w in possible])[0]
        waybill = self.rng.choice(waybills) if waybills and scenario == "service_answered" else None
        talk = self.rng.uniform(12, 30) if scenario != "complaints_abandoned" else None
        abandon = self.rng.uniform(8, 20) if scenario == "complaints_abandoned" else None
        return self.start_call(scenario, waybill=waybill, talk_s=talk, abandon_after_s=abandon)

    # ------------------------------------------------------------------ playing
    def pending(self) -> int:
        with self._lock:
            return len(self._events)

    def step(self, now: float | None = None) -> int:
        """Send every message due by `now`; returns how many."""
        at = time.time() if now is None else now
        due: list[Fields] = []
        # one step is one instant of the PBX: no listener joins and no snapshot is taken halfway through
        # it (a session logging in meanwhile would get neither these events nor them in its snapshot)
        with self._play:
            with self._lock:
                due = self._events.take_due(at)
                listeners = list(self._listeners)
            if due:
                due = self._devices.derive(due, self.members_of, self._paused)
                self.events_sent += len(due)
                for listener in listeners:
                    try:
                        listener(due)
                    except Exception:
                        log.exception("simulator listener failed")
            with self._lock:
                # only now is what was due in every session's stream: a snapshot (CoreShowChannels,
                # QueueStatus) never runs ahead of the events before it, nor forgets a call still ending
                self.played_until = at
                ended = [lid for lid, c in self.calls.items() if c.script.end <= at]
                for lid in ended:
                    del self.calls[lid]
                if ended:
                    gone = set(ended)
                    self._channel_calls = {ch: lid for ch, lid in self._channel_calls.items() if lid not in gone}
        return len(due)

    def run(self) -> None:
        while not self._stop.is_set():
            self.step()
            with self._lock:
                wait = 0.2
                next_at = self._events.next_at()
                if next_at is not None:
                    wait = min(wait, max(0.0, next_at - time.time()))
                self._lock.wait(timeout=wait)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="pbx-sim", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
