"""Call state: turns the AMI event stream into calls keyed by Linkedid and publishes domain events.

One `CallTracker` per PBX connection feed. It is fed `Message`s in stream order on one thread
(the AMI reader, or replay) and needs no lock for that; `snapshot()` may be called from other
threads and takes the lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from telephony.actions import ChannelInfo, QueueEntryInfo, QueueStatus
from telephony.events import (
    AgentRinging,
    AgentRingStopped,
    AgentStatus,
    CallAnswered,
    CallEnded,
    CallHolding,
    CallLeftQueue,
    CallQueued,
    CallStarted,
    CallVariable,
    DomainEvent,
    IvrDigit,
)
from telephony.frames import Message
from telephony.live import AgentSnapshot, LiveSnapshot, QueueSnapshot, WaitingCaller
from telephony.records import CallRecord, join_ivr_path

log = logging.getLogger(__name__)

DEFAULT_HOTLINES = {"4008001": "service", "4008002": "claims"}
HOTLINE_NAMES = frozenset(DEFAULT_HOTLINES.values())
# Channel variables the IVR sets that consumers care about (leading underscores stripped).
WATCHED_VARIABLES = frozenset({"WAYBILL", "CASE_ID", "IVR_PATH", "IVR_QUEUE", "IVR_RECORDING", "QUEUE_PRIO",
                               "CLAIM_NO", "LANG", "CALLBACK_OFFER"})
# every channel variable the tracker reads from VarSet events
READ_VARIABLES = frozenset({"HOTLINE", "MIXMONITOR_FILENAME"}) | WATCHED_VARIABLES
MEMBER_STATUS = {
    "0": "unknown", "1": "idle", "2": "busy", "3": "busy", "4": "unavailable",
    "5": "unavailable", "6": "ringing", "7": "ringing", "8": "busy",
}
# The dialplan's holding step announces a call with UserEvent(HotlineHold,Hotline: <hotline>): an event of
# the `user` class that an allow-list filter can keep, unlike its Newexten among every other dialplan step
HOLD_USER_EVENT = "HotlineHold"
# Every event the tracker needs: the generated manager.conf (telephony.ami_user) lets these through and no
# others. It also reads Newexten (the holding step of older dialplans) when sent, and the QueueMember
# items of a QueueStatus answer (list answers: no filter applies to them) fed one by one: replay hands a
# whole answer to `reconcile`, and feeds only one whose start it did not see (a capture begun inside it).
READ_EVENTS = ("Newchannel", "NewCallerid", "VarSet", "DTMFEnd", "UserEvent", "QueueCallerJoin",
               "QueueCallerLeave", "QueueCallerAbandon", "AgentCalled", "AgentRingNoAnswer", "DialEnd",
               "AgentConnect", "BridgeLeave", "HangupRequest", "Hangup", "QueueMemberStatus", "QueueMemberAdded",
               "QueueMemberPause", "QueueMemberRemoved", "Shutdown", "FullyBooted")
RECENTLY_ENDED = 4096
# Channels Hotline originates itself to tap a call's audio (live transcripts): not calls.
TAP_CHANNEL_PREFIX = "AudioSocket/"
MAX_LIVE_CALLS = 50_000  # beyond this, the longest-silent calls are closed (a corrupt stream must not eat memory)


def peer_of(interface_or_channel: str) -> str:
    """`SIP/agent1001-0000000a` or `SIP/agent1001` -> `agent1001`; Local/x@ctx/n -> x@ctx."""
    tech, sep, rest = interface_or_channel.partition("/")
    if not sep:
        return interface_or_channel
    if tech == "Local":
        return rest.split("/", 1)[0].split(";", 1)[0].rsplit("-", 1)[0]
    dash = rest.rfind("-")
    if dash > 0 and len(rest) - dash - 1 == 8:
        return rest[:dash]
    return rest


@dataclass(slots=True)
class _Ring:
    agent: str
    queue: str
    dest_channel: str
    at: float
    ended: bool = False


@dataclass(slots=True)
class _Talk:
    agent: str
    dest_channel: str
    start: float
    end: float | None = None


@dataclass(slots=True)
class _Call:
    rec: CallRecord
    key: str  # Asterisk's Linkedid (rec.linkedid may carry the PBX's prefix)
    channels: dict[str, str] = field(default_factory=dict)  # uniqueid -> channel name (live)
    customer_uid: str = ""  # the customer's leg: the queue caller, else the first channel
    agent_channels: set[str] = field(default_factory=set)
    rings: dict[str, _Ring] = field(default_factory=dict)  # dest channel -> ring
    talks: list[_Talk] = field(default_factory=list)
    queue_since: float | None = None
    last_seen: float = 0.0
    in_queue: bool = False
    queued_ever: bool = False
    abandoned: bool = False
    wait: float = 0.0
    hangup_requested: str | None = None
    rejected: bool = False
    offered: bool = False  # moved to the callback offer (CALLBACK_OFFER) and not queued again since
    held: bool = False  # its entry into the holding step was announced (UserEvent, or Newexten on old dialplans)


@dataclass(slots=True)
class _Member:
    agent: str
    name: str = ""
    status: str = "unknown"
    paused: dict[str, str] = field(default_factory=dict)  # queue -> reason
    queues: set[str] = field(default_factory=set)
    linkedid: str | None = None
    since: float = 0.0


@dataclass(slots=True)
class _Queue:
    name: str
    waiting: dict[str, WaitingCaller] = field(default_factory=dict)
    answered: int = 0
    abandoned: int = 0



def _self_served(steps: list[str]) -> bool:
    """The IVR ended the call with its goodbye (ivr.flow `goodbye`; the caller may hang up during it) after
    serving the caller, not after an error."""
    while steps and steps[-1] == "hangup":
        steps = steps[:-1]
    return bool(steps) and steps[-1] == "goodbye" and "error" not in steps

class CallTracker:
    """Follows every call of one Asterisk through IVR, queue and agents."""

    def __init__(
        self,
        publish: Callable[[DomainEvent], None],
        hotlines: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        id_prefix: str = "",
        hold_context: str = "hotline-hold",
    ) -> None:
        """`id_prefix` (e.g. "pbx2:") keeps the calls of several Asterisks apart in one call store:
        each Asterisk counts its Uniqueids on its own."""
        self._publish = publish
        self.id_prefix = id_prefix
        self.hold_context = hold_context  # the dialplan's holding step (see `hotline asterisk-config`)
        self._hotlines = dict(hotlines or DEFAULT_HOTLINES)
        self._hotline_names = frozenset(self._hotlines.values()) | HOTLINE_NAMES
        self._clock = clock
        self._calls: dict[str, _Call] = {}
        self._by_uid: dict[str, str] = {}  # uniqueid -> linkedid
        self._by_channel: dict[str, str] = {}  # channel name -> linkedid
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._members: dict[str, _Member] = {}
        self._queues: dict[str, _Queue] = {}
        self._lock = threading.RLock()
        self._stream_time = 0.0
        self.events_seen = 0
        self.last_event_at: float | None = None
        self.pbx_shutdown = False
        self.resyncs = 0
        self.max_live_calls = MAX_LIVE_CALLS
        self._buffer: list[Message] | None = None
        self._handlers: dict[str, Callable[[Message, float], None]] = {
            "Newchannel": self._on_newchannel,
            "Newexten": self._on_newexten,
            "UserEvent": self._on_user_event,
            "NewCallerid": self._on_newcallerid,
            "VarSet": self._on_varset,
            "DTMFEnd": self._on_dtmf,
            "QueueCallerJoin": self._on_queue_join,
            "QueueCallerLeave": self._on_queue_leave,
            "QueueCallerAbandon": self._on_queue_abandon,
            "AgentCalled": self._on_agent_called,
            "AgentRingNoAnswer": self._on_ring_no_answer,
            "DialEnd": self._on_dial_end,
            "AgentConnect": self._on_agent_connect,
            "BridgeLeave": self._on_bridge_leave,
            "HangupRequest": self._on_hangup_request,
            "Hangup": self._on_hangup,
            "QueueMemberStatus": self._on_member_status,
            "QueueMemberAdded": self._on_member_status,
            "QueueMemberPause": self._on_member_status,
            "QueueMemberRemoved": self._on_member_removed,
            "QueueMember": self._on_member_status,
            "Shutdown": self._on_shutdown,
            "FullyBooted": self._on_fully_booted,
        }

    def handled_events(self) -> frozenset[str]:
        """The names of the events this tracker acts on."""
        return frozenset(self._handlers)

    # ------------------------------------------------------------------ feeding
    def feed(self, msg: Message) -> None:
        if msg.fields.get("Event") is None:
            return
        with self._lock:
            if self._buffer is not None:
                self._buffer.append(msg)
                return
            self._process(msg)

    def _process(self, msg: Message) -> None:
        name = msg.fields["Event"]
        at = msg.received_at
        if at is None:
            at = self._derive_time(msg)
        self.events_seen += 1
        self.last_event_at = at
        handler = self._handlers.get(name)
        if handler is not None:
            handler(msg, at)
            lid = msg.fields.get("Linkedid")
            if lid is not None:
                call = self._calls.get(lid)
                if call is not None:
                    call.last_seen = at

    def _evict(self, at: float) -> None:
        oldest = min(self._calls.values(), key=lambda c: c.last_seen)
        log.warning("more than %s live calls: closing the longest silent one, %s", self.max_live_calls,
                    oldest.rec.linkedid)
        self._finish(oldest, at, interrupted=True, reconciled=True)

    def begin_buffering(self) -> None:
        """Hold events from here on (the stream position of a resync snapshot) until `reconcile`."""
        with self._lock:
            if self._buffer is None:
                self._buffer = []

    def end_buffering(self) -> None:
        """Process the held events and go back to live processing."""
        with self._lock:
            held, self._buffer = self._buffer, None
            for msg in held or ():
                self._process(msg)

    def _derive_time(self, msg: Message) -> float:
        """Time for a message that came without one (replay without a timeline)."""
        ts = msg.fields.get("Timestamp")
        if ts:
            try:
                self._stream_time = max(self._stream_time, float(ts))
            except ValueError:
                pass
        elif msg.fields.get("Event") == "Newchannel":
            uid = msg.fields.get("Uniqueid", "")
            try:
                self._stream_time = max(self._stream_time, float(uid.split(".", 1)[0]))
            except ValueError:
                pass
        return self._stream_time or self._clock()

    # ------------------------------------------------------------------ helpers
    def _call_of(self, msg: Message) -> _Call | None:
        lid = msg.fields.get("Linkedid")
        if lid is None:
            uid = msg.fields.get("Uniqueid")
            lid = self._by_uid.get(uid) if uid else None
        return self._calls.get(lid) if lid else None

    def _customer_leg(self, call: _Call, msg: Message) -> bool:
        return msg.fields.get("Uniqueid") == call.customer_uid

    def _member(self, agent: str) -> _Member:
        m = self._members.get(agent)
        if m is None:
            m = self._members[agent] = _Member(agent)
        return m

    def _queue(self, name: str) -> _Queue:
        q = self._queues.get(name)
        if q is None:
            q = self._queues[name] = _Queue(name)
        return q

    # ------------------------------------------------------------------ channels
    def _on_newchannel(self, msg: Message, at: float) -> None:
        f = msg.fields
        lid = f.get("Linkedid", "")
        uid = f.get("Uniqueid", "")
        channel = f.get("Channel", "")
        if not lid or not uid or lid in self._ended or channel.startswith(TAP_CHANNEL_PREFIX):
            return
        call = self._calls.get(lid)
        if call is None:
            dialed = f.get("Exten", "")
            rec = CallRecord(
                linkedid=self.id_prefix + lid,
                caller=_clean_number(f.get("CallerIDNum", "")),
                caller_name=_clean_number(f.get("CallerIDName", "")),
                dialed=dialed,
                hotline=self._hotlines.get(dialed),
                started_at=at,
            )
            if len(self._calls) >= self.max_live_calls:
                self._evict(at)
            call = self._calls[lid] = _Call(rec=rec, key=lid, customer_uid=uid, last_seen=at)
            hv = _chan_var(msg, "HOTLINE")
            if hv in self._hotline_names:
                rec.hotline = hv
            self._publish(CallStarted(rec.linkedid, rec.caller, rec.caller_name, dialed, rec.hotline or "", at))
        elif uid == lid and not call.rec.dialed:
            # taken up by a resync before its Newchannel came through: fill in what only it says
            call.rec.dialed = f.get("Exten", "")
            call.rec.hotline = call.rec.hotline or self._hotlines.get(call.rec.dialed)
        call.channels[uid] = channel
        self._by_uid[uid] = lid
        self._by_channel[channel] = lid

    def _on_newexten(self, msg: Message, at: float) -> None:
        """A dialplan step; the first of the holding step announces the call on a dialplan without the
        UserEvent (made by an older `hotline asterisk-config`) when the AMI user reads `dialplan` events."""
        f = msg.fields
        if f.get("Context") == self.hold_context and f.get("Priority") == "1":
            self._holding(msg, f.get("Exten", ""), at)

    def _on_user_event(self, msg: Message, at: float) -> None:
        f = msg.fields
        if f.get("UserEvent") == HOLD_USER_EVENT:
            self._holding(msg, f.get("Hotline") or f.get("Exten", ""), at)

    def _holding(self, msg: Message, hotline: str, at: float) -> None:
        call = self._call_of(msg)
        if call is None or call.held or not self._customer_leg(call, msg):
            return
        call.held = True
        self._publish(CallHolding(call.rec.linkedid, msg.fields.get("Channel", ""), call.rec.caller, hotline, at))

    def _on_newcallerid(self, msg: Message, at: float) -> None:
        call = self._call_of(msg)
        if call is None or not self._customer_leg(call, msg):
            return
        num = _clean_number(msg.fields.get("CallerIDNum", ""))
        if num and not call.rec.caller:
            call.rec.caller = num
            call.rec.caller_name = _clean_number(msg.fields.get("CallerIDName", ""))

    def _on_varset(self, msg: Message, at: float) -> None:
        f = msg.fields
        var = f.get("Variable", "").lstrip("_")
        if var not in READ_VARIABLES:
            return
        call = self._call_of(msg)
        if call is None:
            return
        value = f.get("Value", "")
        rec = call.rec
        if var == "HOTLINE":
            if value in self._hotline_names and self._customer_leg(call, msg):
                rec.hotline = value
        elif var == "MIXMONITOR_FILENAME":
            if self._customer_leg(call, msg) or not rec.recording:
                rec.recording = value
        elif var in WATCHED_VARIABLES:
            if var == "WAYBILL":
                rec.waybill = value or None
            elif var == "CALLBACK_OFFER" and value and self._customer_leg(call, msg):
                call.offered = True  # the dialplan's [callback-offer] marks the caller it took out of a queue
            elif var == "IVR_PATH":
                # each IVR visit (the menu, later a callback offer) sets its own part of the path
                rec.ivr_path = join_ivr_path(rec.ivr_path, value)
            self._publish(CallVariable(rec.linkedid, var, value, at))

    def _on_dtmf(self, msg: Message, at: float) -> None:
        call = self._call_of(msg)
        if call is None or not self._customer_leg(call, msg):
            return
        if msg.fields.get("Direction", "Received") != "Received":
            return
        if call.in_queue or call.talks:
            return  # keys pressed while waiting or talking are not IVR choices
        digit = msg.fields.get("Digit", "")
        call.rec.digits += digit
        self._publish(IvrDigit(call.rec.linkedid, digit, call.rec.digits, at))

    # ------------------------------------------------------------------ queues
    def _on_queue_join(self, msg: Message, at: float) -> None:
        call = self._call_of(msg)
        if call is None:
            return
        f = msg.fields
        queue = f.get("Queue", "")
        uid = f.get("Uniqueid", "")
        if uid and uid != call.customer_uid:
            # the customer side is the channel waiting in the queue (Local;2 of a callback)
            call.customer_uid = uid
            num = _clean_number(f.get("CallerIDNum", ""))
            if num:
                call.rec.caller = num
                call.rec.caller_name = _clean_number(f.get("CallerIDName", ""))
        call.rec.queue = queue
        call.in_queue = True
        call.queued_ever = True
        call.offered = False
        call.queue_since = at
        position = _int(f.get("Position", "0"))
        self._queue(queue).waiting[call.rec.linkedid] = WaitingCaller(
            call.rec.linkedid, call.rec.caller, call.rec.caller_name, call.rec.hotline or "", position, at
        )
        self._publish(CallQueued(call.rec.linkedid, queue, position, at, f.get("Channel", "")))

    def _leave_queue(self, call: _Call, queue: str, reason: str, at: float) -> None:
        if call.in_queue and call.queue_since is not None:
            call.wait += max(0.0, at - call.queue_since)
        call.in_queue = False
        call.queue_since = None
        q = self._queue(queue)
        if q.waiting.pop(call.rec.linkedid, None) is not None:
            if reason == "abandoned":
                q.abandoned += 1
            self._publish(CallLeftQueue(call.rec.linkedid, queue, reason, at))

    def _on_queue_leave(self, msg: Message, at: float) -> None:
        call = self._call_of(msg)
        if call is None:
            return
        self._leave_queue(call, msg.fields.get("Queue", ""), "left", at)

    def _on_queue_abandon(self, msg: Message, at: float) -> None:
        call = self._call_of(msg)
        if call is None:
            return
        call.abandoned = True
        self._leave_queue(call, msg.fields.get("Queue", ""), "abandoned", at)

    # ------------------------------------------------------------------ agents
    def _on_agent_called(self, msg: Message, at: float) -> None:
        call = self._call_of(msg)
        if call is None:
            return
        f = msg.fields
        dest = f.get("DestChannel", "")
        agent = peer_of(f.get("Interface", "") or dest)
        queue = f.get("Queue", "")
        call.rings[dest] = _Ring(agent, queue, dest, at)
        call.agent_channels.add(dest)
        m = self._member(agent)
        m.name = f.get("MemberName", m.name)
        m.linkedid = call.rec.linkedid
        self._publish(AgentRinging(call.rec.linkedid, agent, queue, call.rec.caller, at))

    def _end_ring(self, call: _Call, dest: str, reason: str, at: float) -> None:
        ring = call.rings.get(dest)
        if ring is None or ring.ended:
            return
        ring.ended = True
        if reason != "answered":
            if ring.agent not in call.rec.rang:
                call.rec.rang.append(ring.agent)
            m = self._members.get(ring.agent)
            if m is not None and m.linkedid == call.rec.linkedid:
                m.linkedid = None
            self._publish(AgentRingStopped(call.rec.linkedid, ring.agent, reason, at))

    def _on_ring_no_answer(self, msg: Message, at: float) -> None:
        call = self._call_of(msg)
        if call is not None:
            self._end_ring(call, msg.fields.get("DestChannel", ""), "no_answer", at)

    def _on_dial_end(self, msg: Message, at: float) -> None:
        status = msg.fields.get("DialStatus", "")
        if status == "ANSWER":
            return
        call = self._call_of(msg)
        if call is not None:
            reason = "no_answer" if status == "NOANSWER" else "cancelled"
            self._end_ring(call, msg.fields.get("DestChannel", ""), reason, at)

    def _on_agent_connect(self, msg: Message, at: float) -> None:
        call = self._call_of(msg)
        if call is None:
            return
        f = msg.fields
        dest = f.get("DestChannel", "")
        agent = peer_of(f.get("Interface", "") or dest)
        queue = f.get("Queue", "")
        self._end_ring(call, dest, "answered", at)
        rec = call.rec
        if rec.answered_at is None:
            rec.answered_at = at
        if agent not in rec.agents:
            rec.agents.append(agent)
        rec.agent = agent
        call.talks.append(_Talk(agent, dest, at))
        call.agent_channels.add(dest)
        if call.in_queue:
            self._leave_queue(call, queue, "answered", at)
        self._queue(queue).answered += 1
        m = self._member(agent)
        m.linkedid = rec.linkedid
        self._publish(CallAnswered(rec.linkedid, agent, queue, at, f.get("Uniqueid", ""), f.get("DestUniqueid", "")))

    def _on_bridge_leave(self, msg: Message, at: float) -> None:
        call = self._call_of(msg)
        if call is None:
            return
        self._end_talk(call, msg.fields.get("Channel", ""), at)

    def _end_talk(self, call: _Call, channel: str, at: float) -> None:
        for talk in call.talks:
            if talk.dest_channel == channel and talk.end is None:
                talk.end = at

    # ------------------------------------------------------------------ hang-ups
    def _on_hangup_request(self, msg: Message, at: float) -> None:
        call = self._call_of(msg)
        if call is None or call.hangup_requested is not None:
            return
        channel = msg.fields.get("Channel", "")
        if self._customer_leg(call, msg):
            call.hangup_requested = "caller"
        elif channel in call.agent_channels and any(t.dest_channel == channel for t in call.talks):
            call.hangup_requested = "agent"

    def _on_hangup(self, msg: Message, at: float) -> None:
        f = msg.fields
        uid = f.get("Uniqueid", "")
        lid = self._by_uid.pop(uid, None)
        channel = f.get("Channel", "")
        self._by_channel.pop(channel, None)
        call = self._calls.get(lid) if lid else None
        if call is None:
            return
        call.channels.pop(uid, None)
        ring = call.rings.get(channel)
        if ring is not None and not ring.ended:
            self._end_ring(call, channel, "cancelled", at)
        self._end_talk(call, channel, at)
        if channel in call.agent_channels:
            for agent in {t.agent for t in call.talks if t.dest_channel == channel} | (
                {ring.agent} if ring else set()
            ):
                m = self._members.get(agent)
                if m is not None and m.linkedid == call.rec.linkedid:
                    m.linkedid = None
        if uid == call.customer_uid and f.get("Cause") == "21":
            call.rejected = True  # Call Rejected: refused by Hotline's routing (block list)
        if uid == call.customer_uid and call.in_queue and call.rec.queue:
            # hung up while waiting without a QueueCallerAbandon seen yet
            call.abandoned = True
            self._leave_queue(call, call.rec.queue, "abandoned", at)
        if not call.channels:
            self._finish(call, at, interrupted=False)

    def _finish(self, call: _Call, at: float, *, interrupted: bool, reconciled: bool = False) -> None:
        rec = call.rec
        lid = call.key
        self._calls.pop(lid, None)
        for uid in list(call.channels):
            self._by_uid.pop(uid, None)
        for ch in list(call.channels.values()):
            self._by_channel.pop(ch, None)
        for ring in call.rings.values():
            if not ring.ended:
                self._end_ring(call, ring.dest_channel, "cancelled", at)
        if call.in_queue and rec.queue:
            self._leave_queue(call, rec.queue, "left", at)
        for talk in call.talks:
            if talk.end is None:
                talk.end = at
            m = self._members.get(talk.agent)
            if m is not None and m.linkedid == rec.linkedid:
                m.linkedid = None
        rec.ended_at = at
        if call.queued_ever:
            rec.wait_s = round(call.wait, 3)
        if call.talks:
            rec.talk_s = round(sum((t.end or at) - t.start for t in call.talks), 3)
        rec.hangup_by = call.hangup_requested
        rec.reconciled = rec.reconciled or reconciled
        if call.talks:
            rec.outcome = "answered"
        elif rec.hotline is None:
            rec.outcome = "internal"
        elif interrupted:
            rec.outcome = "interrupted"
        elif call.rejected and not call.queued_ever:
            rec.outcome = "rejected"
        elif call.offered:
            rec.outcome = "callback_offered"
        elif call.queued_ever:
            gave_up = call.abandoned or call.hangup_requested == "caller"
            rec.outcome = "abandoned_in_queue" if gave_up else "unanswered"
        elif "closed" in (steps := (rec.ivr_path or "").split(">")):
            rec.outcome = "out_of_hours"  # the IVR's closed-hours branch (ivr.flow), whoever hung up
        elif _self_served(steps):
            rec.outcome = "self_served"
        else:
            rec.outcome = "abandoned_in_ivr"
        self._ended[lid] = None
        if len(self._ended) > RECENTLY_ENDED:
            self._ended.popitem(last=False)
        self._publish(CallEnded(rec, at))

    # ------------------------------------------------------------------ members
    def _on_member_status(self, msg: Message, at: float) -> None:
        f = msg.fields
        iface = f.get("Interface") or f.get("Location") or f.get("StateInterface", "")
        if not iface:
            return
        agent = peer_of(iface)
        queue = f.get("Queue", "")
        m = self._member(agent)
        m.name = f.get("MemberName") or f.get("Name") or m.name
        m.queues.add(queue)
        status = MEMBER_STATUS.get(f.get("Status", ""), m.status)
        paused_flag = f.get("Paused")
        if paused_flag == "1":
            m.paused[queue] = f.get("PausedReason") or f.get("Reason", "")
        elif paused_flag == "0":
            m.paused.pop(queue, None)
        if status != m.status:
            m.status = status
            m.since = at
        if status == "idle":
            m.linkedid = None
        self._publish(AgentStatus(agent, queue, m.status, bool(m.paused), _pause_reason(m), at))

    def _on_member_removed(self, msg: Message, at: float) -> None:
        f = msg.fields
        agent = peer_of(f.get("Interface", ""))
        queue = f.get("Queue", "")
        m = self._members.get(agent)
        if m is None:
            return
        m.queues.discard(queue)
        m.paused.pop(queue, None)
        if not m.queues:
            m.status = "unavailable"
            m.since = at
        self._publish(AgentStatus(agent, queue, m.status, bool(m.paused), _pause_reason(m), at))

    # ------------------------------------------------------------------ PBX life
    def _on_shutdown(self, msg: Message, at: float) -> None:
        self.pbx_shutdown = True

    def _on_fully_booted(self, msg: Message, at: float) -> None:
        uptime = _int(msg.fields.get("Uptime", "-1"))
        if self.pbx_shutdown or (0 <= uptime < 5 and self._calls):
            # a restarted Asterisk knows none of the calls we still hold
            self.close_all(at, reconciled=True)
        self.pbx_shutdown = False

    def close_all(self, at: float | None = None, *, reconciled: bool = False) -> int:
        """End every live call as interrupted (PBX gone). Returns how many were closed."""
        when = at if at is not None else (self.last_event_at or self._clock())
        with self._lock:
            calls = list(self._calls.values())
            for call in calls:
                self._finish(call, when, interrupted=True, reconciled=reconciled)
        return len(calls)

    # ------------------------------------------------------------------ resync
    def reconcile(self, channels: Sequence[ChannelInfo] | None, status: QueueStatus | None, asked_at: float,
                  now: float | None = None) -> ReconcileReport:
        """Bring the call state in line with what Asterisk reports after a (re)connect.

        `channels` (CoreShowChannels) and `status` (QueueStatus) were asked for at `asked_at`:
        calls seen in events after that are left alone. Calls none of whose channels are still up
        ended while we were away: closed with what is known, marked reconciled. Live calls we did
        not know are taken up; live calls we knew continue, with what changed meanwhile applied.
        The live resync always has both answers; a replayed capture may hold only one of them (its
        client asked for one alone): None is an answer not had, and what only it could tell is left
        as the events told it (no channels: no call closed or taken up; no status: queues and
        members as they were, no talk found from bridges, since only the members tell agents apart).
        The held events (`begin_buffering`) are processed after the snapshot is applied.
        """
        at = now if now is not None else self._clock()
        report = ReconcileReport()
        agent_ifaces = {m.interface for m in status.members} if status is not None else set()
        live = {c.uniqueid: c for c in channels or ()}
        entries = {e.uniqueid: e for e in status.entries} if status is not None else None
        by_linked: dict[str, list[ChannelInfo]] = {}
        for c in channels or ():
            if not c.channel.startswith(TAP_CHANNEL_PREFIX):
                by_linked.setdefault(c.linkedid, []).append(c)
        with self._lock:
            for lid, call in list(self._calls.items()):
                if call.last_seen > asked_at or (call.rec.started_at or 0) > asked_at:
                    continue
                if channels is not None:
                    if not any(uid in live for uid in call.channels):
                        call.rec.reconciled = True
                        self._finish(call, at, interrupted=True, reconciled=True)
                        report.closed.append(lid)
                        continue
                    for uid in [u for u in call.channels if u not in live]:
                        channel = call.channels.pop(uid)
                        self._by_uid.pop(uid, None)
                        self._by_channel.pop(channel, None)
                        if channel in call.rings and not call.rings[channel].ended:
                            self._end_ring(call, channel, "cancelled", at)
                        self._end_talk(call, channel, at)
                if self._apply_live(call, by_linked.get(lid, []), entries, agent_ifaces, at):
                    report.updated.append(lid)
            for lid, chans in by_linked.items():
                if lid in self._calls or lid in self._ended:
                    continue
                self._take_up(lid, chans, entries, agent_ifaces, at)
                report.taken_up.append(lid)
            for m in status.members if status is not None else ():
                agent = peer_of(m.interface)
                member = self._member(agent)
                member.name = m.name or member.name
                member.queues.add(m.queue)
                member.status = MEMBER_STATUS.get(m.status, member.status)
                if m.paused:
                    member.paused[m.queue] = m.paused_reason
                else:
                    member.paused.pop(m.queue, None)
            self.resyncs += 1
            self.end_buffering()
        log.info("resync: %s calls closed, %s taken up, %s updated", len(report.closed), len(report.taken_up),
                 len(report.updated))
        return report

    def _hotline_of(self, ch: ChannelInfo) -> tuple[str | None, str]:
        """(hotline, dialed number) of a channel met in a snapshot: its HOTLINE variable, else where
        in the dialplan it is (the number dialled, the holding step, a hotline's IVR context)."""
        if ch.hotline in self._hotline_names:
            return ch.hotline, ""
        if ch.exten in self._hotlines:
            return self._hotlines[ch.exten], ch.exten
        if ch.context == self.hold_context and ch.exten in self._hotline_names:
            return ch.exten, ""
        for prefix in ("hotline-", "ivr-"):
            name = ch.context[len(prefix):] if ch.context.startswith(prefix) else ""
            if name in self._hotline_names:
                return name, ""
        return None, ""

    def _apply_live(self, call: _Call, chans: list[ChannelInfo], entries: dict[str, QueueEntryInfo] | None,
                    agent_ifaces: set[str], at: float) -> bool:
        """What a snapshot says of a call now; `entries` None: no QueueStatus answer, its queue as it was."""
        changed = False
        customer = next((c for c in chans if c.uniqueid == call.customer_uid), None)
        entry = entries.get(call.customer_uid) if entries is not None else None
        if entry is not None and not call.in_queue:
            call.rec.queue = entry.queue
            call.in_queue = call.queued_ever = True
            call.queue_since = at - entry.wait_s
            self._queue(entry.queue).waiting[call.rec.linkedid] = WaitingCaller(
                call.rec.linkedid, call.rec.caller, call.rec.caller_name, call.rec.hotline or "", entry.position,
                call.queue_since)
            changed = True
        elif entries is not None and entry is None and call.in_queue and call.rec.queue:
            self._leave_queue(call, call.rec.queue, "left", at)
            changed = True
        if customer is not None and customer.bridge_id:
            for c in chans:
                iface = _iface_of(c.channel)
                if c is customer or iface not in agent_ifaces or c.bridge_id != customer.bridge_id:
                    continue
                if not any(t.dest_channel == c.channel and t.end is None for t in call.talks):
                    agent = peer_of(iface)
                    call.talks.append(_Talk(agent, c.channel, at))
                    call.agent_channels.add(c.channel)
                    if agent not in call.rec.agents:
                        call.rec.agents.append(agent)
                    call.rec.agent = agent
                    if call.rec.answered_at is None:
                        call.rec.answered_at = at
                    self._member(agent).linkedid = call.rec.linkedid
                    self._publish(CallAnswered(call.rec.linkedid, agent, call.rec.queue or "", at))
                    changed = True
        if changed:
            call.rec.reconciled = True
        return changed

    def _take_up(self, lid: str, chans: list[ChannelInfo], entries: dict[str, QueueEntryInfo] | None,
                 agent_ifaces: set[str], at: float) -> None:
        first = next((c for c in chans if c.uniqueid == lid), None) or next(
            (c for c in chans if _iface_of(c.channel) not in agent_ifaces), chans[0])
        queued = next((c for c in chans if c.uniqueid in (entries or {})), None)
        customer = queued or first
        hotline, dialed = self._hotline_of(first)
        if customer.hotline in self._hotline_names:
            hotline = customer.hotline
        rec = CallRecord(linkedid=self.id_prefix + lid, caller=_clean_number(customer.caller),
                         caller_name=_clean_number(customer.caller_name), dialed=dialed, hotline=hotline,
                         started_at=at - _duration_s(first.duration), reconciled=True)
        call = self._calls[lid] = _Call(rec=rec, key=lid, customer_uid=customer.uniqueid, last_seen=at)
        for c in chans:
            call.channels[c.uniqueid] = c.channel
            self._by_uid[c.uniqueid] = lid
            self._by_channel[c.channel] = lid
        self._publish(CallStarted(rec.linkedid, rec.caller, rec.caller_name, "", rec.hotline or "", at))
        self._apply_live(call, chans, entries, agent_ifaces, at)
        if call.in_queue and rec.queue and entries is not None:
            self._publish(CallQueued(rec.linkedid, rec.queue, entries[customer.uniqueid].position, at,
                                     customer.channel))

    # ------------------------------------------------------------------ reading
    def live_call_ids(self) -> list[str]:
        with self._lock:
            return list(self._calls)

    def snapshot(self, now: float | None = None) -> LiveSnapshot:
        at = now if now is not None else self._clock()
        with self._lock:
            queues = []
            for q in sorted(self._queues.values(), key=lambda q: q.name):
                waiting = tuple(sorted(q.waiting.values(), key=lambda w: w.since))
                longest = max((at - w.since for w in waiting), default=0.0)
                queues.append(QueueSnapshot(q.name, waiting, round(max(0.0, longest), 1),
                                            q.answered, q.abandoned))
            agents = []
            for m in sorted(self._members.values(), key=lambda m: m.agent):
                status = m.status
                if m.linkedid and status == "idle":
                    status = "ringing"
                agents.append(AgentSnapshot(m.agent, m.name, status, bool(m.paused), _pause_reason(m),
                                            m.linkedid, m.since))
            return LiveSnapshot(at, tuple(queues), tuple(agents), len(self._calls))




def _chan_var(msg: Message, name: str) -> str:
    for value in msg.all("ChanVariable"):
        key, _, val = value.partition("=")
        if key == name:
            return val
    return ""


def _clean_number(value: str) -> str:
    return "" if value in ("<unknown>", "unknown") else value


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


@dataclass(slots=True)
class ReconcileReport:
    closed: list[str] = field(default_factory=list)  # ended while we were away
    taken_up: list[str] = field(default_factory=list)  # live calls we did not know
    updated: list[str] = field(default_factory=list)  # known calls whose state changed meanwhile


def _iface_of(channel: str) -> str:
    """`SIP/agent1001-0000000a` -> `SIP/agent1001`."""
    head, sep, tail = channel.rpartition("-")
    return head if sep and len(tail) == 8 else channel


def _duration_s(value: str) -> float:
    try:
        h, m, s = (int(x) for x in value.split(":"))
    except ValueError:
        return 0.0
    return float(h * 3600 + m * 60 + s)


def _pause_reason(m: _Member) -> str:
    return next((r for r in m.paused.values() if r), "")
