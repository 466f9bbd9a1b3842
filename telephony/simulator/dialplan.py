"""AMI events the simulated PBX sends for dialplan steps it adds to a call's script: a Newexten or VarSet
of a channel, a caller (re)entering a queue, leaving it when taken out of Queue() (callback offer,
re-route), and a script's events after its caller moved to another queue."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from telephony.simulator.scenario import Fields

CALLBACK_CONTEXT = "callback-offer"  # `hotline asterisk-config`'s [callback-offer] (queue wait limits)
REROUTE_CONTEXT = "to-queue"  # a supervisor's re-route: Redirect to to-queue,<queue>,1

# what a channel's events say of it (the fields a snapshot keeps, the fields a new step of it repeats)
CHANNEL_KEYS = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
                "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority", "Uniqueid",
                "Linkedid")


def field_of(fields: Fields, name: str) -> str:
    """The value of the first field `name` of an event ("" without one)."""
    for k, v in fields:
        if k == name:
            return v
    return ""


def _at(chan: Fields, context: str, exten: str, priority: int) -> Fields:
    repl = {"Context": context, "Exten": exten, "Priority": str(priority)}
    return [(k, repl.get(k, v)) for k, v in chan]


def newexten(chan: Fields, context: str, exten: str, priority: int, app: str, data: str) -> Fields:
    """A Newexten as Asterisk sends it for a channel entering a dialplan step."""
    return [("Event", "Newexten"), ("Privilege", "dialplan,all"), *_at(chan, context, exten, priority),
            ("Extension", exten), ("Application", app), ("AppData", data)]


def varset(chan: Fields, context: str, exten: str, priority: int, name: str, value: str) -> Fields:
    return [("Event", "VarSet"), ("Privilege", "dialplan,all"), *_at(chan, context, exten, priority),
            ("Variable", name), ("Value", value)]


def queue_entry(chan: Fields, join: Fields, queue: str, recording: str | None, from_priority: int) -> list[Fields]:
    """`[to-queue]` from priority 1 (a re-route) or 3 (back from the callback offer): the caller
    joins `queue` and hears its hold music. The recording goes on in the file it had."""
    out: list[Fields] = []
    if from_priority <= 1:
        caller = field_of(join, "CallerIDNum")
        out.append(newexten(chan, "to-queue", queue, 1, "NoOp", f"Queueing {caller} into {queue}"))
    if from_priority <= 2 and recording:
        out.append(newexten(chan, "to-queue", queue, 2, "MixMonitor", f"{recording},b"))
        out.append(varset(chan, "to-queue", queue, 2, "MIXMONITOR_FILENAME", recording))
    out.append(newexten(chan, "to-queue", queue, 3, "Queue", f"{queue},,,,300"))
    repl = {"Context": "to-queue", "Exten": queue, "Priority": "3", "Queue": queue, "Position": "1", "Count": "1"}
    out.append([(k, repl.get(k, v)) for k, v in join])
    moh = [(k, v) for k, v in chan]
    out.append([("Event", "MusicOnHoldStart"), ("Privilege", "call,all"), *_at(moh, "to-queue", queue, 3),
                ("Class", "default")])
    return out


_QUEUE_FIELDS = ("Queue", "Exten", "DestExten", "Extension")


def requeued(fields: Fields, old: str, new: str) -> Fields:
    """An event of the call's script after it moved from queue `old` to `new`."""
    if old == new:
        return fields
    return [(k, new if k in _QUEUE_FIELDS and v == old else v) for k, v in fields]


