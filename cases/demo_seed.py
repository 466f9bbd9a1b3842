"""Seeding the demo data of `cases.demo_data`: customers, shipments, cases and users. Running it again
creates nothing new."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.accounts import create_user
from cases.case_records import create_case
from cases.customers import create_customer
from cases.demo_data import DEMO_CASES, DEMO_CUSTOMERS, DEMO_PASSWORD, DEMO_SHIPMENTS, DEMO_USERS, STAGES
from cases.models.accounts import User
from cases.models.base import utcnow
from cases.models.case import Case
from cases.models.customers import CustomerPhone
from cases.models.shipments import Shipment
from cases.shipment_records import create_shipment
from cases.views import CaseInput, SeedSummary, ShipmentEventInput, ShipmentInput

log = logging.getLogger(__name__)


def seed_demo(s: Session, *, now: datetime | None = None) -> SeedSummary:
    """Demo customers, shipments, cases and users; running it again creates nothing new."""
    now = now or utcnow()
    created = {"customers": 0, "shipments": 0, "cases": 0, "users": 0}

    customer_ids: dict[str, int] = {}
    for dc in DEMO_CUSTOMERS:
        existing = s.scalars(select(CustomerPhone).where(CustomerPhone.phone.in_(dc.phones))).first()
        if existing is not None:
            customer_ids[dc.key] = existing.customer_id
            continue
        customer_ids[dc.key] = create_customer(s, dc.name, dc.kind, dc.phones, note=dc.note).id
        created["customers"] += 1

    for ds in DEMO_SHIPMENTS:
        if s.scalars(select(Shipment.id).where(Shipment.waybill == ds.waybill)).first() is not None:
            continue
        picked_up = now - timedelta(days=ds.days_ago, hours=6)
        places = (
            f"{ds.origin}营业部",
            f"{ds.origin}-{ds.destination}干线",
            f"{ds.destination}分拨中心",
            f"{ds.destination}派送站",
            ds.destination,
        )
        events = tuple(
            ShipmentEventInput(at=min(picked_up + timedelta(hours=9 * i), now), status=stage, place=places[i])
            for i, stage in enumerate(STAGES[: ds.stages_done])
        )
        shipper = customer_ids[ds.shipper]
        shipper_phone = s.scalars(
            select(CustomerPhone.phone).where(CustomerPhone.customer_id == shipper).order_by(CustomerPhone.id)
        ).first()
        create_shipment(
            s,
            ShipmentInput(
                waybill=ds.waybill,
                origin=ds.origin,
                destination=ds.destination,
                shipper_customer_id=shipper,
                shipper_phone=shipper_phone or "",
                consignee_name=ds.consignee_name,
                consignee_phone=ds.consignee_phone,
                events=events,
            ),
        )
        created["shipments"] += 1

    for dcase in DEMO_CASES:
        cid = customer_ids[dcase.customer]
        exists = s.scalars(
            select(Case.id).where(Case.subject == dcase.subject, Case.customer_id == cid, Case.created_by == "seed")
        ).first()
        if exists is not None:
            continue
        create_case(
            s,
            CaseInput(
                kind=dcase.kind,
                subject=dcase.subject,
                description=dcase.description,
                customer_id=cid,
                waybill=dcase.waybill,
                priority=dcase.priority,
                status=dcase.status,
                department=dcase.department,
                follow_up_due=now + timedelta(hours=dcase.follow_up_hours) if dcase.follow_up_hours else None,
            ),
            by="seed",
        )
        created["cases"] += 1

    for du in DEMO_USERS:
        if s.scalars(select(User.id).where(User.username == du.username)).first() is not None:
            continue
        create_user(s, du.username, DEMO_PASSWORD, du.role, du.display_name, branch=du.branch,
                    department=du.department)
        created["users"] += 1

    s.flush()
    summary = SeedSummary(**created)
    log.info("demo data seeded: %s", summary)
    return summary

