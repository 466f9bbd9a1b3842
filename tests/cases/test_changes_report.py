"""The change requests (更改收货人/联系电话/地址, 客服员 3.4) in the weekly complaint summary: per field
requested / applied / refused / pending, each request with case, waybill, from → to, who decided and the
outcome, in the page's document, the XLSX, the PDF and the JSON."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from workflow_support import WAYBILL, make_shipment

from cases import changes, reports
from cases.accounts import create_user
from cases.case_records import create_case
from cases.db import Database
from cases.reports.document import Table
from cases.views import CaseInput

CST = ZoneInfo("Asia/Shanghai")
WEEK = reports.make_period(date(2026, 11, 2), date(2026, 11, 9), "Asia/Shanghai")


def t(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=CST)


def _seed(db: Database) -> None:
    with db.session() as s:
        for user in ("agent1001", "agent1002"):
            create_user(s, user, "password-123", "agent", user)
        make_shipment(s)

        def case() -> int:
            return create_case(s, CaseInput(kind="change_request", subject="更改", waybill=WAYBILL), by="agent1001").id

        name = changes.request_change(s, case(), field="consignee_name", new_value="王芳", reason="收货人出差",
                                      by="agent1001", at=t(3, 9)).id
        changes.approve_change(s, name, by="supervisor", at=t(3, 10))
        phone = changes.request_change(s, case(), field="consignee_phone", new_value="13700137000",
                                       by="agent1002", at=t(4, 9)).id
        changes.reject_change(s, phone, note="来电人不是收货人", by="supervisor", at=t(4, 11))
        changes.request_change(s, case(), field="consignee_address", new_value="郑州市金水路1号", by="agent1001",
                               at=t(5, 9))
        old = changes.request_change(s, case(), field="consignee_phone", new_value="13600136000", by="agent1001",
                                     at=t(10, 9)).id  # the week after: not counted
        changes.reject_change(s, old, note="重复", by="supervisor", at=t(10, 10))


def test_change_requests_are_a_section_of_the_weekly_summary(db: Database, tmp_path: Path) -> None:
    _seed(db)
    with db.reading() as s:
        r = reports.complaint_summary(s, WEEK)
        page = reports.produce(s, "complaints-weekly", WEEK, reports.PAGE)
        xlsx = reports.render(s, "complaints-weekly", WEEK, "xlsx")
        pdf = reports.render(s, "complaints-weekly", WEEK, "pdf")
        data = json.loads(reports.render(s, "complaints-weekly", WEEK, "json"))
    c = r.changes
    assert (c.requested, c.applied, c.refused, c.pending) == (3, 1, 1, 1)
    assert [(f.field, f.requested, f.applied, f.refused, f.pending) for f in c.by_field] == [
        ("consignee_name", 1, 1, 0, 0), ("consignee_phone", 1, 0, 1, 0), ("consignee_address", 1, 0, 0, 1)]
    assert [(x.waybill, x.field, x.old_value, x.new_value, x.decided_by, x.outcome) for x in c.rows] == [
        (WAYBILL, "收货人", "李娜", "王芳", "supervisor", "已更改"),
        (WAYBILL, "收货人电话", "13800138000", "13700137000", "supervisor", "已驳回"),
        (WAYBILL, "收货地址", "", "郑州市金水路1号", "", "待审批")]
    assert c.rows[1].decision_note == "来电人不是收货人" and c.rows[0].reason == "收货人出差"
    assert all(x.case_number.startswith("C2026") for x in c.rows)

    assert not isinstance(page, bytes)
    assert ("更改申请", 3) in page.kpis
    per_field = next(b for b in page.blocks if isinstance(b, Table) and b.title.startswith("更改申请"))
    assert per_field.headers == ("项目", "申请", "已更改", "已驳回", "待审批")
    assert per_field.rows[-1] == ("合计", 3, 1, 1, 1)
    detail = next(b for b in page.blocks if isinstance(b, Table) and b.title.startswith("更改明细"))
    assert detail.rows[1][:9] == (c.rows[1].case_number, WAYBILL, "收货人电话", "13800138000", "13700137000",
                                  "agent1002", "2026-11-04 09:00", "supervisor", "已驳回")

    book = load_workbook(io.BytesIO(xlsx))
    cells = [cell.value for ws in book.worksheets for row in ws.iter_rows() for cell in row]
    assert "更改申请 Change requests" in cells and "13700137000" in cells and "来电人不是收货人" in cells
    (tmp_path / "r.pdf").write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "更改申请" in text and "更改明细" in text and "13700137000" in text
    assert data["changes"]["requested"] == 3 and data["changes"]["refused"] == 1
    assert [x["outcome"] for x in data["changes"]["rows"]] == ["已更改", "已驳回", "待审批"]


def test_a_week_without_change_requests_shows_zeros(db: Database) -> None:
    with db.reading() as s:
        r = reports.complaint_summary(s, WEEK)
    assert (r.changes.requested, r.changes.rows) == (0, ())
    assert [f.requested for f in r.changes.by_field] == [0, 0, 0]
