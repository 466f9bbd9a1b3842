"""The caller context of a screen pop: who is calling, which shipment, the caller's previous calls and
open cases, all from the caller's phone number (`cases.phones.phones_match`) and the waybill typed."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, or_, select, union
from sqlalchemy.orm import Session, selectinload

from cases.call_records import call_view
from cases.case_records import SUMMARY_LOAD, case_summary
from cases.customers import customer_view, match_customer
from cases.errors import InvalidWaybill, ShipmentSourceError, UnknownWaybill
from cases.inputs import validate_waybill
from cases.models.calls import Call
from cases.models.case import Case, case_calls
from cases.models.shipments import Shipment
from cases.phones import normalize_phone, phone_tail, phones_match
from cases.shipment_records import customer_shipments, shipment_by_waybill, shipment_view
from cases.views import CallerContext, ShipmentView, WaybillLookup
from cases.vocab import OPEN_STATUSES

if TYPE_CHECKING:
    from cases.shipment_sources import ShipmentSource

log = logging.getLogger(__name__)

PREVIOUS_CALLS_LIMIT = 10
PREVIOUS_CALLS_MARGIN = 5  # rows read beyond the limit, for those `phones_match` rejects
RECENT_SHIPMENTS_LIMIT = 5
OPEN_CASES_LIMIT = 20


def _calls_of_phone(
    s: Session, norm: str, customer_id: int | None, limit: int, exclude_linkedid: str | None = None
) -> list[Call]:
    """Calls from this phone (or a suffix-matching one) and, if known, from the customer's phones.

    The SQL filter (the indexed tail key) lets through few calls that `phones_match` then rejects (the
    same 8-digit local number in another city), so a page of `limit` plus a small margin is read, and
    a further page only while rejected rows left the result short."""
    conds = _phone_call_conds(norm)
    if customer_id is not None:
        conds.append(Call.customer_id == customer_id)
    if not conds:
        return []
    # one indexed lookup per condition: with OR'd conditions SQLite walks the whole started_at index
    # for the ORDER BY instead
    ids = union(*(select(Call.id).where(cond) for cond in conds)) if len(conds) > 1 else select(Call.id).where(conds[0])
    stmt = select(Call).where(Call.id.in_(ids)).options(selectinload(Call.customer))
    if exclude_linkedid:
        stmt = stmt.where(Call.linkedid != exclude_linkedid)
    stmt = stmt.order_by(Call.started_at.desc().nulls_last(), Call.id.desc())
    page = limit + PREVIOUS_CALLS_MARGIN
    matched: list[Call] = []
    seen: set[int] = set()
    offset = 0
    while len(matched) < limit:
        rows = s.scalars(stmt.offset(offset).limit(page)).all()
        for c in rows:
            if c.id in seen:  # a call stored between two pages shifts the next one
                continue
            seen.add(c.id)
            if (customer_id is not None and c.customer_id == customer_id) or phones_match(c.caller_norm, norm):
                matched.append(c)
        if len(rows) < page:
            break
        offset += page
    return matched[:limit]


def _phone_call_conds(norm: str) -> list[ColumnElement[bool]]:
    """SQL conditions a call from this phone meets (a superset: check `phones_match` on the rows).
    Every call `phones_match` accepts has the same tail key (an index lookup); a number too short
    for one only matches itself."""
    if not norm:
        return []
    key = phone_tail(norm)
    return [Call.caller_norm == norm if key is None else Call.caller_tail == key]


def _open_case_ids_of_phone(s: Session, norm: str) -> set[int]:
    """Open cases linked to a call from this phone. Only the links of open cases are read, so the
    work does not grow with the phone's calls (a busy line has thousands: loading them all on every
    screen pop is what made the console fall behind under load)."""
    conds = _phone_call_conds(norm)
    if not conds:
        return set()
    stmt = (
        select(case_calls.c.case_id, Call.caller_norm)
        .join(Call, Call.id == case_calls.c.call_id)
        .join(Case, Case.id == case_calls.c.case_id)
        .where(or_(*conds), Case.status.in_([st.value for st in OPEN_STATUSES]))
    )
    return {case_id for case_id, caller_norm in s.execute(stmt) if phones_match(caller_norm, norm)}



def caller_context(
    s: Session,
    phone: str,
    waybill: str | None = None,
    *,
    exclude_linkedid: str | None = None,
    shipments: ShipmentSource | None = None,
) -> CallerContext:
    """Everything the screen pop shows for a caller: who, which shipment, history, open cases.

    An ill-formed waybill does not raise: it is reported as `WaybillLookup.INVALID`; a shipment
    source (`cases.shipment_sources`, default the embedded table) that cannot answer gives
    `WaybillLookup.UNAVAILABLE`. `exclude_linkedid` leaves the ringing call itself out of the
    previous calls.
    """
    norm = normalize_phone(phone)
    customer = match_customer(s, norm)

    shipment: ShipmentView | None = None
    wb = (waybill or "").strip()
    if not wb:
        lookup = WaybillLookup.NONE
    else:
        try:
            wb = validate_waybill(wb)
        except InvalidWaybill:
            lookup = WaybillLookup.INVALID
        else:
            if shipments is None:
                row = shipment_by_waybill(s, wb)
                shipment = shipment_view(row) if row is not None else None
                lookup = WaybillLookup.FOUND if shipment is not None else WaybillLookup.NOT_FOUND
            else:
                try:
                    shipment = shipments.lookup(s, wb)
                    lookup = WaybillLookup.FOUND
                except UnknownWaybill:
                    lookup = WaybillLookup.NOT_FOUND
                except ShipmentSourceError as exc:
                    log.warning("screen pop: waybill %s not looked up: %s", wb, exc)
                    lookup = WaybillLookup.UNAVAILABLE
    recent: list[Shipment] = []
    if shipment is None and customer is not None:
        recent = customer_shipments(s, customer, RECENT_SHIPMENTS_LIMIT)

    customer_id = customer.id if customer is not None else None
    previous = _calls_of_phone(s, norm, customer_id, PREVIOUS_CALLS_LIMIT, exclude_linkedid)

    case_conds: list[ColumnElement[bool]] = []
    if customer_id is not None:
        case_conds.append(Case.customer_id == customer_id)
    phone_case_ids = _open_case_ids_of_phone(s, norm)
    if phone_case_ids:
        case_conds.append(Case.id.in_(phone_case_ids))
    open_cases: list[Case] = []
    if case_conds:
        stmt = (
            select(Case)
            .where(or_(*case_conds), Case.status.in_([st.value for st in OPEN_STATUSES]))
            .options(*SUMMARY_LOAD)
            .order_by(Case.created_at.desc(), Case.id.desc())
            .limit(OPEN_CASES_LIMIT)
        )
        open_cases = list(s.scalars(stmt).all())

    return CallerContext(
        phone=phone,
        phone_normalized=norm,
        customer=customer_view(customer) if customer is not None else None,
        waybill=waybill,
        waybill_lookup=lookup,
        shipment=shipment,
        recent_shipments=tuple(shipment_view(sh) for sh in recent),
        previous_calls=tuple(call_view(c) for c in previous),
        open_cases=tuple(case_summary(c) for c in open_cases),
    )

