"""Consignee changes (更改收货人/联系电话/收货地址): an agent requests one on a change-request case
(`request_change`: 待审批), a supervisor approves it (`approve_change`: the shipment source is updated,
已更改) or refuses it with a reason (`reject_change`: 已驳回). Either decision makes the callback (回电)
the requesting agent owes the customer (cases.change_callbacks). Rules in `cases.workflow.CHANGE_REQUEST`;
audited (entity "change_request", "shipment" for the update itself, "change_callback").

Approval with a transport-management system (the `http` shipment source) tells it first
(cases.shipment_updates); when it refuses or cannot be reached the error propagates before anything is
written: the request stays requested and the table copy keeps its value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.audit import record_audit
from cases.case_records import load_case
from cases.change_callbacks import create_callback
from cases.errors import ChangeAlreadyWaiting, ChangeRequestNotFound, InvalidWorkflowInput
from cases.inputs import aware_utc, clean_text, clean_username, parse_enum
from cases.models.base import utcnow
from cases.models.case import Case
from cases.models.shipments import Shipment
from cases.models.workflows import ChangeRequest
from cases.phones import normalize_phone
from cases.shipment_sources import ShipmentSource
from cases.shipment_updates import ShipmentChange, push_change
from cases.vocab import CaseKind, CaseStatus, ChangeField, ChangeStage
from cases.workflow import CHANGE_REQUEST

MAX_LEN = {ChangeField.CONSIGNEE_NAME: 100, ChangeField.CONSIGNEE_ADDRESS: 200}


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
    case_number: str = ""


def _view(r: ChangeRequest, waybill: str, case_number: str = "") -> ChangeRequestView:
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
        case_number=case_number,
    )


def _clean_value(fld: ChangeField, value: str) -> str:
    if fld is ChangeField.CONSIGNEE_PHONE:
        phone = normalize_phone(value)
        if not 5 <= len(phone) <= 32:
            raise InvalidWorkflowInput(f"{value!r} is not a phone number")
        return phone
    what = "consignee address" if fld is ChangeField.CONSIGNEE_ADDRESS else "consignee name"
    return clean_text(value, what, max_len=MAX_LEN[fld], required=True)


def request_change(
    s: Session, case_id: int, *, field: str, new_value: str, reason: str = "", by: str, at: datetime | None = None
) -> ChangeRequestView:
    """Ask for a change of the case's shipment (the case must be a change request with a waybill; one
    request per field of a shipment waits for approval at a time)."""
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
    waiting = s.scalars(select(ChangeRequest.id).where(
        ChangeRequest.shipment_id == case.shipment.id, ChangeRequest.field == fld.value,
        ChangeRequest.stage == ChangeStage.REQUESTED.value)).first()
    if waiting is not None:
        raise ChangeAlreadyWaiting(
            f"a change of the {fld.value} of {case.shipment.waybill} is already waiting for approval "
            f"(change request {waiting})", waiting)
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
    return _view(r, case.shipment.waybill, case.number)


def _load(s: Session, request_id: int) -> tuple[ChangeRequest, Shipment, Case]:
    r = s.get(ChangeRequest, request_id, with_for_update=True)
    if r is None:
        raise ChangeRequestNotFound(f"change request {request_id} does not exist")
    shipment = s.get(Shipment, r.shipment_id, with_for_update=True)
    case = s.get(Case, r.case_id)
    assert shipment is not None and case is not None
    return r, shipment, case


def approve_change(
    s: Session, request_id: int, *, note: str = "", by: str, at: datetime | None = None,
    source: ShipmentSource | None = None,
) -> ChangeRequestView:
    """Approve: the shipment source gets the new value (a transport-management system first, then the
    table copy; the old value is kept on the request and in the audit) and the requester is given the
    callback. A TMS that refuses or cannot be reached raises (`ShipmentSourceError`) before anything is
    written."""
    who = clean_username(by, "approved_by")
    text = clean_text(note, "note", max_len=10_000)
    now = aware_utc(at, "time") if at is not None else utcnow()
    r, shipment, case = _load(s, request_id)
    old_stage = r.stage
    new_stage = CHANGE_REQUEST.step(r.id, r.stage, "approve")
    before = str(getattr(shipment, r.field))
    told = push_change(source, ShipmentChange(waybill=shipment.waybill, field=r.field, from_value=before,
                                              to_value=r.new_value, reference=f"change_request:{r.id}",
                                              changed_by=who))
    r.stage = new_stage
    setattr(shipment, r.field, r.new_value)
    shipment.updated_at = now
    r.old_value, r.decided_by, r.decided_at, r.decision_note = before, who, now, text
    case.status, case.updated_at = CaseStatus.RESOLVED.value, now
    s.flush()
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
            "source": told,
        },
    )
    create_callback(s, r, case, by=who, at=now)
    record_audit(s, who, "change_request.approve", "change_request", r.id,
                 {"from": old_stage, "to": r.stage, "note": text, "source": told})
    s.flush()
    return _view(r, shipment.waybill, case.number)


def reject_change(s: Session, request_id: int, *, note: str, by: str, at: datetime | None = None) -> ChangeRequestView:
    """Refuse (a reason is required); the shipment is not touched; the requester is given the callback."""
    who = clean_username(by, "rejected_by")
    text = clean_text(note, "reason", max_len=10_000, required=True)
    now = aware_utc(at, "time") if at is not None else utcnow()
    r, shipment, case = _load(s, request_id)
    old_stage = r.stage
    r.stage = CHANGE_REQUEST.step(r.id, r.stage, "reject")
    r.decided_by, r.decided_at, r.decision_note = who, now, text
    case.updated_at = now
    s.flush()
    create_callback(s, r, case, by=who, at=now)
    record_audit(s, who, "change_request.reject", "change_request", r.id,
                 {"from": old_stage, "to": r.stage, "note": text})
    s.flush()
    return _view(r, shipment.waybill, case.number)


def get_change_request(s: Session, request_id: int) -> ChangeRequestView:
    row = s.execute(
        select(ChangeRequest, Shipment.waybill, Case.number)
        .join(Shipment, Shipment.id == ChangeRequest.shipment_id)
        .join(Case, Case.id == ChangeRequest.case_id)
        .where(ChangeRequest.id == request_id)
    ).one_or_none()
    if row is None:
        raise ChangeRequestNotFound(f"change request {request_id} does not exist")
    return _view(*row)


def list_change_requests(
    s: Session, *, stage: str | None = None, case_id: int | None = None, limit: int = 100
) -> tuple[ChangeRequestView, ...]:
    """Newest first; of one stage, of one case."""
    stmt = (
        select(ChangeRequest, Shipment.waybill, Case.number)
        .join(Shipment, Shipment.id == ChangeRequest.shipment_id)
        .join(Case, Case.id == ChangeRequest.case_id)
    )
    if stage is not None:
        stmt = stmt.where(ChangeRequest.stage == parse_enum(ChangeStage, stage, "stage", InvalidWorkflowInput).value)
    if case_id is not None:
        stmt = stmt.where(ChangeRequest.case_id == case_id)
    stmt = stmt.order_by(ChangeRequest.requested_at.desc(), ChangeRequest.id.desc()).limit(max(1, min(limit, 1000)))
    return tuple(_view(r, wb, number) for r, wb, number in s.execute(stmt).all())
