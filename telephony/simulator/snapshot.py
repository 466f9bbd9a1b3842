"""What the simulated Asterisk would report at one instant (CoreShowChannels, QueueStatus): its channels,
queue callers and members' status, from the events of its call scripts sent so far."""

from __future__ import annotations

from dataclasses import dataclass, field

from telephony.simulator.dialplan import CHANNEL_KEYS
from telephony.simulator.pbx import SimulatedPbx


@dataclass(slots=True)
class SimChannel:
    fields: dict[str, str]
    chan_variable: str = ""
    application: str = ""
    application_data: str = ""
    bridge_id: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    started: float = 0.0


@dataclass(slots=True)
class SimEntry:
    queue: str
    channel: str
    uniqueid: str
    caller: str
    caller_name: str
    joined: float


@dataclass(slots=True)
class PbxState:
    """What Asterisk would report at one instant (CoreShowChannels, QueueStatus)."""

    channels: list[SimChannel]
    entries: list[SimEntry]
    member_status: dict[str, str]  # peer -> last QueueMemberStatus Status code


def state_at(pbx: SimulatedPbx, now: float, only: str | None = None) -> PbxState:
    """What Asterisk knows at `now`, as far as its events have been sent (never ahead of them);
    `only`: just the call with that Linkedid."""
    now = min(now, pbx.played_until)
    channels: dict[str, SimChannel] = {}
    entries: dict[str, SimEntry] = {}
    member: dict[str, str] = {}
    member_at: dict[str, float] = {}
    for script in pbx.live_scripts(only).values():
        for t, fields in script.messages:
            if t > now:
                break
            d = dict(fields)
            ev = d.get("Event", "")
            uid = d.get("Uniqueid", "")
            if ev == "QueueMemberStatus":
                peer = d.get("Interface", "").split("/", 1)[-1]
                if t >= member_at.get(peer, 0.0):
                    member[peer], member_at[peer] = d.get("Status", ""), t
                continue
            if not uid or "Channel" not in d:
                continue
            if ev == "Hangup":
                channels.pop(uid, None)
                entries.pop(uid, None)
                continue
            ch = channels.get(uid)
            if ch is None:
                if ev != "Newchannel":
                    continue
                ch = channels[uid] = SimChannel({}, started=t)
            for k in CHANNEL_KEYS:
                if k in d:
                    ch.fields[k] = d[k]
            if "ChanVariable" in d and ev != "VarSet":
                ch.chan_variable = d["ChanVariable"]
            if ev == "Newexten":
                ch.application, ch.application_data = d.get("Application", ""), d.get("AppData", "")
            elif ev == "BridgeEnter":
                ch.bridge_id = d.get("BridgeUniqueid", "")
            elif ev == "BridgeLeave":
                ch.bridge_id = ""
            elif ev == "VarSet":
                var = d.get("Variable", "").lstrip("_")
                ch.variables[var] = d.get("Value", "")
                if var == "HOTLINE":  # manager.conf channelvars: what ChanVariable reports from now on
                    ch.chan_variable = f"HOTLINE={d.get('Value', '')}"
            elif ev == "QueueCallerJoin":
                entries[uid] = SimEntry(d.get("Queue", ""), d.get("Channel", ""), uid, d.get("CallerIDNum", ""),
                                        d.get("CallerIDName", ""), t)
            elif ev in ("QueueCallerLeave", "QueueCallerAbandon"):
                entries.pop(uid, None)
    return PbxState(list(channels.values()), sorted(entries.values(), key=lambda e: e.joined), member)
