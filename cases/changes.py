"""Consignee / consignee-phone change requests (更改收货人/联系电话): requested → applied (approved: the
shipment is updated) or rejected. Rules in `cases.workflow.CHANGE_REQUEST`; audited (entity
"change_request", and "shipment" for the update itself)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.audit import record_audit
from cases.case_records import load_case
from cases.errors import ChangeRequestNotFound, InvalidWorkflowInput
from cases.inputs import aware_utc, clean_text, clean_username, parse_enum
from cases.models.base import utcnow
from cases.models.case import Case
from cases.models.shipments import Shipment
from cases.models.workflows import ChangeRequest
from cases.phones import normalize_phone
from cases.vocab import CaseKind, CaseStatus, ChangeField, ChangeStage
from cases.workflow import CHANGE_REQUEST


@dataclass(frozen=True, slots=True)
class ChangeRequestView:
    id: int
    case_id: int
    waybill: str
    field: ChangeField
    old_value: str
    new_value: str
    stage: ChangeStage
    reason: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str
    allowed_actions: tuple[str, ...]


def _view(r: ChangeRequest, waybill: str) -> ChangeRequestView:
    return ChangeRequestView(
        id=r.id,
        case_id=r.case_id,
        waybill=waybill,
        field=ChangeField(r.field),
        old_value=r.old_value,
        new_value=r.new_value,
        stage=ChangeStage(r.stage),
        reason=r.reason,
        requested_by=r.requested_by,
        requested_at=r.requested_at,
        decided_by=r.decided_by,
        decided_at=r.decided_at,
        decision_note=r.decision_note,
        allowed_actions=CHANGE_REQUEST.allowed(r.stage),
    )


def _clean_value(fld: ChangeField, value: str) -> str:
    if fld is ChangeField.CONSIGNEE_PHONE:
        phone = normalize_phone(value)
        if not 5 <= len(phone) <= 32:
            raise InvalidWorkflowInput(f"{value!r} is not a phone number")
        return phone
    return clean_text(value, "consignee name", max_len=100, required=True)


def request_change(
    s: Session, case_id: int, *, field: str, new_value: str, reason: str = "", by: str, at: datetime | None = None
) -> ChangeRequestView:
    """Ask for a change of the case's shipment (the case must be a change request with a waybill)."""
    who = clean_username(by, "requested_by")
    fld = parse_enum(ChangeField, field, "change field", InvalidWorkflowInput)
    value = _clean_value(fld, new_value)
    why = clean_text(reason, "reason", max_len=10_000)
    now = aware_utc(at, "time") if at is not None else utcnow()
    case = load_case(s, case_id, for_update=True)
    if case.kind != CaseKind.CHANGE_REQUEST:
        raise InvalidWorkflowInput(f"case {case.number} is a {case.kind}, not a change request")
    if case.shipment is None:
        raise InvalidWorkflowInput(f"case {case.number} has no shipment to change")
    current = str(getattr(case.shipment, fld.value))
    if current == value:
        raise InvalidWorkflowInput(f"the {fld.value} of {case.shipment.waybill} is already {value!r}")
    r = ChangeRequest(
        case_id=case.id,
        shipment_id=case.shipment.id,
        field=fld.value,
        old_value=current,
        new_value=value,
        stage=CHANGE_REQUEST.initial,
        reason=why,
        requested_by=who,
        requested_at=now,
    )
    s.add(r)
    if case.status == CaseStatus.OPEN:
        case.status = CaseStatus.IN_PROGRESS.value
    case.updated_at = now
    s.flush()
    record_audit(
        s,
        who,
        "change_request.request",
        "change_request",
        r.id,
        {
            "case": case.number,
            "waybill": case.shipment.waybill,
            "field": fld.value,
            "from_value": current,
            "to_value": value,
            "to": r.stage,
        },
    )
    s.flush()
    return _view(r, case.shipment.waybill)


def _load(s: Session, request_id: int) -> tuple[ChangeRequest, Shipment, Case]:
    r = s.get(ChangeRequest, request_id, with_for_update=True)
    if r is None:
        raise ChangeRequestNotFound(f"change request {request_id} does not exist")
    shipment = s.get(Shipment, r.shipment_id, with_for_update=True)
    case = s.get(Case, r.case_id)
    assert shipment is not None and case is not None
    return r, shipment, case


def approve_change(
    s: Session, request_id: int, *, note: str = "", by: str, at: datetime | None = None
) -> ChangeRequestView:
    """Approve: the shipment gets the new value (the old one is kept on the request and in the audit)."""
    who = clean_username(by, "approved_by")
    text = clean_text(note, "note", max_len=10_000)
    now = aware_utc(at, "time") if at is not None else utcnow()
    r, shipment, case = _load(s, request_id)
    old_stage = r.stage
    r.stage = CHANGE_REQUEST.step(r.id, r.stage, "approve")
    before = str(getattr(shipment, r.field))
    setattr(shipment, r.field, r.new_value)
    shipment.updated_at = now
    r.old_value, r.decided_by, r.decided_at, r.decision_note = before, who, now, text
    case.status, case.updated_at = CaseStatus.RESOLVED.value, now
    s.flush()
    record_audit(s, who, "change_request.approve", "change_request", r.id,
                 {"from": old_stage, "to": r.stage, "note": text})
    record_audit(
        s,
        who,
        "shipment.update",
        "shipment",
        shipment.id,
        {
            "waybill": shipment.waybill,
            "changes": {r.field: {"from": before, "to": r.new_value}},
            "change_request": r.id,
        },
    )
    s.flush()
    return _view(r, shipment.waybill)


def reject_change(s: Session, request_id: int, *, note: str, by: str, at: datetime | None = None) -> ChangeRequestView:
    """Reject (a reason is required); the shipment is not touched."""
    who = clean_username(by, "rejected_by")
    text = clean_text(note, "note", max_len=10_000, required=True)
    now = aware_utc(at, "time") if at is not None else utcnow()
    r, shipment, case = _load(s, request_id)
    old_stage = r.stage
    r.stage = CHANGE_REQUEST.step(r.id, r.stage, "reject")
    r.decided_by, r.decided_at, r.decision_note = who, now, text
    case.updated_at = now
    s.flush()
    record_audit(s, who, "change_request.reject", "change_request", r.id,
                 {"from": old_stage, "to": r.stage, "note": text})
    s.flush()
    return _view(r, shipment.waybill)


def list_change_requests(s: Session, *, stage: str | None = None, limit: int = 100) -> tuple[ChangeRequestView, ...]:
    stmt = select(ChangeRequest, Shipment.waybill).join(Shipment, Shipment.id == ChangeRequest.shipment_id)
    if stage is not None:
        stmt = stmt.where(ChangeRequest.stage == parse_enum(ChangeStage, stage, "stage", InvalidWorkflowInput).value)
    stmt = stmt.order_by(ChangeRequest.requested_at.desc(), ChangeRequest.id.desc()).limit(max(1, min(limit, 1000)))
    return tuple(_view(r, wb) for r, wb in s.execute(stmt).all())
