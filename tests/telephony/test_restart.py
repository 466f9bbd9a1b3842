"""Asterisk stopping and restarting under live calls (as in trace 06), and crashing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from telephony.calls import CallTracker
from telephony.connection import AmiClient, AmiEndpoint
from telephony.events import CallAnswered, CallEnded, DomainEvent
from telephony.records import CallRecord
from telephony.resync import resync
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.server import AmiServer


def wait_for(cond: object, timeout: float = 15.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("crash", [False, True], ids=["core-stop-now", "kill-9"])
def test_restart_under_live_calls(tmp_path: Path, crash: bool) -> None:
    pbx = SimulatedPbx(recordings_dir=str(tmp_path), time_scale=5.0, seed=4)
    pbx.start()
    server = AmiServer(("127.0.0.1", 0), pbx)
    server.serve_in_thread()
    records: list[CallRecord] = []
    answered: list[str] = []

    def publish(e: DomainEvent) -> None:
        if isinstance(e, CallEnded):
            records.append(e.record)
        elif isinstance(e, CallAnswered):
            answered.append(e.linkedid)

    tracker = CallTracker(publish)
    client = AmiClient(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"), tracker.feed,
                       on_connected=lambda c: resync(c, tracker), backoff_initial=0.1)
    client.start()
    try:
        assert client.connected.wait(5)
        talking = [pbx.start_call("service_answered", talk_s=120), pbx.start_call("claims_ringall_agent_hangs_up",
                                                                                   talk_s=120)]
        assert wait_for(lambda: len(answered) == 2)
        live = server.restart_pbx(crash=crash, down_s=0.6)
        assert set(live) == {s.linkedid for s in talking}
        assert wait_for(lambda: client.stats.reconnects >= 1 and client.connected.is_set())
        assert wait_for(lambda: len(records) == 2)
        by_id = {r.linkedid: r for r in records}
        for s in talking:
            r = by_id[s.linkedid]
            assert r.outcome == "answered" and r.agent == s.answered_by
            assert r.hangup_by is None  # no phone hung up: the PBX did
            # stopped cleanly, the calls end with their own events; after a crash we learn it on reconnect
            assert r.reconciled is crash
        assert tracker.live_call_ids() == []
        # the new Asterisk's calls are followed as usual
        after = pbx.start_call("service_answered", talk_s=1)
        assert wait_for(lambda: any(r.linkedid == after.linkedid for r in records))
        assert after.linkedid.endswith(".0")  # channel counters restarted
        assert len({r.linkedid for r in records}) == len(records) == 3
    finally:
        client.stop()
        server.shutdown_all()
        pbx.stop()
