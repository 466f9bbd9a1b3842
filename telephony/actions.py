"""AMI actions as a typed API: what Hotline asks Asterisk to do, with timeouts and named errors.

`Actions(conn)` wraps anything with `send_action` (an `AmiConnection`). Every method waits for
Asterisk's answer (`AmiTimeout` after `timeout` seconds) and raises `AmiActionError` (or a more
precise subclass) when Asterisk says `Response: Error`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from telephony.connection import ActionResult, AmiActionError
from telephony.frames import Message


class NoSuchChannel(AmiActionError):
    """The channel named in the action does not exist (any more)."""


class NoSuchQueueMember(AmiActionError):
    """The interface is not a member of that queue, or the queue does not exist."""


class AlreadyQueueMember(AmiActionError):
    """The interface is a member of that queue already."""


class ActionSender(Protocol):
    def send_action(self, action: str, fields: dict[str, str] | None = None, *,
                    timeout: float | None = None, is_list: bool = False,
                    on_response: Callable[[Message], None] | None = None) -> ActionResult: ...


SPY_OPTIONS = {"listen": "qE", "whisper": "qEw", "barge": "qEB"}


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    channel: str
    uniqueid: str
    linkedid: str
    state: str  # ChannelStateDesc: Up, Ring, Ringing, Down …
    caller: str
    caller_name: str
    connected: str
    context: str
    exten: str
    application: str
    application_data: str
    bridge_id: str
    duration: str
    hotline: str


@dataclass(frozen=True, slots=True)
class QueueMemberInfo:
    queue: str
    name: str
    interface: str
    status: str  # AMI device status code as text ("1" not in use, "3" busy, "6" ringing …)
    paused: bool
    paused_reason: str
    in_call: bool
    calls_taken: int


@dataclass(frozen=True, slots=True)
class QueueEntryInfo:
    queue: str
    position: int
    channel: str
    uniqueid: str
    caller: str
    caller_name: str
    wait_s: int


@dataclass(frozen=True, slots=True)
class QueueParamsInfo:
    queue: str
    strategy: str
    calls: int
    holdtime: int
    talktime: int
    completed: int
    abandoned: int
    service_level: int
    service_level_perf: float


@dataclass(frozen=True, slots=True)
class QueueStatus:
    params: tuple[QueueParamsInfo, ...]
    members: tuple[QueueMemberInfo, ...]
    entries: tuple[QueueEntryInfo, ...]


@dataclass(frozen=True, slots=True)
class QueueSummaryInfo:
    queue: str
    logged_in: int
    available: int
    callers: int
    holdtime: int
    talktime: int
    longest_hold: int


def _int(v: str) -> int:
    try:
        return int(v)
    except ValueError:
        return 0


def _float(v: str) -> float:
    try:
        return float(v or 0.0)
    except ValueError:
        return 0.0


def _hotline(m: Message) -> str:
    for value in m.all("ChanVariable"):
        key, _, val = value.partition("=")
        if key == "HOTLINE":
            return val
    return ""


def channel_info(m: Message) -> ChannelInfo:
    return ChannelInfo(
        channel=m.get("Channel"), uniqueid=m.get("Uniqueid"), linkedid=m.get("Linkedid"),
        state=m.get("ChannelStateDesc"), caller=m.get("CallerIDNum"), caller_name=m.get("CallerIDName"),
        connected=m.get("ConnectedLineNum"), context=m.get("Context"), exten=m.get("Exten"),
        application=m.get("Application"), application_data=m.get("ApplicationData"),
        bridge_id=m.get("BridgeId"), duration=m.get("Duration"), hotline=_hotline(m),
    )


def queue_member_info(m: Message) -> QueueMemberInfo:
    return QueueMemberInfo(
        queue=m.get("Queue"), name=m.get("Name") or m.get("MemberName"),
        interface=m.get("Location") or m.get("Interface"), status=m.get("Status"), paused=m.get("Paused") == "1",
        paused_reason=m.get("PausedReason"), in_call=m.get("InCall") == "1", calls_taken=_int(m.get("CallsTaken")),
    )


# The items of the two snapshot answers a resync reads (telephony.resync), each list ending in its
# `…Complete` event: how replay tells them in a capture whatever ActionID the capturing client gave them.
CHANNEL_LIST_EVENTS = frozenset({"CoreShowChannel", "CoreShowChannelsComplete"})
QUEUE_STATUS_EVENTS = frozenset({"QueueParams", "QueueMember", "QueueEntry", "QueueStatusComplete"})


def channels_of(items: Sequence[Message]) -> tuple[ChannelInfo, ...]:
    """The channels of a CoreShowChannels answer (its list items): one parser for the live resync and
    replay, so both hand `CallTracker.reconcile` the same snapshot for the same bytes."""
    return tuple(channel_info(m) for m in items if m.event == "CoreShowChannel")


def queue_status_of(items: Sequence[Message]) -> QueueStatus:
    """The queues, members and waiting callers of a QueueStatus answer (its list items); shared as
    `channels_of` is."""
    params, members, entries = [], [], []
    for m in items:
        if m.event == "QueueParams":
            params.append(QueueParamsInfo(
                queue=m.get("Queue"), strategy=m.get("Strategy"), calls=_int(m.get("Calls")),
                holdtime=_int(m.get("Holdtime")), talktime=_int(m.get("TalkTime")),
                completed=_int(m.get("Completed")), abandoned=_int(m.get("Abandoned")),
                service_level=_int(m.get("ServiceLevel")),
                service_level_perf=_float(m.get("ServicelevelPerf"))))
        elif m.event == "QueueMember":
            members.append(queue_member_info(m))
        elif m.event == "QueueEntry":
            entries.append(QueueEntryInfo(
                queue=m.get("Queue"), position=_int(m.get("Position")), channel=m.get("Channel"),
                uniqueid=m.get("Uniqueid"), caller=m.get("CallerIDNum"), caller_name=m.get("CallerIDName"),
                wait_s=_int(m.get("Wait"))))
    return QueueStatus(tuple(params), tuple(members), tuple(entries))


class Actions:
    def __init__(self, conn: ActionSender, timeout: float = 10.0) -> None:
        self.conn = conn
        self.timeout = timeout

    def _send(self, action: str, fields: Mapping[str, str] | None = None, *, is_list: bool = False,
              timeout: float | None = None, on_response: Callable[[Message], None] | None = None) -> ActionResult:
        try:
            return self.conn.send_action(action, dict(fields or {}), timeout=timeout or self.timeout,
                                         is_list=is_list, on_response=on_response)
        except AmiActionError as exc:
            text = str(exc).lower()
            if "already there" in text:
                raise AlreadyQueueMember(str(exc)) from None
            if "no such channel" in text or "channel does not exist" in text or "channel specified does not" in text:
                raise NoSuchChannel(str(exc)) from None
            if "not there" in text or "unable to remove interface" in text or "interface not found" in text \
                    or "no such queue" in text:
                raise NoSuchQueueMember(str(exc)) from None
            raise

    # ------------------------------------------------------------------ calls
    def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None:
        self._send("Redirect", {"Channel": channel, "Context": context, "Exten": exten, "Priority": str(priority)})

    def blind_transfer(self, channel: str, context: str, exten: str) -> None:
        self._send("BlindTransfer", {"Channel": channel, "Context": context, "Exten": exten})

    def hangup(self, channel: str, cause: int = 16) -> None:
        self._send("Hangup", {"Channel": channel, "Cause": str(cause)})

    def setvar(self, channel: str, variable: str, value: str) -> None:
        self._send("Setvar", {"Channel": channel, "Variable": variable, "Value": value})

    def getvar(self, channel: str, variable: str) -> str:
        return self._send("Getvar", {"Channel": channel, "Variable": variable}).response.get("Value")

    def mix_monitor(self, channel: str, file: str, options: str = "b") -> None:
        self._send("MixMonitor", {"Channel": channel, "File": file, "Options": options})

    def originate(self, channel: str, *, context: str = "", exten: str = "", priority: int = 1,
                  application: str = "", data: str = "", caller_id: str = "", timeout_ms: int = 30000,
                  variables: Mapping[str, str] | None = None, async_: bool = True) -> str:
        """Start a call; returns the ActionID-less Response message text. With `async_` the result
        comes later as an OriginateResponse event."""
        fields = {"Channel": channel, "Timeout": str(timeout_ms), "Async": "true" if async_ else "false"}
        if application:
            fields |= {"Application": application, "Data": data}
        else:
            fields |= {"Context": context, "Exten": exten, "Priority": str(priority)}
        if caller_id:
            fields["CallerID"] = caller_id
        if variables:
            fields["Variable"] = ",".join(f"{k}={v}" for k, v in variables.items())
        return self._send("Originate", fields).response.get("Message")

    def callback_into_queue(self, customer_number: str, queue: str, *, context: str = "queue-direct",
                            trunk: str = "Local/{number}@from-hotline", caller_id: str = "") -> str:
        """Call a customer back and put the call into a queue (`[queue-direct]` as in the lab)."""
        return self.originate(trunk.format(number=customer_number), context=context, exten=queue,
                              caller_id=caller_id or customer_number, variables={"HOTLINE_CALLBACK": "1"})

    def spy(self, supervisor_interface: str, target_channel: str, mode: str = "listen") -> str:
        """Ring the supervisor's phone and, when answered, listen to / whisper to / barge into a call."""
        if mode not in SPY_OPTIONS:
            raise ValueError(f"spy mode must be one of {', '.join(SPY_OPTIONS)}, not {mode!r}")
        return self.originate(supervisor_interface, application="ChanSpy",
                              data=f"{target_channel},{SPY_OPTIONS[mode]}", caller_id="Hotline <9000>")

    # ------------------------------------------------------------------ queues
    def queue_add(self, queue: str, interface: str, *, member_name: str = "", penalty: int = 0,
                  paused: bool = False, reason: str = "") -> None:
        fields = {"Queue": queue, "Interface": interface, "Penalty": str(penalty),
                  "Paused": "true" if paused else "false"}
        if member_name:
            fields["MemberName"] = member_name
        if reason:
            fields["Reason"] = reason
        self._send("QueueAdd", fields)

    def queue_remove(self, queue: str, interface: str) -> None:
        self._send("QueueRemove", {"Queue": queue, "Interface": interface})

    def queue_pause(self, interface: str, paused: bool, *, queue: str = "", reason: str = "") -> None:
        fields = {"Interface": interface, "Paused": "true" if paused else "false"}
        if queue:
            fields["Queue"] = queue
        if reason:
            fields["Reason"] = reason
        self._send("QueuePause", fields)

    def queue_status(self, queue: str = "") -> QueueStatus:
        return queue_status_of(self._send("QueueStatus", {"Queue": queue} if queue else {}, is_list=True).events)

    def queue_summary(self, queue: str = "") -> tuple[QueueSummaryInfo, ...]:
        res = self._send("QueueSummary", {"Queue": queue} if queue else {}, is_list=True)
        return tuple(
            QueueSummaryInfo(queue=m.get("Queue"), logged_in=_int(m.get("LoggedIn")),
                             available=_int(m.get("Available")), callers=_int(m.get("Callers")),
                             holdtime=_int(m.get("HoldTime")), talktime=_int(m.get("TalkTime")),
                             longest_hold=_int(m.get("LongestHoldTime")))
            for m in res.events if m.event == "QueueSummary")

    def core_show_channels(self, on_response: Callable[[Message], None] | None = None) -> tuple[ChannelInfo, ...]:
        return channels_of(self._send("CoreShowChannels", is_list=True, on_response=on_response).events)
