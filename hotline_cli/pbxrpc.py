"""PBX control across processes: web processes (no AMI link) ask the listener to act on the PBX.

A web process's console gets `RemotePbx` as its `control=`: the same `actions()` / `pbx_of_call()`
as the listener's `PbxControl`, but each action is a typed request (one dataclass per action, as
JSON) pushed on a Redis list. The listener's `ControlServer` takes them off the list, runs them
through its own `PbxControl` / `Actions` and pushes the answer on the request's own reply key: done,
or the named error (NoSuchChannel, NoSuchQueueMember, AlreadyQueueMember, AmiActionError, AmiTimeout,
PbxNotConnected, and the console's NotInWrapUp), raised again in the web process as the same exception
type, so the console shows the same messages as in one process. Besides AMI actions the listener
runs one console request: extending a wrap-up (`ExtendWrapUp`), kept by its wrap-up keeper. No
answer within the action's timeout (listener down, Redis down) raises `PbxNotConnected` ("PBX control
unavailable"), and the request is taken back off the list.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import redis

from agent_console import metrics
from agent_console.control import PbxUnavailable
from agent_console.wrapup import NotInWrapUp, WrapUpService
from cases.redact import masked
from telephony.actions import Actions, AlreadyQueueMember, ChannelInfo, NoSuchChannel, NoSuchQueueMember
from telephony.connection import AmiActionError, AmiError, AmiTimeout
from telephony.events import AgentWrapUp, DomainEvent, EventBus
from telephony.pbxlink import PbxControl, PbxNotConnected

log = logging.getLogger(__name__)

DEFAULT_KEY = "hotline:pbx-control"
_REPLY_TTL_S = 30


class BadControlMessage(Exception):
    """A request or reply on the control list that cannot be read."""


# --- the requests: one dataclass per action the console sends ------------------------------------


@dataclass(frozen=True, slots=True)
class QueuePause:
    interface: str
    paused: bool
    queue: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class QueueAdd:
    queue: str
    interface: str
    member_name: str = ""


@dataclass(frozen=True, slots=True)
class QueueRemove:
    queue: str
    interface: str


@dataclass(frozen=True, slots=True)
class Spy:
    supervisor_interface: str
    target_channel: str
    mode: str


@dataclass(frozen=True, slots=True)
class Redirect:
    channel: str
    context: str
    exten: str
    priority: int = 1


@dataclass(frozen=True, slots=True)
class Originate:
    channel: str
    context: str = ""
    exten: str = ""
    caller_id: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    application: str = ""  # instead of context/exten: e.g. ChanSpy for a live tap
    data: str = ""
    timeout_ms: int = 30000


@dataclass(frozen=True, slots=True)
class CoreShowChannels:
    pass


@dataclass(frozen=True, slots=True)
class ExtendWrapUp:
    """Not an AMI action: the listener's wrap-up keeper gives the agent another wrap_up_s seconds."""

    agent: str


ControlAction = QueuePause | QueueAdd | QueueRemove | Spy | Redirect | Originate | CoreShowChannels | ExtendWrapUp
_ACTIONS: dict[str, type[ControlAction]] = {
    cls.__name__: cls for cls in (QueuePause, QueueAdd, QueueRemove, Spy, Redirect, Originate, CoreShowChannels,
                                  ExtendWrapUp)
}


@dataclass(frozen=True, slots=True)
class ControlRequest:
    id: str
    reply_key: str
    pbx: str  # "" for the listener's first Asterisk
    timeout_s: float  # the AMI action's own timeout
    expires_at: float  # wall clock: the listener drops a request nobody waits for any more
    action: ControlAction


@dataclass(frozen=True, slots=True)
class ControlReply:
    id: str
    ok: bool
    error: str = ""  # exception type name when not ok
    message: str = ""
    text: str = ""  # Originate / Spy: Asterisk's response message
    channels: tuple[ChannelInfo, ...] = ()
    until: float | None = None  # ExtendWrapUp: the new deadline


