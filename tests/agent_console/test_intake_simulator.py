"""One intake on the PBX simulator over real AMI (#17): a call to the claims hotline rings two agents
(ringall), the one who answers saves a claim from the pop, and the claim is on the claims desk and in the
monthly claims report; the caller's next call pops with the claim's stage. A complaint call to the service
hotline likewise reaches the complaints desk and the weekly report."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cases import reports
from cases.demo_data import DEMO_WAYBILLS
from cases.reports.data import Period, make_period

if TYPE_CHECKING:
    from conftest import LivePbx

from waits import wait_until

CALLER = ("49305551001", "张伟")


def _period() -> Period:
    today = date.today()
    return make_period(today - timedelta(days=7), today + timedelta(days=2))


def _answered_pop(live_pbx: LivePbx, scenario: str, agents: list[str], **kw: Any) -> tuple[str, dict[str, Any]]:
    """Start the simulated call; (the agent who answered, its pop)."""
    c = live_pbx.console
    socks = {a: c.socket(c.login(a)) for a in agents}
    script = live_pbx.pbx.start_call(scenario, caller=CALLER, agents=agents, talk_s=6.0, **kw)
    got: dict[str, list[tuple[str, Any]]] = {a: [] for a in agents}

    def answered() -> str | None:
        for a, s in socks.items():
            got[a].extend((m["name"], m["args"][0]) for m in s.get_received())
        return next((a for a in agents if any(n == "call_answered" and p["linkedid"] == script.linkedid
                                              for n, p in got[a])), None)

    agent = wait_until(answered, timeout=25, what="the call answered")
    assert agent is not None
    pop = next(p for n, p in got[agent] if n == "screen_pop" and p["linkedid"] == script.linkedid)
    return agent, pop


def test_a_claims_hotline_call_becomes_a_claim_on_the_desk_and_in_the_report(live_pbx: LivePbx) -> None:
    c = live_pbx.console
    agent, pop = _answered_pop(live_pbx, "claims_ringall_agent_hangs_up", ["agent1002", "agent1003"])
    assert pop["hotline"] == "claims" and pop["suggested_kind"] == "claim"
    resp = c.login(agent).post("/api/cases", json={
        "kind": "claim", "subject": "货物淋湿，要求理赔", "linkedid": pop["linkedid"], "accident_cause": "water",
        "claimed": "860", "customer_id": pop["customer"]["id"] if pop["customer"] else None})
    assert resp.status_code == 201, resp.get_json()
    saved = resp.get_json()
    assert saved["claim_id"] and saved["claim_stage"] == "reported"
    assert saved["number"] in c.login("claims").get("/claims").get_data(as_text=True)
    with c.db.session() as s:
        monthly = reports.build(s, "claims-monthly", _period())
    assert [r.case_number for r in monthly.rows] == [saved["number"]] and monthly.claimed == Decimal("860.00")

    # the caller rings again: the pop shows the open claim's stage (理赔阶段)
    _, again = _answered_pop(live_pbx, "service_answered", ["agent1001"])
    [listed] = [x for x in again["open_cases"] if x["id"] == saved["id"]]
    assert (listed["claim_stage"], listed["claim_stage_zh"]) == ("reported", "已报案")


def test_a_service_call_becomes_a_complaint_on_the_desk_and_in_the_report(live_pbx: LivePbx) -> None:
    c = live_pbx.console
    agent, pop = _answered_pop(live_pbx, "service_answered", ["agent1001"], waybill=DEMO_WAYBILLS[0])
    resp = c.login(agent).post("/api/cases", json={
        "kind": "complaint", "subject": "派送员态度差", "linkedid": pop["linkedid"], "waybill": pop["waybill"],
        "complaint_type": "attitude", "branch": "郑州分公司"})
    assert resp.status_code == 201, resp.get_json()
    saved = resp.get_json()
    assert saved["number"] in c.login("supervisor").get("/complaints").get_data(as_text=True)
    with c.db.session() as s:
        weekly = reports.build(s, "complaints-weekly", _period())
    assert [(r.case_number, r.complaint_type, r.branch) for r in weekly.rows] == [
        (saved["number"], "服务态度", "郑州分公司")]
