"""The complaint (投诉) workflow: recorded → analysed (cause, 责任部门 and unit) → referred (to a
department and, for a branch or market area, one unit of it, with a deadline) → the department's
rectification (整改) → verified by the centre (验证; or sent back with a new deadline) → customer told →
followed up (回访, `cases.follow_ups`) → closed. Rules live in `cases.workflow.COMPLAINT`; every step is
audited (entity "complaint") and keeps the case's own status in line. `loose_ends` finds overdue
referrals and complaints left with loose ends (留有尾巴)."""

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
from cases.models.follow_ups import ComplaintFollowUp
from cases.models.workflows import Complaint
from cases.views import CaseInput
from cases.vocab import (
    UNIT_DEPARTMENTS,
    CaseKind,
    CaseStatus,
    ComplaintCause,
    ComplaintStage,
    ComplaintType,
    Department,
    FollowUpOutcome,
)
from cases.workflow import COMPLAINT, advance

STALE_AFTER = timedelta(hours=48)


@dataclass(frozen=True, slots=True)
class FollowUpView:
    """One follow-up call (回访) to the customer."""

    id: int
    outcome: FollowUpOutcome
    note: str
    called_by: str
    called_at: datetime


@dataclass(frozen=True, slots=True)
class ComplaintView:
    id: int
    case_id: int
    case_number: str
    subject: str
    stage: ComplaintStage
    complaint_type: ComplaintType
    branch: str  # 相关分公司: as reported, before any investigation (not who is responsible)
    cause: ComplaintCause | None
    responsible_department: Department | None  # 责任部门: from the analysis
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
    responsible_unit: str = ""  # 责任分公司 (or market area): from the analysis
    referred_unit: str = ""  # the unit of the department the referral went to (branch / market area)
    rectified_by: str | None = None
    verified_by: str | None = None
    verified_at: datetime | None = None
    verification_note: str = ""  # why the centre sent the rectification back, or what it saw verifying
    follow_ups: tuple[FollowUpView, ...] = ()

    @property
    def sent_back(self) -> bool:
        """Referred again after the centre did not accept the department's rectification."""
        return self.stage is ComplaintStage.REFERRED and bool(self.rectification)


@dataclass(frozen=True, slots=True)
class LooseEnd:
    """A complaint that needs attention: `reason` is referral_overdue, no_follow_up, not_verified,
    customer_not_told or no_return_call (see `loose_ends`)."""

    complaint_id: int
    case_number: str
    stage: ComplaintStage
    reason: str
    since: datetime
    referred_to: Department | None
    branch: str
    referred_unit: str = ""


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
        responsible_unit=c.responsible_unit,
        referred_unit=c.referred_unit,
        rectified_by=c.rectified_by,
        verified_by=c.verified_by,
        verified_at=c.verified_at,
        verification_note=c.verification_note,
        follow_ups=tuple(follow_up_view(f) for f in c.follow_ups),
    )


def follow_up_view(f: ComplaintFollowUp) -> FollowUpView:
    return FollowUpView(id=f.id, outcome=FollowUpOutcome(f.outcome), note=f.note, called_by=f.called_by,
                        called_at=f.called_at)


def complaint_view(c: Complaint) -> ComplaintView:
    """The view of a loaded complaint row (for `cases.referrals` and `cases.follow_ups`)."""
    return _view(c)


def load_for_update(s: Session, complaint_id: int) -> Complaint:
    """The complaint row, locked for a step; `ComplaintNotFound` if there is none."""
    return _load(s, complaint_id)


def step_time(at: datetime | None) -> datetime:
    return _now(at)


