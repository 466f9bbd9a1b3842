"""Migration 0008 and the ORM keep the phone tail keys (`cases.phones.phone_tail`) of calls and
customer phones: rows stored before it are backfilled with the same rule the models apply."""

from __future__ import annotations

from sqlalchemy import select, text

from cases.call_records import record_call
from cases.caller_context import caller_context
from cases.case_records import create_case
from cases.customers import create_customer
from cases.db import Database
from cases.models.calls import Call
from cases.models.customers import CustomerPhone
from cases.phones import phone_tail
from cases.views import CaseInput
from telephony.records import CallRecord

T0 = "2026-11-30 01:00:00+00"
# digits-only numbers as stored: long, exactly 8, 8 after a trunk zero, short, all zeros, empty
NUMBERS = ["8613800138000", "13800138000", "01055551001", "0055551001", "12345678", "012345678", "1234567",
           "001234567", "1001", "0000", ""]


def test_upgrade_backfills_the_tail_keys_by_the_models_rule(empty_db: Database) -> None:
    empty_db.migrate("0007")
    with empty_db.engine.begin() as conn:
        conn.execute(text("INSERT INTO customers (id, name, kind, note, created_at)"
                          " VALUES (1, 'old', 'other', '', :t)"), {"t": T0})
        for i, number in enumerate(NUMBERS):
            conn.execute(text("INSERT INTO calls (linkedid, caller, caller_norm, caller_name, dialed, digits, outcome,"
                              " agents, rang, reconciled, created_at, updated_at) VALUES (:l, :n, :n, '', '', '',"
                              " 'answered', '[]', '[]', false, :t, :t)"), {"l": f"old.{i}", "n": number, "t": T0})
            if number:
                conn.execute(text("INSERT INTO customer_phones (customer_id, phone, label) VALUES (1, :n, '')"),
                             {"n": number})
    empty_db.migrate()
    with empty_db.engine.connect() as conn:
        calls = conn.execute(text("SELECT caller_norm, caller_tail FROM calls ORDER BY id")).all()
        phones = conn.execute(text("SELECT phone, tail FROM customer_phones ORDER BY id")).all()
    assert [tuple(r) for r in calls] == [(n, phone_tail(n)) for n in NUMBERS]
    assert [tuple(r) for r in phones] == [(n, phone_tail(n)) for n in NUMBERS if n]
    assert calls[0][1] == "13800138000"[-8:] and calls[8][1] is None  # the rule, spelled out once
    # backfilled rows are found by the lookup: the old mobile call matches the caller's full number
    with empty_db.session() as s:
        ctx = caller_context(s, "+86 138 0013 8000", None)
    assert ctx.customer is not None and ctx.customer.id == 1
    assert {c.linkedid for c in ctx.previous_calls} == {"old.0", "old.1"}




def test_downgrade_drops_the_tail_keys_and_keeps_the_rows(empty_db: Database) -> None:
    empty_db.migrate()
    with empty_db.session() as s:
        create_customer(s, "张伟", "shipper", ["13800138001"])
        record_call(s, CallRecord(linkedid="c.1", caller="13800138001", outcome="answered"))
        create_case(s, CaseInput(kind="tracking", subject="查件", linkedid="c.1"), by="agent1001")
    empty_db.downgrade("0007")
    with empty_db.engine.connect() as conn:
        assert "caller_tail" not in conn.execute(text("SELECT * FROM calls")).keys()
        assert "tail" not in conn.execute(text("SELECT * FROM customer_phones")).keys()
        assert conn.execute(text("SELECT count(*) FROM case_calls")).scalar_one() == 1  # no cascade
    empty_db.migrate()
    with empty_db.engine.connect() as conn:
        assert conn.execute(text("SELECT tail FROM customer_phones")).scalars().all() == ["00138001"]
        assert conn.execute(text("SELECT caller_tail FROM calls")).scalars().all() == ["00138001"]


def test_the_models_set_the_tail_key_whenever_the_number_is_set(db: Database) -> None:
    with db.session() as s:
        record_call(s, CallRecord(linkedid="c.1", caller="+86 138-0013-8002", outcome="answered"))
        create_customer(s, "李娜", "consignee", ["010 5555 1002"])
    with db.session() as s:
        call = s.scalars(select(Call).where(Call.linkedid == "c.1")).one()
        phone = s.scalars(select(CustomerPhone)).one()
        assert (call.caller_tail, phone.tail) == ("00138002", "55551002")
        call.caller_norm = "1001"  # an extension: too short for a tail key
        phone.phone = "13900139003"
    with db.session() as s:
        assert s.scalars(select(Call.caller_tail)).one() is None
        assert s.scalars(select(CustomerPhone.tail)).one() == "00139003"
