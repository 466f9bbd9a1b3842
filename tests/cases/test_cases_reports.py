"""Each report's numbers against a small hand-computed data set (SQLite and PostgreSQL), the XLSX,
PDF and JSON renderings, and `hotline report`."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from cases import claim_decisions, claims, complaints, follow_ups, inspections, reports
from cases.call_records import record_call
from cases.claims import EvidenceStore, LiabilityInput
from cases.db import Database
from cases.errors import InvalidReportRequest, ReportRenderError
from cases.inspections import InspectionInput
from cases.money import split_by_shares
from cases.reports.render import FONT_ENV, find_cjk_font
from cases.views import CaseInput
from telephony.records import CallRecord

CST = timezone(timedelta(hours=8))
WEEK = reports.make_period(date(2026, 11, 2), date(2026, 11, 9), "Asia/Shanghai")
MONTH = reports.make_period(date(2026, 11, 1), date(2026, 12, 1), "Asia/Shanghai")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def t(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CST)


def _complaint(s: Session, at: datetime, ctype: str, branch: str) -> int:
    return complaints.open_complaint(s, CaseInput(kind="complaint", subject=f"{ctype} {branch}"),
                                     complaint_type=ctype, branch=branch, by="agent1001", at=at).id


def seed(s: Session, evidence: Path) -> None:
    a = _complaint(s, t(2, 10), "delay", "郑州分公司")
    complaints.analyse(s, a, cause="transport_delay", responsible_department="branch", by="agent1001", at=t(2, 11))
    complaints.refer(s, a, department="branch", deadline=t(3, 10), by="agent1001", at=t(2, 12))
    _complaint(s, t(4, 7), "damage", "上海分公司")  # 2026-11-03 23:00 UTC: local day 11-04
    c = _complaint(s, t(8, 23, 59), "attitude", "郑州分公司")
    complaints.analyse(s, c, cause="staff_attitude", responsible_department="market_area", by="agent1001",
                       at=t(8, 23, 59))
    complaints.tell_customer(s, c, reply="已致歉", by="agent1001", at=t(8, 23, 59))
    follow_ups.record_follow_up(s, c, outcome="satisfied", by="agent1001", at=t(8, 23, 59))
    complaints.close(s, c, by="supervisor", at=t(8, 23, 59))
    _complaint(s, t(9, 0, 30), "loss", "成都分公司")  # next period
    _complaint(s, t(1, 20), "delay", "成都分公司")  # previous period

    store = EvidenceStore(evidence)
    k1 = claims.open_claim(s, CaseInput(kind="claim", subject="破损"), channel="hotline",
                           accident_cause="handling_damage", claimed="1000.50", branch="郑州分公司", by="a1",
                           at=t(3, 9)).id
    claims.start_investigation(s, k1, by="c1", at=t(3, 10))
    claims.add_evidence(s, k1, filename="p.png", data=PNG, content_type="image/png", store=store, by="c1", at=t(3, 10))
    claims.fix_liability(s, k1, parties=[LiabilityInput("branch", "60"), LiabilityInput("loader", "40")], by="c1",
                         at=t(4, 9))
    claims.offer(s, k1, offered_by="company", amount="800", by="c1", at=t(4, 10))
    claims.offer(s, k1, offered_by="customer", amount="1000.50", by="c1", at=t(4, 11))
    claims.agree_amount(s, k1, amount="1000.50", by="c1", at=t(4, 12))
    claims.notify_parties(s, k1, by="c1", at=t(4, 13))
    claims.pay(s, k1, amount="1000.50", by="c1", at=t(5, 9))
    claims.close(s, k1, by="c1", at=t(5, 10))
    claims.open_claim(s, CaseInput(kind="claim", subject="破损2"), channel="branch", accident_cause="handling_damage",
                      claimed="300", branch="上海分公司", by="a1", at=t(10, 9))
    major = claims.open_claim(s, CaseInput(kind="claim", subject="车祸"), channel="agent",
                              accident_cause="traffic_accident", claimed="60000", branch="郑州分公司", by="a1",
                              at=t(20, 9))
    # 重大事故 counts once a supervisor confirms it (the amount only suggests it: issue #17)
    claim_decisions.decide_major(s, major.id, confirm=True, note="整车事故", by="supervisor", at=t(20, 10))
    claims.open_claim(s, CaseInput(kind="claim", subject="十月"), channel="agent", accident_cause="loss",
                      claimed="10", by="a1", at=t(31, 23, month=10))

    i1 = inspections.record_inspection(s, InspectionInput(kind="freight_rate", branch="郑州分公司", person="王强",
                                                          inspected_at=t(3, 9), quoted="98", tariff="120"), by="insp")
    inspections.add_finding(s, i1.id, description="低于运价", deadline=t(10, 9), by="insp")
    inspections.record_sanction(s, kind="penalty", branch="郑州分公司", person="王强", amount="200",
                                reason="运价不符", decided_at=t(3, 10), inspection_id=i1.id, by="insp")
    i2 = inspections.record_inspection(s, InspectionInput(kind="staff_appearance", branch="郑州分公司", person="李明",
                                                          inspected_at=t(4, 9), passed=True), by="insp")
    inspections.record_sanction(s, kind="reward", branch="郑州分公司", person="李明", amount="100", reason="形象好",
                                decided_at=t(4, 10), inspection_id=i2.id, by="insp")
    inspections.record_inspection(s, InspectionInput(kind="cod_handin", branch="上海分公司", inspected_at=t(6, 9),
                                                     due_at=t(5, 18), done_at=t(4, 18)), by="insp")
    inspections.record_sanction(s, kind="reward", branch="上海分公司", amount="50", reason="按时上交",
                                decided_at=t(6, 10), by="insp")

    inspections.record_self_settled(s, settled_by="market", branch="郑州分公司", issue="delay", amount="50.00",
                                    settled_at=t(5, 9), by="sup")
    inspections.record_self_settled(s, settled_by="driver", branch="上海分公司", issue="damage", amount="120.00",
                                    settled_at=t(6, 9), by="sup")
    inspections.record_self_settled(s, settled_by="driver", branch="上海分公司", issue="damage", amount="999.00",
                                    settled_at=t(30, 9, month=10), by="sup")

    def call(n: int, at: datetime, hotline: str | None, queue: str | None, outcome: str, agent: str | None,
             wait: float | None, talk: float | None) -> None:
        record_call(s, CallRecord(linkedid=f"c{n}", caller="13800138000", hotline=hotline, queue=queue,
                                     outcome=outcome, agent=agent, wait_s=wait, talk_s=talk,
                                     started_at=at.timestamp()))

    call(1, t(2, 9), "service", "q1", "answered", "a1", 10, 100)
    call(2, t(3, 9), "service", "q1", "answered", "a2", 30, 200)
    call(3, t(4, 9), "service", "q1", "abandoned_in_queue", None, 40, None)
    call(4, t(5, 9), "service", None, "abandoned_in_ivr", None, None, None)
    call(5, t(8, 23, 59), "claims", "q2", "answered", "a1", 5, 60)
    call(6, t(6, 9), "claims", "q2", "unanswered", None, 60, None)
    call(7, t(6, 9), None, None, "internal", "a1", 0, 30)
    call(8, t(9, 0, 1), "service", "q1", "answered", "a1", 1, 1)


@pytest.fixture
def data_db(db: Database, tmp_path: Path) -> Database:
    with db.session() as s:
        seed(s, tmp_path / "evidence")
    return db


def _counts(counts: tuple[reports.data.Count, ...]) -> dict[str, int]:
    return {c.key: c.count for c in counts}


def test_weekly_complaint_summary(data_db: Database) -> None:
    with data_db.session() as s:
        r = reports.complaint_summary(s, WEEK)
    assert (r.total, r.previous_total, r.closed, r.overdue_referrals) == (3, 1, 1, 1)
    assert _counts(r.by_type) == {"delay": 1, "damage": 1, "attitude": 1}
    assert _counts(r.by_branch) == {"郑州分公司": 2, "上海分公司": 1}
    assert _counts(r.by_cause) == {"transport_delay": 1, "staff_attitude": 1, "": 1}
    assert _counts(r.by_stage) == {"referred": 1, "recorded": 1, "closed": 1}
    assert [(d.day.day, d.count) for d in r.trend] == [(2, 1), (3, 0), (4, 1), (5, 0), (6, 0), (7, 0), (8, 1)]
    assert [row.complaint_type for row in r.rows] == ["延误", "破损", "服务态度"]


def test_monthly_claims_report(data_db: Database) -> None:
    with data_db.session() as s:
        r = reports.claims_report(s, MONTH)
    assert (r.total, r.major, r.closed) == (3, 1, 1)
    assert (r.claimed, r.agreed, r.paid) == (Decimal("61300.50"), Decimal("1000.50"), Decimal("1000.50"))
    causes = {c.cause.value: (c.count, c.share_percent, c.claimed, c.agreed, c.paid, c.major) for c in r.by_cause}
    assert causes == {
        "handling_damage": (2, Decimal("66.7"), Decimal("1300.50"), Decimal("1000.50"), Decimal("1000.50"), 0),
        "traffic_accident": (1, Decimal("33.3"), Decimal("60000.00"), Decimal("0.00"), Decimal("0.00"), 1),
    }
    assert r.by_cause[0].label == "装卸破损"
    assert {p.party.value: (p.claims, p.owed) for p in r.by_party} == {
        "branch": (1, Decimal("600.30")), "loader": (1, Decimal("400.20"))}
    assert _counts(r.by_branch) == {"郑州分公司": 2, "上海分公司": 1}


def test_monthly_inspection_report(data_db: Database) -> None:
    with data_db.session() as s:
        r = reports.inspections_report(s, MONTH)
    assert (r.inspections, r.failed, r.findings, r.findings_overdue) == (3, 1, 1, 1)
    assert (r.rewards, r.penalties) == (Decimal("150.00"), Decimal("200.00"))
    assert {(b.branch, b.rewards, b.penalties, b.net, b.count) for b in r.by_branch} == {
        ("郑州分公司", Decimal("100.00"), Decimal("200.00"), Decimal("-100.00"), 2),
        ("上海分公司", Decimal("50.00"), Decimal("0.00"), Decimal("50.00"), 1)}
    assert [(p.person, p.net) for p in r.by_person] == [("王强", Decimal("-200.00")), ("李明", Decimal("100.00"))]
    assert [(x.kind, x.amount, x.inspection_kind) for x in r.rows] == [
        ("处罚", Decimal("200.00"), "市场运价"),
        ("奖励", Decimal("100.00"), "仪容仪表"),
        ("奖励", Decimal("50.00"), ""),
    ]


def test_monthly_self_settled(data_db: Database) -> None:
    with data_db.session() as s:
        r = reports.self_settled_report(s, MONTH)
    assert (r.total, r.amount) == (2, Decimal("170.00"))
    assert {x.key: (x.count, x.amount) for x in r.by_settled_by} == {
        "market": (1, Decimal("50.00")), "driver": (1, Decimal("120.00"))}
    assert {x.key: x.count for x in r.by_issue} == {"delay": 1, "damage": 1}


def test_call_figures(data_db: Database) -> None:
    with data_db.session() as s:
        r = reports.call_figures(s, WEEK)
    tot = r.total
    assert (tot.offered, tot.answered, tot.abandoned, tot.unanswered, tot.answered_in_sl) == (6, 3, 2, 1, 2)
    assert (tot.service_level_percent, tot.avg_wait_s, tot.avg_handle_s) == (
        Decimal("33.3"), Decimal("15.0"), Decimal("120.0"))
    hot = {x.key: (x.offered, x.answered, x.abandoned, x.unanswered, x.service_level_percent, x.avg_wait_s,
                   x.avg_handle_s) for x in r.by_hotline}
    assert hot == {"service": (4, 2, 2, 0, Decimal("25.0"), Decimal("20.0"), Decimal("150.0")),
                   "claims": (2, 1, 0, 1, Decimal("50.0"), Decimal("5.0"), Decimal("60.0"))}
    assert {x.key: (x.offered, x.answered, x.abandoned, x.unanswered) for x in r.by_queue} == {
        "q1": (3, 2, 1, 0), "q2": (2, 1, 0, 1)}
    assert [(a.agent, a.answered, a.talk_s, a.avg_handle_s, a.avg_wait_s) for a in r.by_agent] == [
        ("a1", 2, Decimal("160.0"), Decimal("80.0"), Decimal("7.5")),
        ("a2", 1, Decimal("200.0"), Decimal("200.0"), Decimal("30.0"))]
    assert [d.count for d in r.trend_offered] == [1, 1, 1, 1, 1, 0, 1]


def test_split_by_shares_is_exact() -> None:
    assert split_by_shares(10000, [3333, 3333, 3334]) == [3333, 3333, 3334]
    assert split_by_shares(100, [3333, 3333, 3334]) == [33, 33, 34]
    assert sum(split_by_shares(100051, [6000, 4000])) == 100051


def test_periods_and_bad_requests() -> None:
    assert WEEK.start == datetime(2026, 11, 1, 16, tzinfo=UTC)
    assert reports.default_period("claims-monthly", today=date(2026, 11, 30)).from_day == date(2026, 10, 1)
    assert reports.default_period("complaints-weekly", today=date(2026, 11, 30)).from_day == date(2026, 11, 23)
    with pytest.raises(InvalidReportRequest, match="time zone"):
        reports.make_period(date(2026, 1, 1), date(2026, 1, 2), "Mars/Base")
    with pytest.raises(InvalidReportRequest, match="after"):
        reports.make_period(date(2026, 1, 2), date(2026, 1, 2))
    with pytest.raises(InvalidReportRequest, match="unknown report"):
        reports.default_period("nope")


@pytest.mark.parametrize("name", list(reports.REPORTS))
def test_renderings(data_db: Database, name: str, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    period = WEEK if reports.REPORTS[name].span == "week" else MONTH
    with data_db.session() as s:
        xlsx = reports.render(s, name, period, "xlsx")
        pdf = reports.render(s, name, period, "pdf")
        js = json.loads(reports.render(s, name, period, "json"))
    wb = load_workbook(io.BytesIO(xlsx))
    assert wb.sheetnames[0] == "概要"
    assert sum(len(ws._charts) for ws in wb.worksheets) >= 2  # type: ignore[attr-defined]
    assert js["period"]["tz"] == "Asia/Shanghai"
    assert pdf.startswith(b"%PDF-")
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext missing: install the Debian package poppler-utils"
    (tmp_path / "r.pdf").write_bytes(pdf)
    text = subprocess.run([pdftotext, str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    assert reports.REPORTS[name].title[:4] in text  # the CJK title is real text, not boxes


def test_claims_pdf_shows_the_figures(data_db: Database, tmp_path: Path) -> None:
    with data_db.session() as s:
        (tmp_path / "c.pdf").write_bytes(reports.render(s, "claims-monthly", MONTH, "pdf"))
    text = subprocess.run(["pdftotext", str(tmp_path / "c.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "61,300.50" in text and "装卸破损" in text and "66.7" in text


def test_missing_cjk_font_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, data_db: Database) -> None:
    find_cjk_font.cache_clear()
    monkeypatch.setenv(FONT_ENV, "/nonexistent/font.ttc")
    try:
        with data_db.session() as s, pytest.raises(ReportRenderError, match="not a font file"):
            reports.render(s, "calls", WEEK, "pdf")
    finally:
        find_cjk_font.cache_clear()


def test_hotline_report_cli(data_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    from hotline_cli.main import main

    monkeypatch.setenv("HOTLINE_DATABASE_URL", data_db.url.render_as_string(hide_password=False))
    out = tmp_path / "calls.json"
    assert main(["report", "calls", "--from", "2026-11-02", "--until", "2026-11-09", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["total"]["offered"] == 6
    assert main(["report", "claims-monthly", "--from", "2026-11-01", "--until", "2026-12-01", "--tz",
                 "Asia/Shanghai", "--format", "xlsx", "--out", str(tmp_path / "c.xlsx")]) == 0
    assert (tmp_path / "c.xlsx").read_bytes()[:2] == b"PK"
    capsys.readouterr()
    assert main(["report", "calls", "--from", "2026-11-09", "--until", "2026-11-02", "--out", str(out)]) == 2
    assert "hotline report: error: until" in capsys.readouterr().err
    assert json.loads(out.read_text())["total"]["offered"] == 6  # the old file is untouched
    assert main(["report", "calls", "--out", str(tmp_path / "x.txt")]) == 2
    assert not (tmp_path / "x.txt").exists()