def leaving(uid: str, join: Fields, past: list[Fields], future: list[tuple[float, Fields]]) -> list[Fields]:
    """What Asterisk sends when the queued caller `uid` is taken out of Queue() (`join` its QueueCallerJoin,
    `past` and `future` its script's events played and not yet): the hold music stops, it leaves the queue; a
    ring still going on for it is cancelled (the agent's leg hangs up)."""
    out: list[Fields] = []
    moh = next((f for _, f in future
                if field_of(f, "Event") == "MusicOnHoldStop" and field_of(f, "Uniqueid") == uid), None)
    if moh is None:
        start = next((f for f in reversed(past) if field_of(f, "Event") == "MusicOnHoldStart"
                      and field_of(f, "Uniqueid") == uid), None)
        if start is not None:
            moh = [("Event", "MusicOnHoldStop") if k == "Event" else (k, v) for k, v in start if k != "Class"]
    if moh is not None:
        out.append(moh)
    leave = next((f for _, f in future if field_of(f, "Event") == "QueueCallerLeave"
                  and field_of(f, "Uniqueid") == uid), None)
    if leave is None:
        leave = [("Event", "QueueCallerLeave") if k == "Event" else (k, v) for k, v in join]
    out.append([(k, field_of(join, "Queue") if k == "Queue" else "0" if k == "Count" else v) for k, v in leave])
    # agent legs ringing for this caller are hung up
    live = {field_of(f, "Uniqueid") for f in past if field_of(f, "Event") == "Newchannel"} - {
        field_of(f, "Uniqueid") for f in past if field_of(f, "Event") == "Hangup"} - {uid}
    for leg in sorted(live):
        hangup = next((f for _, f in future if field_of(f, "Event") == "Hangup" and field_of(f, "Uniqueid") == leg),
                      None)
        if hangup is not None:
            out.append(hangup)
    return out


def offer_entry(chan: Fields, queue: str, hotline: str) -> list[Fields]:
    """`[callback-offer]` for a caller taken out of `queue`, up to its FastAGI call of the IVR's offer."""
    return [
        newexten(chan, CALLBACK_CONTEXT, queue, 1, "NoOp", f"Wait limit passed in queue {queue}: callback offer"),
        newexten(chan, CALLBACK_CONTEXT, queue, 2, "Set", f"CALLBACK_OFFER={queue}"),
        varset(chan, CALLBACK_CONTEXT, queue, 2, "CALLBACK_OFFER", queue),
        newexten(chan, CALLBACK_CONTEXT, queue, 3, "AGI",
                 f"agi://127.0.0.1:4573/callback-offer?queue={queue}&hotline={hotline}"),
    ]


def offer_answer(chan: Fields, queue: str, variables: Mapping[str, str]) -> list[Fields]:
    """The IVR's offer done: the channel variables it set, and the dialplan's choice on `IVR_NEXT`."""
    out = [varset(chan, CALLBACK_CONTEXT, queue, 3, name, value) for name, value in variables.items()]
    next_step = variables["IVR_NEXT"]
    out.append(newexten(chan, CALLBACK_CONTEXT, queue, 4, "GotoIf", f'$["{next_step}" = "hangup"]?done'))
    return out


def offer_hangup(chan: Fields, join: Fields, queue: str, uid: str, future: list[tuple[float, Fields]],
                 agents: Collection[str]) -> list[Fields]:
    """A callback registered: `[callback-offer]` hangs up the caller `uid` (its script's own hang-up and CDR
    moved here; `future` its events not played) and the trunk goes back to not in use (a device not of
    one of the `agents`)."""
    out = [newexten(chan, CALLBACK_CONTEXT, queue, 7, "Hangup", "")]
    hangup = next((f for _, f in future if field_of(f, "Event") == "Hangup" and field_of(f, "Uniqueid") == uid), None)
    if hangup is not None:
        final = [(k, "16" if k == "Cause" else "Normal Clearing" if k == "Cause-txt" else
                  CALLBACK_CONTEXT if k == "Context" else queue if k == "Exten" else
                  "7" if k == "Priority" else v) for k, v in hangup]
        out.append([("Event", "SoftHangupRequest") if k == "Event" else (k, v) for k, v in final if k != "Cause-txt"])
        cdr = next((f for _, f in future if field_of(f, "Event") == "Cdr"
                    and field_of(f, "Channel") == field_of(join, "Channel")), None)
        if cdr is not None:
            out.append(cdr)
        out.append(final)
    for _, f in future:
        if field_of(f, "Event") == "DeviceStateChange" and field_of(f, "Device")[4:] not in agents:
            out.append(f)
    return out


def offer_declined(chan: Fields, join: Fields, queue: str, recording: str | None) -> list[Fields]:
    """No callback: `[callback-offer]` sends the caller back to `queue` (`[to-queue]` from its Queue step)."""
    return [newexten(chan, CALLBACK_CONTEXT, queue, 5, "GotoIf", "$[\"0\" = \"HANGUP\"]?done"),
            newexten(chan, CALLBACK_CONTEXT, queue, 6, "Goto", f"to-queue,{queue},queue"),
            *queue_entry(chan, join, queue, recording, from_priority=3)]

