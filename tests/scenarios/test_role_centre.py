"""客服中心 — the centre's head (role admin) — does the standard's duties in the console, over HTTP on the seeded
SQLite database. The head organises what the supervisors, inspectors and claims staff do (their own scenarios
walk those steps); here the head's own acts:

- 1 每周出具汇总表 and 2 对投诉的业务问题进行分析，提出合理化建议: the weekly summary, with the head's analysis stored
  and carried in the XLSX;
- 4 检查各分公司和部门在客户服务方面存在的问题 and 5 反馈到相关部门并监督、检查整改情况: a complaint referred to
  郑州分公司; its rectification sent back by the head, answered again, verified;
- 6 定期对市场运价、劳动纪律进行抽查: a labour-discipline spot check (劳动纪律) failed, with a penalty;
- 3 对业务事故调查结果进行确认，协助重大业务事故的调查处理: the head confirms a claim's 重大事故 once its liability is
  fixed;
- 7 上报每月监察奖罚明细报表, 13 出具每月的理赔报表: both monthly reports downloaded (XLSX) and their figures (JSON);
  8 组织客服中心的理赔工作: the overdue claims (逾期理赔) listed for the head.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from decimal import Decimal
from io import BytesIO
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from scenario_support import TZ, period, report_json

from cases import claims as cl
from cases.accounts import create_user
from cases.demo_data import DEMO_PASSWORD
from cases.models.base import utcnow
from cases.views import CaseInput

if TYPE_CHECKING:
    from conftest import Console
    from flask.testing import FlaskClient

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ANALYSIS = "本周郑州分公司派送延误偏多。\n建议：增派派送员，延误主动告知客户。"


def _post(client: FlaskClient, url: str, **form: object) -> str:
    resp = client.post(url, data=form)
    assert resp.status_code == 303, (url, resp.get_data(as_text=True)[:2000])
    return str(resp.headers["Location"])


def _cells(data: bytes) -> list[object]:
    return [c.value for row in load_workbook(io.BytesIO(data))["概要"].iter_rows() for c in row if c.value]


def test_the_centre_head_reviews_supervises_rectification_confirms_and_reports(console: Console) -> None:
    with console.db.session() as s:
        create_user(s, "head", DEMO_PASSWORD, "admin", "客服中心经理")
    head = console.login("head")
    later = (datetime.now(ZoneInfo(TZ)) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    # 4, 5: a complaint referred to 郑州分公司; the rectification sent back, answered again, verified
    location = _post(console.login("agent1001"), "/complaints", subject="郑州派送延误两天", complaint_type="delay",
                     branch="郑州分公司")
    cid = int(location.split("/complaints/")[1].split("?")[0])
    _post(head, f"/complaints/{cid}/analyse", cause="transport_delay", responsible_department="branch",
          responsible_unit="郑州分公司", analysis="派送员不足")
    _post(head, f"/complaints/{cid}/refer", department="branch", unit="郑州分公司", deadline=later)
    branch = console.login("branch_zz")
    _post(branch, f"/branch/complaints/{cid}/answer", rectification="已处理")
    _post(head, f"/complaints/{cid}/send_back", note="请写明整改措施", deadline=later)
    _post(branch, f"/branch/complaints/{cid}/answer", rectification="已增派两名派送员")
    _post(head, f"/complaints/{cid}/verify", note="已抽查")
    assert "整改已验证" in head.get(f"/complaints/{cid}").get_data(as_text=True)

    # 1, 2: the weekly summary and the head's analysis
    week = period()
    weekly = report_json(head, "complaints-weekly", week)
    assert [r["rectification"] for r in weekly["rows"] if r["subject"] == "郑州派送延误两天"] == ["已增派两名派送员"]
    _post(head, "/reports/complaints-weekly/analysis", text=ANALYSIS, **week)
    xlsx = head.get("/reports/complaints-weekly/xlsx", query_string=week)
    assert xlsx.status_code == 200 and "建议：增派派送员，延误主动告知客户。" in _cells(xlsx.data)

    # 6: a labour-discipline spot check, failed, with a penalty
    inspected = (datetime.now(ZoneInfo(TZ)) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    location = _post(head, "/inspections", kind="labour_discipline", branch="郑州分公司", inspected_at=inspected,
                     passed="no", person="仓管员 孙某", note="上班时间离岗")
    iid = int(location.split("/inspections/")[1].split("?")[0])
    _post(head, f"/inspections/{iid}/sanction", kind="penalty", amount="100", branch="郑州分公司",
          person="仓管员 孙某", reason="上班时间离岗")

    # 3: a claim's investigation confirmed as a 重大事故 by the head
    claims = console.login("claims")
    location = _post(claims, "/claims", subject="整车货物被盗", channel="hotline", accident_cause="theft",
                     claimed="80000", branch="郑州分公司", major="on")
    big = int(location.split("/claims/")[1].split("?")[0])
    _post(claims, f"/claims/{big}/start_investigation")
    _post(claims, f"/claims/{big}/add_evidence", file=(BytesIO(PNG), "报案回执.png", "image/png"))
    _post(claims, f"/claims/{big}/fix_liability", party_0="third_party", share_0="100", name_0="盗窃者（已报警）")
    _post(head, f"/claims/{big}/decide_major", decision="confirm", note="整车被盗，按重大事故处理，报保险")
    with console.db.reading() as s:
        view = cl.get_claim(s, big)
    assert (str(view.major_status), str(view.stage)) == ("confirmed", "liability_fixed")

    # 8: the overdue claims, for the head too (a claim of four days ago, time-travelled)
    with console.db.session() as s:
        late = cl.open_claim(s, CaseInput(kind="claim", subject="四天前报案无人受理"), channel="hotline",
                             accident_cause="loss", claimed="200", branch="郑州分公司", by="ivr",
                             at=utcnow() - timedelta(days=4)).id
    assert f'data-testid="overdue-row-{late}"' in head.get("/claims/overdue").get_data(as_text=True)

    # 7, 13: the monthly rewards-and-penalties and claims reports
    month = period(days_back=28)
    inspections = report_json(head, "inspections-monthly", month)
    assert Decimal(inspections["penalties"]) == Decimal("100") and inspections["failed"] == 1
    assert [r["decided_by"] for r in inspections["rows"]] == ["head"]
    monthly = report_json(head, "claims-monthly", month)
    assert (monthly["total"], monthly["major"]) == (2, 1)
    for name in ("inspections-monthly", "claims-monthly"):
        got = head.get(f"/reports/{name}/xlsx", query_string=month)
        assert got.status_code == 200 and got.data.startswith(b"PK")
