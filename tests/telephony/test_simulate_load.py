"""The simulator at scale: its event-type mix per call stays within ±10 % of the real load run
(trace 07), and every event type it sends has the field set the real traces show."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from cases.phones import phone_tail
from telephony.connection import AmiClient, AmiEndpoint
from telephony.frames import Message, parse_all
from telephony.manager_rights import ManagerConf
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.people import DEFAULT_CALLERS, LOAD_CALLERS, make_callers
from telephony.simulator.scenario import CallScript
from telephony.simulator.server import AmiServer


def test_load_mix_matches_trace_07(traces: Path, tmp_path: Path, lab_manager: ManagerConf) -> None:
    calls = 60
    pbx = SimulatedPbx(recordings_dir=str(tmp_path), time_scale=10.0, seed=11, wrap_up_s=0.0)  # the lab: wrapuptime=0
    pbx.start()
    server = AmiServer(("127.0.0.1", 0), pbx, manager=lab_manager)
    server.serve_in_thread()
    got: list[Message] = []
    client = AmiClient(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"), got.append)
    client.start()
    assert client.connected.wait(5)
    try:
        for _ in range(calls):  # one call every 2 s of PBX time, as in trace 07
            pbx.start_load_call(talk_s=4.8)
            time.sleep(2.0 / pbx.time_scale)
        deadline = time.time() + 60
        while (pbx.calls or pbx.pending()) and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
    finally:
        client.stop()
        server.shutdown_all()
        pbx.stop()
    ours = Counter(m.event for m in got if m.event is not None and m.event != "FullyBooted")
    ours["SuccessfulAuth"] -= 1  # our own AMI login
    real = json.loads((traces / "07-load-service-hotline.analysis.json").read_text())["event mix"]
    real_calls = real["AgentConnect"]
    assert ours["AgentConnect"] == calls
    off = {}
    for event, count in real.items():
        if event == "FullyBooted":
            continue
        per_call_real = count / real_calls
        per_call_ours = ours.get(event, 0) / calls
        off[event] = per_call_ours / per_call_real - 1
    assert set(ours) - set(real) <= {"QueueCallerAbandon"} and ours["QueueCallerAbandon"] == 0
    bad = {e: f"{d:+.0%}" for e, d in off.items() if abs(d) > 0.10}
    assert not bad, bad


def test_every_event_type_has_the_real_field_set(traces: Path, tmp_path: Path, lab_manager: ManagerConf) -> None:
    real_keys: dict[str, set[tuple[str, ...]]] = {}
    for f in sorted(traces.glob("0[1-6]*.ami")):
        for m in parse_all(f.read_bytes()):
            if m.event:
                real_keys.setdefault(m.event, set()).add(tuple(sorted(set(m.keys_in_order()) - {"ActionID"})))
    pbx = SimulatedPbx(recordings_dir=str(tmp_path), time_scale=20.0, seed=2)
    pbx.start()
    server = AmiServer(("127.0.0.1", 0), pbx, manager=lab_manager)
    server.serve_in_thread()
    got: list[Message] = []
    client = AmiClient(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"), got.append)
    client.start()
    assert client.connected.wait(5)
    try:
        for scenario in ("service_answered", "claims_ringall_agent_hangs_up", "complaints_abandoned",
                         "service_ring_no_answer"):
            pbx.start_call(scenario)
            while pbx.calls:
                time.sleep(0.05)
        time.sleep(0.3)
    finally:
        client.stop()
        server.shutdown_all()
        pbx.stop()
    for m in got:
        if m.event is None:  # the answer to our Logoff
            continue
        assert m.event in real_keys, m.event
        keys = tuple(sorted(set(m.keys_in_order()) - {"ActionID"}))
        assert keys in real_keys[m.event], (m.event, keys)


def _caller(script: CallScript) -> str:
    """The calling number of a script: its first Newchannel's CallerIDNum."""
    return next(dict(f)["CallerIDNum"] for _, f in script.messages if dict(f).get("Event") == "Newchannel")


def test_load_calls_come_from_many_callers(tmp_path: Path) -> None:
    """Load calls from a few thousand numbers by default (the load run's lookups then see a realistic
    history per caller, not thousands of calls on each of 8 lines); 0 keeps the demo's 8 callers."""
    many = SimulatedPbx(recordings_dir=str(tmp_path), time_scale=100.0, seed=5, wrap_up_s=0.0)
    few = SimulatedPbx(recordings_dir=str(tmp_path), time_scale=100.0, seed=5, wrap_up_s=0.0, load_callers=0)
    try:
        callers = [_caller(many.start_load_call(talk_s=1.0)) for _ in range(200)]
        demo = {_caller(few.start_load_call(talk_s=1.0)) for _ in range(50)}
    finally:
        many.stop()
        few.stop()
    assert len(many.load_callers) == LOAD_CALLERS >= 1000
    assert len(set(callers)) > 150  # 200 picks of 5000: a few repeats at most
    assert len({phone_tail(c) for c in callers}) == len(set(callers))  # distinct tail keys too
    assert demo <= {number for number, _ in DEFAULT_CALLERS} and len(demo) > 1
    with pytest.raises(ValueError, match="callers must be between"):
        make_callers(0)
