"""Per-call state of the call tracker: what one Asterisk's calls, agents and queues are now (`CallBook`),
and the changes to it that publish domain events (a ring or talk ending, a caller leaving a queue, a
call ending with its outcome). `telephony.calls.CallTracker` changes it from AMI events,
`telephony.reconcile` from a resync's snapshot; both under the tracker's lock."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from telephony.events import AgentRingStopped, CallEnded, CallLeftQueue, DomainEvent
from telephony.live import AgentSnapshot, LiveSnapshot, QueueSnapshot, WaitingCaller
from telephony.records import CallRecord

RECENTLY_ENDED = 4096


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


def iface_of(channel: str) -> str:
    """`SIP/agent1001-0000000a` -> `SIP/agent1001`."""
    head, sep, tail = channel.rpartition("-")
    return head if sep and len(tail) == 8 else channel


def clean_number(value: str) -> str:
    return "" if value in ("<unknown>", "unknown") else value


@dataclass(slots=True)
class Ring:
    agent: str
    queue: str
    dest_channel: str
    at: float
    ended: bool = False


@dataclass(slots=True)
class Talk:
    agent: str
    dest_channel: str
    start: float
    end: float | None = None


@dataclass(slots=True)
class TrackedCall:
    rec: CallRecord
    key: str  # Asterisk's Linkedid (rec.linkedid may carry the PBX's prefix)
    channels: dict[str, str] = field(default_factory=dict)  # uniqueid -> channel name (live)
    customer_uid: str = ""  # the customer's leg: the queue caller, else the first channel
    agent_channels: set[str] = field(default_factory=set)
    rings: dict[str, Ring] = field(default_factory=dict)  # dest channel -> ring
    talks: list[Talk] = field(default_factory=list)
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
class Member:
    agent: str
    name: str = ""
    status: str = "unknown"
    paused: dict[str, str] = field(default_factory=dict)  # queue -> reason
    queues: set[str] = field(default_factory=set)
    linkedid: str | None = None
    since: float = 0.0


@dataclass(slots=True)
class QueueState:
    name: str
    waiting: dict[str, WaitingCaller] = field(default_factory=dict)
    answered: int = 0
    abandoned: int = 0


def pause_reason(m: Member) -> str:
    return next((r for r in m.paused.values() if r), "")


def _self_served(steps: list[str]) -> bool:
    """The IVR ended the call with its goodbye (ivr.flow `goodbye`; the caller may hang up during it) after
    serving the caller, not after an error."""
    while steps and steps[-1] == "hangup":
        steps = steps[:-1]
    return bool(steps) and steps[-1] == "goodbye" and "error" not in steps


def call_outcome(call: TrackedCall, *, interrupted: bool) -> str:
    """How a call that ends now ended (telephony.records.OUTCOMES), from what was seen of it."""
    rec = call.rec
    if call.talks:
        return "answered"
    elif rec.hotline is None:
        return "internal"
    elif interrupted:
        return "interrupted"
    elif call.rejected and not call.queued_ever:
        return "rejected"
    elif call.offered:
        return "callback_offered"
    elif call.queued_ever:
        gave_up = call.abandoned or call.hangup_requested == "caller"
        return "abandoned_in_queue" if gave_up else "unanswered"
    elif "closed" in (steps := (rec.ivr_path or "").split(">")):
        return "out_of_hours"  # the IVR's closed-hours branch (ivr.flow), whoever hung up
    elif _self_served(steps):
        return "self_served"
    else:
        return "abandoned_in_ivr"


class CallBook:
    """The live calls (by Linkedid, with their channels by Uniqueid and name), the calls ended lately,
    the queue members and the queues of one Asterisk. Not locked: its owner (the tracker) holds the lock."""

    def __init__(self, publish: Callable[[DomainEvent], None], id_prefix: str = "") -> None:
        self.publish = publish
        self.id_prefix = id_prefix  # before each Linkedid in the records (several Asterisks in one store)
        self.calls: dict[str, TrackedCall] = {}
        self.by_uid: dict[str, str] = {}  # uniqueid -> linkedid
        self.by_channel: dict[str, str] = {}  # channel name -> linkedid
        self.ended: OrderedDict[str, None] = OrderedDict()
        self.members: dict[str, Member] = {}
        self.queues: dict[str, QueueState] = {}

    def member(self, agent: str) -> Member:
        m = self.members.get(agent)
        if m is None:
            m = self.members[agent] = Member(agent)
        return m

    def queue(self, name: str) -> QueueState:
        q = self.queues.get(name)
        if q is None:
            q = self.queues[name] = QueueState(name)
        return q

    def leave_queue(self, call: TrackedCall, queue: str, reason: str, at: float) -> None:
        if call.in_queue and call.queue_since is not None:
            call.wait += max(0.0, at - call.queue_since)
        call.in_queue = False
        call.queue_since = None
        q = self.queue(queue)
        if q.waiting.pop(call.rec.linkedid, None) is not None:
            if reason == "abandoned":
                q.abandoned += 1
            self.publish(CallLeftQueue(call.rec.linkedid, queue, reason, at))

    def end_ring(self, call: TrackedCall, dest: str, reason: str, at: float) -> None:
        ring = call.rings.get(dest)
        if ring is None or ring.ended:
            return
        ring.ended = True
        if reason != "answered":
            if ring.agent not in call.rec.rang:
                call.rec.rang.append(ring.agent)
            m = self.members.get(ring.agent)
            if m is not None and m.linkedid == call.rec.linkedid:
                m.linkedid = None
            self.publish(AgentRingStopped(call.rec.linkedid, ring.agent, reason, at))

    def end_talk(self, call: TrackedCall, channel: str, at: float) -> None:
        for talk in call.talks:
            if talk.dest_channel == channel and talk.end is None:
                talk.end = at

    def finish(self, call: TrackedCall, at: float, *, interrupted: bool, reconciled: bool = False) -> None:
        rec = call.rec
        lid = call.key
        self.calls.pop(lid, None)
        for uid in list(call.channels):
            self.by_uid.pop(uid, None)
        for ch in list(call.channels.values()):
            self.by_channel.pop(ch, None)
        for ring in call.rings.values():
            if not ring.ended:
                self.end_ring(call, ring.dest_channel, "cancelled", at)
        if call.in_queue and rec.queue:
            self.leave_queue(call, rec.queue, "left", at)
        for talk in call.talks:
            if talk.end is None:
                talk.end = at
            m = self.members.get(talk.agent)
            if m is not None and m.linkedid == rec.linkedid:
                m.linkedid = None
        rec.ended_at = at
        if call.queued_ever:
            rec.wait_s = round(call.wait, 3)
        if call.talks:
            rec.talk_s = round(sum((t.end or at) - t.start for t in call.talks), 3)
        rec.hangup_by = call.hangup_requested
        rec.reconciled = rec.reconciled or reconciled
        rec.outcome = call_outcome(call, interrupted=interrupted)
        self.ended[lid] = None
        if len(self.ended) > RECENTLY_ENDED:
            self.ended.popitem(last=False)
        self.publish(CallEnded(rec, at))

    def snapshot(self, at: float) -> LiveSnapshot:
        """Queues, waiting callers and agents at `at` (telephony.live)."""
        queues = []
        for q in sorted(self.queues.values(), key=lambda q: q.name):
            waiting = tuple(sorted(q.waiting.values(), key=lambda w: w.since))
            longest = max((at - w.since for w in waiting), default=0.0)
            queues.append(QueueSnapshot(q.name, waiting, round(max(0.0, longest), 1),
                                        q.answered, q.abandoned))
        agents = []
        for m in sorted(self.members.values(), key=lambda m: m.agent):
            status = m.status
            if m.linkedid and status == "idle":
                status = "ringing"
            agents.append(AgentSnapshot(m.agent, m.name, status, bool(m.paused), pause_reason(m),
                                        m.linkedid, m.since))
        return LiveSnapshot(at, tuple(queues), tuple(agents), len(self.calls))
