"""The PBX simulator answers to the real traces: a simulated call per shared scenario, read back
over TCP by our AMI client, has the real capture's events, field names and order; ids, callers,
agents and times are its own; and the call tracker makes the same record of it."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from telephony.calls import CallTracker
from telephony.connection import AmiAuthError, AmiClient, AmiEndpoint, AmiUnreachable, check_login
from telephony.events import CallEnded
from telephony.frames import Message, parse_all
from telephony.records import CallRecord
from telephony.replay import replay_files
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.scenario import CallScript, ScenarioError
from telephony.simulator.server import AmiServer, Credentials

SCENARIO_TRACES = {
    "service_answered": "01-service-hotline-dtmf1-agent-answers-caller-hangs-up.ami",
    "claims_ringall_agent_hangs_up": "02-claims-hotline-menu-timeout-agent-hangs-up.ami",
    "complaints_abandoned": "03-complaints-queue-caller-abandons-agents-paused.ami",
    "service_ring_no_answer": "04-service-queue-ring-no-answer-next-agent.ami",
}
# what the real Asterisk orders differently from run to run (capture README §5.11)
UNSTABLE = {"Cdr", "AgentComplete", "Hangup"}




def _real_call_events(path: Path) -> list[Message]:
    msgs = parse_all(path.read_bytes())
    out = []
    for m in msgs:
        if m.event is None or m.event == "FullyBooted":
            continue
        out.append(m)
    # the capture client's own login SuccessfulAuth (Service AMI) is not part of the call
    first_ami_auth = next(i for i, m in enumerate(out) if m.event == "SuccessfulAuth" and m["Service"] == "AMI")
    del out[first_ami_auth]
    return out


def _signature(msgs: list[Message]) -> list[tuple[str, tuple[str, ...]]]:
    return [(m.event or "", tuple(m.keys_in_order())) for m in msgs]


def _wait(client: AmiClient, records: list[CallRecord], until: int, timeout: float) -> list[CallRecord]:
    deadline = time.time() + timeout
    while len(records) < until and time.time() < deadline:
        time.sleep(0.05)
    client.stop()
    return records


TRACE_AGENTS = {"service_answered": ["agent1001"], "claims_ringall_agent_hangs_up": ["agent1003", "agent1002"],
                "complaints_abandoned": [], "service_ring_no_answer": ["agent1001", "agent1002"]}
OTHER_AGENTS = {"service_answered": ["agent1002"], "claims_ringall_agent_hangs_up": ["agent1001", "agent1003"],
                "complaints_abandoned": [], "service_ring_no_answer": ["agent1003", "agent1001"]}
DERIVED = {"QueueMemberStatus", "DeviceStateChange"}  # depend on the agents' queues and on other calls


def _play(pbx: SimulatedPbx, server: AmiServer, scenario: str, agents: list[str]
          ) -> tuple[CallScript, list[Message], list[CallRecord]]:
    got: list[Message] = []
    records: list[CallRecord] = []
    tracker = CallTracker(lambda e: records.append(e.record) if isinstance(e, CallEnded) else None)

    def on_message(m: Message) -> None:
        got.append(m)
        tracker.feed(m)

    client = AmiClient(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"), on_message)
    client.start()
    assert client.connected.wait(5)
    script = pbx.start_call(scenario, caller=("8613912345678", "王小明"), agents=agents)
    deadline = time.time() + 20
    while not records and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the events Asterisk sends after the last Hangup
    client.stop()
    assert records, "the simulated call never ended"
    events = [m for m in got if m.event is not None and m.event != "FullyBooted"
              and not (m.event == "SuccessfulAuth" and m.get("Service") == "AMI")]
    return script, events, records


def test_simulated_calls_match_the_real_traces_event_for_event(lab_sim: tuple[SimulatedPbx, AmiServer],
                                                                traces: Path) -> None:
    """The four captured scenarios, in the lab's order on one PBX, with the lab's agents: the same
    events with the same fields in the same order (Asterisk's unstable end-of-call order aside),
    device states included."""
    pbx, server = lab_sim
    for scenario, trace in SCENARIO_TRACES.items():
        script, events, _ = _play(pbx, server, scenario, TRACE_AGENTS[scenario])
        real = _real_call_events(traces / trace)
        real_sig, sim_sig = _signature(real), _signature(events)
        # device states come from Asterisk's own device-state thread: in order among themselves only
        unordered = UNSTABLE | {"DeviceStateChange"}
        assert [s for s in sim_sig if s[0] not in unordered] == [s for s in real_sig if s[0] not in unordered], \
            scenario
        assert sorted(sim_sig) == sorted(real_sig), scenario
        devices = [(m["Device"], m["State"]) for m in events if m.event == "DeviceStateChange"]
        assert devices == [(m["Device"], m["State"]) for m in real if m.event == "DeviceStateChange"], scenario


@pytest.mark.parametrize("scenario", list(SCENARIO_TRACES))
def test_simulated_call_with_other_people_matches_real_trace(scenario: str, lab_sim: tuple[SimulatedPbx, AmiServer],
                                                             traces: Path) -> None:
    pbx, server = lab_sim
    agents = OTHER_AGENTS[scenario]
    script, sim_events, records = _play(pbx, server, scenario, agents)
    real = _real_call_events(traces / SCENARIO_TRACES[scenario])
    real_sig = [s for s in _signature(real) if s[0] not in DERIVED]
    sim_sig = [s for s in _signature(sim_events) if s[0] not in DERIVED]
    assert [s for s in sim_sig if s[0] not in UNSTABLE] == [s for s in real_sig if s[0] not in UNSTABLE]
    assert sorted(sim_sig) == sorted(real_sig)
    # one QueueMemberStatus per queue the agent is a member of, as Asterisk sends them
    for m in sim_events:
        if m.event == "QueueMemberStatus":
            peer = m["Interface"].split("/")[1]
            assert m["Queue"] in pbx.queues_of(peer)

    # ids and people are the simulator's own, consistently
    linked = {m["Linkedid"] for m in sim_events if "Linkedid" in m}
    assert linked == {script.linkedid}
    assert script.linkedid not in {m.get("Linkedid") for m in real}
    callers = {m["CallerIDNum"] for m in sim_events
               if m.get("Channel", "").startswith("SIP/carrier") and "CallerIDNum" in m}
    assert callers == {"8613912345678"}
    assert all(m["Source"] == "8613912345678" for m in sim_events if m.event == "Cdr" and "Source" in m
               and m.get("Channel", "").startswith("SIP/carrier"))

    # the tracker makes the same record as of the real call, with this call's people
    [real_rec] = replay_files([traces / SCENARIO_TRACES[scenario]])
    [rec] = records
    assert (rec.hotline, rec.dialed, rec.digits, rec.queue, rec.outcome, rec.hangup_by) == (
        real_rec.hotline, real_rec.dialed, real_rec.digits, real_rec.queue, real_rec.outcome, real_rec.hangup_by)
    assert rec.caller == "8613912345678" and rec.caller_name == "王小明"
    assert len(rec.rang) == len(real_rec.rang)
    if real_rec.agent:
        assert rec.agent == agents[-1] and rec.agents == [agents[-1]]
    assert rec.recording and rec.recording.startswith(pbx.recordings_dir)


def test_waybill_typed_in_ivr_reaches_the_call_record(sim: tuple[SimulatedPbx, AmiServer]) -> None:
    pbx, server = sim
    client_records: list[CallRecord] = []
    tracker = CallTracker(lambda e: client_records.append(e.record) if isinstance(e, CallEnded) else None)
    client = AmiClient(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"), tracker.feed)
    client.start()
    assert client.connected.wait(5)
    pbx.start_call("service_answered", waybill="800012345678", talk_s=2.0)
    _wait(client, client_records, 1, 20)
    [rec] = client_records
    assert rec.waybill == "800012345678" and rec.digits == "1800012345678"


def test_agents_are_not_double_booked(sim: tuple[SimulatedPbx, AmiServer]) -> None:
    pbx, _ = sim
    a = pbx.start_call("service_answered", talk_s=30)
    b = pbx.start_call("claims_ringall_agent_hangs_up", talk_s=30)
    assert not set(a.agents) & set(b.agents)
    with pytest.raises(ScenarioError, match="needs 2 free agents"):
        pbx.start_call("service_ring_no_answer")
    # the only call still possible is one that needs nobody
    c = pbx.start_random_call()
    assert c.scenario == "complaints_abandoned"


def test_login_bad_secret_is_refused_and_closed(sim: tuple[SimulatedPbx, AmiServer]) -> None:
    _, server = sim
    with pytest.raises(AmiAuthError, match="refused login"):
        check_login(AmiEndpoint("127.0.0.1", server.port, "hotline", "wrong"))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"Action: Login\r\nActionID: login\r\nUsername: hotline\r\n"
                  b"Secret: wrong-secret\r\nEvents: on\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    # byte for byte what Asterisk 20 sent in 05-ami-actions-bad-login.ami
    assert data == (b"Asterisk Call Manager/9.0.0\r\nResponse: Error\r\nActionID: login\r\n"
                    b"Message: Authentication failed\r\n\r\n")


def test_unreachable_host_is_a_named_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(AmiUnreachable, match=f"127.0.0.1:{port}"):
        check_login(AmiEndpoint("127.0.0.1", port, "hotline", "hotline"))


def test_actions_ping_unknown_and_lists(sim: tuple[SimulatedPbx, AmiServer]) -> None:
    pbx, server = sim
    client = AmiClient(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"), lambda m: None)
    client.start()
    assert client.connected.wait(5) and client.conn is not None
    pong = client.conn.send_action("Ping")
    assert pong.response["Ping"] == "Pong"
    from telephony.connection import AmiActionError
    with pytest.raises(AmiActionError, match="Invalid/unknown command: FooBarNoSuchAction"):
        client.conn.send_action("FooBarNoSuchAction")
    pbx.start_call("service_answered", talk_s=30)
    time.sleep(0.5)
    chans = client.conn.send_action("CoreShowChannels", is_list=True)
    assert chans.events[-1].event == "CoreShowChannelsComplete"
    assert int(chans.events[-1]["ListItems"]) == len(chans.events) - 1 >= 1
    status = client.conn.send_action("QueueStatus", {"Queue": "service"}, is_list=True)
    kinds = [m.event for m in status.events]
    assert kinds[0] == "QueueParams" and kinds.count("QueueMember") == 3 and kinds[-1] == "QueueStatusComplete"
    client.stop()


def test_custom_credentials(tmp_path: Path) -> None:
    pbx = SimulatedPbx(recordings_dir=str(tmp_path))
    server = AmiServer(("127.0.0.1", 0), pbx, Credentials("ops", "s3cret"))
    server.serve_in_thread()
    try:
        assert check_login(AmiEndpoint("127.0.0.1", server.port, "ops", "s3cret")).startswith("Asterisk Call Manager/")
        with pytest.raises(AmiAuthError):
            check_login(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"))
    finally:
        server.shutdown_all()


def _real_field_sets(traces: Path) -> dict[str, set[tuple[str, ...]]]:
    real: dict[str, set[tuple[str, ...]]] = {}
    for f in sorted(traces.glob("0[1-6]*.ami")):
        for m in parse_all(f.read_bytes()):
            if m.event:
                real.setdefault(m.event, set()).add(tuple(sorted(set(m.keys_in_order()) - {"ActionID"})))
    return real


def test_redirect_of_a_queued_caller_leaves_the_queue_as_asterisk_reports_it(
        lab_sim: tuple[SimulatedPbx, AmiServer], traces: Path) -> None:
    """A queued caller Redirected to the callback offer (no IVR attached: the dialplan's own path)
    leaves its queue (MusicOnHoldStop, QueueCallerLeave), runs [callback-offer] and hangs up; the rest
    of its script (it would have abandoned later) is never played. A caller re-routed by a supervisor
    (Redirect to to-queue,<queue>) leaves the old queue, joins the new one and is answered there.
    Every event has a field set of the real traces."""
    pbx, server = lab_sim
    got: list[Message] = []
    records: list[CallRecord] = []
    tracker = CallTracker(lambda e: records.append(e.record) if isinstance(e, CallEnded) else None)

    def on_message(m: Message) -> None:
        got.append(m)
        tracker.feed(m)

    client = AmiClient(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"), on_message)
    client.start()
    assert client.connected.wait(5)
    from telephony.actions import Actions

    assert client.conn is not None
    actions = Actions(client.conn, timeout=5)
    offered = pbx.start_call("complaints_abandoned", abandon_after_s=60)  # 3 s at 20x
    moved = pbx.start_call("service_answered", extra_wait_s=40, talk_s=2)  # rings 2 s in
    offered_chan = next(m["Channel"] for m in _wait_for(got, "QueueCallerJoin", offered.linkedid))
    moved_chan = next(m["Channel"] for m in _wait_for(got, "QueueCallerJoin", moved.linkedid))
    actions.redirect(offered_chan, "callback-offer", "complaints")
    actions.redirect(moved_chan, "to-queue", "claims")
    deadline = time.time() + 20
    while len(records) < 2 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    client.stop()
    assert pbx.queue_redirects == 2
    by_id = {r.linkedid: r for r in records}

    first = [m for m in got if m.get("Linkedid") == offered.linkedid]
    names = [m.event for m in first]
    leave = names.index("QueueCallerLeave")
    assert names[leave - 1] == "MusicOnHoldStop"
    assert [(m["Context"], m["Priority"], m["Application"]) for m in first[leave:] if m.event == "Newexten"][:3] == [
        ("callback-offer", "1", "NoOp"), ("callback-offer", "2", "Set"), ("callback-offer", "3", "AGI")]
    assert "QueueCallerAbandon" not in names and "HangupRequest" not in names  # the scripted abandon is gone
    assert names[-1] == "Hangup" or "Hangup" in names[leave:]
    rec = by_id[offered.linkedid]
    assert (rec.outcome, rec.queue) == ("callback_offered", "complaints")
    assert rec.wait_s is not None and rec.wait_s < 2.0

    second = [m for m in got if m.get("Linkedid") == moved.linkedid]
    joins = [m["Queue"] for m in second if m.event == "QueueCallerJoin"]
    assert joins == ["service", "claims"]
    assert [m["Queue"] for m in second if m.event == "QueueCallerLeave"] == ["service", "claims"]
    assert {m["Queue"] for m in second if m.event in ("AgentCalled", "AgentConnect")} == {"claims"}
    rec2 = by_id[moved.linkedid]
    assert (rec2.outcome, rec2.queue, rec2.agent) == ("answered", "claims", moved.agents[0])

    real = _real_field_sets(traces)
    for m in got:
        if m.event is None:
            continue
        keys = tuple(sorted(set(m.keys_in_order()) - {"ActionID"}))
        assert m.event in real and keys in real[m.event], (m.event, keys)


def _wait_for(got: list[Message], event: str, linkedid: str, timeout: float = 10) -> list[Message]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = [m for m in list(got) if m.event == event and m.get("Linkedid") == linkedid]
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"no {event} for {linkedid}")
