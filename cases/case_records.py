"""Cases: opening one (numbered C<yyyymmdd>-<nnnn> by the centre's day), changing it (status rules in
`cases.workflow`), linking calls to it, and reading cases back. Every change is audited."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from cases.audit import iso_utc, record_audit
from cases.call_checks import check_view, entity_views
from cases.call_records import call_by_linkedid, call_view, ensure_call
from cases.customers import customer_view
from cases.errors import CallNotFound, CaseNotFound, InvalidCaseInput, InvalidWaybill
from cases.ids import is_row_id
from cases.inputs import aware_utc, clean_text, clean_username, parse_enum, validate_waybill
from cases.local_time import CHINA_TZ
from cases.models.base import utcnow
from cases.models.call_analysis import CallCheckResult, CallEntity
from cases.models.calls import Call
from cases.models.case import Case, CaseCounter, case_calls
from cases.models.customers import Customer
from cases.models.shipments import Shipment
from cases.shipment_records import shipment_by_waybill, shipment_view
from cases.transcript_records import transcript_view
from cases.views import UNSET, CaseCallView, CaseInput, CaseSummaryView, CaseUpdate, CaseView
from cases.vocab import CaseKind, CaseStatus, Department, Priority
from cases.workflow import check_case_status

log = logging.getLogger(__name__)

REFERRAL_FOLLOW_UP = timedelta(hours=24)
DESCRIPTION_MAX_LEN = 10_000  # a case's description when it is opened (notes add at most 10,000 each)

SUMMARY_LOAD = (selectinload(Case.customer), selectinload(Case.shipment))


def case_summary(c: Case) -> CaseSummaryView:
    return CaseSummaryView(
        id=c.id,
        number=c.number,
        kind=CaseKind(c.kind),
        status=CaseStatus(c.status),
        subject=c.subject,
        priority=Priority(c.priority),
        customer_id=c.customer_id,
        customer_name=c.customer.name if c.customer is not None else None,
        waybill=c.shipment.waybill if c.shipment is not None else None,
        department=Department(c.department) if c.department else None,
        assigned_to=c.assigned_to,
        follow_up_due=c.follow_up_due,
        created_by=c.created_by,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


def case_view(c: Case) -> CaseView:
    return CaseView(
        id=c.id,
        number=c.number,
        kind=CaseKind(c.kind),
        status=CaseStatus(c.status),
        subject=c.subject,
        description=c.description,
        priority=Priority(c.priority),
        customer=customer_view(c.customer) if c.customer is not None else None,
        shipment=shipment_view(c.shipment) if c.shipment is not None else None,
        department=Department(c.department) if c.department else None,
        assigned_to=c.assigned_to,
        follow_up_due=c.follow_up_due,
        created_by=c.created_by,
        created_at=c.created_at,
        updated_at=c.updated_at,
        calls=tuple(
            CaseCallView(
                call=call_view(call),
                transcripts=tuple(transcript_view(t, call.linkedid) for t in call.transcripts),
                check=check_view(call.quality_check) if call.quality_check is not None else None,
                entities=entity_views(call.entities),
                assigned=tuple(a.agent for a in call.assignments),
            )
            for call in c.calls
        ),
    )



def _next_case_number(s: Session, now: datetime) -> str:
    """C<yyyymmdd>-<nnnn> by the centre's calendar day; the per-day counter is bumped atomically."""
    day = now.astimezone(CHINA_TZ).strftime("%Y%m%d")
    bump = {"last": CaseCounter.last + 1}
    if s.get_bind().dialect.name == "postgresql":
        pg = pg_insert(CaseCounter).values(day=day, last=1)
        stmt = pg.on_conflict_do_update(index_elements=[CaseCounter.day], set_=bump).returning(CaseCounter.last)
    else:
        lite = sqlite_insert(CaseCounter).values(day=day, last=1)
        stmt = lite.on_conflict_do_update(index_elements=[CaseCounter.day], set_=bump).returning(CaseCounter.last)
    n = s.execute(stmt).scalar_one()
    return f"C{day}-{n:04d}"


def _link_call_row(s: Session, case: Case, linkedid: str, pending_ok: bool) -> Call:
    """The call to link; a call not yet recorded (still ringing) gets a pending row that `record_call`
    fills in later when `pending_ok` (the caller vouches that the call is live), else CallNotFound."""
    lid = linkedid.strip()
    if not lid or len(lid) > 64:
        raise InvalidCaseInput(f"linkedid {linkedid!r} is not valid")
    if not pending_ok:
        call = call_by_linkedid(s, lid)
        if call is None:
            raise CallNotFound(f"no call {lid}")
        return call
    call, created = ensure_call(s, lid)
    if created:
        log.info("call %s linked to a case before it was recorded: stored as pending", lid)
    return call


