"""The monthly inspection report (每月监察奖罚明细报表) with the inspector who decided each reward or penalty, its
source (inspection, complaint, claim, incident, with its number), whether a penalty was collected (已收缴), and
the month's incidents (突发事件), against a hand-computed data set on SQLite and PostgreSQL, and in XLSX, PDF
and JSON."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from cases import claims, complaints, incidents, inspections, reports, sanctions
from cases.db import Database
from cases.inspections import InspectionInput
from cases.views import CaseInput

CST = timezone(timedelta(hours=8))
MONTH = reports.make_period(date(2026, 11, 1), date(2026, 12, 1), "Asia/Shanghai")


def t(day: int, hour: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CST)


@pytest.fixture
def month_db(db: Database) -> dict[str, object]:
    with db.session() as s:
        insp = inspections.record_inspection(s, InspectionInput(kind="staff_appearance", branch="郑州分公司",
                                                                inspected_at=t(3, 10), passed=False), by="inspector1")
        complaint = complaints.open_complaint(s, CaseInput(kind="complaint", subject="态度恶劣"),
                                              complaint_type="attitude", branch="郑州分公司", by="agent1001")
        claim = claims.open_claim(s, CaseInput(kind="claim", subject="货损"), channel="hotline",
                                  accident_cause="traffic_accident", claimed="900", branch="上海分公司", by="agent1001")
        crash = incidents.record_incident(s, incidents.IncidentInput(
            kind="traffic_accident", occurred_at=t(10, 6), branch="上海分公司", place="沪宁高速",
            description="干线车辆追尾", reported_by="司机张强", case_number=claim.case_number), by="inspector1")
        incidents.handle_incident(s, crash.id, measure="报警并通知保险公司", by="inspector1", at=t(10, 7))
        incidents.add_measure(s, crash.id, measure="调车转运货物", by="inspector2", at=t(10, 9))
        incidents.close_incident(s, crash.id, result="货物已转运", by="inspector1", at=t(11, 9))
        crowd = incidents.record_incident(s, incidents.IncidentInput(
            kind="mass_incident", occurred_at=t(20, 15), branch="郑州分公司", description="收货人聚集网点",
            reported_by="网点经理"), by="supervisor")
        incidents.record_incident(s, incidents.IncidentInput(  # next month: not in November's report
            kind="fire", occurred_at=t(1, 9, month=12), branch="郑州分公司", description="起火",
            reported_by="仓管员"), by="inspector1")
        base = {"branch": "郑州分公司", "person": "王强"}
        p1 = sanctions.record_sanction(s, **base, kind="penalty", amount="200", reason="未穿工装", decided_at=t(3, 11),
                                       inspection_id=insp.id, by="inspector1")
        sanctions.collect_penalty(s, p1.id, by="inspector2", at=t(8, 10))
        sanctions.record_sanction(s, **base, kind="penalty", amount="300", reason="态度恶劣", decided_at=t(5, 11),
                                  complaint_id=complaint.id, by="inspector1")
        sanctions.record_sanction(s, branch="上海分公司", kind="reward", amount="100", reason="理赔协助及时",
                                  decided_at=t(12, 11), claim_id=claim.id, by="supervisor")
        sanctions.record_sanction(s, branch="上海分公司", person="张强", kind="penalty", amount="50",
                                  reason="未按规定绑扎", decided_at=t(13, 11), incident_id=crash.id, by="inspector2")
    return {"complaint": complaint.case_number, "claim": claim.case_number, "inspection": insp.id,
            "crash": crash.id, "crowd": crowd.id}


def test_sanction_rows_show_decider_source_and_collection(db: Database, month_db: dict[str, object]) -> None:
    with db.reading() as s:
        r = reports.inspections_report(s, MONTH)
    assert [(x.reason, x.decided_by, x.source, x.source_ref, x.collected, x.collected_by) for x in r.rows] == [
        ("未穿工装", "inspector1", "监察", f"#{month_db['inspection']}", "已收缴", "inspector2"),
        ("态度恶劣", "inspector1", "投诉", month_db["complaint"], "未收缴", ""),
        ("理赔协助及时", "supervisor", "理赔", month_db["claim"], "", ""),
        ("未按规定绑扎", "inspector2", "突发事件", f"#{month_db['crash']}", "未收缴", ""),
    ]
    assert r.rows[0].collected_at == t(8, 10) and r.rows[0].inspection_kind == "仪容仪表"
    assert (r.rewards, r.penalties) == (Decimal("100.00"), Decimal("550.00"))
    assert (r.penalties_collected, r.penalties_uncollected) == (Decimal("200.00"), Decimal("350.00"))


def test_the_months_incidents_are_in_the_report(db: Database, month_db: dict[str, object]) -> None:
    with db.reading() as s:
        f = reports.inspections_report(s, MONTH).incidents
    assert (f.total, f.not_closed) == (2, 1)
    assert {(c.label, c.count) for c in f.by_kind} == {("交通事故", 1), ("群体事件", 1)}
    assert {(c.label, c.count) for c in f.by_stage} == {("已处理完毕", 1), ("已上报", 1)}
    crash, crowd = f.rows
    assert (crash.number, crash.stage, crash.handled_by, crash.case_number) == (
        f"#{month_db['crash']}", "已处理完毕", "inspector1", month_db["claim"])
    assert crash.measures == "报警并通知保险公司\n调车转运货物" and crash.result == "货物已转运"
    assert (crowd.number, crowd.kind, crowd.stage, crowd.handled_by, crowd.measures) == (
        f"#{month_db['crowd']}", "群体事件", "已上报", "", "")


def test_the_report_files_carry_the_new_columns(db: Database, month_db: dict[str, object], tmp_path: Path) -> None:
    from openpyxl import load_workbook

    with db.reading() as s:
        doc = reports.produce(s, "inspections-monthly", MONTH, reports.PAGE)
        xlsx = reports.render(s, "inspections-monthly", MONTH, "xlsx")
        pdf = reports.render(s, "inspections-monthly", MONTH, "pdf")
        js = json.loads(reports.render(s, "inspections-monthly", MONTH, "json"))
    assert not isinstance(doc, bytes)
    kpis = dict(doc.kpis)
    assert (kpis["处罚已收缴"], kpis["处罚未收缴"], kpis["突发事件"]) == (Decimal("200.00"), Decimal("350.00"), 2)
    tables = {b.title: b for b in doc.blocks if hasattr(b, "headers")}
    detail = tables["奖罚明细 Details"]
    assert detail.headers[7:11] == ("决定人", "来源", "来源编号", "收缴")  # type: ignore[union-attr]
    assert detail.rows[1][7:11] == ("inspector1", "投诉", month_db["complaint"], "未收缴")  # type: ignore[union-attr]
    assert len(tables["突发事件明细 Incidents"].rows) == 2  # type: ignore[union-attr]
    wb = load_workbook(io.BytesIO(xlsx))
    cells = {str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None}
    assert {"已收缴", "决定人", "报警并通知保险公司\n调车转运货物", "沪宁高速", str(month_db["complaint"])} <= cells
    assert js["incidents"]["total"] == 2 and js["rows"][0]["collected_by"] == "inspector2"
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext missing: install the Debian package poppler-utils"
    (tmp_path / "r.pdf").write_bytes(pdf)
    text = subprocess.run([pdftotext, str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    assert "突发事件明细" in text and "未收缴" in text and "群体事件" in text


def test_the_demo_month_has_incidents_in_every_stage_and_penalties_partly_collected(
        db: Database, tmp_path: Path) -> None:
    from cases.demo_workflows import seed_month

    with db.session() as s:
        seed_month(s, date(2026, 11, 1), evidence_root=tmp_path / "evidence")
    with db.reading() as s:
        r = reports.inspections_report(s, MONTH)
    assert r.incidents.total == 5 and {c.key for c in r.incidents.by_stage} == {"reported", "handling", "closed"}
    assert Decimal(0) < r.penalties_collected < r.penalties
    assert any(x.source == "突发事件" for x in r.rows) and {x.collected for x in r.rows} >= {"已收缴", "未收缴"}