def encode_request(req: ControlRequest) -> str:
    body = {"id": req.id, "reply_key": req.reply_key, "pbx": req.pbx, "timeout_s": req.timeout_s,
            "expires_at": req.expires_at, "type": type(req.action).__name__, "action": dataclasses.asdict(req.action)}
    return json.dumps(body, ensure_ascii=False)


def decode_request(text: str | bytes) -> ControlRequest:
    try:
        d = json.loads(text)
        cls = _ACTIONS[d["type"]]
        action = cls(**d["action"])
        return ControlRequest(str(d["id"]), str(d["reply_key"]), str(d["pbx"]), float(d["timeout_s"]),
                              float(d["expires_at"]), action)
    except (KeyError, ValueError, TypeError) as exc:
        raise BadControlMessage(f"unreadable PBX control request: {exc!r}") from None


def encode_reply(reply: ControlReply) -> str:
    return json.dumps(dataclasses.asdict(reply), ensure_ascii=False)


def decode_reply(text: str | bytes) -> ControlReply:
    try:
        d = json.loads(text)
        until = d.get("until")
        return ControlReply(str(d["id"]), bool(d["ok"]), str(d["error"]), str(d["message"]), str(d["text"]),
                            tuple(ChannelInfo(**c) for c in d["channels"]), None if until is None else float(until))
    except (KeyError, ValueError, TypeError) as exc:
        raise BadControlMessage(f"unreadable PBX control reply: {exc!r}") from None


# exceptions that travel by name; the most precise first (they are subclasses of one another)
_ERRORS: tuple[type[Exception], ...] = (NoSuchChannel, NoSuchQueueMember, AlreadyQueueMember, AmiTimeout,
                                        AmiActionError, AmiError, PbxNotConnected, NotInWrapUp)
_ERRORS_BY_NAME: dict[str, type[Exception]] = {cls.__name__: cls for cls in _ERRORS}


# --- web side ------------------------------------------------------------------------------------


class RemoteActions:
    """The `Actions` methods the console uses, run by the listener."""

    def __init__(self, pbx: RemotePbx, name: str, timeout: float) -> None:
        self._pbx = pbx
        self._name = name
        self._timeout = timeout

    def _call(self, action: ControlAction) -> ControlReply:
        return self._pbx.call(self._name, action, self._timeout)

    def queue_pause(self, interface: str, paused: bool, *, queue: str = "", reason: str = "") -> None:
        self._call(QueuePause(interface, paused, queue, reason))

    def queue_add(self, queue: str, interface: str, *, member_name: str = "") -> None:
        self._call(QueueAdd(queue, interface, member_name))

    def queue_remove(self, queue: str, interface: str) -> None:
        self._call(QueueRemove(queue, interface))

    def spy(self, supervisor_interface: str, target_channel: str, mode: str = "listen") -> str:
        return self._call(Spy(supervisor_interface, target_channel, mode)).text

    def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None:
        self._call(Redirect(channel, context, exten, priority))

    def originate(self, channel: str, *, context: str = "", exten: str = "", application: str = "",
                  data: str = "", caller_id: str = "", timeout_ms: int = 30000,
                  variables: Mapping[str, str] | None = None) -> str:
        return self._call(Originate(channel, context, exten, caller_id, dict(variables or {}), application, data,
                                    timeout_ms)).text

    def core_show_channels(self) -> tuple[ChannelInfo, ...]:
        return self._call(CoreShowChannels()).channels


def wrap_up_key(control_key: str) -> str:
    """The Redis hash of the running wrap-ups' deadlines (agent -> epoch seconds), kept by the listener."""
    return f"{control_key}:wrap-up"


class WrapUpMirror:
    """Listener side: the keeper's deadlines (its AgentWrapUp events) mirrored into a Redis hash, so a
    web process started during a wrap-up shows its timer."""

    def __init__(self, url: str, bus: EventBus, control_key: str = DEFAULT_KEY) -> None:
        self.key = wrap_up_key(control_key)
        self.redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        try:
            self.redis.delete(self.key)  # the deadlines of a keeper before this one are not ours
        except redis.RedisError as exc:
            log.warning("old wrap-up deadlines not cleared: %s", exc)
        bus.subscribe(self._on_event)

    def _on_event(self, event: DomainEvent) -> None:
        if not isinstance(event, AgentWrapUp):
            return
        try:
            if event.until is None:
                self.redis.hdel(self.key, event.agent)
            else:
                self.redis.hset(self.key, event.agent, repr(event.until))
        except redis.RedisError as exc:
            log.warning("wrap-up deadline of %s not kept in Redis: %s", event.agent, exc)


