"""客服主管 (role supervisor) does the standard's duties in the console, over HTTP on the seeded SQLite database.

Steps and the standard's duties (客服主管 工作职责及程序):
- 1 接听客服电话，对客户投诉的问题进行记录并按时处置: the supervisor records a complaint on the desk, analyses it,
  refers it to 郑州分公司 with a deadline, verifies the branch's rectification, tells the customer, calls back
  (回访) and closes it;
- 2 每周出具汇总表 and 3 对投诉的业务问题进行分析，提出合理化建议: the weekly summary counts it; the supervisor's
  written analysis is stored (audited) and carried in the report's JSON and XLSX;
- 4 协助、督促理赔人员及时进行理赔: a claim reported three days ago (time-travel with `at=`) is on the overdue list
  (逾期理赔) and the supervisor's reminders until the claims staff take it; the supervisor confirms a claim
  suggested as 重大事故 (a claims user may not);
- 5 每月统计市场、分公司、大车司机、装卸工与客户自行解决业务: the branch records business settled by its driver and
  its loader; the supervisor reads them in self-settled-monthly;
- 6 培训、考核所属人员: the service checks of two agents' calls give their quality scores in agents-monthly;
  the supervisor decides an agent's change request (更改), the agent gets the callback.
"""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from openpyxl import load_workbook
from scenario_support import CALLER, WAYBILL, period, report_json, today
from sqlalchemy import select

from cases import claims as cl
from cases.audit import audit_for
from cases.call_checks import record_call_analysis
from cases.call_records import record_call
from cases.models.audit import AuditEntry
from cases.models.base import utcnow
from cases.models.report_analyses import ReportAnalysis
from cases.views import CaseInput
from pipeline.call_analysis import analyse_call
from telephony.records import CallRecord
from transcripts.standard import load_rules
from transcripts.turns import Turn

if TYPE_CHECKING:
    from conftest import Console

ANALYSIS = "本周投诉以破损为主，集中在郑州分公司装卸环节。\n建议：装卸工岗前培训，易碎品加固包装。"
POLITE = (Turn("agent", 0.0, 3.0, "您好 路港物流 客服 很高兴 为您 服务"),
          Turn("customer", 3.5, 6.0, "我 想 查 一下 货"),
          Turn("agent", 6.5, 9.0, "好的 请 稍等 您的 货 明天 到"), Turn("agent", 9.5, 11.0, "感谢 您的 来电 再见"))
CURT = (Turn("customer", 0.0, 3.0, "我的 货 怎么 还 没 到"), Turn("agent", 3.5, 5.0, "不 知道 你 自己 查"))


def _checked_call(console: Console, linkedid: str, agent: str, turns: tuple[Turn, ...]) -> int:
    """A call of `agent` stored and checked against the service standard, as the pipeline does."""
    t0 = (utcnow() - timedelta(hours=2)).timestamp()
    analysis = analyse_call(turns, load_rules())
    with console.db.session() as s:
        record_call(s, CallRecord(linkedid=linkedid, caller=CALLER, hotline="service", outcome="answered",
                                  agent=agent, agents=[agent], rang=[agent], talk_s=11.0, started_at=t0,
                                  answered_at=t0 + 5, ended_at=t0 + 16))
        record_call_analysis(s, linkedid, analysis)
    return analysis.score


