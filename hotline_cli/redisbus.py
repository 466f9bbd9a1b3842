"""Several processes, one picture: domain events and the live wallboard picture over Redis.

The listener (one per site) publishes every domain event on a Redis channel and keeps the current
LiveSnapshot under a key; web and worker processes feed those events into their own in-process
bus and read the snapshot, so the same consumers run unchanged in every role.

The supervisors' wallboard is computed once, in the listener (`WallboardPublisher`, from its own
tracker, call memory and stats): each change goes out as a versioned delta on a channel and the
whole board is kept under a key. Web processes (`WallboardSubscriber`) keep the last board, relay
each delta to their supervisors and answer wallboard requests from it; a delta that does not follow
the version they have (missed, or a listener restarted: another epoch) makes them read the whole
board from the key and send that instead.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import redis

from agent_console import metrics
from agent_console.calls import CallMemory
from agent_console.wallboard import (
    HotlineHealth,
    WallboardFeed,
    WallboardListener,
    apply_wallboard_delta,
    wallboard_payload,
)
from cases.redact import masked
from telephony import events as ev
from telephony.events import DomainEvent, EventBus
from telephony.live import AgentSnapshot, LiveSnapshot, LiveView, QueueSnapshot, WaitingCaller
from telephony.records import CallRecord
from transcripts.live_events import LiveAlert, LiveBus, LiveEvent, LiveLine

log = logging.getLogger(__name__)
E = TypeVar("E")

CHANNEL = "hotline:events"
LIVE_KEY = "hotline:live"
LIVE_KEY_TTL_S = 10  # the listener rewrites it twice a second: gone 10 s after the last listener stopped
LIVE_TRANSCRIPTS_CHANNEL = "hotline:live-transcripts"
WALLBOARD_CHANNEL = "hotline:wallboard"
WALLBOARD_KEY = "hotline:wallboard"
WALLBOARD_KEY_TTL_S = 60  # a board no listener refreshes any more is not shown for ever
WALLBOARD_REFRESH_S = 10.0
_QUEUE_LIMIT = 10_000
_DRAIN_MAX = 2_000  # events folded in at most before a due board goes out
_PROBES = object()
_LIVE_TYPES: dict[str, type[LiveLine] | type[LiveAlert]] = {"LiveLine": LiveLine, "LiveAlert": LiveAlert}
_EVENT_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (ev.CallStarted, ev.CallHolding, ev.IvrDigit, ev.CallVariable, ev.CallQueued,
                                  ev.CallLeftQueue, ev.AgentRinging, ev.AgentRingStopped, ev.CallAnswered,
                                  ev.CallEnded, ev.AgentStatus, ev.PbxConnection, ev.AgentWrapUp)
}


class RedisUnavailable(Exception):
    """Redis cannot be reached at the configured URL."""


def client(url: str) -> redis.Redis:
    """A client that (re)connects on use: a Redis that is down now may be up for the next command."""
    try:
        return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    except ValueError as exc:
        raise RedisUnavailable(f"bad Redis URL {masked(url)}: {exc}") from None


def connect(url: str) -> redis.Redis:
    try:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise RedisUnavailable(f"cannot reach Redis at {masked(url)}: {exc}") from None
    return client


def encode(event: DomainEvent, sent_at: float | None = None) -> str:
    """The event as JSON; `sent_at` (the publisher's clock) lets the reader time the Redis hop."""
    body = dataclasses.asdict(event)
    message: dict[str, Any] = {"type": type(event).__name__, "body": body}
    if sent_at is not None:
        message["sent_at"] = sent_at
    return json.dumps(message, ensure_ascii=False)


def decode(text: str | bytes) -> DomainEvent:
    return _decode(json.loads(text))


def _decode(data: dict[str, Any]) -> DomainEvent:
    cls = _EVENT_TYPES[data["type"]]
    body = data["body"]
    if cls is ev.CallEnded:
        body = dict(body, record=CallRecord(**body["record"]))
    result: DomainEvent = cls(**body)
    return result


class EventPublisher:
    """Listener side: every event of the local bus goes out on the Redis channel."""

    def __init__(self, url: str, bus: EventBus) -> None:
        self.redis = client(url)
        self.sent = 0
        self.failed = 0
        bus.subscribe(self._publish)

    def _publish(self, event: DomainEvent) -> None:
        try:
            self.redis.publish(CHANNEL, encode(event, time.time()))
            self.sent += 1
        except redis.RedisError as exc:
            self.failed += 1
            log.warning("event not published to Redis: %s", exc)
            return
        if isinstance(event, ev.AgentRinging):  # AMI read → on Redis (every subscriber before this one)
            metrics.pop_hop("listener", time.time() - event.at)


class _ChannelSubscriber(Generic[E]):
    """Messages of one Redis pub/sub channel, decoded and handed to `deliver` on a thread of its own;
    resubscribes by itself after Redis goes away. `ready` is set while subscribed."""

    def __init__(self, url: str, channel: str, what: str, decode_one: Callable[[str | bytes], E],
                 deliver: Callable[[E], None]) -> None:
        self.url = url
        self.channel = channel
        self.received = 0
        self.ready = threading.Event()
        self._what = what
        self._decode = decode_one
        self._deliver = deliver
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"redis-{channel}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                pubsub = connect(self.url).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                self.ready.set()
                while not self._stop.is_set():
                    msg = pubsub.get_message(timeout=0.5)
                    if msg is None or msg.get("type") != "message":
                        continue
                    try:
                        item = self._decode(msg["data"])
                    except (KeyError, ValueError, TypeError) as exc:
                        log.warning("unreadable %s on %s dropped: %s", self._what, self.channel, exc)
                        continue
                    self.received += 1
                    self._deliver(item)
            except (redis.RedisError, RedisUnavailable) as exc:
                self.ready.clear()
                log.warning("Redis %s lost (%s); resubscribing", self._what, exc)
                self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class EventSubscriber(_ChannelSubscriber[DomainEvent]):
    """Web/worker side: events from the Redis channel into the local bus (reconnects by itself)."""

    def __init__(self, url: str, bus: EventBus) -> None:
        self.bus = bus
        super().__init__(url, CHANNEL, "events", self._read, bus.publish)

    @staticmethod
    def _read(text: str | bytes) -> DomainEvent:
        data = json.loads(text)
        event = _decode(data)
        if isinstance(event, ev.AgentRinging) and isinstance(data.get("sent_at"), int | float):
            metrics.pop_hop("redis", time.time() - data["sent_at"])
        return event


class LivePublisher:
    """Listener side: the current wallboard picture under a Redis key, refreshed twice a second."""

    def __init__(self, url: str, live: LiveView, interval_s: float = 0.5) -> None:
        self.redis = client(url)
        self.live = live
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="redis-live", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                snap = self.live.snapshot()
                self.redis.set(LIVE_KEY, json.dumps(dataclasses.asdict(snap), ensure_ascii=False), ex=LIVE_KEY_TTL_S)
            except redis.RedisError as exc:
                log.warning("live picture not published: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class RedisLive:
    """Web side: the listener's picture (empty, with no live calls, while none is published)."""

    def __init__(self, url: str) -> None:
        self.redis = client(url)

    def live_call_ids(self) -> list[str]:
        return []

    def snapshot(self, now: float | None = None) -> LiveSnapshot:
        at = now if now is not None else time.time()
        try:
            raw = self.redis.get(LIVE_KEY)
        except redis.RedisError:
            raw = None
        if not raw:
            return LiveSnapshot(at, (), (), 0)
        d = json.loads(raw)
        queues = tuple(QueueSnapshot(q["queue"], tuple(WaitingCaller(**w) for w in q["waiting"]),
                                     q["longest_wait_s"], q["answered"], q["abandoned"]) for q in d["queues"])
        agents = tuple(AgentSnapshot(**a) for a in d["agents"])
        return LiveSnapshot(d["at"], queues, agents, d["live_calls"])


def encode_live(event: LiveEvent) -> str:
    return json.dumps({"type": type(event).__name__, "body": dataclasses.asdict(event)}, ensure_ascii=False)


def decode_live(text: str | bytes) -> LiveEvent:
    data = json.loads(text)
    event: LiveEvent = _LIVE_TYPES[data["type"]](**data["body"])
    return event


class LiveEventPublisher:
    """Listener side: live transcript lines and alerts of the local LiveBus out on a Redis channel."""

    def __init__(self, url: str, live_bus: LiveBus, channel: str = LIVE_TRANSCRIPTS_CHANNEL) -> None:
        self.redis = client(url)
        self.channel = channel
        self.sent = 0
        self.failed = 0
        live_bus.subscribe(self._publish)

    def _publish(self, event: LiveEvent) -> None:
        try:
            self.redis.publish(self.channel, encode_live(event))
            self.sent += 1
        except redis.RedisError as exc:
            self.failed += 1
            log.warning("live transcript event not published to Redis: %s", exc)


class LiveEventSubscriber(_ChannelSubscriber[LiveEvent]):
    """Web side: live transcript events from the Redis channel into the local LiveBus."""

    def __init__(self, url: str, live_bus: LiveBus, channel: str = LIVE_TRANSCRIPTS_CHANNEL) -> None:
        self.live_bus = live_bus
        super().__init__(url, channel, "live transcript events", decode_live, live_bus.publish)


class WallboardPublisher:
    """Listener side: the one wallboard of the site, from the listener's own live picture, call
    memory, stats, probe results and prompt faults (`read_health`, polled every `probe_poll_s`); each change as a
    versioned delta on WALLBOARD_CHANNEL (at most one per `feed.interval_s`), the whole board under
    WALLBOARD_KEY (written before the delta is published, and again every WALLBOARD_REFRESH_S)."""

    def __init__(self, url: str, bus: EventBus, feed: WallboardFeed, calls: CallMemory,
                 read_health: Callable[[], HotlineHealth] | None = None, probe_poll_s: float = 10.0) -> None:
        self.redis = client(url)
        self.feed = feed
        self.calls = calls
        self.epoch = secrets.token_hex(8)  # versions start again with each listener
        self.published = 0
        self.failed = 0
        self._bus = bus
        self._read_health = read_health
        self._probe_poll_s = probe_poll_s
        self._q: queue.Queue[object] = queue.Queue(maxsize=_QUEUE_LIMIT)
        self._stop = threading.Event()
        self._stored_at = 0.0
        self._thread = threading.Thread(target=self._run, name="wallboard", daemon=True)
        bus.subscribe(self._on_event)
        self._thread.start()
        self._probe_thread: threading.Thread | None = None
        if read_health is not None:
            self._probe_thread = threading.Thread(target=self._poll_probes, name="wallboard-probes", daemon=True)
            self._probe_thread.start()

    def _on_event(self, event: DomainEvent) -> None:
        try:
            self._q.put_nowait(event)
        except queue.Full:
            log.warning("wallboard event queue full: dropped %s", type(event).__name__)

    def _run(self) -> None:
        self._store(self.feed.board())
        carry: object = None  # an event taken from the queue but not folded in yet
        while not self._stop.is_set():
            item: object
            if carry is not None:
                item, carry = carry, None
            else:
                wait = self.feed.wait_s()
                refresh = max(0.0, self._stored_at + WALLBOARD_REFRESH_S - time.monotonic())
                try:
                    item = self._q.get(timeout=min(refresh, wait) if wait is not None else refresh)
                except queue.Empty:
                    item = None
            try:
                # everything queued by now goes into the next board (no pops to give way to here):
                # under a steady stream the board goes out every interval, not only when the queue empties
                for _ in range(_DRAIN_MAX):
                    if item is _PROBES:
                        self.feed.mark_due()
                    elif item is not None:
                        self.calls.observe(item)  # type: ignore[arg-type]
                        self.feed.observe(item)  # type: ignore[arg-type]
                    try:
                        item = self._q.get_nowait()
                    except queue.Empty:
                        break
                else:
                    carry = item
                delta = self.feed.flush()
                if delta is not None:
                    self._store(self.feed.board())
                    self._send({"epoch": self.epoch, "version": delta["version"], "delta": delta})
                elif time.monotonic() - self._stored_at >= WALLBOARD_REFRESH_S:
                    self._store(self.feed.board())
            except Exception:  # one bad event must not stop the wallboard
                log.exception("wallboard failed on %s", type(item).__name__)

    def _store(self, board: dict[str, Any]) -> None:
        self._stored_at = time.monotonic()
        try:
            self.redis.set(WALLBOARD_KEY, json.dumps({"epoch": self.epoch, "version": board["version"],
                                                      "board": board}, ensure_ascii=False), ex=WALLBOARD_KEY_TTL_S)
        except redis.RedisError as exc:
            self.failed += 1
            log.warning("wallboard not stored in Redis: %s", exc)

    def _send(self, message: dict[str, Any]) -> None:
        try:
            self.redis.publish(WALLBOARD_CHANNEL, json.dumps(message, ensure_ascii=False))
            self.published += 1
        except redis.RedisError as exc:
            self.failed += 1
            log.warning("wallboard delta not published to Redis: %s", exc)

    def _poll_probes(self) -> None:
        assert self._read_health is not None
        while True:
            try:
                if self.feed.set_health(self._read_health()):
                    self._q.put_nowait(_PROBES)
            except queue.Full:
                self.feed.forget_health()
            except Exception:  # the database may be away for a moment: the board keeps the last results
                log.exception("could not read the probe results and prompt faults")
            if self._stop.wait(self._probe_poll_s):
                return

    def stop(self) -> None:
        self._bus.unsubscribe(self._on_event)
        self._stop.set()
        self._thread.join(timeout=5)


def _empty_wallboard() -> dict[str, Any]:
    return wallboard_payload(LiveSnapshot(time.time(), (), (), 0), []) | {"version": 0}


class WallboardSubscriber(_ChannelSubscriber[dict[str, Any]]):
    """Web side (an agent_console.wallboard.WallboardRelay): the listener's wallboard. Keeps the last
    whole board (deltas applied in version order) and hands each delta on; after a gap (a missed
    delta, a listener of another epoch, this process just started) it reads the whole board from
    WALLBOARD_KEY and hands that on as "wallboard"."""

    def __init__(self, url: str) -> None:
        self._redis = client(url)
        self._lock = threading.Lock()
        self._epoch: str | None = None
        self._board: dict[str, Any] | None = None
        self._listeners: list[WallboardListener] = []
        self.deltas = 0
        self.resyncs = 0
        super().__init__(url, WALLBOARD_CHANNEL, "wallboard", json.loads, self._on_message)

    @property
    def version(self) -> int:
        with self._lock:
            return int(self._board["version"]) if self._board is not None else 0

    def subscribe(self, fn: WallboardListener) -> None:
        self._listeners.append(fn)

    def unsubscribe(self, fn: WallboardListener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def board(self) -> dict[str, Any]:
        with self._lock:
            if self._board is None:
                self._load()
            return self._board if self._board is not None else _empty_wallboard()

    def _load(self) -> bool:
        """The whole board from Redis (under the lock); False if there is none."""
        try:
            raw = self._redis.get(WALLBOARD_KEY)
        except redis.RedisError as exc:
            log.warning("wallboard not read from Redis: %s", exc)
            return False
        if not raw:
            return False
        data = json.loads(raw)
        if self._epoch == data["epoch"] and self._board is not None and data["version"] < self._board["version"]:
            return False  # older than what this process has
        self._epoch, self._board = data["epoch"], dict(data["board"], version=data["version"])
        return True

    def _on_message(self, message: dict[str, Any]) -> None:
        try:
            epoch, version, delta = message["epoch"], int(message["version"]), message["delta"]
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("unreadable wallboard delta dropped: %s", exc)
            return
        with self._lock:
            have = int(self._board["version"]) if self._board is not None and epoch == self._epoch else None
            if have is not None and version <= have:
                return  # already in the board read from Redis
            update: tuple[str, dict[str, Any]]
            if have is not None and version == have + 1:
                assert self._board is not None
                self._board = apply_wallboard_delta(self._board, delta)
                self.deltas += 1
                update = ("wallboard_delta", delta)
            else:  # missed deltas, another listener, or the first delta this process sees
                self.resyncs += 1
                if not self._load() or self._board is None:
                    return
                update = ("wallboard", self._board)
        for fn in list(self._listeners):
            try:
                fn(*update)
            except Exception:
                log.exception("wallboard update not relayed")
