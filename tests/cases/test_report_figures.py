"""Issue #17's report figures against a small hand-made data set (SQLite and PostgreSQL): the weekly
complaint summary's waybill, customer, rectification, reply and handler; the monthly claims report's
liable people with shares, insurer status, days to settle and its cause analysis in words; the agents'
quality scores and wrap-up codes; the supervisor's analysis stored (last write wins, audited) and
carried into the XLSX and PDF."""

from __future__ import annotations

import io
import subprocess
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from cases import claims, complaints, reports
from cases.call_checks import CallAnalysisInput, FindingInput, record_call_analysis
from cases.call_records import record_call
from cases.case_records import create_case, update_case
from cases.claims import EvidenceStore, LiabilityInput
from cases.customers import create_customer
from cases.db import Database
from cases.errors import InvalidCaseInput, InvalidReportRequest
from cases.models.audit import AuditEntry
from cases.models.wrap_ups import WrapUp
from cases.reports.claims_analysis import cause_analysis
from cases.reports.document import Table, claims_doc, complaints_doc
from cases.shipment_records import create_shipment
from cases.views import CaseInput, CaseUpdate, ShipmentInput
from cases.wrap_ups import record_wrap_up
from telephony.records import CallRecord

CST = timezone(timedelta(hours=8))
WEEK = reports.make_period(date(2026, 11, 2), date(2026, 11, 9), "Asia/Shanghai")
MONTH = reports.make_period(date(2026, 11, 1), date(2026, 12, 1), "Asia/Shanghai")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def t(day: int, hour: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CST)


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    (tmp_path / "r.pdf").write_bytes(pdf)
    return subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout


def _seed_complaints(s: Session) -> None:
    cust = create_customer(s, "张三", "shipper", ["13800138000"])
    create_shipment(s, ShipmentInput("800012345678", "郑州", "上海", consignee_name="李四"))
    create_shipment(s, ShipmentInput("800087654321", "郑州", "成都", consignee_name="王五"))
    a = complaints.open_complaint(s, CaseInput(kind="complaint", subject="货物延误", waybill="800012345678",
                                               customer_id=cust.id, assigned_to="agent1002"),
                                  complaint_type="delay", branch="郑州分公司", by="agent1001", at=t(2, 10)).id
    complaints.analyse(s, a, cause="transport_delay", responsible_department="branch", by="agent1001", at=t(2, 11))
    complaints.refer(s, a, department="branch", deadline=t(3, 10), by="agent1001", at=t(2, 12))
    complaints.confirm_rectification(s, a, rectification="调整发车班次", by="agent1001", at=t(3, 9))
    complaints.verify(s, a, note="整改已核实", by="supervisor", at=t(3, 9))
    complaints.tell_customer(s, a, reply="已致歉并告知新时效", by="agent1001", at=t(3, 10))
    complaints.open_complaint(s, CaseInput(kind="complaint", subject="态度差", waybill="800087654321"),
                              complaint_type="attitude", branch="成都分公司", by="agent1003", at=t(4, 10))


def test_weekly_summary_has_waybill_customer_rectification_reply_and_handler(db: Database) -> None:
    with db.session() as s:
        _seed_complaints(s)
    with db.reading() as s:
        r = reports.complaint_summary(s, WEEK)
    got = [(x.waybill, x.customer, x.rectification, x.customer_reply, x.handler) for x in r.rows]
    assert got == [("800012345678", "张三", "调整发车班次", "已致歉并告知新时效", "agent1002"),
                   ("800087654321", "王五", "", "", "agent1003")]  # no customer: the consignee; no assignee
    doc = complaints_doc(r)
    detail = next(b for b in doc.blocks if isinstance(b, Table) and b.title.startswith("明细"))
    for head in ("运单号", "客户", "整改结果", "答复客户", "处理人"):
        assert head in detail.headers
    row = dict(zip(detail.headers, detail.rows[0], strict=True))
    assert (row["运单号"], row["整改结果"], row["答复客户"], row["处理人"]) == (
        "800012345678", "调整发车班次", "已致歉并告知新时效", "agent1002")


