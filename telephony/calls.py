"""Call state: turns the AMI event stream into calls keyed by Linkedid and publishes domain events.

One `CallTracker` per PBX connection feed. It is fed `Message`s in stream order on one thread
(the AMI reader, or replay) and needs no lock for that; `snapshot()` may be called from other
threads and takes the lock. What it reads: `telephony.ami_reads`; the calls, agents and queues it
keeps and the changes that publish events: `telephony.call_state`; a resync's snapshot applied:
`telephony.reconcile`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from telephony.actions import ChannelInfo, QueueStatus
from telephony.ami_reads import (
    DEFAULT_HOTLINES,
    HOLD_USER_EVENT,
    HOTLINE_NAMES,
    MEMBER_STATUS,
    READ_VARIABLES,
    TAP_CHANNEL_PREFIX,
    WATCHED_VARIABLES,
    Hotlines,
)
from telephony.call_state import CallBook, Ring, Talk, TrackedCall, clean_number, pause_reason, peer_of
from telephony.events import (
    AgentRinging,
    AgentStatus,
    CallAnswered,
    CallHolding,
    CallQueued,
    CallStarted,
    CallVariable,
    DomainEvent,
    IvrDigit,
)
from telephony.frames import Message
from telephony.live import LiveSnapshot, WaitingCaller
from telephony.reconcile import ReconcileReport, apply_snapshot
from telephony.records import CallRecord, join_ivr_path

log = logging.getLogger(__name__)

MAX_LIVE_CALLS = 50_000  # beyond this, the longest-silent calls are closed (a corrupt stream must not eat memory)


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
        numbers = dict(hotlines or DEFAULT_HOTLINES)
        self._hotlines = Hotlines(numbers, frozenset(numbers.values()) | HOTLINE_NAMES, hold_context)
        self._clock = clock
        self._book = CallBook(publish, id_prefix)
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

    @property
    def id_prefix(self) -> str:
        """Before each Linkedid in the records: "" for one Asterisk, e.g. "pbx2:" for one of several."""
        return self._book.id_prefix

    @property
    def hold_context(self) -> str:
        """The dialplan's holding step (see `hotline asterisk-config`)."""
        return self._hotlines.hold_context

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
                call = self._book.calls.get(lid)
                if call is not None:
                    call.last_seen = at

    def _evict(self, at: float) -> None:
        oldest = min(self._book.calls.values(), key=lambda c: c.last_seen)
        log.warning("more than %s live calls: closing the longest silent one, %s", self.max_live_calls,
                    oldest.rec.linkedid)
        self._book.finish(oldest, at, interrupted=True, reconciled=True)

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
    def _call_of(self, msg: Message) -> TrackedCall | None:
        lid = msg.fields.get("Linkedid")
        if lid is None:
            uid = msg.fields.get("Uniqueid")
            lid = self._book.by_uid.get(uid) if uid else None
        return self._book.calls.get(lid) if lid else None

    def _customer_leg(self, call: TrackedCall, msg: Message) -> bool:
        return msg.fields.get("Uniqueid") == call.customer_uid

    # ------------------------------------------------------------------ channels
    def _on_newchannel(self, msg: Message, at: float) -> None:
        f = msg.fields
        lid = f.get("Linkedid", "")
        uid = f.get("Uniqueid", "")
        channel = f.get("Channel", "")
        if not lid or not uid or lid in self._book.ended or channel.startswith(TAP_CHANNEL_PREFIX):
            return
        call = self._book.calls.get(lid)
        if call is None:
            dialed = f.get("Exten", "")
            rec = CallRecord(
                linkedid=self.id_prefix + lid,
                caller=clean_number(f.get("CallerIDNum", "")),
                caller_name=clean_number(f.get("CallerIDName", "")),
                dialed=dialed,
                hotline=self._hotlines.numbers.get(dialed),
                started_at=at,
            )
            if len(self._book.calls) >= self.max_live_calls:
                self._evict(at)
            call = self._book.calls[lid] = TrackedCall(rec=rec, key=lid, customer_uid=uid, last_seen=at)
            hv = _chan_var(msg, "HOTLINE")
            if hv in self._hotlines.names:
                rec.hotline = hv
            self._publish(CallStarted(rec.linkedid, rec.caller, rec.caller_name, dialed, rec.hotline or "", at))
        elif uid == lid and not call.rec.dialed:
            # taken up by a resync before its Newchannel came through: fill in what only it says
            call.rec.dialed = f.get("Exten", "")
            call.rec.hotline = call.rec.hotline or self._hotlines.numbers.get(call.rec.dialed)
        call.channels[uid] = channel
        self._book.by_uid[uid] = lid
        self._book.by_channel[channel] = lid

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
        num = clean_number(msg.fields.get("CallerIDNum", ""))
        if num and not call.rec.caller:
            call.rec.caller = num
            call.rec.caller_name = clean_number(msg.fields.get("CallerIDName", ""))

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
            if value in self._hotlines.names and self._customer_leg(call, msg):
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
            num = clean_number(f.get("CallerIDNum", ""))
            if num:
                call.rec.caller = num
                call.rec.caller_name = clean_number(f.get("CallerIDName", ""))
        call.rec.queue = queue
        call.in_queue = True
        call.queued_ever = True
        call.offered = False
        call.queue_since = at
        position = _int(f.get("Position", "0"))
        self._book.queue(queue).waiting[call.rec.linkedid] = WaitingCaller(
            call.rec.linkedid, call.rec.caller, call.rec.caller_name, call.rec.hotline or "", position, at
        )
        self._publish(CallQueued(call.rec.linkedid, queue, position, at, f.get("Channel", "")))

    def _on_queue_leave(self, msg: Message, at: float) -> None:
        call = self._call_of(msg)
        if call is None:
            return
        self._book.leave_queue(call, msg.fields.get("Queue", ""), "left", at)

    def _on_queue_abandon(self, msg: Message, at: float) -> None:
        call = self._call_of(msg)
        if call is None:
            return
        call.abandoned = True
        self._book.leave_queue(call, msg.fields.get("Queue", ""), "abandoned", at)

    # ------------------------------------------------------------------ agents
    def _on_agent_called(self, msg: Message, at: float) -> None:
        call = self._call_of(msg)
        if call is None:
            return
        f = msg.fields
        dest = f.get("DestChannel", "")
        agent = peer_of(f.get("Interface", "") or dest)
        queue = f.get("Queue", "")
        call.rings[dest] = Ring(agent, queue, dest, at)
        call.agent_channels.add(dest)
        m = self._book.member(agent)
        m.name = f.get("MemberName", m.name)
        m.linkedid = call.rec.linkedid
        self._publish(AgentRinging(call.rec.linkedid, agent, queue, call.rec.caller, at))

    def _on_ring_no_answer(self, msg: Message, at: float) -> None:
        call = self._call_of(msg)
        if call is not None:
            self._book.end_ring(call, msg.fields.get("DestChannel", ""), "no_answer", at)

    def _on_dial_end(self, msg: Message, at: float) -> None:
        status = msg.fields.get("DialStatus", "")
        if status == "ANSWER":
            return
        call = self._call_of(msg)
        if call is not None:
            reason = "no_answer" if status == "NOANSWER" else "cancelled"
            self._book.end_ring(call, msg.fields.get("DestChannel", ""), reason, at)

    def _on_agent_connect(self, msg: Message, at: float) -> None:
        call = self._call_of(msg)
        if call is None:
            return
        f = msg.fields
        dest = f.get("DestChannel", "")
        agent = peer_of(f.get("Interface", "") or dest)
        queue = f.get("Queue", "")
        self._book.end_ring(call, dest, "answered", at)
        rec = call.rec
        if rec.answered_at is None:
            rec.answered_at = at
        if agent not in rec.agents:
            rec.agents.append(agent)
        rec.agent = agent
        call.talks.append(Talk(agent, dest, at))
        call.agent_channels.add(dest)
        if call.in_queue:
            self._book.leave_queue(call, queue, "answered", at)
        self._book.queue(queue).answered += 1
        m = self._book.member(agent)
        m.linkedid = rec.linkedid
        self._publish(CallAnswered(rec.linkedid, agent, queue, at, f.get("Uniqueid", ""), f.get("DestUniqueid", "")))

    def _on_bridge_leave(self, msg: Message, at: float) -> None:
        call = self._call_of(msg)
        if call is None:
            return
        self._book.end_talk(call, msg.fields.get("Channel", ""), at)

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
        lid = self._book.by_uid.pop(uid, None)
        channel = f.get("Channel", "")
        self._book.by_channel.pop(channel, None)
        call = self._book.calls.get(lid) if lid else None
        if call is None:
            return
        call.channels.pop(uid, None)
        ring = call.rings.get(channel)
        if ring is not None and not ring.ended:
            self._book.end_ring(call, channel, "cancelled", at)
        self._book.end_talk(call, channel, at)
        if channel in call.agent_channels:
            for agent in {t.agent for t in call.talks if t.dest_channel == channel} | (
                {ring.agent} if ring else set()
            ):
                m = self._book.members.get(agent)
                if m is not None and m.linkedid == call.rec.linkedid:
                    m.linkedid = None
        if uid == call.customer_uid and f.get("Cause") == "21":
            call.rejected = True  # Call Rejected: refused by Hotline's routing (block list)
        if uid == call.customer_uid and call.in_queue and call.rec.queue:
            # hung up while waiting without a QueueCallerAbandon seen yet
            call.abandoned = True
            self._book.leave_queue(call, call.rec.queue, "abandoned", at)
        if not call.channels:
            self._book.finish(call, at, interrupted=False)

    # ------------------------------------------------------------------ members
    def _on_member_status(self, msg: Message, at: float) -> None:
        f = msg.fields
        iface = f.get("Interface") or f.get("Location") or f.get("StateInterface", "")
        if not iface:
            return
        agent = peer_of(iface)
        queue = f.get("Queue", "")
        m = self._book.member(agent)
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
        self._publish(AgentStatus(agent, queue, m.status, bool(m.paused), pause_reason(m), at))

    def _on_member_removed(self, msg: Message, at: float) -> None:
        f = msg.fields
        agent = peer_of(f.get("Interface", ""))
        queue = f.get("Queue", "")
        m = self._book.members.get(agent)
        if m is None:
            return
        m.queues.discard(queue)
        m.paused.pop(queue, None)
        if not m.queues:
            m.status = "unavailable"
            m.since = at
        self._publish(AgentStatus(agent, queue, m.status, bool(m.paused), pause_reason(m), at))

    # ------------------------------------------------------------------ PBX life
    def _on_shutdown(self, msg: Message, at: float) -> None:
        self.pbx_shutdown = True

    def _on_fully_booted(self, msg: Message, at: float) -> None:
        uptime = _int(msg.fields.get("Uptime", "-1"))
        if self.pbx_shutdown or (0 <= uptime < 5 and self._book.calls):
            # a restarted Asterisk knows none of the calls we still hold
            self.close_all(at, reconciled=True)
        self.pbx_shutdown = False

    def close_all(self, at: float | None = None, *, reconciled: bool = False) -> int:
        """End every live call as interrupted (PBX gone). Returns how many were closed."""
        when = at if at is not None else (self.last_event_at or self._clock())
        with self._lock:
            calls = list(self._book.calls.values())
            for call in calls:
                self._book.finish(call, when, interrupted=True, reconciled=reconciled)
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
        with self._lock:
            report = apply_snapshot(self._book, self._hotlines, channels, status, asked_at, at)
            self.resyncs += 1
            self.end_buffering()
        log.info("resync: %s calls closed, %s taken up, %s updated", len(report.closed), len(report.taken_up),
                 len(report.updated))
        return report

    # ------------------------------------------------------------------ reading
    def live_call_ids(self) -> list[str]:
        with self._lock:
            return list(self._book.calls)

    def snapshot(self, now: float | None = None) -> LiveSnapshot:
        at = now if now is not None else self._clock()
        with self._lock:
            return self._book.snapshot(at)


def _chan_var(msg: Message, name: str) -> str:
    for value in msg.all("ChanVariable"):
        key, _, val = value.partition("=")
        if key == name:
            return val
    return ""


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0
