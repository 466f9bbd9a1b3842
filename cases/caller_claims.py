"""A caller's claims: the one the phone menu's claim status tells (by the claim's case number, or by the
waybill the claim is about, the caller's own claim first), and the stage (理赔阶段) of the claims a screen pop
lists, so the agent can 督促理赔员按时完成理赔. Every lookup is an indexed one (case number, waybill, the case's
shipment and customer, the claim's case): no window of newest cases that would hide an old claim."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.case_records import SUMMARY_LOAD, case_summary, find_case_by_number
from cases.customers import match_customer
from cases.errors import InvalidWaybill
from cases.inputs import validate_waybill
from cases.models.case import Case
from cases.models.shipments import Shipment
from cases.models.workflows import Claim
from cases.phones import normalize_phone
from cases.views import CaseSummaryView
from cases.vocab import OPEN_STATUSES, CaseKind, ClaimStage

CASE_NUMBER_DIGITS = 12  # C<yyyymmdd>-<nnnn> keyed without its letter and dash


def claim_case_by_digits(s: Session, digits: str) -> CaseSummaryView | None:
    """The claim case whose number the digits spell (`202611020001` → C20261102-0001)."""
    if len(digits) != CASE_NUMBER_DIGITS or not digits.isdigit():
        return None
    return find_case_by_number(s, f"C{digits[:8]}-{digits[8:]}", CaseKind.CLAIM.value)


def claim_cases_of_waybill(s: Session, waybill: str, caller: str = "") -> tuple[CaseSummaryView, ...]:
    """The claim cases about the shipment `waybill`, however old: the caller's own (its customer, matched by
    phone) first, then open before ended ones, newest first within each."""
    try:
        wb = validate_waybill(waybill)
    except InvalidWaybill:
        return ()
    shipment_id = s.scalar(select(Shipment.id).where(Shipment.waybill == wb))
    if shipment_id is None:
        return ()
    rows = s.scalars(
        select(Case)
        .where(Case.shipment_id == shipment_id, Case.kind == CaseKind.CLAIM.value)
        .options(*SUMMARY_LOAD)
        .order_by(Case.created_at.desc(), Case.id.desc())
    ).all()
    customer = match_customer(s, normalize_phone(caller)) if caller and rows else None
    mine = customer.id if customer is not None else None
    open_values = {st.value for st in OPEN_STATUSES}
    ranked = sorted(rows, key=lambda c: (c.customer_id != mine or mine is None, c.status not in open_values))
    return tuple(case_summary(c) for c in ranked)


def find_caller_claim(s: Session, digits: str, caller: str = "") -> CaseSummaryView | None:
    """The claim the caller asks about in the phone menu: by its case number, else by its waybill."""
    by_number = claim_case_by_digits(s, digits)
    if by_number is not None:
        return by_number
    found = claim_cases_of_waybill(s, digits, caller)
    return found[0] if found else None


def claim_stages(s: Session, case_ids: Iterable[int]) -> dict[int, ClaimStage]:
    """The claim stage of each of these cases that has a claim record (case id → stage)."""
    ids = sorted(set(case_ids))
    if not ids:
        return {}
    rows = s.execute(select(Claim.case_id, Claim.stage).where(Claim.case_id.in_(ids))).all()
    return {case_id: ClaimStage(stage) for case_id, stage in rows}