class RemoteWrapUps:
    """A web process's way to the listener's wrap-up keeper (agent_console.wrapup.WrapUpService)."""

    def __init__(self, pbx: RemotePbx, timeout: float = 5.0) -> None:
        self._pbx = pbx
        self._timeout = timeout

    def until(self, agent: str) -> float | None:
        """The running wrap-up's deadline as the listener keeps it (None: none, or Redis away)."""
        try:
            raw = self._pbx.redis.hget(wrap_up_key(self._pbx.key), agent)
        except redis.RedisError:
            return None
        return float(raw) if raw is not None else None

    def extend(self, agent: str) -> float:
        """The new deadline; NotInWrapUp from the listener, PbxUnavailable when it does not answer."""
        try:
            reply = self._pbx.call("", ExtendWrapUp(agent), self._timeout)
        except PbxNotConnected as exc:
            raise PbxUnavailable(str(exc)) from None
        if reply.until is None:
            raise NotInWrapUp(f"{agent} is not in wrap-up")
        return reply.until


class RemotePbx:
    """A web process's PBX control: requests over Redis to the listener (see the module text)."""

    def __init__(self, url: str, key: str = DEFAULT_KEY, margin_s: float = 1.0) -> None:
        self.key = key
        self.margin_s = margin_s
        try:
            # blocking pops wait up to the action's timeout: no socket timeout shorter than that
            self.redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=60)
        except ValueError as exc:
            raise PbxNotConnected(f"PBX control unavailable: bad Redis URL {masked(url)}: {exc}") from None

    def actions(self, pbx: str | None = None, timeout: float = 10.0) -> RemoteActions:
        return RemoteActions(self, pbx or "", timeout)

    def pbx_of_call(self, linkedid: str) -> str:
        """"pbx2" of "pbx2:…"; "" (the listener's first Asterisk) otherwise: the listener knows the names."""
        head, sep, _ = linkedid.partition(":")
        return head if sep else ""

    def call(self, pbx: str, action: ControlAction, timeout: float) -> ControlReply:
        wait_s = timeout + self.margin_s
        rid = uuid.uuid4().hex
        req = ControlRequest(rid, f"{self.key}:reply:{rid}", pbx, timeout, time.time() + wait_s, action)
        payload = encode_request(req)
        try:
            self.redis.rpush(self.key, payload)
            got = self.redis.blpop([req.reply_key], timeout=wait_s)
        except redis.RedisError as exc:
            raise PbxNotConnected(f"PBX control unavailable: Redis: {exc}") from None
        if got is None:
            try:
                self.redis.lrem(self.key, 1, payload)  # not picked up: nobody should run it later
            except redis.RedisError:
                pass
            raise PbxNotConnected(f"PBX control unavailable: no listener answered within {wait_s:.1f} s")
        reply = decode_reply(got[1])
        if reply.ok:
            return reply
        cls = _ERRORS_BY_NAME.get(reply.error, AmiError)
        raise cls(reply.message)


# --- listener side -------------------------------------------------------------------------------


def execute(actions: Actions, action: ControlAction) -> ControlReply:
    """Run one request's action; the reply without its id."""
    if isinstance(action, QueuePause):
        actions.queue_pause(action.interface, action.paused, queue=action.queue, reason=action.reason)
    elif isinstance(action, QueueAdd):
        actions.queue_add(action.queue, action.interface, member_name=action.member_name)
    elif isinstance(action, QueueRemove):
        actions.queue_remove(action.queue, action.interface)
    elif isinstance(action, Spy):
        return ControlReply("", True, text=actions.spy(action.supervisor_interface, action.target_channel,
                                                         action.mode) or "")
    elif isinstance(action, Redirect):
        actions.redirect(action.channel, action.context, action.exten, action.priority)
    elif isinstance(action, Originate):
        return ControlReply("", True, text=actions.originate(
            action.channel, context=action.context, exten=action.exten, application=action.application,
            data=action.data, caller_id=action.caller_id, timeout_ms=action.timeout_ms,
            variables=action.variables) or "")
    elif isinstance(action, CoreShowChannels):
        return ControlReply("", True, channels=actions.core_show_channels())
    else:
        raise ValueError(f"{type(action).__name__} is not a PBX action")
    return ControlReply("", True)