def create_case(s: Session, data: CaseInput, by: str, *, pending_ok: bool = True) -> CaseView:
    """Open a case (validated; audited as case.create). Referred cases need a department and get a
    follow-up deadline (default: 24 hours). A `linkedid` not stored yet is linked as a pending call if
    `pending_ok` (the IVR's own live call; the console only for a call live with the user), else
    CallNotFound and nothing is stored."""
    who = clean_username(by, "created_by")
    kind = parse_enum(CaseKind, data.kind, "case kind")
    status = parse_enum(CaseStatus, data.status, "case status")
    priority = parse_enum(Priority, data.priority, "priority")
    department = parse_enum(Department, data.department, "department") if data.department is not None else None
    subject = clean_text(data.subject, "subject", max_len=200, required=True)
    description = clean_text(data.description, "description", max_len=DESCRIPTION_MAX_LEN)
    assigned_to = clean_username(data.assigned_to, "assigned_to") if data.assigned_to else None
    follow_up_due = aware_utc(data.follow_up_due, "follow_up_due") if data.follow_up_due is not None else None
    if status is CaseStatus.REFERRED and department is None:
        raise InvalidCaseInput("a referred case needs a department to refer it to")

    customer: Customer | None = None
    if data.customer_id is not None:
        if not is_row_id(data.customer_id):
            raise InvalidCaseInput(f"customer {data.customer_id!r} is not a customer id")
        customer = s.get(Customer, data.customer_id)
        if customer is None:
            raise InvalidCaseInput(f"customer {data.customer_id} does not exist")
    shipment: Shipment | None = None
    if data.waybill is not None and data.waybill.strip():
        try:
            waybill = validate_waybill(data.waybill)
        except InvalidWaybill as exc:
            raise InvalidCaseInput(str(exc)) from None
        shipment = shipment_by_waybill(s, waybill)
        if shipment is None:
            raise InvalidCaseInput(f"no shipment with waybill {waybill}")

    now = utcnow()
    if status is CaseStatus.REFERRED and follow_up_due is None:
        follow_up_due = now + REFERRAL_FOLLOW_UP
    case = Case(
        number="",
        kind=kind.value,
        status=status.value,
        subject=subject,
        description=description,
        priority=priority.value,
        customer=customer,
        shipment=shipment,
        created_by=who,
        assigned_to=assigned_to,
        department=department.value if department is not None else None,
        follow_up_due=follow_up_due,
        created_at=now,
        updated_at=now,
    )
    if data.linkedid is not None:
        call = _link_call_row(s, case, data.linkedid, pending_ok)
        case.calls.append(call)
        if case.customer is None and call.customer is not None:
            case.customer = call.customer
    case.number = _next_case_number(s, now)
    s.add(case)
    s.flush()
    record_audit(
        s,
        who,
        "case.create",
        "case",
        case.id,
        {
            "number": case.number,
            "kind": case.kind,
            "status": case.status,
            "priority": case.priority,
            "subject": case.subject,
            "customer_id": case.customer_id,
            "waybill": shipment.waybill if shipment is not None else None,
            "linkedid": data.linkedid,
            "department": case.department,
            "assigned_to": case.assigned_to,
            "follow_up_due": iso_utc(case.follow_up_due),
        },
    )
    s.flush()
    log.info("case %s (%s) created by %s", case.number, case.kind, who)
    return case_view(case)


def load_case(s: Session, case_id: int, *, for_update: bool = False) -> Case:
    case = s.get(
        Case,
        case_id,
        options=[
            selectinload(Case.customer).selectinload(Customer.phones),
            selectinload(Case.shipment).selectinload(Shipment.events),
            selectinload(Case.shipment).selectinload(Shipment.shipper),
            selectinload(Case.calls).selectinload(Call.transcripts),
            selectinload(Case.calls).selectinload(Call.customer),
            selectinload(Case.calls).selectinload(Call.quality_check).selectinload(CallCheckResult.findings),
            selectinload(Case.calls).selectinload(Call.entities).selectinload(CallEntity.shipment),
            selectinload(Case.calls).selectinload(Call.assignments),
        ],
        with_for_update=for_update,
    )
    if case is None:
        raise CaseNotFound(f"case {case_id} does not exist")
    return case


