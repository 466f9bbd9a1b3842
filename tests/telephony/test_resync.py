"""Resync after every connect: cut the AMI link 20 times at random points during 1,000 simulated
calls; every call is recorded exactly once, with the right outcome wherever it is knowable."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path

from telephony.calls import CallTracker
from telephony.connection import AmiClient, AmiEndpoint
from telephony.events import CallEnded, DomainEvent
from telephony.records import CallRecord
from telephony.resync import resync
from telephony.simulator.pbx import SimulatedPbx, make_agents
from telephony.simulator.scenario import CallScript
from telephony.simulator.server import AmiServer

EXPECTED = {
    "service_answered": "answered",
    "claims_ringall_agent_hangs_up": "answered",
    "service_ring_no_answer": "answered",
    "complaints_abandoned": "abandoned_in_queue",
}


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
    scripts: dict[str, CallScript] = {}
    # random points, at least 10 calls apart so that every cut meets a live, resynced link
    slots = sorted(rng.sample(range((calls - 60) // 10), cuts))
    cut_at = [30 + 10 * s + rng.randrange(10) for s in slots]
    try:
        for i in range(calls):
            script = pbx.start_random_call()
            scripts[script.linkedid] = script
            if cut_at and i == cut_at[0]:
                cut_at.pop(0)
                deadline = time.time() + 5
                while not (client.connected.is_set() and server.sessions) and time.time() < deadline:
                    time.sleep(0.01)
                for session in list(server.sessions):
                    session.reset() if rng.random() < 0.5 else session.close()
            time.sleep(1 / rate)
        deadline = time.time() + 60
        while (pbx.calls or pbx.pending()) and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        # a last resync closes what ended during the last gap, as the next connect would
        assert client.conn is not None and client.connected.is_set()
        resync(client.conn, tracker)
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
