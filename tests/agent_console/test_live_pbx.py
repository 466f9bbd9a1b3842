"""The console on the PBX simulator over real AMI: agent states carried out with QueuePause and
shown from what AMI reports back, wrap-up with its timer, ringall pops withdrawn when another agent
answers, listen-in, re-routing a waiting call, accepting an IVR callback request."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from cases.call_records import record_call
from cases.case_records import create_case, get_case
from cases.views import CaseInput

if TYPE_CHECKING:
    from conftest import LivePbx

from waits import wait_until


def _state(sock: Any) -> dict[str, Any]:
    snap: dict[str, Any] = sock.emit("agent_state", {}, callback=True)
    return snap


def _deltas(sock: Any, into: list[dict[str, Any]]) -> list[dict[str, Any]]:
    into.extend(m["args"][0] for m in sock.get_received() if m["name"] == "agent_delta")
    return into


def test_pause_with_reason_goes_through_ami_and_comes_back_as_the_state(live_pbx: LivePbx) -> None:
    c = live_pbx.console
    http = c.login("agent1001")
    sock = c.socket(http)
    before = live_pbx.actions("queuepause")
    resp = http.post("/api/agent/state", json={"state": "paused", "reason": "meal"})
    assert resp.status_code == 202, resp.get_json()
    assert live_pbx.actions("queuepause") == before + 1
    snap = wait_until(lambda: (s := _state(sock))["state"] == "paused" and s, what="paused from AMI")
    assert snap["paused"] is True and snap["pause_reason"] == "meal"
    # the simulator really paused the member: the wallboard (tracker) says so too
    agents = {a.agent: a for a in c.live.snapshot().agents}
    assert agents["agent1001"].paused and agents["agent1001"].pause_reason == "meal"

    assert http.post("/api/agent/state", json={"state": "ready"}).status_code == 202
    snap = wait_until(lambda: (s := _state(sock))["state"] == "ready" and s, what="ready from AMI")
    assert snap["paused"] is False and snap["pause_reason"] == ""
    # deltas arrived in version order, without gaps, and end at the snapshot's version
    deltas = _deltas(sock, [])
    versions = [d["version"] for d in deltas]
    assert versions == sorted(versions) and versions[-1] == snap["version"]
    assert versions == list(range(versions[0], versions[0] + len(versions)))


def test_unknown_pause_reason_is_refused_and_nothing_is_sent(live_pbx: LivePbx) -> None:
    http = live_pbx.console.login("agent1001")
    before = live_pbx.actions("queuepause")
    resp = http.post("/api/agent/state", json={"state": "paused", "reason": "nap"})
    assert resp.status_code == 400 and "nap" in resp.get_json()["detail"]
    assert http.post("/api/agent/state", json={"state": "asleep"}).status_code == 400
    assert live_pbx.actions("queuepause") == before


def test_state_survives_a_reconnect(live_pbx: LivePbx) -> None:
    c = live_pbx.console
    http = c.login("agent1002")
    first = c.socket(http)
    http.post("/api/agent/state", json={"state": "paused", "reason": "training"})
    wait_until(lambda: _state(first)["state"] == "paused", what="paused")
    first.disconnect()
    again = c.socket(c.login("agent1002"))
    [snap] = [m["args"][0] for m in again.get_received() if m["name"] == "agent_state"]
    assert snap["state"] == "paused" and snap["pause_reason"] == "training" and snap["version"] >= 1


def test_wrap_up_after_a_call_then_ready_by_itself_and_extend(live_pbx: LivePbx) -> None:
    c = live_pbx.console
    http = c.login("agent1001")
    sock = c.socket(http)
    # 2 s of talk at the simulator's 4x: long enough for a loaded machine's polls to see it
    script = live_pbx.pbx.start_call("service_answered", caller=("49305551001", "张伟"), agents=["agent1001"],
                                     talk_s=8.0)
    wait_until(lambda: _state(sock)["state"] == "talking", timeout=20, what="talking")
    assert _state(sock)["call"]["linkedid"] == script.linkedid
    snap = wait_until(lambda: (s := _state(sock))["state"] == "wrap_up" and s, timeout=20, what="wrap-up")
    assert snap["pause_reason"] == "wrap-up" and snap["wrap_up_until"] > time.time()
    until = snap["wrap_up_until"]
    resp = http.post("/api/agent/wrap-up/extend")
    assert resp.status_code == 200 and resp.get_json()["wrap_up_until"] >= until + 1.4
    # the timer unpauses through AMI; ready comes back from the PBX
    wait_until(lambda: _state(sock)["state"] == "ready", timeout=10, what="ready after wrap-up")
    assert live_pbx.actions("queuepause") >= 2
    assert http.post("/api/agent/wrap-up/extend").status_code == 409


def test_ringall_pops_every_ringing_agent_and_withdraws_when_one_answers(live_pbx: LivePbx) -> None:
    c = live_pbx.console
    https = {a: c.login(a) for a in ("agent1002", "agent1003")}  # logged in before the call: logins take time
    socks = {a: c.socket(h) for a, h in https.items()}
    script = live_pbx.pbx.start_call("claims_ringall_agent_hangs_up", caller=("49305551004", "郑州分公司"),
                                     agents=["agent1002", "agent1003"], talk_s=5.0)
    got: dict[str, list[tuple[str, Any]]] = {a: [] for a in socks}

    def both_popped_and_one_withdrawn() -> bool:
        for a, s in socks.items():
            got[a].extend((m["name"], m["args"][0]) for m in s.get_received())
        popped = all(any(n == "screen_pop" and p["linkedid"] == script.linkedid for n, p in got[a]) for a in socks)
        withdrawn = any(n == "pop_withdrawn" for a in socks for n, _ in got[a])
        return popped and withdrawn

    wait_until(both_popped_and_one_withdrawn, timeout=25, what="pops and a withdrawal")
    answered = next(a for a in socks if any(n == "call_answered" for n, _ in got[a]))
    other = next(a for a in socks if a != answered)
    [withdrawn] = [p for n, p in got[other] if n == "pop_withdrawn"]
    assert withdrawn == {"linkedid": script.linkedid, "agent": other, "reason": "answered_elsewhere",
                         "by": answered}
    assert _state(socks[other])["pops"] == []
    # the pop is the ringing agent's own: the other may not read it
    assert https[other].get(f"/api/pops/{script.linkedid}").status_code == 404
    assert https[answered].get(f"/api/pops/{script.linkedid}").get_json()["caller"] == "49305551004"


def test_supervisor_listens_in_on_their_own_phone_and_agents_may_not(live_pbx: LivePbx) -> None:
    c = live_pbx.console
    sup = c.login("supervisor")
    before = live_pbx.actions("originate")
    resp = sup.post("/api/supervisor/spy", json={"agent": "agent1001", "mode": "whisper"})
    assert resp.status_code == 202 and resp.get_json()["phone"] == "SIP/sup9000"
    assert live_pbx.actions("originate") == before + 1
    assert sup.post("/api/supervisor/spy", json={"agent": "agent1001", "mode": "shout"}).status_code == 400
    assert c.login("agent1002").post("/api/supervisor/spy", json={"agent": "agent1001", "mode": "listen"}
                                     ).status_code == 403
    assert live_pbx.actions("originate") == before + 1


def test_an_agent_name_carrying_an_ami_action_is_refused(live_pbx: LivePbx) -> None:
    """Found in a review: the agent of a spy request reached ChanSpy's Data unchecked and the AMI writer joined
    fields with CRLF, so this request was answered 202 and the injected call appeared on the wallboard."""
    sup = live_pbx.console.login("supervisor")
    before = live_pbx.actions("originate")
    for agent in ("agent1002\r\n\r\nAction: SimulateCall\r\nScenario: service_answered",
                  "agent1002,qBwx", "agent9999", ""):
        resp = sup.post("/api/supervisor/spy", json={"agent": agent, "mode": "listen"})
        assert resp.status_code == 400, agent
    assert live_pbx.actions("originate") == before and live_pbx.actions("simulatecall") == 0


def test_supervisor_reroutes_a_waiting_caller(live_pbx: LivePbx) -> None:
    c = live_pbx.console
    sup = c.login("supervisor")
    script = live_pbx.pbx.start_call("complaints_abandoned", caller=("49305551006", "陈静"), abandon_after_s=40)
    wait_until(lambda: any(w.linkedid == script.linkedid for q in c.live.snapshot().queues for w in q.waiting),
               timeout=20, what="caller waiting")
    assert sup.post("/api/supervisor/reroute", json={"linkedid": script.linkedid, "queue": "nowhere"}
                    ).status_code == 400
    before = live_pbx.actions("redirect")
    resp = sup.post("/api/supervisor/reroute", json={"linkedid": script.linkedid, "queue": "service"})
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["channel"]
    assert live_pbx.actions("redirect") == before + 1
    assert live_pbx.pbx.queue_redirects == 1

    def waiting_in(queue: str) -> bool:
        return any(w.linkedid == script.linkedid for q in c.live.snapshot().queues if q.queue == queue
                   for w in q.waiting)

    # the caller left complaints and waits in service now (the wallboard's live picture says so)
    wait_until(lambda: waiting_in("service") and not waiting_in("complaints"), timeout=10, what="caller moved")
    assert sup.post("/api/supervisor/reroute", json={"linkedid": "no.such", "queue": "service"}).status_code == 400


def test_ivr_callback_request_is_a_task_and_accepting_it_rings_the_agent(live_pbx: LivePbx) -> None:
    c = live_pbx.console
    with c.db.session() as s:
        case = create_case(s, CaseInput(kind="inquiry", subject="IVR: 回电请求 callback request",
                                                 description="来电 49305551002 在非工作时间致电，请求回电。",
                                                 linkedid="cb.1"), "ivr")
        create_case(s, CaseInput(kind="inquiry", subject="普通咨询"), "agent1003")
    from telephony.records import CallRecord

    with c.db.session() as s:
        record_call(s, CallRecord(linkedid="cb.1", caller="49305551002", hotline="service",
                                           outcome="abandoned_in_ivr"))
    http = c.login("agent1001")
    tasks = http.get("/api/callbacks").get_json()["tasks"]
    assert [(t["case_id"], t["caller"]) for t in tasks] == [(case.id, "49305551002")]
    before = live_pbx.actions("originate")
    resp = http.post(f"/api/callbacks/{case.id}/accept")
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["status"] == "in_progress" and resp.get_json()["calling"] == "49305551002"
    assert live_pbx.actions("originate") == before + 1
    with c.db.session() as s:
        stored = get_case(s, case.id)
    assert stored.assigned_to == "agent1001" and "agent1001" in stored.description
    assert http.post("/api/callbacks/999999/accept").status_code == 404


def test_without_a_pbx_the_commands_say_so_and_change_nothing(console: Any) -> None:
    http = console.login("agent1001")
    resp = http.post("/api/agent/state", json={"state": "paused", "reason": "meal"})
    assert resp.status_code == 503
    assert resp.get_json()["message"] == "电话系统未连接，操作未执行"