class ControlServer:
    """Listener side: takes requests off the list, runs them on the AMI link, answers each."""

    def __init__(self, url: str, control: PbxControl, key: str = DEFAULT_KEY, workers: int = 4,
                 clock: Callable[[], float] = time.time, wrap_ups: WrapUpService | None = None) -> None:
        self.url = url
        self.control = control
        self.wrap_ups = wrap_ups
        self.key = key
        self.clock = clock
        self.handled = 0
        self.failed = 0
        self.expired = 0
        self.last_latency_s: float | None = None  # the last request's time from Redis to its answer
        self.max_latency_s = 0.0
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pbx-control")
        self._thread = threading.Thread(target=self._run, name="pbx-control", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn: Any = None
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=10)
                    conn.ping()
                    self.ready.set()
                got = conn.blpop([self.key], timeout=0.5)
            except redis.RedisError as exc:
                self.ready.clear()
                conn = None
                log.warning("PBX control requests not read from Redis (%s); retrying", exc)
                self._stop.wait(1.0)
                continue
            if got is None:
                continue
            try:
                req = decode_request(got[1])
            except BadControlMessage as exc:
                log.warning("%s", exc)
                continue
            if req.expires_at < self.clock():
                self.expired += 1
                metrics.pbx_control_served(type(req.action).__name__, "expired", None)
                log.warning("PBX control request %s (%s) came too late: dropped", req.id, type(req.action).__name__)
                continue
            self._pool.submit(self._handle, conn, req, time.monotonic())

    def _handle(self, conn: redis.Redis, req: ControlRequest, taken: float) -> None:
        what = type(req.action).__name__
        outcome = "error"
        try:
            if isinstance(req.action, ExtendWrapUp):
                if self.wrap_ups is None:
                    raise NotInWrapUp("no wrap-up after calls on this site")
                reply = ControlReply(req.id, True, until=self.wrap_ups.extend(req.action.agent))
            else:
                name = req.pbx if req.pbx in self.control.names else None
                reply = dataclasses.replace(execute(self.control.actions(name, timeout=req.timeout_s), req.action),
                                            id=req.id)
            self.handled += 1
            outcome = "ok"
        except _ERRORS as exc:
            self.failed += 1
            log.info("PBX control %s for a web process failed: %s: %s", what, type(exc).__name__, exc)
            reply = ControlReply(req.id, False, type(exc).__name__, str(exc))
        except ValueError as exc:  # a spy mode Actions does not know
            self.failed += 1
            reply = ControlReply(req.id, False, AmiActionError.__name__, str(exc))
        took = time.monotonic() - taken  # counted before the answer goes: whoever reads it sees the counts
        self.last_latency_s = took
        self.max_latency_s = max(self.max_latency_s, took)
        metrics.pbx_control_served(what, outcome, took)
        try:
            pipe = conn.pipeline()
            pipe.rpush(req.reply_key, encode_reply(reply))
            pipe.expire(req.reply_key, _REPLY_TTL_S)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("PBX control answer to %s not sent: %s", req.id, exc)

    def status(self) -> dict[str, Any]:
        """For the listener's /status: requests served, failed, dropped as too late, and latencies."""
        return {"connected": self.ready.is_set(), "served": self.handled, "errors": self.failed,
                "expired": self.expired,
                "last_latency_ms": None if self.last_latency_s is None else round(self.last_latency_s * 1000, 1),
                "max_latency_ms": round(self.max_latency_s * 1000, 1)}

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=True)
