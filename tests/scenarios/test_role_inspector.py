"""监察主管 (role inspector) does the standard's duties in the console, over HTTP on the seeded SQLite database.

Steps and the standard's duties (监察主管 工作职责及程序):
- 3 对接收到的客户投诉问题进行落实、解决: the inspector records a complaint (a driver asked for extra money),
  analyses it, refers it to the trunk vehicles (干线车辆), whose user answers on the department desk; the
  inspector verifies, tells the customer, calls back (回访) and closes it;
- 4 定期对市场运价、服务规范进行抽查, 8 监督检查员仪容仪表、车容车貌, 9 转款及时性、代收货款上交及时性 and
  1 深入到各部门查找问题: spot checks of 郑州分公司's freight rate (quoted above the tariff: failed), service
  standard (服务规范), staff appearance (仪容仪表), vehicle appearance (车容车貌), fund transfer (转款: late,
  failed) and COD hand-in (on time: passed);
- 2 将存在问题及时反馈到相关部门并监督、检查整改情况: a finding with a deadline goes to the branch's desk, the branch
  rectifies, the inspector reopens it (not good enough), the branch rectifies again, the inspector verifies;
- 9 及时处理各种突发事件: an incident (突发事件) recorded, taken in hand with measures, closed;
- penalties (奖罚): from the complaint (the driver), from the failed freight-rate check, a reward; the complaint's
  penalty collected (已收缴) once;
- 5 出具每月的监察奖罚明细报表 and 6 对所监管的信息的真实性、准确性负责: inspections-monthly's JSON holds the checks
  per kind, the findings, the sanctions with who decided them and their source, collected or not, and the
  incident; every step is in the audit log under the inspector's name.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from scenario_support import TZ, period, report_json

from cases import inspections as ins
from cases.accounts import create_user
from cases.audit import audit_for
from cases.demo_data import DEMO_PASSWORD

if TYPE_CHECKING:
    from conftest import Console
    from flask.testing import FlaskClient


def _local(hours_ago: float) -> str:
    """A datetime-local form value in the centre's time zone."""
    return (datetime.now(ZoneInfo(TZ)) - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M")


def _id_after(resp: object, desk: str) -> int:
    location = resp.headers["Location"]  # type: ignore[attr-defined]
    found = re.search(rf"/{desk}/(\d+)", location)
    assert found is not None, location
    return int(found.group(1))


def _post(client: FlaskClient, url: str, **form: str) -> object:
    resp = client.post(url, data=form)
    assert resp.status_code == 303, (url, resp.get_data(as_text=True)[:2000])
    return resp


def test_an_inspector_checks_follows_rectification_handles_incidents_and_reports(console: Console) -> None:
    inspector = console.login("inspector")
    with console.db.session() as s:
        create_user(s, "trunk1", DEMO_PASSWORD, "branch", "干线调度", department="trunk_vehicle")

    # 3: a complaint taken and resolved by the inspector
    cid = _id_after(_post(inspector, "/complaints", subject="干线司机索要额外费用", complaint_type="charges",
                          branch="郑州分公司"), "complaints")
    _post(inspector, f"/complaints/{cid}/analyse", cause="staff_attitude", responsible_department="trunk_vehicle",
          analysis="司机私自加收 50 元")
    _post(inspector, f"/complaints/{cid}/refer", department="trunk_vehicle", unit="", note="请核实并退还",
          deadline=(datetime.now(ZoneInfo(TZ)) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    trunk = console.login("trunk1")
    assert f'data-testid="referral-{cid}"' in trunk.get("/branch").get_data(as_text=True)
    _post(trunk, f"/branch/complaints/{cid}/answer", rectification="已退还客户 50 元，司机已批评教育")
    _post(inspector, f"/complaints/{cid}/verify", note="客户确认收到退款")
    _post(inspector, f"/complaints/{cid}/tell_customer", reply="已告知客户退款")
    _post(inspector, f"/complaints/{cid}/follow_up", outcome="satisfied", note="客户满意")
    _post(inspector, f"/complaints/{cid}/close")
    page = inspector.get(f"/complaints/{cid}").get_data(as_text=True)
    assert "已关闭" in page and "已退还客户 50 元" in page
    number = re.search(r"C\d{8}-\d{4}", page)
    assert number is not None
    complaint_no = number.group(0)

    # 4, 8, 9, 1: spot checks at 郑州分公司
    def check(kind: str, **form: str) -> int:
        resp = _post(inspector, "/inspections", kind=kind, branch="郑州分公司", inspected_at=_local(3), **form)
        return _id_after(resp, "inspections")

    rate = check("freight_rate", quoted="120", tariff="100", person="市场员 李雷", note="报价高于运价表")
    service = check("service_standard", passed="no", person="查询员 韩梅", note="未使用规范用语")
    looks = check("staff_appearance", passed="yes", person="开票员 王芳")
    truck = check("vehicle_appearance", passed="no", person="司机 赵四", note="车厢脏乱")
    transfer = check("fund_transfer", due_at=_local(48), done_at=_local(20), note="转款晚一天")
    cod = check("cod_handin", due_at=_local(24), done_at=_local(26), person="市场员 李雷")
    with console.db.reading() as s:
        passed = {i: ins.get_inspection(s, i).passed for i in (rate, service, looks, truck, transfer, cod)}
    assert passed == {rate: False, service: False, looks: True, truck: False, transfer: False, cod: True}
    assert "仪容仪表" in inspector.get("/inspections").get_data(as_text=True)

    # 2: a finding to the branch, rectified, reopened, rectified again, verified
    _post(inspector, f"/inspections/{truck}/add_finding", description="车厢卫生不达标，篷布破损",
          deadline=(datetime.now(ZoneInfo(TZ)) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"), assignee="赵四")
    with console.db.reading() as s:
        [finding] = ins.get_inspection(s, truck).findings
    branch = console.login("branch_zz")
    assert f'data-testid="rectification-{finding.id}"' in branch.get("/branch").get_data(as_text=True)
    assert console.login("warehouse").post(f"/branch/findings/{finding.id}/rectify",
                                           data={"rectification": "x"}).status_code == 403
    _post(branch, f"/branch/findings/{finding.id}/rectify", rectification="已清扫车厢")
    _post(inspector, f"/inspections/{truck}/reopen", finding_id=str(finding.id), note="篷布仍未更换",
          deadline=(datetime.now(ZoneInfo(TZ)) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    assert f'data-testid="rectification-{finding.id}"' in branch.get("/branch").get_data(as_text=True)
    _post(branch, f"/branch/findings/{finding.id}/rectify", rectification="已清扫车厢并更换篷布")
    _post(inspector, f"/inspections/{truck}/verify", finding_id=str(finding.id))
    with console.db.reading() as s:
        [done] = ins.get_inspection(s, truck).findings
        trail = [(a.what, a.who) for a in audit_for(s, "finding", finding.id)]
    assert (done.stage.value, done.verified_by, done.rectification) == ("verified", "inspector", "已清扫车厢并更换篷布")
    assert trail == [("finding.add", "inspector"), ("finding.rectify", "branch_zz"), ("finding.reopen", "inspector"),
                     ("finding.rectify", "branch_zz"), ("finding.verify", "inspector")]

    # 9: an incident taken in hand with measures and closed
    iid = _id_after(_post(inspector, "/incidents", kind="traffic_accident", occurred_at=_local(5),
                          branch="郑州分公司", place="京港澳高速 K689", description="干线车辆追尾，货物部分受损",
                          people="司机 赵四", reported_by="司机 赵四"), "incidents")
    _post(inspector, f"/incidents/{iid}/handle", measure="通知保险公司到场查勘")
    _post(inspector, f"/incidents/{iid}/add_measure", measure="调派车辆转运货物")
    _post(inspector, f"/incidents/{iid}/close", result="货物已转运，损失报保险")
    page = inspector.get(f"/incidents/{iid}").get_data(as_text=True)
    assert "调派车辆转运货物" in page and "处理完毕" in page

    # penalties and a reward: from the complaint, from the freight-rate check; the complaint's collected
    _post(inspector, "/sanctions", source="complaint", source_ref=complaint_no, kind="penalty", amount="200",
          branch="郑州分公司", person="司机 赵四", reason="私自加收运费")
    _post(inspector, f"/inspections/{rate}/sanction", kind="penalty", amount="100", branch="郑州分公司",
          person="市场员 李雷", reason="报价高于运价表")
    _post(inspector, "/sanctions", source="inspection", source_ref=f"#{looks}", kind="reward", amount="50",
          branch="郑州分公司", person="开票员 王芳", reason="仪容仪表规范")
    sanctions = inspector.get("/sanctions").get_data(as_text=True)
    ids = [int(x) for x in re.findall(r'data-testid="sanction-source-(\d+)"', sanctions)]
    assert len(ids) == 3
    from_complaint = [i for i in ids if complaint_no in re.sub(
        r"<[^>]+>", "", sanctions.split(f'data-testid="sanction-source-{i}"')[1].split("</td>")[0])]
    assert len(from_complaint) == 1
    _post(inspector, f"/sanctions/{from_complaint[0]}/collect")
    assert inspector.post(f"/sanctions/{from_complaint[0]}/collect", data={}).status_code == 400

    # 5, 6: the monthly rewards and penalties report
    month = report_json(inspector, "inspections-monthly", period(days_back=28))
    kinds = {k["kind"]: (k["inspections"], k["failed"]) for k in month["by_kind"] if k["inspections"]}
    assert kinds == {"freight_rate": (1, 1), "service_standard": (1, 1), "staff_appearance": (1, 0),
                     "vehicle_appearance": (1, 1), "fund_transfer": (1, 1), "cod_handin": (1, 0)}
    assert (month["inspections"], month["failed"], month["findings"]) == (6, 4, 1)
    assert Decimal(month["penalties"]) == Decimal("300") and Decimal(month["rewards"]) == Decimal("50")
    assert Decimal(month["penalties_collected"]) == Decimal("200")
    assert Decimal(month["penalties_uncollected"]) == Decimal("100")
    rows = {r["reason"]: (r["source"], r["source_ref"], r["decided_by"], r["collected"]) for r in month["rows"]}
    assert rows["私自加收运费"] == ("投诉", complaint_no, "inspector", "已收缴")
    assert rows["报价高于运价表"] == ("监察", f"#{rate}", "inspector", "未收缴")
    assert rows["仪容仪表规范"][:3] == ("监察", f"#{looks}", "inspector")
    assert month["incidents"]["total"] == 1 and month["incidents"]["not_closed"] == 0
    assert [r["place"] for r in month["incidents"]["rows"]] == ["京港澳高速 K689"]
    with console.db.reading() as s:
        assert [(a.what, a.who) for a in audit_for(s, "sanction", from_complaint[0])] == [
            ("sanction.record", "inspector"), ("sanction.collect", "inspector")]
