"""Live transcript events across processes: a listener's LiveBus to a web process's over real Redis."""

from __future__ import annotations

import time
import uuid

import pytest
from loopback import redis_url

from hotline_cli.redisbus import LiveEventPublisher, LiveEventSubscriber, decode_live, encode_live
from transcripts.live_events import LiveAlert, LiveBus, LiveEvent, LiveLine

REDIS = redis_url()


def test_live_lines_and_alerts_travel_over_redis_unchanged() -> None:
    channel = f"test:live:{uuid.uuid4().hex}"
    here, there = LiveBus(), LiveBus()
    got: list[LiveEvent] = []
    there.subscribe(got.append)
    sub = LiveEventSubscriber(REDIS, there, channel=channel)
    try:
        assert sub.ready.wait(5)
        pub = LiveEventPublisher(REDIS, here, channel=channel)
        sent: list[LiveEvent] = [
            LiveLine("1796.1", "agent1001", "customer", "0b46e04d-85cf-476c-871f-19a5a6f961b9", 1, False, "택배가", 0.8,
                     1796.5),
            LiveLine("1796.1", "agent1001", "customer", "0b46e04d-85cf-476c-871f-19a5a6f961b9", 2, True, "택배가 아직",
                     1.6, 1797.0),
            LiveAlert("1796.1", "agent1001", "customer", "escalation", "投诉", "我要投诉", 1797.1),
        ]
        for event in sent:
            here.publish(event)
        deadline = time.time() + 5
        while len(got) < len(sent) and time.time() < deadline:
            time.sleep(0.02)
        assert got == sent and pub.sent == 3 and sub.received == 3
    finally:
        sub.stop()


def test_decode_live_rejects_unknown_types() -> None:
    line = LiveLine("a", "agent1001", "agent", "s", 1, True, "네", 1.0, 2.0)
    assert decode_live(encode_live(line)) == line
    with pytest.raises(KeyError):
        decode_live('{"type": "CallStarted", "body": {}}')
