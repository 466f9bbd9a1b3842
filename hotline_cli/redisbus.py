"""Several processes, one picture: domain events and the live wallboard picture over Redis.

The listener (one per site) publishes every domain event on a Redis channel and keeps the current
LiveSnapshot under a key; web and worker processes feed those events into their own in-process
bus and read the snapshot, so the same consumers run unchanged in every role.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import redis

from telephony import events as ev
from telephony.events import DomainEvent, EventBus
from telephony.live import AgentSnapshot, LiveSnapshot, LiveView, QueueSnapshot, WaitingCaller
from telephony.records import CallRecord
from transcripts.live_events import LiveAlert, LiveBus, LiveEvent, LiveLine

log = logging.getLogger(__name__)
E = TypeVar("E")

CHANNEL = "hotline:events"
LIVE_KEY = "hotline:live"
LIVE_TRANSCRIPTS_CHANNEL = "hotline:live-transcripts"
_LIVE_TYPES: dict[str, type[LiveLine] | type[LiveAlert]] = {"LiveLine": LiveLine, "LiveAlert": LiveAlert}
_EVENT_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (ev.CallStarted, ev.CallHolding, ev.IvrDigit, ev.CallVariable, ev.CallQueued,
                                  ev.CallLeftQueue, ev.AgentRinging, ev.AgentRingStopped, ev.CallAnswered,
                                  ev.CallEnded, ev.AgentStatus, ev.PbxConnection)
}


class RedisUnavailable(Exception):
    """Redis cannot be reached at the configured URL."""


def client(url: str) -> redis.Redis:
    """A client that (re)connects on use: a Redis that is down now may be up for the next command."""
    try:
        return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    except ValueError as exc:
        raise RedisUnavailable(f"bad Redis URL {url}: {exc}") from None


def connect(url: str) -> redis.Redis:
    try:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise RedisUnavailable(f"cannot reach Redis at {url}: {exc}") from None
    return client


def encode(event: DomainEvent) -> str:
    body = dataclasses.asdict(event)
    return json.dumps({"type": type(event).__name__, "body": body}, ensure_ascii=False)


def decode(text: str | bytes) -> DomainEvent:
    data = json.loads(text)
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
            self.redis.publish(CHANNEL, encode(event))
            self.sent += 1
        except redis.RedisError as exc:
            self.failed += 1
            log.warning("event not published to Redis: %s", exc)


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
                pubsub = connect(self.url).pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
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
        super().__init__(url, CHANNEL, "events", decode, bus.publish)


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
                self.redis.set(LIVE_KEY, json.dumps(dataclasses.asdict(snap), ensure_ascii=False), ex=10)
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
