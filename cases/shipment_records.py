"""Shipments (by waybill) with their status history, as the embedded shipment table stores them:
creating one, finding one, and a customer's latest."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, selectinload

from cases.errors import InvalidCaseInput
from cases.inputs import aware_utc, clean_text, validate_waybill
from cases.models.base import utcnow
from cases.models.customers import Customer
from cases.models.shipments import Shipment, ShipmentEvent
from cases.phones import normalize_phone
from cases.views import ShipmentEventView, ShipmentInput, ShipmentView

_SHIPMENT_LOAD = (selectinload(Shipment.shipper), selectinload(Shipment.events))


def shipment_view(sh: Shipment) -> ShipmentView:
    return ShipmentView(
        id=sh.id,
        waybill=sh.waybill,
        shipper_customer_id=sh.shipper_customer_id,
        shipper_name=sh.shipper.name if sh.shipper is not None else "",
        shipper_phone=sh.shipper_phone,
        consignee_name=sh.consignee_name,
        consignee_phone=sh.consignee_phone,
        consignee_address=sh.consignee_address,
        origin=sh.origin,
        destination=sh.destination,
        status=sh.status,
        created_at=sh.created_at,
        updated_at=sh.updated_at,
        events=tuple(ShipmentEventView(at=e.at, place=e.place, status=e.status, note=e.note) for e in sh.events),
    )



def create_shipment(s: Session, data: ShipmentInput) -> ShipmentView:
    """A shipment with its status history; its status is the latest event's."""
    waybill = validate_waybill(data.waybill)
    if s.scalars(select(Shipment.id).where(Shipment.waybill == waybill)).first() is not None:
        raise InvalidCaseInput(f"a shipment with waybill {waybill} already exists")
    if data.shipper_customer_id is not None and s.get(Customer, data.shipper_customer_id) is None:
        raise InvalidCaseInput(f"customer {data.shipper_customer_id} does not exist")
    events = sorted(data.events, key=lambda e: aware_utc(e.at, "shipment event time"))
    for e in events:
        clean_text(e.status, "shipment event status", max_len=50, required=True)
    now = utcnow()
    shipment = Shipment(
        waybill=waybill,
        shipper_customer_id=data.shipper_customer_id,
        shipper_phone=normalize_phone(data.shipper_phone),
        consignee_name=clean_text(data.consignee_name, "consignee name", max_len=100),
        consignee_phone=normalize_phone(data.consignee_phone),
        consignee_address=clean_text(data.consignee_address, "consignee address", max_len=200),
        origin=clean_text(data.origin, "origin", max_len=100),
        destination=clean_text(data.destination, "destination", max_len=100),
        status=events[-1].status.strip() if events else "",
        created_at=events[0].at if events else now,
        updated_at=events[-1].at if events else now,
        events=[ShipmentEvent(at=e.at, place=e.place, status=e.status.strip(), note=e.note) for e in events],
    )
    s.add(shipment)
    s.flush()
    return shipment_view(shipment)


def shipment_by_waybill(s: Session, waybill: str) -> Shipment | None:
    return s.scalars(select(Shipment).where(Shipment.waybill == waybill).options(*_SHIPMENT_LOAD)).one_or_none()


def find_shipment(s: Session, waybill: str) -> ShipmentView | None:
    """The shipment with its status history; `InvalidWaybill` unless 10-14 digits."""
    shipment = shipment_by_waybill(s, validate_waybill(waybill))
    return shipment_view(shipment) if shipment is not None else None


def customer_shipments(s: Session, customer: Customer, limit: int) -> list[Shipment]:
    phones = [p.phone for p in customer.phones]
    cond: ColumnElement[bool] = Shipment.shipper_customer_id == customer.id
    if phones:
        cond = or_(cond, Shipment.consignee_phone.in_(phones))
    stmt = (
        select(Shipment)
        .where(cond)
        .options(*_SHIPMENT_LOAD)
        .order_by(Shipment.created_at.desc(), Shipment.id.desc())
        .limit(limit)
    )
    return list(s.scalars(stmt).all())

