"""The complaint (投诉) workflow: recorded → analysed → referred → rectification confirmed (整改) →
customer told → closed. Rules live in `cases.workflow.COMPLAINT`; every step is audited (entity
"complaint") and keeps the case's own status in line. `loose_ends` finds overdue referrals and
complaints left with loose ends (留有尾巴)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from cases.audit import iso_utc, record_audit
from cases.case_records import create_case, load_case
from cases.errors import ComplaintNotFound, InvalidWorkflowInput
from cases.inputs import aware_utc, clean_text, clean_username, parse_enum
from cases.models.base import utcnow
from cases.models.case import Case
from cases.models.workflows import Complaint
from cases.views import CaseInput
from cases.vocab import CaseKind, CaseStatus, ComplaintCause, ComplaintStage, ComplaintType, Department
from cases.workflow import COMPLAINT, advance

STALE_AFTER = timedelta(hours=48)


@dataclass(frozen=True, slots=True)
class ComplaintView:
    id: int
    case_id: int
    case_number: str
    subject: str
    stage: ComplaintStage
    complaint_type: ComplaintType
    branch: str
    cause: ComplaintCause | None
    responsible_department: Department | None
    analysis: str
    referred_to: Department | None
    referral_deadline: datetime | None
    rectification: str
    customer_reply: str
    recorded_at: datetime
    analysed_at: datetime | None
    referred_at: datetime | None
    rectified_at: datetime | None
    customer_told_at: datetime | None
    closed_at: datetime | None
    allowed_actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LooseEnd:
    """A complaint that needs attention: `reason` is referral_overdue, no_follow_up or customer_not_told."""

    complaint_id: int
    case_number: str
    stage: ComplaintStage
    reason: str
    since: datetime
    referred_to: Department | None
    branch: str


def _view(c: Complaint) -> ComplaintView:
    return ComplaintView(
        id=c.id,
        case_id=c.case_id,
        case_number=c.case.number,
        subject=c.case.subject,
        stage=ComplaintStage(c.stage),
        complaint_type=ComplaintType(c.complaint_type),
        branch=c.branch,
        cause=ComplaintCause(c.cause) if c.cause else None,
        responsible_department=Department(c.responsible_department) if c.responsible_department else None,
        analysis=c.analysis,
        referred_to=Department(c.referred_to) if c.referred_to else None,
        referral_deadline=c.referral_deadline,
        rectification=c.rectification,
        customer_reply=c.customer_reply,
        recorded_at=c.recorded_at,
        analysed_at=c.analysed_at,
        referred_at=c.referred_at,
        rectified_at=c.rectified_at,
        customer_told_at=c.customer_told_at,
        closed_at=c.closed_at,
        allowed_actions=COMPLAINT.allowed(c.stage),
    )


def _load(s: Session, complaint_id: int) -> Complaint:
    c = s.get(Complaint, complaint_id, options=[selectinload(Complaint.case)], with_for_update=True)
    if c is None:
        raise ComplaintNotFound(f"complaint {complaint_id} does not exist")
    return c


def _now(at: datetime | None) -> datetime:
    return aware_utc(at, "time") if at is not None else utcnow()


def record_complaint(
    s: Session, case_id: int, *, complaint_type: str, branch: str = "", by: str, at: datetime | None = None
) -> ComplaintView:
    """Start the complaint workflow on an existing case of kind complaint (stage recorded)."""
    who = clean_username(by, "recorded_by")
    ctype = parse_enum(ComplaintType, complaint_type, "complaint type", InvalidWorkflowInput)
    branch_name = clean_text(branch, "branch", max_len=100)
    now = _now(at)
    case = load_case(s, case_id, for_update=True)
    if case.kind != CaseKind.COMPLAINT:
        raise InvalidWorkflowInput(f"case {case.number} is a {case.kind}, not a complaint")
    if s.scalars(select(Complaint.id).where(Complaint.case_id == case.id)).first() is not None:
        raise InvalidWorkflowInput(f"case {case.number} already has a complaint record")
    c = Complaint(
        case=case,
        stage=COMPLAINT.initial,
        complaint_type=ctype.value,
        branch=branch_name,
        recorded_at=now,
        updated_at=now,
    )
    s.add(c)
    s.flush()
    record_audit(
        s,
        who,
        "complaint.record",
        "complaint",
        c.id,
        {"case": case.number, "to": c.stage, "complaint_type": c.complaint_type, "branch": branch_name},
    )
    s.flush()
    return _view(c)


def open_complaint(
    s: Session, case: CaseInput, *, complaint_type: str, branch: str = "", by: str, at: datetime | None = None
) -> ComplaintView:
    """Create a complaint case (see `cases.case_records.create_case`) and record the complaint on it."""
    if case.kind != CaseKind.COMPLAINT:
        raise InvalidWorkflowInput(f"open_complaint needs a case of kind complaint, got {case.kind!r}")
    parse_enum(ComplaintType, complaint_type, "complaint type", InvalidWorkflowInput)
    created = create_case(s, case, by)
    return record_complaint(s, created.id, complaint_type=complaint_type, branch=branch, by=by, at=at)


def _step(
    s: Session, c: Complaint, action: str, who: str, now: datetime, detail: dict[str, Any],
    case_status: CaseStatus | None,
) -> ComplaintView:
    advance(s, COMPLAINT, c, action, who, now, detail, case_status)
    return _view(c)


def analyse(
    s: Session,
    complaint_id: int,
    *,
    cause: str,
    responsible_department: str,
    analysis: str = "",
    by: str,
    at: datetime | None = None,
) -> ComplaintView:
    """Record the cause category and the responsible department (stage analysed)."""
    who = clean_username(by, "analysed_by")
    cause_v = parse_enum(ComplaintCause, cause, "complaint cause", InvalidWorkflowInput)
    dept = parse_enum(Department, responsible_department, "department", InvalidWorkflowInput)
    text = clean_text(analysis, "analysis", max_len=10_000)
    now = _now(at)
    c = _load(s, complaint_id)
    COMPLAINT.step(c.id, c.stage, "analyse")
    c.cause, c.responsible_department, c.analysis, c.analysed_at = cause_v.value, dept.value, text, now
    return _step(
        s,
        c,
        "analyse",
        who,
        now,
        {"cause": cause_v.value, "responsible_department": dept.value, "analysis": text},
        CaseStatus.IN_PROGRESS,
    )


def refer(
    s: Session,
    complaint_id: int,
    *,
    department: str,
    deadline: datetime,
    note: str = "",
    by: str,
    at: datetime | None = None,
) -> ComplaintView:
    """Refer to a department with a deadline for its rectification (stage referred). Referring again
    while referred renews the referral (another department or a new deadline)."""
    who = clean_username(by, "referred_by")
    dept = parse_enum(Department, department, "department", InvalidWorkflowInput)
    due = aware_utc(deadline, "deadline")
    text = clean_text(note, "note", max_len=10_000)
    now = _now(at)
    if due <= now:
        raise InvalidWorkflowInput(f"deadline {due.isoformat()} is not in the future")
    c = _load(s, complaint_id)
    COMPLAINT.step(c.id, c.stage, "refer")
    c.referred_to, c.referral_deadline, c.referred_at = dept.value, due, now
    case: Case = c.case
    case.department, case.follow_up_due = dept.value, due
    return _step(
        s, c, "refer", who, now, {"department": dept.value, "deadline": iso_utc(due), "note": text}, CaseStatus.REFERRED
    )


def confirm_rectification(
    s: Session, complaint_id: int, *, rectification: str, by: str, at: datetime | None = None
) -> ComplaintView:
    """The department's rectification (整改) is confirmed (stage rectified)."""
    who = clean_username(by, "confirmed_by")
    text = clean_text(rectification, "rectification", max_len=10_000, required=True)
    now = _now(at)
    c = _load(s, complaint_id)
    COMPLAINT.step(c.id, c.stage, "confirm_rectification")
    c.rectification, c.rectified_at = text, now
    c.case.follow_up_due = None
    return _step(s, c, "confirm_rectification", who, now, {"rectification": text}, CaseStatus.IN_PROGRESS)


