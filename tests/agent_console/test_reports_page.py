"""The standard's reports in the console: the page shows the figures of the chosen period, the
downloads are the same documents as `hotline report`, and bad periods get a clear error."""

from __future__ import annotations

import io
import json
from datetime import date
from typing import TYPE_CHECKING

from openpyxl import load_workbook

from cases import reports
from cases.demo_workflows import seed_month

if TYPE_CHECKING:
    from conftest import Console

NOV = {"from": "2026-11-01", "until": "2026-12-01"}


def _seed(console: Console) -> None:
    assert console.config.evidence_dir is not None
    with console.db.session() as s:
        seed_month(s, date(2026, 11, 1), evidence_root=console.config.evidence_dir)


def test_claims_report_on_the_page_and_as_files(console: Console) -> None:
    _seed(console)
    with console.db.reading() as s:
        expected = reports.build(s, "claims-monthly", reports.make_period(date(2026, 11, 1), date(2026, 12, 1)))
    client = console.login("supervisor")
    page = client.get("/reports", query_string={"name": "claims-monthly", **NOV})
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "每月理赔报表及事故原因分析" in body and "2026-11-01 – 2026-11-30 (Asia/Shanghai)" in body
    assert f"<div class=\"kpi-num\">{expected.total}</div>" in body  # the same count as the report data
    assert "事故原因" in body and 'class="bars"' in body
    pdf = client.get("/reports/claims-monthly/pdf", query_string=NOV)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    assert 'filename="claims-monthly-2026-11-01.pdf"' in pdf.headers["Content-Disposition"]
    xlsx = client.get("/reports/claims-monthly/xlsx", query_string=NOV)
    book = load_workbook(io.BytesIO(xlsx.data))
    assert xlsx.status_code == 200 and book.sheetnames
    data = json.loads(client.get("/reports/claims-monthly/json", query_string=NOV).data)
    assert data["total"] == expected.total


def test_default_period_bad_input_and_roles(console: Console) -> None:
    client = console.login("inspector")
    page = client.get("/reports", query_string={"name": "inspections-monthly"})
    assert page.status_code == 200 and "每月监察奖罚明细报表" in page.get_data(as_text=True)
    bad = client.get("/reports", query_string={"name": "calls", "from": "2026-11-30", "until": "2026-11-01"})
    assert bad.status_code == 400 and "报表参数有误" in bad.get_data(as_text=True)
    bad = client.get("/reports", query_string={"name": "calls", "from": "x", "until": "y"})
    assert bad.status_code == 400 and "must be dates" in bad.get_data(as_text=True)
    bad = client.get("/reports/calls/pdf", query_string={**NOV, "tz": "Mars/Olympus"})
    assert bad.status_code == 400 and "unknown time zone" in bad.get_json()["message"]
    assert client.get("/reports/no-such/pdf").status_code == 404
    assert client.get("/reports/calls/docx").status_code == 404
    assert client.get("/reports", query_string={"name": "no-such"}).status_code == 404
    assert console.login("branch_zz").get("/reports").status_code == 403
    page = client.get("/reports", query_string={"name": "calls", "lang": "en"})
    assert "Until (exclusive)" in page.get_data(as_text=True)