def test_a_supervisor_handles_complaints_reports_claims_and_staff(console: Console) -> None:
    sup = console.login("supervisor")

    # 1: a complaint recorded and handled to its end
    resp = sup.post("/complaints", data={"subject": "派送延误三天", "complaint_type": "delay", "branch": "郑州分公司",
                                         "waybill": WAYBILL})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    cid = int(resp.headers["Location"].split("/complaints/")[1].split("?")[0])
    deadline = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M+00:00")

    def step(action: str, **form: str) -> None:
        r = sup.post(f"/complaints/{cid}/{action}", data=form)
        assert r.status_code == 303, (action, r.get_data(as_text=True)[:2000])

    step("analyse", cause="transport_delay", responsible_department="branch", responsible_unit="郑州分公司",
         analysis="干线到站后未及时派送")
    step("refer", department="branch", unit="郑州分公司", deadline=deadline, note="请三日内整改")
    branch = console.login("branch_zz")
    assert f'data-testid="referral-{cid}"' in branch.get("/branch").get_data(as_text=True)
    assert branch.post(f"/branch/complaints/{cid}/answer", data={"rectification": "增派派送员，当日派送"}
                       ).status_code == 303
    step("verify", note="抽查三票均已当日派送")
    step("tell_customer", reply="已致歉并告知整改")
    step("follow_up", outcome="satisfied", note="客户满意")
    step("close")
    page = sup.get(f"/complaints/{cid}").get_data(as_text=True)
    assert "已关闭" in page and "增派派送员" in page

    # 2, 3: the weekly summary and the supervisor's written analysis, stored and in the JSON and XLSX
    week = period()
    weekly = report_json(sup, "complaints-weekly", week)
    [row] = [r for r in weekly["rows"] if r["subject"] == "派送延误三天"]
    assert row["branch"] == "郑州分公司" and row["stage"] == "已关闭" and weekly["closed"] >= 1
    assert "analysis" not in weekly  # none written yet
    resp = sup.post("/reports/complaints-weekly/analysis", data={**week, "text": ANALYSIS})
    assert resp.status_code == 303 and "saved=1" in resp.headers["Location"]
    with console.db.reading() as s:
        stored = [(a.report, a.text, a.written_by) for a in s.scalars(select(ReportAnalysis))]
        audited = [a.who for a in s.scalars(select(AuditEntry).where(AuditEntry.what == "report.analysis"))]
    assert stored == [("complaints-weekly", ANALYSIS, "supervisor")] and audited == ["supervisor"]
    weekly = report_json(sup, "complaints-weekly", week)
    assert (weekly["analysis"]["text"], weekly["analysis"]["written_by"]) == (ANALYSIS, "supervisor")
    xlsx = sup.get("/reports/complaints-weekly/xlsx", query_string=week)
    cells = [c.value for r in load_workbook(io.BytesIO(xlsx.data))["概要"].iter_rows() for c in r if c.value]
    assert "建议：装卸工岗前培训，易碎品加固包装。" in cells
    assert console.login("agent1001").post("/reports/complaints-weekly/analysis",
                                           data={**week, "text": "x"}).status_code == 403

    # 4: claims on time: a claim reported three days ago, not yet taken, is overdue
    with console.db.session() as s:
        late = cl.open_claim(s, CaseInput(kind="claim", subject="三天无人受理的理赔"), channel="hotline",
                             accident_cause="handling_damage", claimed="900", branch="郑州分公司", by="ivr",
                             at=utcnow() - timedelta(days=3))
    page = sup.get("/claims/overdue").get_data(as_text=True)
    assert f'data-testid="overdue-row-{late.id}"' in page and "三天无人受理的理赔" in page
    reminders = sup.get("/api/reminders").get_json()["reminders"]
    assert (late.case_id, "claim_overdue") in {(r["case_id"], r["kind"]) for r in reminders}
    assert console.login("claims").post(f"/claims/{late.id}/start_investigation").status_code == 303
    assert f'data-testid="overdue-row-{late.id}"' not in sup.get("/claims/overdue").get_data(as_text=True)
    # a claim suggested as 重大事故 is confirmed by the supervisor, not by claims staff
    resp = console.login("claims").post("/claims", data={
        "subject": "整车侧翻货损", "channel": "hotline", "accident_cause": "traffic_accident", "claimed": "50000",
        "branch": "郑州分公司", "major": "on"})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    major = int(resp.headers["Location"].split("/claims/")[1].split("?")[0])
    refused = console.login("claims").post(f"/claims/{major}/decide_major",
                                           data={"decision": "confirm", "note": "x"})
    assert refused.status_code == 403
    assert sup.post(f"/claims/{major}/decide_major", data={"decision": "confirm", "note": "整车损失，按重大事故处理"}
                    ).status_code == 303
    with console.db.reading() as s:
        view = cl.get_claim(s, major)
        assert str(view.major_status) == "confirmed"
        assert "claim.decide_major" in [a.what for a in audit_for(s, "claim", major)]

    # 5: business the branch's driver and loader settled with customers, in the monthly statistics
    settled_at = f"{today() - timedelta(days=1)}T10:00"
    for who, issue, amount in (("driver", "damage", "200"), ("loader", "delay", "0")):
        resp = branch.post("/branch/self-settled", data={"settled_by": who, "issue": issue, "amount": amount,
                                                         "settled_at": settled_at, "waybill": WAYBILL})
        assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    month = period(days_back=28)
    settled = report_json(sup, "self-settled-monthly", month)
    assert settled["total"] == 2 and Decimal(settled["amount"]) == Decimal("200")
    assert {(x["key"], x["count"]) for x in settled["by_settled_by"]} == {("driver", 1), ("loader", 1)}
    assert [(x["label"], x["count"]) for x in settled["by_branch"]] == [("郑州分公司", 2)]

    # 6: the agents' quality scores from the service checks of their calls
    good = _checked_call(console, "scn-sup.1", "agent1001", POLITE)
    poor = _checked_call(console, "scn-sup.2", "agent1002", CURT)
    assert good > poor
    agents = report_json(sup, "agents-monthly", month)
    scores = {a["agent"]: (a["checked"], Decimal(a["avg_score"])) for a in agents["by_agent"]}
    assert scores["agent1001"] == (1, Decimal(good)) and scores["agent1002"] == (1, Decimal(poor))
    assert [a["agent"] for a in agents["by_agent"]][:2] == ["agent1001", "agent1002"]  # best first

    # 6 (and 客服员3.4): an agent's change request decided by the supervisor, the callback to the agent
    agent = console.login("agent1001")
    case_id = agent.post("/api/cases", json={"kind": "change_request", "subject": "更改收货人",
                                             "waybill": WAYBILL}).get_json()["id"]
    rid = agent.post(f"/api/cases/{case_id}/change-request",
                     json={"field": "consignee_name", "new_value": "王五", "reason": "客户要求"}).get_json()["id"]
    desk = sup.get("/changes").get_data(as_text=True)
    assert f'data-testid="change-row-{rid}"' in desk and "待审批" in desk
    assert sup.post(f"/changes/{rid}/reject", data={"note": "来电人不是发货人，无法核实"}).status_code == 303
    [callback] = agent.get("/api/change-callbacks").get_json()["callbacks"]
    assert (callback["case_id"], callback["outcome"]) == (case_id, "rejected")
