"""`hotline shipments import|export`: the CSV layout, row-by-row errors, upsert, encodings, one transaction."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cases.customers import create_customer, find_customer_by_phone
from cases.db import Database
from cases.errors import ShipmentImportError
from cases.models.audit import AuditEntry
from cases.models.shipments import Shipment, ShipmentEvent
from cases.shipment_records import find_shipment
from cases.shipments import decode, export_csv, import_csv

HEADER = "waybill,shipper_phone,consignee_name,consignee_phone,origin,destination,status,history\n"
GOOD = (
    HEADER
    + '800012345601,+86 138-0013-8001,李娜,13900139002,上海,郑州,,"2026-11-28 09:00 | 上海营业部 | 已揽收\n'
    + '2026-11-28 21:30 | 上海-郑州干线 | 运输中 | 车牌沪A12345"\n'
    + "800012345602,,王磊,13500135009,深圳,北京,派送中,\n"
)


def _count(db: Database) -> tuple[int, int]:
    with db.session() as s:
        return (
            int(s.scalar(select(func.count()).select_from(Shipment)) or 0),
            int(s.scalar(select(func.count()).select_from(ShipmentEvent)) or 0),
        )


def test_import_creates_shipments_with_history_in_shanghai_time(db: Database) -> None:
    with db.session() as s:
        zhang = create_customer(s, "张伟", "shipper", ["13800138001"])
        summary = import_csv(s, GOOD.encode("utf-8"), by="ops")
    assert (summary.rows, summary.created, summary.updated, summary.events) == (2, 2, 0, 2)
    assert summary.encoding == "utf-8"
    with db.session() as s:
        one = find_shipment(s, "800012345601")
        two = find_shipment(s, "800012345602")
        audit = s.scalars(select(AuditEntry).where(AuditEntry.what == "shipments.import")).one()
    assert one is not None and two is not None
    assert one.shipper_customer_id == zhang.id  # linked by the shipper's phone
    assert one.shipper_phone == "8613800138001"
    assert one.status == "运输中"  # empty status: the latest event's
    assert [(e.at, e.place, e.status, e.note) for e in one.events] == [
        (datetime(2026, 11, 28, 1, 0, tzinfo=UTC), "上海营业部", "已揽收", ""),
        (datetime(2026, 11, 28, 13, 30, tzinfo=UTC), "上海-郑州干线", "运输中", "车牌沪A12345"),
    ]
    assert two.status == "派送中" and two.events == () and two.consignee_phone == "13500135009"
    assert audit.who == "ops" and audit.detail["created"] == 2


def test_import_upserts_by_waybill_and_keeps_history_when_row_has_none(db: Database) -> None:
    with db.session() as s:
        import_csv(s, GOOD.encode(), by="ops")
    again = HEADER + "800012345601,,赵六,13700137000,上海,广州,已签收,\n800012345603,,,,杭州,南京,,\n"
    with db.session() as s:
        summary = import_csv(s, again.encode(), by="ops")
    assert (summary.created, summary.updated, summary.events) == (1, 1, 0)
    with db.session() as s:
        one = find_shipment(s, "800012345601")
    assert one is not None
    assert (one.consignee_name, one.destination, one.status) == ("赵六", "广州", "已签收")
    assert len(one.events) == 2  # no history in the row: the stored one stays
    assert _count(db) == (3, 2)
    replaced = HEADER + '800012345601,,赵六,13700137000,上海,广州,,"2026-11-30T08:00:00+08:00 | 广州 | 已签收"\n'
    with db.session() as s:
        import_csv(s, replaced.encode(), by="ops")
        one = find_shipment(s, "800012345601")
    assert one is not None and [e.status for e in one.events] == ["已签收"]


def test_bad_rows_are_all_named_by_line_and_column_and_nothing_is_imported(db: Database) -> None:
    with db.session() as s:
        import_csv(s, GOOD.encode(), by="ops")
    before = _count(db)
    bad = (
        HEADER
        + "800012345609,,新,13900000000,上海,郑州,,\n"  # line 2: fine, but must not land
        + "12345,,x,,上海,郑州,,\n"  # line 3: waybill
        + '800012345610,,x,not-a-phone,上海,,,"2026-13-01 09:00 | 上海 | 已揽收"\n'  # line 4: 3 errors
        + "800012345609,,dup,,上海,郑州,,\n"  # line 5: duplicate waybill
        + "800012345611,,short,,上海\n"  # line 6: field count
    )
    with pytest.raises(ShipmentImportError) as err, db.session() as s:
        import_csv(s, bad.encode(), by="ops")
    msg = str(err.value)
    assert msg.startswith("6 error(s), nothing imported")
    assert "line 3, column waybill: '12345' is not a waybill" in msg
    assert "line 4, column destination: is required" in msg
    assert "line 4, column consignee_phone: 'not-a-phone' is not a phone number" in msg
    assert "line 4, column history: event 1: time '2026-13-01 09:00'" in msg
    assert "line 5, column waybill: 800012345609 is already on line 2" in msg
    assert "line 6, column -: has 5 fields, the header has 8" in msg
    assert _count(db) == before
    with db.session() as s:
        assert find_shipment(s, "800012345609") is None


def test_line_numbers_count_multi_line_history_cells(db: Database) -> None:
    text = GOOD + "bad-waybill,,x,,上海,郑州,,\n"  # the file's line 5 (row 3; row 1 spans lines 2-3)
    with pytest.raises(ShipmentImportError, match="line 5, column waybill"), db.session() as s:
        import_csv(s, text.encode(), by="ops")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("waybill,origin\n", "required column(s) missing: destination"),
        ("waybill,origin,destination,colour\n", "unknown column(s) 'colour'"),
        ("waybill,origin,destination,origin\n", "column(s) named twice: origin"),
        (HEADER + '800012345601,,"unterminated,上海,郑州,,\n', "not valid CSV"),
        (HEADER + "800012345601,,,,上海,郑州,,2026-11-28 09:00 上海 已揽收\n", "is not 'TIME | PLACE | STATUS"),
    ],
)
def test_bad_files_get_one_clear_error(db: Database, text: str, expected: str) -> None:
    with pytest.raises(ShipmentImportError) as err, db.session() as s:
        import_csv(s, text.encode(), by="ops")
    assert expected in str(err.value)
    assert _count(db) == (0, 0)


def test_utf8_bom_and_gbk_are_read_and_other_bytes_refused(db: Database) -> None:
    with db.session() as s:
        bom = import_csv(s, b"\xef\xbb\xbf" + GOOD.encode("utf-8"), by="ops")
    assert bom.encoding == "utf-8-sig" and bom.created == 2  # the BOM is not part of the 'waybill' header
    gbk_text = HEADER + "800012345605,,张三,13900139005,上海,郑州,已揽收,\n"
    with db.session() as s:
        gbk = import_csv(s, gbk_text.encode("gbk"), by="ops")
        sh = find_shipment(s, "800012345605")
    assert gbk.encoding == "gbk" and sh is not None and sh.consignee_name == "张三" and sh.origin == "上海"
    with pytest.raises(ShipmentImportError, match="not UTF-8: byte"):
        decode(gbk_text.encode("gbk"), "utf-8")
    with pytest.raises(ShipmentImportError, match="neither UTF-8 nor GBK"):
        decode(HEADER.encode() + b"\x80\xff\xfe,\n", "auto")


def test_export_round_trips_through_import(db: Database, tmp_path: Path) -> None:
    with db.session() as s:
        import_csv(s, GOOD.encode(), by="ops")
        exported = export_csv(s)
    assert exported.startswith(b"\xef\xbb\xbf" + HEADER.strip().encode())
    with db.session() as s:
        before = [find_shipment(s, w) for w in ("800012345601", "800012345602")]
    with db.session() as s:
        summary = import_csv(s, exported, by="ops")
        after = [find_shipment(s, w) for w in ("800012345601", "800012345602")]
    assert (summary.created, summary.updated) == (0, 2)
    strip = [(v.waybill, v.consignee_name, v.consignee_phone, v.status, v.events) for v in before if v]
    assert strip == [(v.waybill, v.consignee_name, v.consignee_phone, v.status, v.events) for v in after if v]


def _hotline(db_url: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env["HOTLINE_DATABASE_URL"] = db_url
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "hotline_cli.main", "shipments", *args], input=stdin,
                          capture_output=True, env=env, timeout=60)


def test_cli_import_export_and_one_line_error(db: Database, tmp_path: Path) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    src = tmp_path / "in.csv"
    src.write_bytes(GOOD.encode("gbk"))
    ok = _hotline(url, "import", str(src))
    assert ok.returncode == 0, ok.stderr.decode()
    assert "(gbk): 2 rows, 2 new, 0 updated, 2 history events" in ok.stdout.decode()
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "1,,,,,,,\n", encoding="utf-8")
    res = _hotline(url, "import", str(bad))
    err = res.stderr.decode()
    assert res.returncode == 2 and "Traceback" not in err
    errors = [ln for ln in err.splitlines() if ln.startswith("hotline shipments: error: ")]
    assert len(errors) == 1 and "line 2, column waybill" in errors[0], err
    out = tmp_path / "out.csv"
    exp = _hotline(url, "export", "--out", str(out))
    assert exp.returncode == 0, exp.stderr.decode()
    lines = out.read_bytes().decode("utf-8-sig").splitlines()
    assert lines[0] == HEADER.strip() + ",consignee_address"  # the address last (migration 0012)
    assert lines[1].startswith("800012345601,8613800138001,李娜,13900139002,上海,郑州,运输中")


@pytest.mark.parametrize("rows", [3, 40])  # few phones: one lookup each; many: one pass over the customers
def test_shipper_phones_link_customers_like_the_screen_pop(db: Database, rows: int) -> None:
    with db.session() as s:
        zhang = create_customer(s, "张伟", "shipper", ["13800138001"])
        create_customer(s, "甲", "shipper", ["01055551001"])
        create_customer(s, "乙", "shipper", ["02155551001"])  # same 8-digit tail as 甲: ambiguous
    lines = [HEADER, "800012345601,+86 138-0013-8001,,,上海,郑州,,\n",  # tail match -> 张伟
             "800012345602,55551001,,,上海,郑州,,\n",  # 8 digits matching two customers -> nobody
             "800012345603,13900000000,,,上海,郑州,,\n"]  # unknown
    lines += [f"8000123457{i:02d},1370000{i:04d},,,上海,郑州,,\n" for i in range(rows - 3)]
    with db.session() as s:
        import_csv(s, "".join(lines).encode(), by="ops")
        got = [find_shipment(s, w) for w in ("800012345601", "800012345602", "800012345603")]
    assert [g.shipper_customer_id if g else "missing" for g in got] == [zhang.id, None, None]
    with db.session() as s:
        assert find_customer_by_phone(s, "+86 138-0013-8001") is not None
        assert find_customer_by_phone(s, "55551001") is None  # the screen pop's rule agrees
