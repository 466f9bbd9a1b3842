"""A pop's hops across processes: the listener's publisher stamps each event on Redis, a web
process's subscriber times the Redis hop of each AgentRinging (real Redis, the real classes)."""

from __future__ import annotations

import json
import time

from loopback import redis_url

from agent_console import metrics
from hotline_cli.redisbus import EventPublisher, EventSubscriber, decode, encode
from telephony.events import AgentRinging, CallStarted, EventBus

REDIS = redis_url()


def hop_count(hop: str) -> float:
    return metrics.REGISTRY.get_sample_value("hotline_pop_hop_seconds_count", {"hop": hop}) or 0.0


def test_events_carry_the_publish_time_and_still_decode_without_it() -> None:
    ring = AgentRinging("h.1", "agent1001", "service", "49305551001", 1796.5)
    stamped = encode(ring, 1800.25)
    assert json.loads(stamped)["sent_at"] == 1800.25
    assert decode(stamped) == ring
    assert "sent_at" not in json.loads(encode(ring)) and decode(encode(ring)) == ring  # an older listener's


def test_the_listener_and_redis_hops_of_a_ring_are_timed() -> None:
    here, there = EventBus(), EventBus()
    got: list[object] = []
    there.subscribe(got.append)
    sub = EventSubscriber(REDIS, there)
    try:
        assert sub.ready.wait(5)
        listener, redis_hop = hop_count("listener"), hop_count("redis")
        EventPublisher(REDIS, here)
        now = time.time()
        started = CallStarted("hop.1", "49305551001", "张伟", "4008001", "service", now)
        ring = AgentRinging("hop.1", "agent1001", "service", "49305551001", now)
        here.publish(started)  # not a ring: no hop is timed for it
        here.publish(ring)
        deadline = time.time() + 5
        while ring not in got and time.time() < deadline:
            time.sleep(0.02)
        assert started in got and ring in got
        assert hop_count("listener") == listener + 1  # this process's publisher: exactly its one ring
        # the channel is the site's: another test's ring may arrive too, so at least ours was timed
        assert hop_count("redis") >= redis_hop + 1
    finally:
        sub.stop()
