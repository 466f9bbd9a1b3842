"""Resync after every connect: cut the AMI link 20 times at random points during 1,000 simulated
calls; every call is recorded exactly once, with the right outcome wherever it is knowable.

What no AMI client can know is kept out by the test's own waiting, on conditions (never a fixed
sleep: on a loaded machine the stream, the reconnect and the resync all run late): a cut comes when
the link is resynced and has taken in every event due so far, so no call is lost with the bytes in
flight, and no call of the stream starts while the link is down (one that also ended before the
next snapshot would leave no trace at all). Each gap gets one call of its own instead, which the
resync must take up, while the calls in progress end, get answered or go on during the gap."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from telephony.calls import CallTracker
from telephony.connection import AmiClient, AmiEndpoint
from telephony.events import CallEnded, DomainEvent
from telephony.reconcile import ReconcileReport
from telephony.records import CallRecord
from telephony.resync import resync
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.people import make_agents
from telephony.simulator.scenario import CallScript
from telephony.simulator.server import AmiServer

WAIT_S = 60.0  # generous: each wait ends as soon as its condition holds

EXPECTED = {
    "service_answered": "answered",
    "claims_ringall_agent_hangs_up": "answered",
    "service_ring_no_answer": "answered",
    "complaints_abandoned": "abandoned_in_queue",
}


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        time.sleep(0.005)


def _caught_up(client: AmiClient, pbx: SimulatedPbx) -> None:
    """Every event due by now has been handed to the AMI session and fed to the tracker: the PBX
    has played up to now, and a Ping sent after that is answered after those events."""
    now = time.time()
    _wait_for(lambda: pbx.played_until >= now, "the simulator plays what is due")
    assert client.conn is not None
    client.conn.send_action("Ping", timeout=WAIT_S)


def test_twenty_cuts_during_a_thousand_calls(tmp_path: Path) -> None:
    calls, cuts, rate = 1000, 20, 25.0
    rng = random.Random(20)
    pbx = SimulatedPbx(recordings_dir=str(tmp_path), agents=make_agents(60), time_scale=10.0, seed=5)
    pbx.start()
    server = AmiServer(("127.0.0.1", 0), pbx)
    server.serve_in_thread()
    records: list[CallRecord] = []
    lock = threading.Lock()

    def publish(event: DomainEvent) -> None:
        if isinstance(event, CallEnded):
            with lock:
                records.append(event.record)

    tracker = CallTracker(publish)
    client = AmiClient(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"), tracker.feed,
                       on_connected=lambda conn: resync(conn, tracker), backoff_initial=0.05, ping_interval=5)
    client.start()
    assert client.connected.wait(5)
    _wait_for(lambda: tracker.resyncs == 1, "the first resync")
    scripts: dict[str, CallScript] = {}
    # random points, at least 10 calls apart
    slots = sorted(rng.sample(range((calls - 60) // 10), cuts))
    cut_at = [30 + 10 * s + rng.randrange(10) for s in slots]
    done = 0
    try:
        for i in range(calls):
            script = pbx.start_random_call()
            scripts[script.linkedid] = script
            if cut_at and i == cut_at[0]:
                cut_at.pop(0)
                _caught_up(client, pbx)
                (session,) = server.sessions
                session.reset() if rng.random() < 0.5 else session.close()
                done += 1
                # a call that starts while the link is down: only the resync can tell of it (it lasts
                # longer than any reconnect and resync, even on a loaded machine)
                if pbx.free_agents(time.time()):
                    gap_call = pbx.start_call("service_answered", talk_s=200.0)
                else:
                    gap_call = pbx.start_call("complaints_abandoned", abandon_after_s=200.0)
                scripts[gap_call.linkedid] = gap_call

                def resynced(n: int = done + 1) -> bool:
                    return client.stats.connects == n and tracker.resyncs == n and len(server.sessions) == 1

                _wait_for(resynced, f"reconnect and resync after cut {done}")
            time.sleep(1 / rate)
        _wait_for(lambda: not (pbx.calls or pbx.pending()), "the last calls end", timeout=WAIT_S + 60)
        _caught_up(client, pbx)
        # a last resync closes nothing: every call ended in the stream or at a resync
        assert client.conn is not None and client.connected.is_set()
        final = resync(client.conn, tracker)
        assert final is not None and not final.closed and not final.taken_up, final
    finally:
        client.stop()
        server.shutdown_all()
        pbx.stop()

    assert client.stats.reconnects == cuts
    assert tracker.resyncs >= cuts + 1
    counts = Counter(r.linkedid for r in records)
    assert set(counts) == set(scripts), (len(set(scripts) - set(counts)), len(set(counts) - set(scripts)))
    assert max(counts.values()) == 1
    reconciled = wrong = unknowable = 0
    for r in records:
        expected = EXPECTED[scripts[r.linkedid].scenario]
        if not r.reconciled:
            assert r.outcome == expected, (scripts[r.linkedid].scenario, r.to_json_dict())
            continue
        reconciled += 1
        if r.outcome == "interrupted":
            unknowable += 1
        elif r.outcome != expected:
            wrong += 1
            print("WRONG", scripts[r.linkedid].scenario, r.to_json_dict())
    assert wrong == 0
    assert reconciled > 0  # the cuts did cut through calls
    print(f"\n{calls} calls, {cuts} cuts: {reconciled} reconciled, {unknowable} with an unknowable outcome")


def test_a_snapshot_answered_late_is_asked_for_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """On a loaded machine a snapshot can come after the resync's timeout: it is asked for again, and
    the calls that ended while the link was down are closed now, not at some later reconnect."""
    pbx = SimulatedPbx(recordings_dir=str(tmp_path), time_scale=10.0, seed=1)
    pbx.start()
    server = AmiServer(("127.0.0.1", 0), pbx)
    server.serve_in_thread()
    tracker = CallTracker(lambda e: None)
    client = AmiClient(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"), tracker.feed)
    client.start()
    reports: list[ReconcileReport | None] = []
    try:
        assert client.connected.wait(10)
        conn = client.conn
        assert conn is not None
        script = pbx.start_call("service_answered", talk_s=200.0)
        _wait_for(lambda: script.linkedid in tracker.live_call_ids(), "the call is seen")
        asker = threading.Thread(target=lambda: reports.append(resync(conn, tracker, timeout=0.5)))
        with caplog.at_level(logging.WARNING, logger="telephony.resync"), pbx.between_steps():
            # the PBX is busy: the first CoreShowChannels waits past the timeout
            asker.start()
            _wait_for(lambda: any("asking again" in r.getMessage() for r in caplog.records),
                      "the resync asks again", timeout=20)
        asker.join(WAIT_S)
        assert reports and reports[0] is not None
        assert server.actions["coreshowchannels"] == 2
        assert tracker.resyncs == 1
        assert script.linkedid in tracker.live_call_ids()  # the live call is in the snapshot asked again
    finally:
        client.stop()
        server.shutdown_all()
        pbx.stop()