def take_step(
    s: Session, c: Complaint, action: str, who: str, now: datetime, detail: dict[str, Any],
    case_status: CaseStatus | None,
) -> ComplaintView:
    """Take one step of the complaint machine (see `cases.workflow.advance`): audited, case status kept."""
    return _step(s, c, action, who, now, detail, case_status)


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
    responsible_unit: str | None = None,
    analysis: str = "",
    by: str,
    at: datetime | None = None,
) -> ComplaintView:
    """Record the cause category and the responsible department (stage analysed); for a branch or
    market area also which one (责任分公司; default: the branch reported with the complaint)."""
    who = clean_username(by, "analysed_by")
    cause_v = parse_enum(ComplaintCause, cause, "complaint cause", InvalidWorkflowInput)
    dept = parse_enum(Department, responsible_department, "department", InvalidWorkflowInput)
    unit_given = clean_unit(responsible_unit, "responsible unit")
    text = clean_text(analysis, "analysis", max_len=10_000)
    now = _now(at)
    c = _load(s, complaint_id)
    COMPLAINT.step(c.id, c.stage, "analyse")
    unit = (unit_given if responsible_unit is not None else c.branch) if dept.value in UNIT_DEPARTMENTS else ""
    c.cause, c.responsible_department, c.analysis, c.analysed_at = cause_v.value, dept.value, text, now
    c.responsible_unit = unit
    return _step(
        s,
        c,
        "analyse",
        who,
        now,
        {"cause": cause_v.value, "responsible_department": dept.value, "responsible_unit": unit, "analysis": text},
        CaseStatus.IN_PROGRESS,
    )


def clean_unit(value: str | None, what: str) -> str:
    """A unit's name (which branch or market area), with inner runs of spaces made one."""
    return " ".join(clean_text(value, what, max_len=100).split())


def refer(
    s: Session,
    complaint_id: int,
    *,
    department: str,
    deadline: datetime,
    unit: str | None = None,
    note: str = "",
    by: str,
    at: datetime | None = None,
) -> ComplaintView:
    """Refer to a department with a deadline for its rectification (stage referred); a branch or
    market area also needs the unit (which one: default the responsible unit of the analysis, else
    the branch reported), whose desk then shows it. Referring again while referred renews the referral
    (another department or a new deadline); a customer not satisfied at the follow-up call (回访) may
    be referred again."""
    who = clean_username(by, "referred_by")
    dept = parse_enum(Department, department, "department", InvalidWorkflowInput)
    unit_given = clean_unit(unit, "unit")
    due = aware_utc(deadline, "deadline")
    text = clean_text(note, "note", max_len=10_000)
    now = _now(at)
    if due <= now:
        raise InvalidWorkflowInput(f"deadline {due.isoformat()} is not in the future")
    c = _load(s, complaint_id)
    COMPLAINT.step(c.id, c.stage, "refer")
    if dept.value in UNIT_DEPARTMENTS:
        fallback = c.responsible_unit if c.responsible_department == dept.value else ""
        target = unit_given if unit is not None and unit_given else (fallback or c.branch)
        if not target:
            raise InvalidWorkflowInput(f"a referral to {dept.label_zh} ({dept.value}) needs the unit: which one")
    else:
        target = ""
    c.referred_to, c.referred_unit, c.referral_deadline, c.referred_at = dept.value, target, due, now
    c.rectification, c.rectified_at, c.rectified_by, c.verification_note = "", None, None, ""
    case: Case = c.case
    case.department, case.follow_up_due = dept.value, due
    return _step(
        s, c, "refer", who, now, {"department": dept.value, "unit": target, "deadline": iso_utc(due), "note": text},
        CaseStatus.REFERRED,
    )


def confirm_rectification(
    s: Session, complaint_id: int, *, rectification: str, by: str, at: datetime | None = None
) -> ComplaintView:
    """The department's answer: its rectification (整改), typed on its desk (or by the centre for it);
    stage rectified, waiting for the centre's verification (`verify` or `send_back`)."""
    who = clean_username(by, "confirmed_by")
    text = clean_text(rectification, "rectification", max_len=10_000, required=True)
    now = _now(at)
    c = _load(s, complaint_id)
    COMPLAINT.step(c.id, c.stage, "confirm_rectification")
    c.rectification, c.rectified_at, c.rectified_by = text, now, who
    c.case.follow_up_due = None
    return _step(s, c, "confirm_rectification", who, now, {"rectification": text}, CaseStatus.IN_PROGRESS)


