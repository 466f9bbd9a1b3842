"""客服员 (role agent) does the standard's duties in the console, over HTTP on the seeded SQLite database.

Steps and the standard's duties (客服员 3 工作要点):
- 3.1 接听咨询、查询、投诉电话，及时处理: calls ring with the screen pop; from the pop the agent records an
  inquiry (查询), a complaint and, on the claims hotline, a claim, each with its call linked;
- 3.1 对转到相关部门处理的案例要做好反馈和跟踪确认: the complaint referred to the warehouse shows its status
  (已转交 → 已反馈整改 → 整改已验证) to the agent, who tells the customer and makes the follow-up call (回访);
- 3.1 督促理赔员按时完成客户理赔: the claim's stage (已报案 → 调查中) on the agent's case page and in the next
  pop of the caller;
- 3.4 协调、帮助客户处理更改(收货人、联系电话): a consignee-phone change from the pop; the supervisor decides;
  the agent gets the callback (回电) and marks it done;
- 3.2 对客户投诉记录的统计，做好每周的汇总表: the complaint is counted in the weekly summary (JSON), handled by
  the agent; the agent's wrap-up code (话后代码) is counted per agent in agents-monthly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from scenario_support import WAYBILL, period, report_json, ring, save_from_pop, store_call, text_of

from cases import changes, complaints
from cases.audit import audit_for
from cases.shipment_records import find_shipment

if TYPE_CHECKING:
    from conftest import Console


def test_an_agent_takes_calls_records_follows_up_and_counts(console: Console) -> None:
    agent = console.login("agent1001")

    # 3.1: a call pops; the caller asks where the parcel is (查询) and the agent records it
    pop = ring(console, "scn-agent.1")
    assert pop["waybill"] == WAYBILL and pop["customer"]["name"]
    inquiry = save_from_pop(agent, pop, kind="inquiry", subject="查询货物到达时间")
    store_call(console, pop)
    page = agent.get(inquiry["url"]).get_data(as_text=True)
    assert "scn-agent.1" in page and "查询货物到达时间" in page and WAYBILL in page

    # 3.1: the next call is a complaint: recorded from the pop with its call
    pop = ring(console, "scn-agent.2")
    complaint = save_from_pop(agent, pop, kind="complaint", subject="外箱破损，仓库装卸粗暴", complaint_type="damage",
                              branch="郑州分公司", description="客户称外箱压坏")
    store_call(console, pop)
    cid = complaint["complaint_id"]
    assert complaint["number"] in agent.get("/complaints").get_data(as_text=True)
    assert "scn-agent.2" in agent.get(complaint["url"]).get_data(as_text=True)

    # the centre analyses and refers it to the warehouse; the agent follows its status (跟踪)
    supervisor = console.login("supervisor")
    deadline = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M+00:00")
    assert supervisor.post(f"/complaints/{cid}/analyse", data={
        "cause": "handling", "responsible_department": "warehouse", "analysis": "仓库装卸粗暴"}).status_code == 303
    assert supervisor.post(f"/complaints/{cid}/refer", data={
        "department": "warehouse", "unit": "", "deadline": deadline, "note": "请整改"}).status_code == 303
    assert "已转交" in text_of(agent.get(f"/complaints/{cid}").get_data(as_text=True))
    warehouse = console.login("warehouse")
    assert warehouse.post(f"/branch/complaints/{cid}/answer",
                          data={"rectification": "装卸工已培训，破损件已重新包装发出"}).status_code == 303
    seen = text_of(agent.get(f"/complaints/{cid}").get_data(as_text=True))
    assert "已反馈整改" in seen and "装卸工已培训" in seen
    assert supervisor.post(f"/complaints/{cid}/verify", data={"note": "已核实重新发货单"}).status_code == 303
    assert "整改已验证" in text_of(agent.get(f"/complaints/{cid}").get_data(as_text=True))
    # 反馈和跟踪确认: the agent tells the customer and calls back (回访)
    for action, form in (("tell_customer", {"reply": "已告知客户补发安排"}),
                         ("follow_up", {"outcome": "satisfied", "note": "客户满意"})):
        resp = agent.post(f"/complaints/{cid}/{action}", data=form)
        assert resp.status_code == 303, (action, resp.get_data(as_text=True)[:2000])
    with console.db.reading() as s:
        view = complaints.get_complaint(s, cid)
        assert view.stage.value == "followed_up" and [f.called_by for f in view.follow_ups] == ["agent1001"]

    # 3.1 督促理赔员: a claim from the claims hotline's pop; its stage is on the case page and the next pop
    pop = ring(console, "scn-agent.3", hotline="claims")
    claim = save_from_pop(agent, pop, kind="claim", subject="货物破损索赔", accident_cause="handling_damage",
                          claimed="800", branch="郑州分公司")
    store_call(console, pop, hotline="claims")
    assert claim["claim_stage"] == "reported"
    page = agent.get(claim["url"]).get_data(as_text=True)
    assert 'data-testid="case-claim-stage" data-stage="reported">已报案' in page and "scn-agent.3" in page
    assert console.login("claims").post(f"/claims/{claim['claim_id']}/start_investigation").status_code == 303
    page = agent.get(claim["url"]).get_data(as_text=True)
    assert 'data-testid="case-claim-stage" data-stage="investigating">调查中' in page
    again = ring(console, "scn-agent.4", hotline="claims")
    [listed] = [c for c in again["open_cases"] if c["id"] == claim["id"]]
    assert (listed["claim_stage"], listed["claim_stage_zh"]) == ("investigating", "调查中")

    # 3.4: the caller wants the consignee's phone changed: from the pop, the supervisor decides, callback
    pop = ring(console, "scn-agent.5")
    change = save_from_pop(agent, pop, kind="change_request", subject="更改收货人电话",
                           change_field="consignee_phone", change_value="139 0013 9000")
    store_call(console, pop)
    rid = change["change_request_id"]
    assert agent.post(f"/changes/{rid}/approve", data={"note": "x"}).status_code == 403  # not the agent's to decide
    assert agent.get("/api/change-callbacks").get_json()["callbacks"] == []
    assert supervisor.post(f"/changes/{rid}/approve", data={"note": "已核实发货人身份"}).status_code == 303
    [callback] = agent.get("/api/change-callbacks").get_json()["callbacks"]
    assert (callback["case_id"], callback["outcome"], callback["new_value"]) == (change["id"], "applied",
                                                                                 "13900139000")
    assert agent.post(f"/api/change-callbacks/{callback['id']}/done",
                      json={"note": "已回电告知客户"}).status_code == 200
    assert agent.get("/api/change-callbacks").get_json()["callbacks"] == []
    with console.db.reading() as s:
        assert find_shipment(s, WAYBILL).consignee_phone == "13900139000"  # type: ignore[union-attr]
        [request] = [r for r in changes.list_change_requests(s) if r.id == rid]
        assert str(request.stage) == "applied"
    assert "已回电" in agent.get(change["url"]).get_data(as_text=True)

    # wrap-up codes on the calls' cases (话后代码), counted per agent for the supervisor
    for case, code in ((inquiry, "info_given"), (complaint, "complaint")):
        resp = agent.post(f"/api/cases/{case['id']}/update", json={"wrap_up_code": code})
        assert resp.status_code == 200, resp.get_json()

    # 3.2: the weekly complaint summary counts the complaint, handled by the agent
    week = period()
    weekly = report_json(agent, "complaints-weekly", week)
    [row] = [r for r in weekly["rows"] if r["case_number"] == complaint["number"]]
    assert weekly["total"] >= 1 and row["stage"] == "已回访"
    assert row["rectification"].startswith("装卸工已培训") and row["customer_reply"] == "已告知客户补发安排"
    agents = report_json(supervisor, "agents-monthly", period(days_back=28))
    mine = {(w["code"], w["hotline"]) for w in agents["wrap_up_counts"] if w["agent"] == "agent1001"}
    assert {("info_given", "service"), ("complaint", "service")} <= mine
    with console.db.reading() as s:
        trail = [(a.what, a.who) for a in audit_for(s, "complaint", cid)]
    assert trail == [("complaint.record", "agent1001"), ("complaint.analyse", "supervisor"),
                     ("complaint.refer", "supervisor"), ("complaint.confirm_rectification", "warehouse"),
                     ("complaint.verify", "supervisor"), ("complaint.tell_customer", "agent1001"),
                     ("complaint.follow_up", "agent1001")]
