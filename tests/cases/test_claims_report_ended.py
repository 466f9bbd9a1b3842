"""The monthly claims report shows the claims refused (拒赔) and withdrawn (客户撤回) apart: counted in the
KPIs, listed with the reason and when they ended, and the reason in the detail rows (page, XLSX, PDF, JSON)."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy.orm import Session

from cases import claim_decisions, claims, reports
from cases.db import Database
from cases.reports.document import Table
from cases.views import CaseInput

CST = ZoneInfo("Asia/Shanghai")
MONTH = reports.make_period(date(2026, 11, 1), date(2026, 12, 1), "Asia/Shanghai")


def t(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=CST)


def _claim(s: Session, subject: str, day: int) -> int:
    return claims.open_claim(s, CaseInput(kind="claim", subject=subject), channel="hotline",
                             accident_cause="handling_damage", claimed="500", branch="郑州分公司", by="a1",
                             at=t(day, 9)).id


def test_refused_and_withdrawn_claims_apart_with_reasons(db: Database, tmp_path: Path) -> None:
    with db.session() as s:
        refused = _claim(s, "破损拒赔", 3)
        claims.start_investigation(s, refused, by="c1", at=t(3, 10))
        claim_decisions.refuse(s, refused, reason="包装不符合要求，责任在发货人", by="c1", at=t(5, 9))
        withdrawn = _claim(s, "客户撤案", 4)
        claim_decisions.withdraw(s, withdrawn, reason="客户已找到货物", by="c1", at=t(6, 15))
        _claim(s, "仍在处理", 7)
    with db.reading() as s:
        r = reports.claims_report(s, MONTH)
        doc = reports.produce(s, "claims-monthly", MONTH, reports.PAGE)
        xlsx = reports.render(s, "claims-monthly", MONTH, "xlsx")
        pdf = reports.render(s, "claims-monthly", MONTH, "pdf")
        data = json.loads(reports.render(s, "claims-monthly", MONTH, "json"))
    assert (r.total, r.refused, r.withdrawn, r.closed) == (3, 1, 1, 0)
    assert [(x.stage, x.end_reason) for x in r.rows] == [
        ("拒赔", "包装不符合要求，责任在发货人"), ("客户撤回", "客户已找到货物"), ("已报案", "")]
    assert r.rows[0].ended_at == t(5, 9) and r.rows[2].ended_at is None
    assert not isinstance(doc, bytes)
    assert ("拒赔", 1) in doc.kpis and ("客户撤回", 1) in doc.kpis
    ended = next(b for b in doc.blocks if isinstance(b, Table) and b.title.startswith("拒赔与客户撤回"))
    assert ended.rows == (
        (r.rows[0].case_number, "拒赔", "2026-11-05 09:00", "包装不符合要求，责任在发货人", Decimal("500.00")),
        (r.rows[1].case_number, "客户撤回", "2026-11-06 15:00", "客户已找到货物", Decimal("500.00")))
    cells = [c.value for ws in load_workbook(io.BytesIO(xlsx)).worksheets for row in ws.iter_rows() for c in row]
    assert "拒赔与客户撤回 Refused and withdrawn" in cells and "客户已找到货物" in cells
    (tmp_path / "r.pdf").write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "拒赔与客户撤回" in text and "客户已找到货物" in text
    assert (data["refused"], data["withdrawn"]) == (1, 1)
    assert data["rows"][0]["end_reason"] == "包装不符合要求，责任在发货人"