def _seed_claims(s: Session, evidence: Path) -> None:
    k1 = claims.open_claim(s, CaseInput(kind="claim", subject="破损"), channel="hotline",
                           accident_cause="handling_damage", claimed="1000", branch="郑州分公司", by="a1",
                           at=t(3, 9)).id
    claims.start_investigation(s, k1, by="c1", at=t(3, 10))
    claims.add_evidence(s, k1, filename="p.png", data=PNG, content_type="image/png", store=EvidenceStore(evidence),
                        by="c1", at=t(3, 10))
    claims.fix_liability(s, k1, parties=[LiabilityInput("loader", "40", "赵六"),
                                         LiabilityInput("branch", "60", "郑州分公司")], by="c1", at=t(4, 9))
    claims.offer(s, k1, offered_by="company", amount="900", by="c1", at=t(4, 10))
    claims.agree_amount(s, k1, amount="900", by="c1", at=t(4, 12))
    claims.notify_parties(s, k1, by="c1", at=t(4, 13))
    claims.file_insurer_claim(s, k1, insurer="平安", policy_no="P1", insurer_claim_no="N1", by="c1", at=t(4, 14))
    claims.pay(s, k1, amount="900", by="c1", at=t(6, 21))  # 3.5 days after it was reported
    claims.open_claim(s, CaseInput(kind="claim", subject="破损2"), channel="branch", accident_cause="handling_damage",
                      claimed="300", branch="上海分公司", by="a1", at=t(10, 9))
    claims.open_claim(s, CaseInput(kind="claim", subject="车祸"), channel="agent", accident_cause="traffic_accident",
                      claimed="60000", branch="郑州分公司", by="a1", at=t(20, 9))
    for day in (5, 6):  # October: two losses, one damage
        claims.open_claim(s, CaseInput(kind="claim", subject="遗失"), channel="agent", accident_cause="loss",
                          claimed="10", by="a1", at=t(day, 9, month=10))
    claims.open_claim(s, CaseInput(kind="claim", subject="十月破损"), channel="agent",
                      accident_cause="handling_damage", claimed="10", by="a1", at=t(7, 9, month=10))


def test_monthly_claims_liable_insurer_days_and_cause_analysis(db: Database, tmp_path: Path) -> None:
    with db.session() as s:
        _seed_claims(s, tmp_path / "evidence")
    with db.reading() as s:
        r = reports.claims_report(s, MONTH)
    first = r.rows[0]
    assert first.liable == "分公司 郑州分公司 60%; 装卸工 赵六 40%"
    assert first.insurer_status == "已报保险"
    assert first.days_to_settle == Decimal("3.5")
    assert [x.days_to_settle for x in r.rows[1:]] == [None, None] and r.rows[1].insurer_status == ""
    assert (r.settled, r.avg_days_to_settle, r.previous_total) == (1, Decimal("3.5"), 3)
    assert [(p.label, p.name, p.claims, p.shares_percent, p.owed) for p in r.by_person] == [
        ("分公司", "郑州分公司", 1, Decimal("60.00"), Decimal("540.00")),
        ("装卸工", "赵六", 1, Decimal("40.00"), Decimal("360.00"))]
    assert {c.key: c.count for c in r.previous_by_cause} == {"loss": 2, "handling_damage": 1}
    text = cause_analysis(r)
    assert text[0].startswith("本期受理理赔 3 件，上期 3 件，持平")
    assert "装卸破损 2 件（占 66.7%" in text[1]
    assert "装卸破损是本期首要事故原因" in text[2]
    assert text[3] == "与上期相比：丢失 -2 件、装卸破损 +1 件、交通事故 +1 件。"
    assert "索赔金额最大的是交通事故（60,000.00 元）" in "".join(text)
    assert "平均理赔天数 3.5 天" in "".join(text)
    doc = claims_doc(r)
    words = next(b for b in doc.blocks if isinstance(b, Table) and b.title.startswith("事故原因文字分析"))
    assert tuple(row[0] for row in words.rows) == text
    detail = next(b for b in doc.blocks if isinstance(b, Table) and b.title.startswith("明细"))
    assert detail.headers[-4:] == ("责任人", "保险状态", "理赔天数", "拒赔/撤回原因")
    assert detail.rows[0][-4:] == ("分公司 郑州分公司 60%; 装卸工 赵六 40%", "已报保险", Decimal("3.5"), "")


