"""The supervisor's analysis and suggestions on the reports page (issue #17): written per report and
period by supervisors only (agents read it), stored (last write wins, audited), and carried into that
report's XLSX, PDF and JSON downloads at once — a file rendered before the text changed is not served again."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from openpyxl import load_workbook
from sqlalchemy import select

from cases.models.audit import AuditEntry
from cases.models.report_analyses import ReportAnalysis

if TYPE_CHECKING:
    from conftest import Console

WEEK = {"from": "2026-11-02", "until": "2026-11-09", "tz": "Asia/Shanghai"}
TEXT = "本周投诉以延误为主，集中在郑州分公司。\n建议：增开夜间班车，延误超过一天主动告知客户。"


def _xlsx_cells(data: bytes) -> list[object]:
    sheet = load_workbook(io.BytesIO(data))["概要"]
    return [c.value for row in sheet.iter_rows() for c in row if c.value is not None]


def _stored(console: Console) -> list[tuple[str, str]]:
    with console.db.reading() as s:
        return [(a.text, a.written_by) for a in s.scalars(select(ReportAnalysis))]


def test_supervisor_writes_the_analysis_and_the_files_carry_it(console: Console, tmp_path: Path) -> None:
    sup = console.login("supervisor")
    page = sup.get("/reports", query_string={"name": "complaints-weekly", **WEEK})
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-testid="analysis-form"' in body and "分析与合理化建议" in body
    before = sup.get("/reports/complaints-weekly/xlsx", query_string=WEEK)  # rendered (and kept) without it
    assert before.status_code == 200 and "分析与建议 Analysis and suggestions" not in _xlsx_cells(before.data)

    saved = sup.post("/reports/complaints-weekly/analysis", data={**WEEK, "text": TEXT})
    assert saved.status_code == 303
    assert "name=complaints-weekly" in saved.headers["Location"] and "saved=1" in saved.headers["Location"]
    assert _stored(console) == [(TEXT, "supervisor")]
    shown = sup.get(saved.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="analysis-saved"' in shown and "增开夜间班车" in shown and "supervisor" in shown

    xlsx = sup.get("/reports/complaints-weekly/xlsx", query_string=WEEK)
    cells = _xlsx_cells(xlsx.data)
    assert xlsx.status_code == 200 and "分析与建议 Analysis and suggestions" in cells
    assert "本周投诉以延误为主，集中在郑州分公司。" in cells
    assert "建议：增开夜间班车，延误超过一天主动告知客户。" in cells
    carried = json.loads(sup.get("/reports/complaints-weekly/json", query_string=WEEK).data)["analysis"]
    assert (carried["text"], carried["written_by"]) == (TEXT, "supervisor")  # the JSON carries it too
    assert "analysis" not in json.loads(sup.get("/reports/claims-monthly/json", query_string=WEEK).data)
    pdf = sup.get("/reports/complaints-weekly/pdf", query_string=WEEK)
    assert pdf.status_code == 200
    (tmp_path / "r.pdf").write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "分析与建议" in text and "增开夜间班车" in text

    # last write wins; both writes are in the audit log
    assert sup.post("/reports/complaints-weekly/analysis", data={**WEEK, "text": "第二版"}).status_code == 303
    assert _stored(console) == [("第二版", "supervisor")]
    assert "第二版" in _xlsx_cells(sup.get("/reports/complaints-weekly/xlsx", query_string=WEEK).data)
    with console.db.reading() as s:
        trail = [(a.who, a.detail["after"]) for a in s.scalars(
            select(AuditEntry).where(AuditEntry.what == "report.analysis").order_by(AuditEntry.id))]
    assert trail == [("supervisor", TEXT), ("supervisor", "第二版")]
    # another period of the same report has none
    other = sup.get("/reports", query_string={"name": "complaints-weekly", "from": "2026-11-09",
                                              "until": "2026-11-16"}).get_data(as_text=True)
    assert "第二版" not in other


def test_agents_read_it_but_cannot_write_and_bad_input_keeps_the_old_text(console: Console) -> None:
    sup = console.login("supervisor")
    assert sup.post("/reports/claims-monthly/analysis",
                    data={"from": "2026-11-01", "until": "2026-12-01", "text": TEXT}).status_code == 303
    month = {"name": "claims-monthly", "from": "2026-11-01", "until": "2026-12-01"}
    agent = console.login("agent1001")
    page = agent.get("/reports", query_string=month).get_data(as_text=True)
    assert 'data-testid="analysis-view"' in page and "增开夜间班车" in page and "analysis-form" not in page
    refused = agent.post("/reports/claims-monthly/analysis",
                         data={"from": "2026-11-01", "until": "2026-12-01", "text": "改掉"})
    assert refused.status_code == 403
    too_long = sup.post("/reports/claims-monthly/analysis",
                        data={"from": "2026-11-01", "until": "2026-12-01", "text": "长" * 10_001})
    body = too_long.get_data(as_text=True)
    assert too_long.status_code == 400 and "too long" in body
    assert "长" * 10_001 in body  # what was typed is shown again, not lost
    bad_period = sup.post("/reports/claims-monthly/analysis", data={"from": "2026-12-01", "until": "2026-11-01",
                                                                   "text": "x"})
    assert bad_period.status_code == 400 and "must be after" in bad_period.get_data(as_text=True)
    assert sup.post("/reports/no-such/analysis", data={"text": "x"}).status_code == 404
    no_csrf = console.raw_client()
    no_csrf.post("/login", data={"username": "supervisor", "password": "hotline-demo"})
    assert no_csrf.post("/reports/claims-monthly/analysis",
                        data={"from": "2026-11-01", "until": "2026-12-01", "text": "无令牌"}).status_code == 400
    assert _stored(console) == [(TEXT, "supervisor")]


def test_claims_staff_and_inspectors_write_only_their_own_reports_analysis(console: Console) -> None:
    """理赔6 每月做出理赔报表及事故原因分析; 监察主管5 负责出具每月的监察奖罚明细报表: each writes the analysis of
    its own monthly report, not of the complaint summary (the supervisor's)."""
    month = {"from": "2026-11-01", "until": "2026-12-01"}
    claims = console.login("claims")
    page = claims.get("/reports", query_string={"name": "claims-monthly", **month}).get_data(as_text=True)
    assert 'data-testid="analysis-form"' in page
    assert claims.post("/reports/claims-monthly/analysis",
                       data={**month, "text": "本月装卸破损居多。"}).status_code == 303
    weekly = claims.get("/reports", query_string={"name": "complaints-weekly", **WEEK}).get_data(as_text=True)
    assert "analysis-form" not in weekly
    assert claims.post("/reports/complaints-weekly/analysis", data={**WEEK, "text": "越权"}).status_code == 403
    assert claims.post("/reports/inspections-monthly/analysis", data={**month, "text": "越权"}).status_code == 403
    inspector = console.login("inspector")
    assert inspector.post("/reports/inspections-monthly/analysis",
                          data={**month, "text": "本月处罚已全部收缴。"}).status_code == 303
    assert inspector.post("/reports/claims-monthly/analysis", data={**month, "text": "越权"}).status_code == 403
    assert sorted(_stored(console)) == [("本月处罚已全部收缴。", "inspector"), ("本月装卸破损居多。", "claims")]
