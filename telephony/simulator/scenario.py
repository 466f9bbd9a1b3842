"""Call scripts for the PBX simulator, cut from real Asterisk captures.

A template is every message a real Asterisk 20 sent for one call scenario, with its receive time
(scripts/extract_sim_templates.py made them from ../shared/asterisk-traces). A script is a
template with its identities replaced (Uniqueids, channel names, caller, agents, bridge ids,
SIP call ids, recording folder, clock times) and its timing stretched (longer waits, talks), so
every simulated call carries the events and fields of a real one.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources

from telephony.ami_reads import HOLD_USER_EVENT

Fields = list[tuple[str, str]]

SCENARIOS = (
    "service_answered",  # service hotline, key 1 (tracking), queue service, agent answers, caller hangs up
    "claims_ringall_agent_hangs_up",  # claims hotline, no key, ringall: one agent answers, agent hangs up
    "complaints_abandoned",  # service hotline, key 2 (complaint), nobody free, caller abandons
    "service_ring_no_answer",  # service hotline, invalid key then 1, first agent does not answer
)
AGENTS_NEEDED = {
    "service_answered": 1,
    "claims_ringall_agent_hangs_up": 2,
    "complaints_abandoned": 0,
    "service_ring_no_answer": 2,
}
TEMPLATE_RECORDINGS = "/var/spool/asterisk/monitor"
# the lab's queues.conf: which queues each captured agent was a member of
LAB_MEMBERSHIP = {"agent1001": ("service",), "agent1002": ("service", "claims", "complaints"),
                  "agent1003": ("service", "claims", "complaints")}
_TIME_FIELDS = {"StartTime", "AnswerTime", "EndTime"}
_TV_FIELDS = {"EventTV", "SessionTV"}


class ScenarioError(Exception):
    """An unknown scenario or parameters it cannot take."""


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    messages: tuple[tuple[float, Fields], ...]
    caller: str
    caller_name: str
    uniqueids: tuple[str, ...]
    channels: tuple[str, ...]
    agents: tuple[str, ...]  # peers in order of their first ring
    agent_numbers: dict[str, str]
    agent_names: dict[str, str]  # peer -> CallerIDName
    member_names: dict[str, str]  # peer -> queue MemberName
    bridge_ids: tuple[str, ...]
    sip_call_ids: tuple[str, ...]


@cache
def load_template(name: str) -> Template:
    if name not in SCENARIOS:
        raise ScenarioError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    raw = json.loads(resources.files("telephony.simulator").joinpath(f"templates/{name}.json").read_text("utf-8"))
    msgs = tuple((float(t), [(k, v) for k, v in f]) for t, f in raw["messages"])
    uids: list[str] = []
    chans: list[str] = []
    agents: list[str] = []
    numbers: dict[str, str] = {}
    names: dict[str, str] = {}
    members: dict[str, str] = {}
    bridges: list[str] = []
    callids: list[str] = []
    caller = caller_name = ""
    for _, fields in msgs:
        d = dict(fields)
        ev = d.get("Event")
        if ev == "Newchannel":
            uids.append(d["Uniqueid"])
            chans.append(d["Channel"])
            if len(chans) == 1:
                caller, caller_name = d["CallerIDNum"], d["CallerIDName"]
            else:
                peer = d["Channel"].split("/", 1)[1].rsplit("-", 1)[0]
                numbers[peer] = d["CallerIDNum"]
                names[peer] = d["CallerIDName"]
        elif ev == "AgentCalled":
            peer = d["Interface"].split("/", 1)[1]
            if peer not in agents:
                agents.append(peer)
            members[peer] = d["MemberName"]
        if "BridgeUniqueid" in d and d["BridgeUniqueid"] not in bridges:
            bridges.append(d["BridgeUniqueid"])
        if ev == "VarSet" and d.get("Variable") in ("SIPCALLID",) and d["Value"] not in callids:
            callids.append(d["Value"])
    return Template(name, msgs, caller, caller_name, tuple(uids), tuple(chans), tuple(agents), numbers,
                    names, members, tuple(bridges), tuple(callids))


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    peer: str  # agent1001
    number: str  # 1001
    name: str  # CallerIDName, e.g. "Anna Agent"
    member_name: str  # queue MemberName


@dataclass(slots=True)
class CallParams:
    caller: str
    caller_name: str
    agents: list[AgentIdentity]
    start: float  # epoch seconds of the first event
    first_uid_seq: int  # Asterisk's channel sequence: Uniqueid suffix and channel name suffix
    recordings_dir: str
    extra_wait_s: float = 0.0
    talk_s: float | None = None  # stretch the talk to this long (answered scenarios)
    abandon_after_s: float | None = None  # stretch the wait before the caller gives up
    waybill: str | None = None  # typed after key 1 on the service menu
    uniqueid_prefix: int | None = None
    memberships: dict[str, list[str]] | None = None  # peer -> its queues: one QueueMemberStatus per queue
    ivr_variables: dict[str, str] | None = None  # what the IVR (FastAGI) set on the channel
    hold_s: float | None = None  # routing "ami": wait this long in [hotline-hold] unless Redirected


@dataclass(slots=True)
class CallScript:
    scenario: str
    linkedid: str
    messages: list[tuple[float, Fields]]
    agents: list[str]
    recording: str | None
    end: float
    uniqueids: list[str] = field(default_factory=list)
    answered_by: str | None = None
    hold_until: float | None = None  # when the holding step would give up waiting for a Redirect (None once left)
    fallback_at: float | None = None  # the same deadline, kept after a Redirect (what tests compare with)


def _index(msgs: list[tuple[float, Fields]], event: str, after: int = 0) -> int | None:
    for i in range(after, len(msgs)):
        for k, v in msgs[i][1]:
            if k == "Event":
                if v == event:
                    return i
                break
    return None


def _shift(msgs: list[tuple[float, Fields]], start: int, delta: float) -> None:
    for i in range(start, len(msgs)):
        t, f = msgs[i]
        msgs[i] = (t + delta, f)


def _add_seconds(fields: Fields, names: dict[str, float]) -> Fields:
    out = []
    for k, v in fields:
        if k in names:
            try:
                v = str(max(0, int(v) + int(round(names[k]))))
            except ValueError:
                pass
        out.append((k, v))
    return out


def build_script(name: str, p: CallParams) -> CallScript:
    tpl = load_template(name)
    need = AGENTS_NEEDED[name]
    if len(p.agents) < need:
        raise ScenarioError(f"scenario {name} needs {need} agents, got {len(p.agents)}")
    msgs: list[tuple[float, Fields]] = [(t, list(f)) for t, f in tpl.messages]

    # --- timing: waybill digits, longer wait, longer talk / later abandon
    if p.waybill is not None:
        if name != "service_answered":
            raise ScenarioError("a waybill is typed only in the service_answered scenario")
        if not p.waybill.isdigit():
            raise ScenarioError(f"waybill {p.waybill!r} must be digits")
        msgs = _insert_waybill(msgs, p.waybill)
    if p.ivr_variables:
        msgs = _insert_variables(msgs, p.ivr_variables)
    hold_end_rel: float | None = None
    if p.hold_s is not None:
        msgs, hold_end_rel = _insert_hold(msgs, p.hold_s)
    if p.extra_wait_s > 0:
        i = _index(msgs, "AgentCalled")
        if i is not None:
            _shift(msgs, i, p.extra_wait_s)
            for j in range(i, len(msgs)):
                if dict(msgs[j][1]).get("Event") in ("AgentConnect", "AgentComplete"):
                    msgs[j] = (msgs[j][0], _add_seconds(msgs[j][1], {"HoldTime": p.extra_wait_s}))
    if p.talk_s is not None:
        if p.talk_s <= 0:
            raise ScenarioError(f"talk time must be positive, not {p.talk_s}")
        c = _index(msgs, "AgentConnect")
        h = _index(msgs, "HangupRequest", c or 0)
        if c is not None and h is not None:
            delta = p.talk_s - (msgs[h][0] - msgs[c][0])
            end_at = msgs[h][0] + delta
            talk = msgs[c + 1 : h]
            if delta < 0:  # a shorter talk: no RTCP report falls after the hang-up; the rest comes at it
                talk = [(min(t, end_at), f) for t, f in talk
                        if t < end_at or dict(f).get("Event") != "RTCPSent"]
            else:  # a longer talk: RTP keeps sending its RTCP report every 5 s per channel
                extra = []
                for t, f in talk:
                    if dict(f).get("Event") == "RTCPSent":
                        rep = 1
                        while t + 5.0 * rep < end_at:
                            extra.append((t + 5.0 * rep, f))
                            rep += 1
                talk = sorted(talk + extra, key=lambda x: x[0])
            tail = [(t + delta, f) for t, f in msgs[h:]]
            msgs = msgs[: c + 1] + talk + tail
            for j in range(c + 1 + len(talk), len(msgs)):
                ev = dict(msgs[j][1]).get("Event")
                if ev == "AgentComplete":
                    msgs[j] = (msgs[j][0], _add_seconds(msgs[j][1], {"TalkTime": delta}))
                elif ev == "Cdr":
                    msgs[j] = (msgs[j][0], _add_seconds(msgs[j][1], {"Duration": delta, "BillableSeconds": delta}))
    if p.abandon_after_s is not None:
        joined = _index(msgs, "QueueCallerJoin")
        gone = _index(msgs, "HangupRequest", joined or 0)
        if joined is not None and gone is not None:
            delta = p.abandon_after_s - (msgs[gone][0] - msgs[joined][0])
            if delta > 0:
                _shift(msgs, gone, delta)
                for n in range(gone, len(msgs)):
                    if dict(msgs[n][1]).get("Event") in ("QueueCallerAbandon", "Cdr"):
                        msgs[n] = (msgs[n][0], _add_seconds(msgs[n][1], {"HoldTime": delta, "Duration": delta,
                                                                         "BillableSeconds": delta}))

    # --- identities
    prefix = p.uniqueid_prefix if p.uniqueid_prefix is not None else int(p.start)
    mapping: dict[str, str] = {}
    new_uids = []
    old_epoch = float(tpl.uniqueids[0].split(".")[0])
    for i, uid in enumerate(tpl.uniqueids):
        old_ep = float(uid.split(".")[0])
        new_uid = f"{prefix + int(old_ep - old_epoch)}.{p.first_uid_seq + i}"
        mapping[uid] = new_uid
        new_uids.append(new_uid)
    for i, chan in enumerate(tpl.channels):
        tech_peer = chan.rsplit("-", 1)[0]
        mapping[chan] = f"{tech_peer}-{p.first_uid_seq + i:08x}"
    mapping[tpl.caller] = p.caller
    mapping[tpl.caller_name] = p.caller_name
    for old_peer, agent in zip(tpl.agents, p.agents, strict=False):
        for i, chan in enumerate(tpl.channels):
            if chan.startswith(f"SIP/{old_peer}-"):
                mapping[chan] = f"SIP/{agent.peer}-{p.first_uid_seq + i:08x}"
        mapping[f"SIP/{old_peer}"] = f"SIP/{agent.peer}"
        mapping[old_peer] = agent.peer
        mapping[tpl.agent_numbers[old_peer]] = agent.number
        mapping[tpl.agent_names[old_peer]] = agent.name
        mapping[tpl.member_names[old_peer]] = agent.member_name
    for b in tpl.bridge_ids:
        mapping[b] = str(uuid.uuid4())
    for cid in tpl.sip_call_ids:
        host = cid.split("@", 1)[1] if "@" in cid else "127.0.0.1"
        mapping[cid] = f"{uuid.uuid4().hex}@{host}"
    mapping[TEMPLATE_RECORDINGS] = p.recordings_dir.rstrip("/")
    keys = sorted(mapping, key=len, reverse=True)
    pattern = re.compile("|".join(rf"(?<![0-9A-Za-z]){re.escape(k)}(?![0-9A-Za-z])" for k in keys))

    done: dict[str, str] = {}  # a script repeats most values (channels, ids, names): each is rewritten once

    def sub(value: str) -> str:
        new = done.get(value)
        if new is None:
            new = done[value] = pattern.sub(lambda m: mapping[m.group(0)], value)
        return new

    t0 = tpl.messages[0][0]
    clock_shift = p.start - (old_epoch + t0)
    # the template's own wall clock: its first event happened at the first Uniqueid's epoch (+ fraction)
    out: list[tuple[float, Fields]] = []
    recording = None
    for t, fields in msgs:
        new_fields: Fields = []
        for k, v in fields:
            if k in _TIME_FIELDS and v:
                v = _shift_time(v, "%Y-%m-%d %H:%M:%S", clock_shift)
            elif k in _TV_FIELDS and v:
                v = _shift_tv(v, clock_shift)
            elif v:
                v = sub(v)
            new_fields.append((k, v))
        d = dict(new_fields)
        if d.get("Event") == "VarSet" and d.get("Variable") == "MIXMONITOR_FILENAME" and d.get("Value"):
            recording = d["Value"]
        out.append((p.start + (t - t0), new_fields))
    if p.memberships is not None:
        # agents whose queues are those of the lab agent they stand in for keep the real run as is
        same = {new.peer for old, new in zip(tpl.agents, p.agents, strict=False)
                if p.memberships.get(new.peer) == list(LAB_MEMBERSHIP.get(old, ()))}
        out = _expand_member_status(out, {k: v for k, v in p.memberships.items() if k not in same})
    answered_by = None
    connect = _index(out, "AgentConnect")
    if connect is not None:
        iface = dict(out[connect][1]).get("Interface", "")
        answered_by = iface.split("/", 1)[-1]
    hold_until = p.start + (hold_end_rel - t0) if hold_end_rel is not None else None
    return CallScript(name, new_uids[0], out, [a.peer for a in p.agents[:need]], recording, out[-1][0],
                      new_uids, answered_by, hold_until)


def _expand_member_status(msgs: list[tuple[float, Fields]], memberships: dict[str, list[str]]
                          ) -> list[tuple[float, Fields]]:
    """Asterisk sends a QueueMemberStatus per queue the member is in: the template's run for its
    agent becomes one per queue of the agent put in its place."""
    out: list[tuple[float, Fields]] = []
    last: dict[str, str] = {}  # interface -> status of its last QueueMemberStatus
    for t, fields in msgs:
        d = dict(fields)
        if d.get("Event") == "DeviceStateChange" and d.get("Device", "").endswith("_avail"):
            continue  # a queue's availability is derived while playing, from all calls at once
        if d.get("Event") != "QueueMemberStatus":
            out.append((t, fields))
            continue
        iface, status = d.get("Interface", ""), d.get("Status", "")
        peer = iface.split("/", 1)[-1]
        if peer not in memberships:
            out.append((t, fields))
            continue
        if last.get(iface) == status:
            continue  # the rest of the template's run for this state change
        last[iface] = status
        for queue in memberships[peer]:
            out.append((t, [(k, queue if k == "Queue" else v) for k, v in fields]))
    return out


def _shift_time(value: str, fmt: str, delta: float) -> str:
    try:
        dt = datetime.strptime(value, fmt).replace(tzinfo=UTC)
    except ValueError:
        return value
    return datetime.fromtimestamp(dt.timestamp() + delta, tz=UTC).strftime(fmt)


def _shift_tv(value: str, delta: float) -> str:
    # 2026-11-30T08:20:04.547+0000
    try:
        dt = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return value
    new = datetime.fromtimestamp(dt.timestamp() + delta, tz=UTC)
    return new.strftime("%Y-%m-%dT%H:%M:%S.") + f"{new.microsecond // 1000:03d}+0000"


HOLD_CONTEXT = "hotline-hold"


def _insert_hold(msgs: list[tuple[float, Fields]], hold_s: float) -> tuple[list[tuple[float, Fields]], float]:
    """Routing "ami" (see `hotline asterisk-config --routing ami`): the hotline number goes to the
    holding step, which answers, marks the call with its hotline and waits for Hotline's Redirect
    into the IVR. These events are built from the captured ones (the lab ran without a holding
    step); returns the script and the time the holding step gives up."""
    goto = _index(msgs, "Newexten")
    varset = next((i for i, (_, f) in enumerate(msgs) if dict(f).get("Variable") == "__HOTLINE"), None)
    if goto is None or varset is None:
        return msgs, msgs[0][0]
    hotline = dict(msgs[varset][1]).get("Value", "")
    number_var = next((f for _, f in msgs if dict(f).get("Variable") == "__HOTLINE_NUMBER"), None)
    number = dict(number_var).get("Value", "") if number_var else ""
    t = msgs[goto][0]

    def exten(priority: int, app: str, data: str) -> Fields:
        repl = {"Context": HOLD_CONTEXT, "Exten": hotline, "Priority": str(priority), "Application": app,
                "AppData": data}
        return [(k, repl.get(k, v)) for k, v in msgs[goto][1]]

    def var(name: str, value: str) -> Fields:
        repl = {"Context": HOLD_CONTEXT, "Exten": hotline, "Variable": name, "Value": value}
        return [(k, repl.get(k, v)) for k, v in msgs[varset][1]]

    def user_event() -> Fields:
        """UserEvent(HotlineHold,Hotline: <hotline>) as Asterisk 20 sends a dialplan UserEvent (main/stasis.c
        multi_user_event_to_ami): the channel's snapshot, then UserEvent and the event's own headers."""
        snapshot = [(k, v) for k, v in exten(5, "UserEvent", "")[2:]
                    if k not in ("Extension", "Application", "AppData")]
        return [("Event", "UserEvent"), ("Privilege", "user,all"), *snapshot, ("UserEvent", HOLD_USER_EVENT),
                ("Hotline", hotline)]

    goto_fields = [(k, f"{HOLD_CONTEXT},{hotline},1" if k == "AppData" else v) for k, v in msgs[goto][1]]
    hold = [
        (t + 0.001, exten(1, "NoOp", f"Hotline {hotline}: waiting for routing")),
        (t + 0.002, exten(2, "Answer", "")),
        (t + 0.003, exten(3, "Set", f"__HOTLINE={hotline}")),
        (t + 0.003, var("__HOTLINE", hotline)),
        (t + 0.004, exten(4, "Set", f"__HOTLINE_NUMBER={number}")),
        (t + 0.004, var("__HOTLINE_NUMBER", number)),
        (t + 0.005, exten(5, "UserEvent", f"{HOLD_USER_EVENT},Hotline: {hotline}")),
        (t + 0.005, user_event()),
        (t + 0.006, exten(6, "Wait", f"{hold_s:g}")),
    ]
    end = t + 0.006 + hold_s
    rest = [(tt + hold_s + 0.01, f) for tt, f in msgs[goto + 1:]]
    return msgs[:goto] + [(t, goto_fields)] + hold + rest, end


def _insert_variables(msgs: list[tuple[float, Fields]], variables: dict[str, str]) -> list[tuple[float, Fields]]:
    """The IVR's SET VARIABLEs, as the VarSet events Asterisk sends for them: on the caller's channel,
    just before the call goes to its queue."""
    join = _index(msgs, "QueueCallerJoin")
    if join is None:
        return msgs
    mixmon = next((i for i in range(join) if dict(msgs[i][1]).get("Event") == "Newexten"
                   and dict(msgs[i][1]).get("Context") == "to-queue"), join)
    template = next(i for i in range(mixmon, -1, -1) if dict(msgs[i][1]).get("Event") == "VarSet")
    t = msgs[mixmon][0] - 0.001
    inserted = [(t, [(k, name if k == "Variable" else value if k == "Value" else v) for k, v in msgs[template][1]])
                for name, value in variables.items()]
    return msgs[:mixmon] + inserted + msgs[mixmon:]


def _insert_waybill(msgs: list[tuple[float, Fields]], waybill: str) -> list[tuple[float, Fields]]:
    """After the menu key, the caller types the waybill; the IVR stores it as WAYBILL."""
    end = _index(msgs, "DTMFEnd")
    begin = _index(msgs, "DTMFBegin")
    if end is None or begin is None:
        return msgs
    varset = next(i for i in range(end, len(msgs)) if dict(msgs[i][1]).get("Event") == "VarSet")
    t = msgs[end][0]
    step = 0.3
    inserted: list[tuple[float, Fields]] = []
    for n, digit in enumerate(waybill, start=1):
        for idx in (begin, end):
            fields = [(k, digit if k == "Digit" else v) for k, v in msgs[idx][1]]
            inserted.append((t + n * step - (0.1 if idx == begin else 0.0), fields))
    var_fields = [(k, "WAYBILL" if k == "Variable" else waybill if k == "Value" else v)
                  for k, v in msgs[varset][1]]
    inserted.append((t + (len(waybill) + 1) * step, var_fields))
    delta = (len(waybill) + 1) * step + 0.05
    rest = [(tt + delta, f) for tt, f in msgs[end + 1 :]]
    return msgs[: end + 1] + inserted + rest
