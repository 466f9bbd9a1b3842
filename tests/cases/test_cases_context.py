"""caller_context (screen pop) and find_shipment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from cases import services as sv
from cases.db import Database
from cases.errors import InvalidWaybill
from cases.models import Call
from cases.views import CaseInput, CaseUpdate, ShipmentEventInput, ShipmentInput, WaybillLookup
from telephony.records import CallRecord

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def _shipment(s: Session, waybill: str, shipper_id: int | None, *, days_ago: int, consignee_phone: str = "") -> None:
    t = NOW - timedelta(days=days_ago)
    sv.create_shipment(
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
    sv.record_call(s, CallRecord(linkedid=linkedid, caller=caller, outcome="answered", started_at=start))


@pytest.fixture
def zhang(db: Database) -> int:
    with db.session() as s:
        customer = sv.create_customer(s, "张伟", "shipper", ["49305551001", "13800138001"])
        sv.create_customer(s, "李娜", "consignee", ["49305551002"])
        for i in range(7):
            _shipment(s, f"80001234560{i}", customer.id, days_ago=10 - i)
        _shipment(s, "800099990000", None, days_ago=0, consignee_phone="13800138001")  # he receives it
        _shipment(s, "800099990001", None, days_ago=0, consignee_phone="49305551002")  # someone else's
        return customer.id


def test_known_caller_without_waybill(db: Database, zhang: int) -> None:
    with db.session() as s:
        ctx = sv.caller_context(s, "+49 30 5551001", None)
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
        ctx = sv.caller_context(s, "49305551001", "800012345603")
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
        ctx = sv.caller_context(s, "49305551001", waybill)
    assert ctx.waybill == waybill
    assert ctx.waybill_lookup is lookup
    assert ctx.shipment is None
    assert len(ctx.recent_shipments) == 5  # falls back to the customer's shipments
    assert ctx.customer is not None


def test_unknown_caller(db: Database, zhang: int) -> None:
    with db.session() as s:
        _call(s, "u.1", "49305551011", 30)
        ctx = sv.caller_context(s, "49305551011", "800012345600")
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
        ctx = sv.caller_context(s, "49305551001", None)
        without_current = sv.caller_context(s, "49305551001", None, exclude_linkedid="other.phone")
    ids = [c.linkedid for c in ctx.previous_calls]
    assert ids == ["other.phone", "p.11", "p.10", "p.9", "p.8", "p.7", "p.6", "p.5", "p.4", "p.3"]
    assert [c.linkedid for c in without_current.previous_calls][0] == "p.11"
    assert all(c.customer_id == zhang for c in ctx.previous_calls)


def test_open_cases_of_the_customer_and_of_the_phone(db: Database, zhang: int) -> None:
    with db.session() as s:
        open_case = sv.create_case(s, CaseInput(kind="complaint", subject="延误", customer_id=zhang), by="agent1001")
        closed = sv.create_case(s, CaseInput(kind="inquiry", subject="运价", customer_id=zhang), by="agent1001")
        sv.update_case(s, closed.id, CaseUpdate(status="closed"), by="agent1001")
        referred = sv.create_case(
            s,
            CaseInput(kind="claim", subject="破损", customer_id=zhang, status="referred", department="warehouse"),
            by="agent1002",
        )
        # an unknown caller's case is found through the call it was opened on
        _call(s, "anon.1", "49305551012", 5)
        anon_case = sv.create_case(s, CaseInput(kind="tracking", subject="查件", linkedid="anon.1"), by="agent1003")
        someone_else = sv.create_case(s, CaseInput(kind="inquiry", subject="别人"), by="agent1003")

        known = sv.caller_context(s, "49305551001", None)
        anon = sv.caller_context(s, "49305551012", None)
    assert {c.number for c in known.open_cases} == {open_case.number, referred.number}
    assert [c.id for c in known.open_cases] == [referred.id, open_case.id]  # newest first
    assert {c.status for c in known.open_cases} == {"open", "referred"}
    assert [c.number for c in anon.open_cases] == [anon_case.number]
    assert someone_else.number not in {c.number for c in known.open_cases + anon.open_cases}


def _calls_loaded(s: Session, phone: str) -> tuple[int, sv.CallerContext]:
    """How many Call rows one screen-pop lookup of `phone` loads, and its result."""
    loaded: list[Call] = []

    def on_load(target: Call, _context: object) -> None:
        loaded.append(target)

    event.listen(Call, "load", on_load)
    try:
        s.expire_all()  # nothing cached from the last lookup: every row it needs is loaded again
        ctx = sv.caller_context(s, phone, None)
    finally:
        event.remove(Call, "load", on_load)
    return len(loaded), ctx


def test_screen_pop_lookup_work_does_not_grow_with_the_phones_calls(db: Database, zhang: int) -> None:
    """A busy line (the load benchmark's callers have thousands of calls each) costs a pop lookup no
    more than a line with a few hundred: it used to load every call of the phone (up to 10 000) to
    find the open cases linked to them, and the console fell behind once enough calls were stored."""
    with db.session() as s:
        _call(s, "first", "49305551012", minutes_ago=10_000)  # an unknown caller's oldest call ...
        case = sv.create_case(s, CaseInput(kind="tracking", subject="查件", linkedid="first"), by="agent1003")
        for i in range(300):
            _call(s, f"a.{i}", "49305551012", minutes_ago=9_000 - i)
        few, ctx_few = _calls_loaded(s, "49305551012")
        for i in range(300):
            _call(s, f"b.{i}", "49305551012", minutes_ago=5_000 - i)
        many, ctx_many = _calls_loaded(s, "49305551012")
    assert many == few <= sv.PREVIOUS_CALLS_LIMIT * 20
    # ... keeps its open case on the pop, however many calls came after it
    assert [c.number for c in ctx_few.open_cases] == [c.number for c in ctx_many.open_cases] == [case.number]
    assert [c.linkedid for c in ctx_many.previous_calls][:2] == ["b.299", "b.298"]


def test_find_shipment(db: Database, zhang: int) -> None:
    with db.session() as s:
        found = sv.find_shipment(s, " 800012345601 ")
        missing = sv.find_shipment(s, "80001234560199")
    assert found is not None and found.waybill == "800012345601"
    assert found.origin == "上海" and found.destination == "郑州"
    assert missing is None


@pytest.mark.parametrize(
    "waybill", ["", "123456789", "123456789012345", "80001234567a", "8000 1234 5678", "８０００１２３４５６７８"]
)
def test_find_shipment_rejects_malformed_waybills(db: Database, waybill: str) -> None:
    with db.session() as s, pytest.raises(InvalidWaybill, match="10-14 digits"):
        sv.find_shipment(s, waybill)
