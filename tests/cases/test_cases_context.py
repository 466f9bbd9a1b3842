"""caller_context (screen pop) and find_shipment."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from cases.call_records import record_call
from cases.caller_context import PREVIOUS_CALLS_LIMIT, PREVIOUS_CALLS_MARGIN, caller_context
from cases.case_records import create_case, update_case
from cases.customers import create_customer
from cases.db import Database
from cases.errors import InvalidWaybill
from cases.models.calls import Call
from cases.shipment_records import create_shipment, find_shipment
from cases.views import CallerContext, CaseInput, CaseUpdate, ShipmentEventInput, ShipmentInput, WaybillLookup
from telephony.records import CallRecord

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def _shipment(s: Session, waybill: str, shipper_id: int | None, *, days_ago: int, consignee_phone: str = "") -> None:
    t = NOW - timedelta(days=days_ago)
    create_shipment(
        s,
        ShipmentInput(
            waybill=waybill,
            origin="上海",
            destination="郑州",
            shipper_customer_id=shipper_id,
            shipper_phone="49305551001",
            consignee_name="李娜",
            consignee_phone=consignee_phone,
            events=(
                ShipmentEventInput(at=t + timedelta(hours=10), status="运输中", place="上海-郑州干线"),
                ShipmentEventInput(at=t, status="已揽收", place="上海营业部"),  # out of order on purpose
                ShipmentEventInput(at=t + timedelta(hours=30), status="到达分拨中心", place="郑州分拨中心"),
            ),
        ),
    )


def _call(s: Session, linkedid: str, caller: str, minutes_ago: int) -> None:
    start = (NOW - timedelta(minutes=minutes_ago)).timestamp()
    record_call(s, CallRecord(linkedid=linkedid, caller=caller, outcome="answered", started_at=start))


@pytest.fixture
def zhang(db: Database) -> int:
    with db.session() as s:
        customer = create_customer(s, "张伟", "shipper", ["49305551001", "13800138001"])
        create_customer(s, "李娜", "consignee", ["49305551002"])
        for i in range(7):
            _shipment(s, f"80001234560{i}", customer.id, days_ago=10 - i)
        _shipment(s, "800099990000", None, days_ago=0, consignee_phone="13800138001")  # he receives it
        _shipment(s, "800099990001", None, days_ago=0, consignee_phone="49305551002")  # someone else's
        return customer.id


def test_known_caller_without_waybill(db: Database, zhang: int) -> None:
    with db.session() as s:
        ctx = caller_context(s, "+49 30 5551001", None)
    assert ctx.phone == "+49 30 5551001"
    assert ctx.phone_normalized == "49305551001"
    assert ctx.customer is not None
    assert (ctx.customer.id, ctx.customer.name, ctx.customer.kind) == (zhang, "张伟", "shipper")
    assert ctx.customer.phones == ("49305551001", "13800138001")
    assert ctx.waybill_lookup is WaybillLookup.NONE
    assert ctx.shipment is None
    # newest first, at most 5, his own shipments and the one he receives, not someone else's
    assert [sh.waybill for sh in ctx.recent_shipments] == [
        "800099990000",
        "800012345606",
        "800012345605",
        "800012345604",
        "800012345603",
    ]


def test_known_caller_with_waybill_gets_the_shipment_and_its_history(db: Database, zhang: int) -> None:
    with db.session() as s:
        ctx = caller_context(s, "49305551001", "800012345603")
    assert ctx.waybill_lookup is WaybillLookup.FOUND
    assert ctx.shipment is not None
    assert ctx.shipment.waybill == "800012345603"
    assert ctx.shipment.shipper_name == "张伟"
    assert ctx.shipment.status == "到达分拨中心"
    assert [e.status for e in ctx.shipment.events] == ["已揽收", "运输中", "到达分拨中心"]
    assert [e.place for e in ctx.shipment.events] == ["上海营业部", "上海-郑州干线", "郑州分拨中心"]
    assert all(e.at.tzinfo is not None for e in ctx.shipment.events)
    assert ctx.recent_shipments == ()


@pytest.mark.parametrize(
    ("waybill", "lookup"),
    [
        ("12345", WaybillLookup.INVALID),
        ("8000abc45678", WaybillLookup.INVALID),
        ("800000000000", WaybillLookup.NOT_FOUND),
    ],
)
def test_bad_or_unknown_waybill_does_not_break_the_screen_pop(
    db: Database, zhang: int, waybill: str, lookup: WaybillLookup
) -> None:
    with db.session() as s:
        ctx = caller_context(s, "49305551001", waybill)
    assert ctx.waybill == waybill
    assert ctx.waybill_lookup is lookup
    assert ctx.shipment is None
    assert len(ctx.recent_shipments) == 5  # falls back to the customer's shipments
    assert ctx.customer is not None


def test_unknown_caller(db: Database, zhang: int) -> None:
    with db.session() as s:
        _call(s, "u.1", "49305551011", 30)
        ctx = caller_context(s, "49305551011", "800012345600")
    assert ctx.customer is None
    assert ctx.shipment is not None and ctx.shipment.waybill == "800012345600"
    assert ctx.recent_shipments == ()
    assert [c.linkedid for c in ctx.previous_calls] == ["u.1"]
    assert ctx.open_cases == ()


def test_previous_calls_newest_first_at_most_ten(db: Database, zhang: int) -> None:
    with db.session() as s:
        for i in range(12):
            _call(s, f"p.{i}", "49305551001", minutes_ago=100 - i)  # p.11 is the newest
        _call(s, "other.phone", "13800138001", minutes_ago=1)  # his other phone: included
        _call(s, "not.him", "49305551002", minutes_ago=2)
        ctx = caller_context(s, "49305551001", None)
        without_current = caller_context(s, "49305551001", None, exclude_linkedid="other.phone")
    ids = [c.linkedid for c in ctx.previous_calls]
    assert ids == ["other.phone", "p.11", "p.10", "p.9", "p.8", "p.7", "p.6", "p.5", "p.4", "p.3"]
    assert [c.linkedid for c in without_current.previous_calls][0] == "p.11"
    assert all(c.customer_id == zhang for c in ctx.previous_calls)


def test_open_cases_of_the_customer_and_of_the_phone(db: Database, zhang: int) -> None:
    with db.session() as s:
        open_case = create_case(s, CaseInput(kind="complaint", subject="延误", customer_id=zhang), by="agent1001")
        closed = create_case(s, CaseInput(kind="inquiry", subject="运价", customer_id=zhang), by="agent1001")
        update_case(s, closed.id, CaseUpdate(status="closed"), by="agent1001")
        referred = create_case(
            s,
            CaseInput(kind="claim", subject="破损", customer_id=zhang, status="referred", department="warehouse"),
            by="agent1002",
        )
        # an unknown caller's case is found through the call it was opened on
        _call(s, "anon.1", "49305551012", 5)
        anon_case = create_case(s, CaseInput(kind="tracking", subject="查件", linkedid="anon.1"), by="agent1003")
        someone_else = create_case(s, CaseInput(kind="inquiry", subject="别人"), by="agent1003")

        known = caller_context(s, "49305551001", None)
        anon = caller_context(s, "49305551012", None)
    assert {c.number for c in known.open_cases} == {open_case.number, referred.number}
    assert [c.id for c in known.open_cases] == [referred.id, open_case.id]  # newest first
    assert {c.status for c in known.open_cases} == {"open", "referred"}
    assert [c.number for c in anon.open_cases] == [anon_case.number]
    assert someone_else.number not in {c.number for c in known.open_cases + anon.open_cases}


def _calls_loaded(s: Session, phone: str) -> tuple[int, CallerContext]:
    """How many Call rows one screen-pop lookup of `phone` loads, and its result."""
    loaded: list[Call] = []

    def on_load(target: Call, _context: object) -> None:
        loaded.append(target)

    event.listen(Call, "load", on_load)
    try:
        s.expire_all()  # nothing cached from the last lookup: every row it needs is loaded again
        ctx = caller_context(s, phone, None)
    finally:
        event.remove(Call, "load", on_load)
    return len(loaded), ctx


def test_screen_pop_lookup_work_does_not_grow_with_the_phones_calls(db: Database, zhang: int) -> None:
    """A busy line (the load benchmark's callers have thousands of calls each) costs a pop lookup no
    more than a line with a few hundred: it used to load every call of the phone (up to 10 000) to
    find the open cases linked to them, and the console fell behind once enough calls were stored."""
    with db.session() as s:
        _call(s, "first", "49305551012", minutes_ago=10_000)  # an unknown caller's oldest call ...
        case = create_case(s, CaseInput(kind="tracking", subject="查件", linkedid="first"), by="agent1003")
        for i in range(300):
            _call(s, f"a.{i}", "49305551012", minutes_ago=9_000 - i)
        few, ctx_few = _calls_loaded(s, "49305551012")
        for i in range(300):
            _call(s, f"b.{i}", "49305551012", minutes_ago=5_000 - i)
        many, ctx_many = _calls_loaded(s, "49305551012")
    # one page of the limit and a small margin, not the 20 x limit rows it read before the tail key
    assert many == few <= PREVIOUS_CALLS_LIMIT + PREVIOUS_CALLS_MARGIN
    # ... keeps its open case on the pop, however many calls came after it
    assert [c.number for c in ctx_few.open_cases] == [c.number for c in ctx_many.open_cases] == [case.number]
    assert [c.linkedid for c in ctx_many.previous_calls][:2] == ["b.299", "b.298"]


def test_previous_calls_page_on_past_calls_of_the_same_tail_in_another_city(db: Database) -> None:
    """Calls from 021 1234 5678 share the tail key of 010 1234 5678 but are another line: the
    lookup reads on past them, page by page, until it has the caller's own calls."""
    with db.session() as s:
        for i in range(4):
            _call(s, f"own.{i}", "010 1234 5678", minutes_ago=1_000 + i)
        for i in range(3 * (PREVIOUS_CALLS_LIMIT + PREVIOUS_CALLS_MARGIN)):
            _call(s, f"shanghai.{i}", "021 1234 5678", minutes_ago=i)  # newer: they come first
        for i in range(PREVIOUS_CALLS_LIMIT):
            _call(s, f"old.{i}", "+86 10 1234 5678", minutes_ago=2_000 + i)  # the same line, dialled in full
        loaded, ctx = _calls_loaded(s, "01012345678")
    expected = [f"own.{i}" for i in range(4)] + [f"old.{i}" for i in range(PREVIOUS_CALLS_LIMIT - 4)]
    assert [c.linkedid for c in ctx.previous_calls] == expected
    assert loaded <= 5 * (PREVIOUS_CALLS_LIMIT + PREVIOUS_CALLS_MARGIN)


def test_find_shipment(db: Database, zhang: int) -> None:
    with db.session() as s:
        found = find_shipment(s, " 800012345601 ")
        missing = find_shipment(s, "80001234560199")
    assert found is not None and found.waybill == "800012345601"
    assert found.origin == "上海" and found.destination == "郑州"
    assert missing is None


@pytest.mark.parametrize(
    "waybill", ["", "123456789", "123456789012345", "80001234567a", "8000 1234 5678", "８０００１２３４５６７８"]
)
def test_find_shipment_rejects_malformed_waybills(db: Database, waybill: str) -> None:
    with db.session() as s, pytest.raises(InvalidWaybill, match="10-14 digits"):
        find_shipment(s, waybill)


def _lookup_plans(db: Database, phone: str) -> list[tuple[str, list[str]]]:
    """Each statement a screen-pop lookup of `phone` runs against calls or customer_phones, with the
    database's plan for it (SQLite: EXPLAIN QUERY PLAN details; PostgreSQL: EXPLAIN lines, with
    sequential scans priced out so that a usable index is always chosen)."""
    statements: list[tuple[str, Any]] = []

    def on_execute(_conn: object, _cursor: object, statement: str, parameters: Any, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and re.search(r"\b(calls|customer_phones)\b", statement):
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        with db.session() as s:
            caller_context(s, phone, None)
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    plans: list[tuple[str, list[str]]] = []
    with db.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        if db.dialect == "postgresql":
            cursor.execute("SET enable_seqscan = off")
        for statement, parameters in statements:
            explain = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
            cursor.execute(explain + statement, parameters)
            plans.append((statement, [str(row[-1]) for row in cursor.fetchall()]))
        cursor.close()
    return plans


def test_phone_matching_uses_the_tail_key_indexes_not_table_scans(db: Database, zhang: int) -> None:
    """Matching a caller by the tail of the number used `LIKE '%<8 digits>'`, which no index serves:
    every pop scanned calls and customer_phones. The tail key columns are indexed and looked up."""
    with db.session() as s:
        for i in range(5):
            _call(s, f"z.{i}", "13800138001", minutes_ago=100 + i)  # the customer's mobile
        for i in range(300):
            _call(s, f"o.{i}", f"1390013{i:04d}", minutes_ago=100 + i)  # other callers
        create_case(s, CaseInput(kind="tracking", subject="查件", linkedid="o.1"), by="agent1003")
        create_customer(s, "王芳", "shipper", ["02112345678"])
    for phone in ("+86 138 0013 8001", "010 1390 0130 001"):  # a known customer, an unknown caller
        plans = _lookup_plans(db, phone)
        text = "\n".join(line for _, lines in plans for line in lines)
        assert "ix_calls_caller_tail" in text and "ix_customer_phones_tail" in text, text
        for statement, lines in plans:
            for line in lines:
                if db.dialect == "sqlite":
                    assert not re.match(r"SCAN (calls|customer_phones)\b", line), (statement, lines)
                else:
                    assert not re.search(r"Seq Scan on (calls|customer_phones)\b", line), (statement, lines)