def test_cause_analysis_of_an_empty_month(db: Database) -> None:
    with db.reading() as s:
        r = reports.claims_report(s, MONTH)
    assert cause_analysis(r) == ("本期无理赔案件。",)


def _call(s: Session, n: int, at: datetime, agent: str, hotline: str, score: int | None,
          findings: tuple[FindingInput, ...] = ()) -> str:
    linkedid = f"q{n}"
    record_call(s, CallRecord(linkedid=linkedid, caller="13900139000", hotline=hotline, queue="q", outcome="answered",
                              agent=agent, wait_s=3, talk_s=60, started_at=at.timestamp()))
    if score is not None:
        record_call_analysis(s, linkedid, CallAnalysisInput(score=score, findings=findings))
    return linkedid


def test_agents_quality_scores_summed_per_agent(db: Database) -> None:
    silence = FindingInput("silence", "长时间静音", deduction=10)
    with db.session() as s:
        _call(s, 1, t(3, 9), "agent1001", "service", 90, (silence,))
        _call(s, 2, t(4, 9), "agent1001", "claims", 70, (silence, FindingInput("greeting", "无问候", deduction=20)))
        _call(s, 3, t(5, 9), "agent1002", "service", 100)
        _call(s, 4, t(6, 9), "agent1002", "service", None)  # not checked: not counted
        _call(s, 5, t(5, 9, month=10), "agent1002", "service", 10)  # October
    with db.reading() as s:
        r = reports.agents_report(s, MONTH)
    got = [(a.agent, a.checked, a.total_score, a.avg_score, a.min_score, a.deducted, a.findings, a.top_rule)
           for a in r.by_agent]
    assert got == [("agent1002", 1, 100, Decimal("100.0"), 100, 0, 0, ""),
                   ("agent1001", 2, 160, Decimal("80.0"), 70, 40, 3, "silence")]
    assert (r.checked, r.avg_score) == (3, Decimal("86.7"))


def test_wrap_up_codes_counted_per_code_hotline_and_agent(db: Database) -> None:
    now = datetime.now(UTC)
    period = reports.make_period(now.date() - timedelta(days=1), now.date() + timedelta(days=2), "UTC")
    with db.session() as s:
        _call(s, 1, now - timedelta(minutes=30), "agent1001", "service", None)
        _call(s, 2, now - timedelta(minutes=20), "agent1002", "claims", None)
        c1 = create_case(s, CaseInput(kind="inquiry", subject="查询", linkedid="q1"), "agent1001").id
        c2 = create_case(s, CaseInput(kind="inquiry", subject="理赔进度", linkedid="q2"), "agent1002").id
        update_case(s, c2, CaseUpdate(note="话后代码 wrap-up: complaint (投诉受理)"), "agent1002")  # a note: no row
        record_wrap_up(s, c1, "resolved", "已解决", "agent1001")
        record_wrap_up(s, c2, "resolved", "已解决", "agent1002")
        record_wrap_up(s, c2, "follow_up", "需跟进", "agent1002")
        record_wrap_up(s, c2, "info_given", "已告知", "agent1001", at=now - timedelta(days=40))  # another month
        assert [w.hotline for w in s.scalars(select(WrapUp).order_by(WrapUp.id))] == [
            "service", "claims", "claims", "claims"]
        with pytest.raises(InvalidCaseInput, match="required"):
            record_wrap_up(s, c1, " ", "", "agent1001")
    with db.reading() as s:
        r = reports.agents_report(s, period)
        later = reports.agents_report(s, reports.make_period(period.until_day, period.until_day + timedelta(1), "UTC"))
    assert [(w.code, w.label, w.hotline, w.agent, w.count) for w in r.wrap_up_counts] == [
        ("follow_up", "需跟进", "claims", "agent1002", 1),
        ("resolved", "已解决", "claims", "agent1002", 1),
        ("resolved", "已解决", "service", "agent1001", 1)]
    assert [(c.code, c.count) for c in r.by_code] == [("resolved", 2), ("follow_up", 1)]
    assert r.wrap_ups == 3 and later.wrap_ups == 0
    doc = reports.REPORTS["agents-monthly"].document(r)
    by_hotline = next(b for b in doc.blocks if isinstance(b, Table) and "按热线" in b.title)
    assert by_hotline.headers == ("话后代码", "理赔热线", "客服热线", "合计")
    assert by_hotline.rows == (("已解决", 1, 1, 2), ("需跟进", 1, 0, 1))
    by_agent = next(b for b in doc.blocks if isinstance(b, Table) and "按客服员" in b.title)
    assert by_agent.rows == (("agent1001", 1, 0, 1), ("agent1002", 1, 1, 2))