def update_case(s: Session, case_id: int, data: CaseUpdate, by: str) -> CaseView:
    """Change a case (validated before anything changes; audited as case.update with the changes).

    Status transitions follow `cases.workflow.CASE_STATUS_TRANSITIONS`; referring needs a department (given here or
    already set) and sets a follow-up deadline if none; a closed case only takes notes.
    """
    who = clean_username(by, "updated_by")
    case = load_case(s, case_id, for_update=True)
    old_status = CaseStatus(case.status)
    changes: dict[str, dict[str, Any]] = {}

    new_status = parse_enum(CaseStatus, data.status, "case status") if data.status is not None else old_status
    priority = parse_enum(Priority, data.priority, "priority") if data.priority is not None else None
    note = clean_text(data.note, "note", max_len=10_000) if data.note is not None else ""

    department: str | None = case.department
    if data.department is not UNSET:
        department = parse_enum(Department, data.department, "department").value if data.department else None
    assigned_to: str | None = case.assigned_to
    if data.assigned_to is not UNSET:
        assigned_to = clean_username(data.assigned_to, "assigned_to") if data.assigned_to else None
    follow_up_due: datetime | None = case.follow_up_due
    if data.follow_up_due is not UNSET:
        follow_up_due = aware_utc(data.follow_up_due, "follow_up_due") if data.follow_up_due else None

    check_case_status(case.number, old_status, new_status)
    if old_status is CaseStatus.CLOSED and (
        (priority is not None and priority.value != case.priority)
        or department != case.department
        or assigned_to != case.assigned_to
        or follow_up_due != case.follow_up_due
    ):
        raise InvalidCaseInput(f"case {case.number} is closed: only notes can be added")
    if new_status is CaseStatus.REFERRED and department is None:
        raise InvalidCaseInput(f"case {case.number}: referring needs a department to refer it to")

    now = utcnow()
    if new_status is CaseStatus.REFERRED and old_status is not CaseStatus.REFERRED and follow_up_due is None:
        follow_up_due = now + REFERRAL_FOLLOW_UP

    def change(field: str, old: object, new: object) -> None:
        if old != new:
            changes[field] = {
                "from": iso_utc(old) if isinstance(old, datetime) else old,
                "to": iso_utc(new) if isinstance(new, datetime) else new,
            }

    change("status", case.status, new_status.value)
    if priority is not None:
        change("priority", case.priority, priority.value)
    change("department", case.department, department)
    change("assigned_to", case.assigned_to, assigned_to)
    change("follow_up_due", case.follow_up_due, follow_up_due)
    if not changes and not note:
        return case_view(case)

    case.status = new_status.value
    if priority is not None:
        case.priority = priority.value
    case.department = department
    case.assigned_to = assigned_to
    case.follow_up_due = follow_up_due
    detail: dict[str, Any] = {"changes": changes}
    if note:
        stamp = now.strftime("%Y-%m-%d %H:%M UTC")
        entry = f"[{stamp} {who}] {note}"
        case.description = f"{case.description}\n\n{entry}" if case.description else entry
        detail["note"] = note
    case.updated_at = now
    s.flush()
    record_audit(s, who, "case.update", "case", case.id, detail)
    s.flush()
    log.info("case %s updated by %s: %s", case.number, who, ", ".join(changes) or "note")
    return case_view(case)


def link_call(s: Session, case_id: int, linkedid: str, by: str, *, pending_ok: bool = True) -> CaseView:
    """Link one more call to a case (idempotent); a call not yet recorded is linked as pending if
    `pending_ok`, else CallNotFound."""
    who = clean_username(by, "linked_by")
    case = load_case(s, case_id, for_update=True)
    call = _link_call_row(s, case, linkedid, pending_ok)
    if call not in case.calls:
        case.calls.append(call)
        if case.customer is None and call.customer is not None:
            case.customer = call.customer
        case.updated_at = utcnow()
        s.flush()
        record_audit(s, who, "case.link_call", "case", case.id, {"linkedid": call.linkedid})
        s.flush()
    return case_view(case)


def get_case(s: Session, case_id: int) -> CaseView:
    """A case with its customer, shipment (with history), and linked calls with their transcripts."""
    return case_view(load_case(s, case_id))



def list_cases(
    s: Session, *, status: str | None = None, kind: str | None = None, limit: int = 50
) -> tuple[CaseSummaryView, ...]:
    """Cases, newest first, optionally filtered by status and kind."""
    if not 1 <= limit <= 1000:
        raise InvalidCaseInput(f"limit must be between 1 and 1000, got {limit}")
    stmt = select(Case).options(*SUMMARY_LOAD)
    if status is not None:
        stmt = stmt.where(Case.status == parse_enum(CaseStatus, status, "case status").value)
    if kind is not None:
        stmt = stmt.where(Case.kind == parse_enum(CaseKind, kind, "case kind").value)
    stmt = stmt.order_by(Case.created_at.desc(), Case.id.desc()).limit(limit)
    return tuple(case_summary(c) for c in s.scalars(stmt).all())


def find_case_by_number(s: Session, number: str, kind: str | None = None) -> CaseSummaryView | None:
    """The case with this number (`C20261207-0003`), of `kind` if given; None when there is none."""
    stmt = select(Case).options(*SUMMARY_LOAD).where(Case.number == number)
    if kind is not None:
        stmt = stmt.where(Case.kind == parse_enum(CaseKind, kind, "case kind").value)
    case = s.scalars(stmt).first()
    return case_summary(case) if case is not None else None


def cases_for_call(s: Session, linkedid: str) -> tuple[CaseSummaryView, ...]:
    """The cases a call is linked to (empty if the call is unknown), oldest first."""
    stmt = (
        select(Case)
        .join(case_calls, case_calls.c.case_id == Case.id)
        .join(Call, Call.id == case_calls.c.call_id)
        .where(Call.linkedid == linkedid)
        .options(*SUMMARY_LOAD)
        .order_by(Case.created_at, Case.id)
    )
    return tuple(case_summary(c) for c in s.scalars(stmt).all())