def verify(s: Session, complaint_id: int, *, note: str = "", by: str, at: datetime | None = None) -> ComplaintView:
    """The centre verified the department's rectification (验证, stage verified): the customer may
    now be told."""
    who = clean_username(by, "verified_by")
    text = clean_text(note, "note", max_len=10_000)
    now = _now(at)
    c = _load(s, complaint_id)
    COMPLAINT.step(c.id, c.stage, "verify")
    c.verified_by, c.verified_at, c.verification_note = who, now, text
    return _step(s, c, "verify", who, now, {"note": text}, CaseStatus.IN_PROGRESS)


def send_back(
    s: Session, complaint_id: int, *, deadline: datetime, note: str, by: str, at: datetime | None = None
) -> ComplaintView:
    """Verification failed: back to the department with why and a new deadline (stage referred); its
    rectification stays shown until it answers again."""
    who = clean_username(by, "sent_back_by")
    text = clean_text(note, "note", max_len=10_000, required=True)
    due = aware_utc(deadline, "deadline")
    now = _now(at)
    if due <= now:
        raise InvalidWorkflowInput(f"deadline {due.isoformat()} is not in the future")
    c = _load(s, complaint_id)
    COMPLAINT.step(c.id, c.stage, "send_back")
    c.referral_deadline, c.verification_note = due, text
    c.case.follow_up_due = due
    return _step(s, c, "send_back", who, now, {"deadline": iso_utc(due), "note": text}, CaseStatus.REFERRED)


def tell_customer(s: Session, complaint_id: int, *, reply: str, by: str, at: datetime | None = None) -> ComplaintView:
    """The customer has been told the result (stage customer_told); the follow-up call (回访) follows."""
    who = clean_username(by, "told_by")
    text = clean_text(reply, "reply", max_len=10_000, required=True)
    now = _now(at)
    c = _load(s, complaint_id)
    COMPLAINT.step(c.id, c.stage, "tell_customer")
    c.customer_reply, c.customer_told_at = text, now
    c.case.follow_up_due = None
    return _step(s, c, "tell_customer", who, now, {"reply": text}, CaseStatus.RESOLVED)


def close(s: Session, complaint_id: int, *, by: str, at: datetime | None = None) -> ComplaintView:
    """Close the complaint and its case (stage closed): only after the follow-up call (回访)."""
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
    - not_verified: the department answered `stale_after` ago, but the centre has not verified it;
    - customer_not_told: verified `stale_after` ago, but no feedback to the customer yet;
    - no_return_call: the customer was told `stale_after` ago, but no follow-up call (回访) closed it.
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
                (Complaint.stage == ComplaintStage.VERIFIED) & (Complaint.verified_at < cutoff),
                (Complaint.stage == ComplaintStage.CUSTOMER_TOLD) & (Complaint.updated_at < cutoff),
            )
        )
        .options(selectinload(Complaint.case))
    )
    out: list[LooseEnd] = []
    for c in s.scalars(stmt).all():
        reason, since = _loose(c)
        out.append(
            LooseEnd(
                complaint_id=c.id,
                case_number=c.case.number,
                stage=ComplaintStage(c.stage),
                reason=reason,
                since=since,
                referred_to=Department(c.referred_to) if c.referred_to else None,
                branch=c.branch,
                referred_unit=c.referred_unit,
            )
        )
    return tuple(sorted(out, key=lambda e: (e.since, e.complaint_id)))


def _loose(c: Complaint) -> tuple[str, datetime]:
    since: datetime | None
    if c.stage == ComplaintStage.REFERRED:
        reason, since = "referral_overdue", c.referral_deadline
    elif c.stage == ComplaintStage.RECTIFIED:
        reason, since = "not_verified", c.rectified_at
    elif c.stage == ComplaintStage.VERIFIED:
        reason, since = "customer_not_told", c.verified_at
    elif c.stage == ComplaintStage.CUSTOMER_TOLD:
        reason, since = "no_return_call", c.updated_at
    else:
        reason, since = "no_follow_up", c.updated_at
    assert since is not None
    return reason, since


def overdue_referrals(s: Session, *, now: datetime | None = None) -> tuple[LooseEnd, ...]:
    """Referrals past their deadline (the reminders to send)."""
    return tuple(e for e in loose_ends(s, now=now) if e.reason == "referral_overdue")