ANALYSIS = "本周延误投诉集中在郑州分公司。\n建议：调整发车班次，加强跟踪。"


def test_analysis_is_stored_last_write_wins_audited_and_in_the_files(db: Database, tmp_path: Path) -> None:
    with db.session() as s:
        _seed_complaints(s)
        assert reports.analysis(s, "complaints-weekly", WEEK) is None
        first = reports.write_analysis(s, "complaints-weekly", WEEK, "初稿", "supervisor")
        last = reports.write_analysis(s, "complaints-weekly", WEEK, ANALYSIS, "admin1")
    assert last.version != first.version
    with db.reading() as s:
        got = reports.analysis(s, "complaints-weekly", WEEK)
        assert reports.analysis(s, "claims-monthly", MONTH) is None  # per report and period
        assert reports.analysis(s, "complaints-weekly", WEEK.previous()) is None
        trail = [(a.who, a.detail["before"], a.detail["after"]) for a in s.scalars(
            select(AuditEntry).where(AuditEntry.what == "report.analysis").order_by(AuditEntry.id))]
        xlsx = reports.render(s, "complaints-weekly", WEEK, "xlsx")
        pdf = reports.render(s, "complaints-weekly", WEEK, "pdf")
        other = reports.render(s, "complaints-weekly", WEEK.previous(), "xlsx")
    assert got is not None and (got.text, got.written_by) == (ANALYSIS, "admin1")
    assert trail == [
        ("supervisor", "", "初稿"), ("admin1", "初稿", ANALYSIS)]
    sheet = load_workbook(io.BytesIO(xlsx))["概要"]
    cells = [c.value for row in sheet.iter_rows() for c in row if c.value is not None]
    assert "分析与建议 Analysis and suggestions" in cells
    assert "本周延误投诉集中在郑州分公司。" in cells and "建议：调整发车班次，加强跟踪。" in cells
    assert any(isinstance(c, str) and c.startswith("admin1 ") for c in cells)
    text = _pdf_text(pdf, tmp_path)
    assert "分析与建议" in text and "本周延误投诉集中在郑州分公司" in text and "调整发车班次，加强跟踪" in text
    other_cells = [c.value for row in load_workbook(io.BytesIO(other))["概要"].iter_rows() for c in row]
    assert "分析与建议 Analysis and suggestions" not in other_cells


def test_bad_analysis_is_refused_and_the_old_one_kept(db: Database) -> None:
    with db.session() as s:
        reports.write_analysis(s, "claims-monthly", MONTH, ANALYSIS, "supervisor")
    with db.session() as s, pytest.raises(InvalidCaseInput, match="too long"):
        reports.write_analysis(s, "claims-monthly", MONTH, "长" * 10_001, "supervisor")
    with db.session() as s, pytest.raises(InvalidCaseInput, match="NUL"):
        reports.write_analysis(s, "claims-monthly", MONTH, "a\x00b", "supervisor")
    with db.session() as s, pytest.raises(InvalidReportRequest, match="unknown report"):
        reports.write_analysis(s, "no-such-report", MONTH, "x", "supervisor")
    with db.reading() as s:
        got = reports.analysis(s, "claims-monthly", MONTH)
    assert got is not None and got.text == ANALYSIS
