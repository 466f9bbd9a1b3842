"""A resync's snapshot (CoreShowChannels, QueueStatus) applied to the call state: calls that ended while
no one listened are closed, live calls not known are taken up, known ones get what changed meanwhile.
`CallTracker.reconcile` runs it under its lock (telephony.resync live, telephony.replay from a capture)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from telephony.actions import ChannelInfo, QueueEntryInfo, QueueStatus
from telephony.ami_reads import MEMBER_STATUS, TAP_CHANNEL_PREFIX, Hotlines
from telephony.call_state import CallBook, Talk, TrackedCall, clean_number, iface_of, peer_of
from telephony.events import CallAnswered, CallQueued, CallStarted
from telephony.live import WaitingCaller
from telephony.records import CallRecord


@dataclass(slots=True)
class ReconcileReport:
    closed: list[str] = field(default_factory=list)  # ended while we were away
    taken_up: list[str] = field(default_factory=list)  # live calls we did not know
    updated: list[str] = field(default_factory=list)  # known calls whose state changed meanwhile


def apply_snapshot(book: CallBook, hotlines: Hotlines, channels: Sequence[ChannelInfo] | None,
                   status: QueueStatus | None, asked_at: float, at: float) -> ReconcileReport:
    """Bring `book` in line with what Asterisk reported (see `CallTracker.reconcile`)."""
    report = ReconcileReport()
    agent_ifaces = {m.interface for m in status.members} if status is not None else set()
    live = {c.uniqueid: c for c in channels or ()}
    entries = {e.uniqueid: e for e in status.entries} if status is not None else None
    by_linked: dict[str, list[ChannelInfo]] = {}
    for c in channels or ():
        if not c.channel.startswith(TAP_CHANNEL_PREFIX):
            by_linked.setdefault(c.linkedid, []).append(c)
    for lid, call in list(book.calls.items()):
        if call.last_seen > asked_at or (call.rec.started_at or 0) > asked_at:
            continue
        if channels is not None:
            if not any(uid in live for uid in call.channels):
                call.rec.reconciled = True
                book.finish(call, at, interrupted=True, reconciled=True)
                report.closed.append(lid)
                continue
            for uid in [u for u in call.channels if u not in live]:
                channel = call.channels.pop(uid)
                book.by_uid.pop(uid, None)
                book.by_channel.pop(channel, None)
                if channel in call.rings and not call.rings[channel].ended:
                    book.end_ring(call, channel, "cancelled", at)
                book.end_talk(call, channel, at)
        if _apply_live(book, call, by_linked.get(lid, []), entries, agent_ifaces, at):
            report.updated.append(lid)
    for lid, chans in by_linked.items():
        if lid in book.calls or lid in book.ended:
            continue
        _take_up(book, hotlines, lid, chans, entries, agent_ifaces, at)
        report.taken_up.append(lid)
    for m in status.members if status is not None else ():
        agent = peer_of(m.interface)
        member = book.member(agent)
        member.name = m.name or member.name
        member.queues.add(m.queue)
        member.status = MEMBER_STATUS.get(m.status, member.status)
        if m.paused:
            member.paused[m.queue] = m.paused_reason
        else:
            member.paused.pop(m.queue, None)
    return report


def _hotline_of(hotlines: Hotlines, ch: ChannelInfo) -> tuple[str | None, str]:
    """(hotline, dialed number) of a channel met in a snapshot: its HOTLINE variable, else where
    in the dialplan it is (the number dialled, the holding step, a hotline's IVR context)."""
    if ch.hotline in hotlines.names:
        return ch.hotline, ""
    if ch.exten in hotlines.numbers:
        return hotlines.numbers[ch.exten], ch.exten
    if ch.context == hotlines.hold_context and ch.exten in hotlines.names:
        return ch.exten, ""
    for prefix in ("hotline-", "ivr-"):
        name = ch.context[len(prefix):] if ch.context.startswith(prefix) else ""
        if name in hotlines.names:
            return name, ""
    return None, ""


def _apply_live(book: CallBook, call: TrackedCall, chans: list[ChannelInfo],
                entries: dict[str, QueueEntryInfo] | None, agent_ifaces: set[str], at: float) -> bool:
    """What a snapshot says of a call now; `entries` None: no QueueStatus answer, its queue as it was."""
    changed = False
    customer = next((c for c in chans if c.uniqueid == call.customer_uid), None)
    entry = entries.get(call.customer_uid) if entries is not None else None
    if entry is not None and not call.in_queue:
        call.rec.queue = entry.queue
        call.in_queue = call.queued_ever = True
        call.queue_since = at - entry.wait_s
        book.queue(entry.queue).waiting[call.rec.linkedid] = WaitingCaller(
            call.rec.linkedid, call.rec.caller, call.rec.caller_name, call.rec.hotline or "", entry.position,
            call.queue_since)
        changed = True
    elif entries is not None and entry is None and call.in_queue and call.rec.queue:
        book.leave_queue(call, call.rec.queue, "left", at)
        changed = True
    if customer is not None and customer.bridge_id:
        for c in chans:
            iface = iface_of(c.channel)
            if c is customer or iface not in agent_ifaces or c.bridge_id != customer.bridge_id:
                continue
            if not any(t.dest_channel == c.channel and t.end is None for t in call.talks):
                agent = peer_of(iface)
                call.talks.append(Talk(agent, c.channel, at))
                call.agent_channels.add(c.channel)
                if agent not in call.rec.agents:
                    call.rec.agents.append(agent)
                call.rec.agent = agent
                if call.rec.answered_at is None:
                    call.rec.answered_at = at
                book.member(agent).linkedid = call.rec.linkedid
                book.publish(CallAnswered(call.rec.linkedid, agent, call.rec.queue or "", at))
                changed = True
    if changed:
        call.rec.reconciled = True
    return changed


def _take_up(book: CallBook, hotlines: Hotlines, lid: str, chans: list[ChannelInfo],
             entries: dict[str, QueueEntryInfo] | None, agent_ifaces: set[str], at: float) -> None:
    """A live call the tracker did not know (begun while no one listened): its record from the snapshot."""
    first = next((c for c in chans if c.uniqueid == lid), None) or next(
        (c for c in chans if iface_of(c.channel) not in agent_ifaces), chans[0])
    queued = next((c for c in chans if c.uniqueid in (entries or {})), None)
    customer = queued or first
    hotline, dialed = _hotline_of(hotlines, first)
    if customer.hotline in hotlines.names:
        hotline = customer.hotline
    rec = CallRecord(linkedid=book.id_prefix + lid, caller=clean_number(customer.caller),
                     caller_name=clean_number(customer.caller_name), dialed=dialed, hotline=hotline,
                     started_at=at - _duration_s(first.duration), reconciled=True)
    call = book.calls[lid] = TrackedCall(rec=rec, key=lid, customer_uid=customer.uniqueid, last_seen=at)
    for c in chans:
        call.channels[c.uniqueid] = c.channel
        book.by_uid[c.uniqueid] = lid
        book.by_channel[c.channel] = lid
    book.publish(CallStarted(rec.linkedid, rec.caller, rec.caller_name, "", rec.hotline or "", at))
    _apply_live(book, call, chans, entries, agent_ifaces, at)
    if call.in_queue and rec.queue and entries is not None:
        book.publish(CallQueued(rec.linkedid, rec.queue, entries[customer.uniqueid].position, at,
                                customer.channel))


def _duration_s(value: str) -> float:
    try:
        h, m, s = (int(x) for x in value.split(":"))
    except ValueError:
        return 0.0
    return float(h * 3600 + m * 60 + s)