def tell_customer(s: Session, complaint_id: int, *, reply: str, by: str, at: datetime | None = None) -> ComplaintView:
    """The customer has been told the result (stage customer_told)."""
    who = clean_username(by, "told_by")
    text = clean_text(reply, "reply", max_len=10_000, required=True)
    now = _now(at)
    c = _load(s, complaint_id)
    COMPLAINT.step(c.id, c.stage, "tell_customer")
    c.customer_reply, c.customer_told_at = text, now
    c.case.follow_up_due = None
    return _step(s, c, "tell_customer", who, now, {"reply": text}, CaseStatus.RESOLVED)


def close(s: Session, complaint_id: int, *, by: str, at: datetime | None = None) -> ComplaintView:
    """Close the complaint and its case (stage closed)."""
    who = clean_username(by, "closed_by")
    now = _now(at)
    c = _load(s, complaint_id)
    COMPLAINT.step(c.id, c.stage, "close")
    c.closed_at = now
    return _step(s, c, "close", who, now, {}, CaseStatus.CLOSED)


def get_complaint(s: Session, complaint_id: int) -> ComplaintView:
    c = s.get(Complaint, complaint_id, options=[selectinload(Complaint.case)])
    if c is None:
        raise ComplaintNotFound(f"complaint {complaint_id} does not exist")
    return _view(c)


