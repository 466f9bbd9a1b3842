"""A wallboard kept elsewhere (a web process in role mode) follows the computed one by its deltas."""

from __future__ import annotations

import dataclasses

from agent_console.calls import CallMemory
from agent_console.wallboard import (
    WallboardFeed,
    WallboardSettings,
    apply_wallboard_delta,
    wallboard_delta,
    wallboard_payload,
)
from telephony.events import CallAnswered, CallEnded, CallQueued, CallStarted, PbxConnection
from telephony.records import CallRecord
from tests.agent_console.conftest import FakeLiveView, sample_snapshot


def test_applying_each_delta_gives_the_new_board() -> None:
    one = wallboard_payload(sample_snapshot(waiting=3), [])
    snap = sample_snapshot(at=1_764_500_010.0, waiting=1)
    two = wallboard_payload(dataclasses.replace(snap, agents=snap.agents[1:]), [], pbx_down=("pbx-b",))
    delta = wallboard_delta(one, two) | {"version": 8}
    assert apply_wallboard_delta(one | {"version": 7}, delta) == two | {"version": 8}
    assert [w["linkedid"] for w in one["queues"][1]["waiting"]] == ["wait-0", "wait-1", "wait-2"]  # left as it was


def test_a_delta_after_no_board_replaces_every_section() -> None:
    """After `WallboardFeed.skip` (nobody watched) a page may hold an older board: rows gone since
    must go there too, even from sections that are empty now."""
    old = wallboard_payload(sample_snapshot(waiting=3), []) | {"version": 4}
    snap = sample_snapshot(at=1_764_500_010.0, waiting=0)
    new = wallboard_payload(dataclasses.replace(snap, queues=(), agents=()), [])
    delta = wallboard_delta(None, new) | {"version": 5}
    assert apply_wallboard_delta(old, delta) == new | {"version": 5}


def test_the_feed_versions_its_deltas_and_folds_events_into_the_board() -> None:
    live = FakeLiveView(current=sample_snapshot())
    calls = CallMemory()
    feed = WallboardFeed(live, calls, WallboardSettings(20.0, 0.8, 60.0), interval_s=0.0)
    first = feed.board()
    assert first["version"] == 0 and feed.flush() is None  # nothing changed yet
    kept = first
    for event in (CallStarted("w.1", "49305551001", "", "4008001", "service", 1.0),
                  CallQueued("w.1", "service", 1, 2.0), PbxConnection("pbx-b", False, "lost", 3.0)):
        calls.observe(event)
        feed.observe(event)
        delta = feed.flush()
        assert delta is not None
        kept = apply_wallboard_delta(kept, delta)
        assert kept == feed.board()
    assert kept["version"] == 3
    assert [c["linkedid"] for c in kept["live_calls"]] == ["w.1"]
    assert [a["id"] for a in kept["alerts"]] == ["pbx:pbx-b"]
    record = CallRecord(linkedid="w.1", caller="49305551001", caller_name="", dialed="4008001", hotline="service",
                        queue="service", outcome="abandoned_in_queue", started_at=1.0, ended_at=9.0)
    calls.observe(CallEnded(record, 9.0))
    feed.observe(CallEnded(record, 9.0))
    delta = feed.flush()
    assert delta is not None and delta["version"] == 4
    kept = apply_wallboard_delta(kept, delta)
    assert kept["live_calls"] == [] and [r["linkedid"] for r in kept["recent_calls"]] == ["w.1"]
    assert "sla:service" in {a["id"] for a in kept["alerts"]}  # the abandoned call counts against the SL


def test_an_agent_on_a_call_shows_who_calls_on_which_queue_since_when() -> None:
    snap = sample_snapshot()
    talking = dataclasses.replace(snap.agents[0], status="busy", linkedid="t.1", since=5.0)
    calls = CallMemory()
    for event in (CallStarted("t.1", "49305551001", "张伟", "4008001", "service", 1.0),
                  CallQueued("t.1", "service", 1, 2.0), CallAnswered("t.1", talking.agent, "service", 4.0)):
        calls.observe(event)
    board = wallboard_payload(dataclasses.replace(snap, agents=(talking, *snap.agents[1:])), [], live=calls.live())
    row = next(a for a in board["agents"] if a["agent"] == talking.agent)
    assert row["call"] == {"caller": "49305551001", "caller_name": "张伟", "hotline": "service", "queue": "service",
                           "since": 4.0}
    assert all(a["call"] is None for a in board["agents"] if a["agent"] != talking.agent)
