"""Migration 0012: shipments and change requests keep their rows (the address empty), the address
becomes a change field, change_callbacks appears; downgrade takes it all back."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from cases.db import Database

AT = "'2026-11-30 01:00:00+00'"


def _insert_request(conn: object, field: str, value: str) -> None:
    conn.execute(text(  # type: ignore[attr-defined]
        "INSERT INTO change_requests (case_id, shipment_id, field, old_value, new_value, stage, reason,"
        f" requested_by, requested_at, decision_note) VALUES (1, 1, '{field}', '', '{value}', 'requested', '',"
        f" 'agent1001', {AT}, '')"))




def test_upgrade_to_0012_keeps_rows_and_downgrade_takes_it_back(empty_db: Database) -> None:
    empty_db.migrate("0011")
    with empty_db.engine.begin() as conn:
        conn.execute(text("INSERT INTO shipments (id, waybill, shipper_phone, consignee_name, consignee_phone, origin,"
                          f" destination, status, created_at, updated_at) VALUES (1, '800012345678', '', '李娜',"
                          f" '13800138000', '上海', '郑州', '运输中', {AT}, {AT})"))
        conn.execute(text("INSERT INTO cases (id, number, kind, status, priority, subject, description, created_by,"
                          " shipment_id, created_at, updated_at) VALUES (1, 'C20261130-0001', 'change_request',"
                          f" 'open', 'normal', '改电话', '', 'agent1001', 1, {AT}, {AT})"))
        _insert_request(conn, "consignee_phone", "13900139000")
        with pytest.raises(IntegrityError), conn.begin_nested():
            _insert_request(conn, "consignee_address", "郑州市")
    empty_db.migrate("0012")
    with empty_db.engine.begin() as conn:
        assert conn.execute(text("SELECT waybill, consignee_name, consignee_address FROM shipments")).all() == [
            ("800012345678", "李娜", "")]
        _insert_request(conn, "consignee_address", "郑州市二七区大学路" + "路" * 150)  # 200 characters fit now
        assert conn.execute(text("SELECT field FROM change_requests ORDER BY id")).scalars().all() == [
            "consignee_phone", "consignee_address"]
        with pytest.raises(IntegrityError), conn.begin_nested():
            _insert_request(conn, "shipper_phone", "1")
    assert "change_callbacks" in inspect(empty_db.engine).get_table_names()
    empty_db.downgrade("0011")
    assert "change_callbacks" not in inspect(empty_db.engine).get_table_names()
    with empty_db.engine.connect() as conn:
        assert conn.execute(text("SELECT field, new_value FROM change_requests")).all() == [
            ("consignee_phone", "13900139000")]
        assert "consignee_address" not in {c["name"] for c in inspect(conn).get_columns("shipments")}