def complaint_for_case(s: Session, case_id: int) -> ComplaintView | None:
    c = s.scalars(select(Complaint).where(Complaint.case_id == case_id).options(selectinload(Complaint.case))).first()
    return _view(c) if c is not None else None


def list_complaints(
    s: Session, *, stage: str | None = None, referred_to: str | None = None, limit: int = 100
) -> tuple[ComplaintView, ...]:
    """Complaints, newest first; `referred_to` gives a department's queue of referrals."""
    stmt = select(Complaint).options(selectinload(Complaint.case))
    if stage is not None:
        stmt = stmt.where(Complaint.stage == parse_enum(ComplaintStage, stage, "stage", InvalidWorkflowInput).value)
    if referred_to is not None:
        dept = parse_enum(Department, referred_to, "department", InvalidWorkflowInput)
        stmt = stmt.where(Complaint.referred_to == dept.value)
    stmt = stmt.order_by(Complaint.recorded_at.desc(), Complaint.id.desc()).limit(max(1, min(limit, 1000)))
    return tuple(_view(c) for c in s.scalars(stmt).all())


def loose_ends(
    s: Session, *, now: datetime | None = None, stale_after: timedelta = STALE_AFTER
) -> tuple[LooseEnd, ...]:
    """Complaints needing attention, oldest first:

    - referral_overdue: referred, and the department's deadline has passed (reminder due);
    - no_follow_up: recorded or analysed, and nothing happened for `stale_after`;
    - customer_not_told: rectified `stale_after` ago, but no feedback to the customer yet.
    """
    when = _now(now)
    cutoff = when - stale_after
    stmt = (
        select(Complaint)
        .where(
            or_(
                (Complaint.stage == ComplaintStage.REFERRED) & (Complaint.referral_deadline < when),
                Complaint.stage.in_([ComplaintStage.RECORDED, ComplaintStage.ANALYSED])
                & (Complaint.updated_at < cutoff),
                (Complaint.stage == ComplaintStage.RECTIFIED) & (Complaint.rectified_at < cutoff),
            )
        )
        .options(selectinload(Complaint.case))
    )
    out: list[LooseEnd] = []
    for c in s.scalars(stmt).all():
        if c.stage == ComplaintStage.REFERRED:
            reason, since = "referral_overdue", c.referral_deadline
        elif c.stage == ComplaintStage.RECTIFIED:
            reason, since = "customer_not_told", c.rectified_at
        else:
            reason, since = "no_follow_up", c.updated_at
        assert since is not None
        out.append(
            LooseEnd(
                complaint_id=c.id,
                case_number=c.case.number,
                stage=ComplaintStage(c.stage),
                reason=reason,
                since=since,
                referred_to=Department(c.referred_to) if c.referred_to else None,
                branch=c.branch,
            )
        )
    return tuple(sorted(out, key=lambda e: (e.since, e.complaint_id)))


def overdue_referrals(s: Session, *, now: datetime | None = None) -> tuple[LooseEnd, ...]:
    """Referrals past their deadline (the reminders to send)."""
    return tuple(e for e in loose_ends(s, now=now) if e.reason == "referral_overdue")
