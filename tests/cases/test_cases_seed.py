"""seed_demo: the demo data the simulator and the console rely on, created once."""

from __future__ import annotations

from sqlalchemy import func, select

from cases.accounts import authenticate, create_user
from cases.caller_context import caller_context
from cases.case_records import list_cases
from cases.customers import create_customer, find_customer_by_phone
from cases.db import Database
from cases.demo_data import DEMO_PASSWORD, DEMO_PHONES, DEMO_WAYBILLS
from cases.demo_seed import seed_demo
from cases.models.accounts import User
from cases.models.calls import Call
from cases.models.case import Case
from cases.models.customers import Customer, CustomerPhone
from cases.models.shipments import Shipment, ShipmentEvent
from cases.shipment_records import find_shipment
from cases.views import SeedSummary

TABLES = (Customer, CustomerPhone, Shipment, ShipmentEvent, Case, User, Call)


def _counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0 for m in TABLES}


def test_seed_demo_is_idempotent(db: Database) -> None:
    with db.session() as s:
        first = seed_demo(s)
    after_first = _counts(db)
    with db.session() as s:
        second = seed_demo(s)
    assert first == SeedSummary(customers=8, shipments=10, cases=3, users=8)
    assert second == SeedSummary(customers=0, shipments=0, cases=0, users=0)
    assert _counts(db) == after_first
    assert after_first["customers"] == 8 and after_first["shipments"] == 10


def test_seeded_phones_waybills_and_users(db: Database) -> None:
    with db.session() as s:
        seed_demo(s)
    assert DEMO_WAYBILLS and all(len(w) == 12 and w.isdigit() for w in DEMO_WAYBILLS)
    with db.session() as s:
        for phone in DEMO_PHONES:
            assert find_customer_by_phone(s, phone) is not None, phone
        assert find_customer_by_phone(s, "49305551011") is None  # the simulator's unknown callers
        two_phones = [c for c in s.scalars(select(Customer)).all() if len(c.phones) == 2]
        assert len(two_phones) >= 2
        for waybill in DEMO_WAYBILLS:
            shipment = find_shipment(s, waybill)
            assert shipment is not None
            statuses = [e.status for e in shipment.events]
            assert statuses and statuses[0] == "已揽收"
            assert set(statuses) <= {"已揽收", "运输中", "到达分拨中心", "派送中", "已签收"}
            assert shipment.status == statuses[-1]
        assert {sh.status for w in DEMO_WAYBILLS if (sh := find_shipment(s, w))} >= {"已签收", "运输中"}
        users = {
            name: authenticate(s, name, DEMO_PASSWORD)
            for name in ("agent1001", "agent1002", "agent1003", "supervisor")
        }
        open_cases = list_cases(s, status="open") + list_cases(s, status="referred")
    assert {n: (u.display_name, u.role) for n, u in users.items() if u} == {
        "agent1001": ("安娜", "agent"),
        "agent1002": ("本", "agent"),
        "agent1003": ("陈", "agent"),
        "supervisor": ("主管", "supervisor"),
    }
    assert len(open_cases) >= 2


def test_seeded_caller_gets_a_useful_screen_pop(db: Database) -> None:
    with db.session() as s:
        seed_demo(s)
        ctx = caller_context(s, "49305551001", None)
    assert ctx.customer is not None and ctx.customer.name == "张伟"
    assert ctx.recent_shipments and all(sh.waybill in DEMO_WAYBILLS for sh in ctx.recent_shipments)
    assert any(c.kind == "complaint" for c in ctx.open_cases)


def test_seed_keeps_existing_data(db: Database) -> None:
    with db.session() as s:
        mine = create_customer(s, "已有客户", "other", ["49305551001"])
        create_user(s, "agent1001", "my own password", "supervisor", "Anna")
    with db.session() as s:
        summary = seed_demo(s)
    assert summary.customers == 7 and summary.users == 7
    with db.session() as s:
        assert find_customer_by_phone(s, "49305551001") == mine
        assert authenticate(s, "agent1001", "my own password") is not None
        assert authenticate(s, "agent1001", DEMO_PASSWORD) is None
