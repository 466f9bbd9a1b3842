"""Inspections (监察): spot checks of branches and people, findings → rectification tasks with
deadlines → verification (`cases.workflow.FINDING`), and the business settled with customers by the
market, branches, drivers and loaders themselves (自行解决业务). Rewards and penalties (奖罚) live in
`cases.sanctions` (`record_sanction` is named here too, as before)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from cases.audit import iso_utc, record_audit
from cases.errors import FindingNotFound, InspectionNotFound, InvalidWorkflowInput
from cases.inputs import aware_utc, clean_text, clean_username, parse_enum, validate_waybill
from cases.models.base import utcnow
from cases.models.workflows import Inspection, InspectionFinding, SelfSettled
from cases.money import to_fen, yuan, yuan0
from cases.sanctions import SanctionView as SanctionView  # rewards and penalties: cases.sanctions
from cases.sanctions import record_sanction as record_sanction
from cases.vocab import ComplaintType, FindingStage, InspectionKind, SettledBy
from cases.workflow import FINDING

RATE_KINDS = frozenset({InspectionKind.FREIGHT_RATE})
TIMELINESS_KINDS = frozenset({InspectionKind.FUND_TRANSFER, InspectionKind.COD_HANDIN, InspectionKind.FREIGHT_HANDIN})


@dataclass(frozen=True, slots=True)
class InspectionInput:
    """`passed` is worked out for freight-rate checks (quoted == tariff, within `rate_tolerance`) and
    for timeliness checks (done by the due time); for the others the inspector gives it."""

    kind: str
    branch: str
    inspected_at: datetime
    person: str = ""
    passed: bool | None = None
    quoted: Decimal | str | None = None
    tariff: Decimal | str | None = None
    rate_tolerance: Decimal | str = "0"
    due_at: datetime | None = None
    done_at: datetime | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class FindingView:
    id: int
    inspection_id: int
    description: str
    stage: FindingStage
    assignee: str
    deadline: datetime
    rectification: str
    rectified_at: datetime | None
    verified_by: str | None
    verified_at: datetime | None
    allowed_actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class InspectionView:
    id: int
    kind: InspectionKind
    branch: str
    person: str
    inspector: str
    inspected_at: datetime
    passed: bool
    quoted: Decimal | None
    tariff: Decimal | None
    due_at: datetime | None
    done_at: datetime | None
    note: str
    findings: tuple[FindingView, ...]


@dataclass(frozen=True, slots=True)
class SelfSettledView:
    id: int
    settled_by: SettledBy
    branch: str
    person: str
    waybill: str | None
    issue: ComplaintType
    amount: Decimal
    settled_at: datetime
    note: str
    recorded_by: str


def _finding_view(f: InspectionFinding) -> FindingView:
    return FindingView(
        f.id,
        f.inspection_id,
        f.description,
        FindingStage(f.stage),
        f.assignee,
        f.deadline,
        f.rectification,
        f.rectified_at,
        f.verified_by,
        f.verified_at,
        FINDING.allowed(f.stage),
    )


def _inspection_view(i: Inspection) -> InspectionView:
    return InspectionView(
        id=i.id,
        kind=InspectionKind(i.kind),
        branch=i.branch,
        person=i.person,
        inspector=i.inspector,
        inspected_at=i.inspected_at,
        passed=i.passed,
        quoted=yuan(i.quoted_fen),
        tariff=yuan(i.tariff_fen),
        due_at=i.due_at,
        done_at=i.done_at,
        note=i.note,
        findings=tuple(_finding_view(f) for f in i.findings),
    )


def record_inspection(s: Session, data: InspectionInput, *, by: str) -> InspectionView:
    who = clean_username(by, "inspector")
    kind = parse_enum(InspectionKind, data.kind, "inspection kind", InvalidWorkflowInput)
    branch = clean_text(data.branch, "branch", max_len=100, required=True)
    person = clean_text(data.person, "person", max_len=100)
    at = aware_utc(data.inspected_at, "inspected_at")
    note = clean_text(data.note, "note", max_len=10_000)
    quoted_fen = tariff_fen = None
    due = done = None
    if kind in RATE_KINDS:
        if data.quoted is None or data.tariff is None:
            raise InvalidWorkflowInput("a freight-rate check needs the quoted rate and the tariff rate")
        quoted_fen, tariff_fen = to_fen(data.quoted, "quoted rate"), to_fen(data.tariff, "tariff rate")
        passed = abs(quoted_fen - tariff_fen) <= to_fen(data.rate_tolerance, "rate tolerance")
    elif kind in TIMELINESS_KINDS:
        if data.due_at is None:
            raise InvalidWorkflowInput(f"a {kind.value} check needs the due time")
        due = aware_utc(data.due_at, "due_at")
        done = aware_utc(data.done_at, "done_at") if data.done_at is not None else None
        passed = done is not None and done <= due
    else:
        if data.passed is None:
            raise InvalidWorkflowInput(f"a {kind.value} check needs passed true or false")
        passed = data.passed
    if data.passed is not None and data.passed != passed:
        raise InvalidWorkflowInput(f"passed={data.passed} contradicts the figures of this {kind.value} check")
    i = Inspection(
        kind=kind.value,
        branch=branch,
        person=person,
        inspector=who,
        inspected_at=at,
        passed=passed,
        quoted_fen=quoted_fen,
        tariff_fen=tariff_fen,
        due_at=due,
        done_at=done,
        note=note,
        created_at=utcnow(),
    )
    s.add(i)
    s.flush()
    record_audit(
        s,
        who,
        "inspection.record",
        "inspection",
        i.id,
        {"kind": kind.value, "branch": branch, "person": person, "passed": passed, "at": iso_utc(at)},
    )
    s.flush()
    return _inspection_view(i)


def _load_inspection(s: Session, inspection_id: int) -> Inspection:
    i = s.get(Inspection, inspection_id, options=[selectinload(Inspection.findings)])
    if i is None:
        raise InspectionNotFound(f"inspection {inspection_id} does not exist")
    return i


def get_inspection(s: Session, inspection_id: int) -> InspectionView:
    return _inspection_view(_load_inspection(s, inspection_id))


def add_finding(
    s: Session, inspection_id: int, *, description: str, deadline: datetime, assignee: str = "", by: str
) -> FindingView:
    """A problem found → a rectification task for `assignee` (branch or person) due by `deadline`."""
    who = clean_username(by, "inspector")
    text = clean_text(description, "description", max_len=10_000, required=True)
    due = aware_utc(deadline, "deadline")
    who_fixes = clean_text(assignee, "assignee", max_len=100)
    i = _load_inspection(s, inspection_id)
    if due <= i.inspected_at:
        raise InvalidWorkflowInput("the rectification deadline must be after the inspection")
    f = InspectionFinding(
        inspection=i, description=text, stage=FINDING.initial, assignee=who_fixes or i.branch, deadline=due
    )
    s.add(f)
    s.flush()
    record_audit(
        s,
        who,
        "finding.add",
        "finding",
        f.id,
        {"inspection": i.id, "to": f.stage, "deadline": iso_utc(due), "assignee": f.assignee},
    )
    s.flush()
    return _finding_view(f)


def _load_finding(s: Session, finding_id: int) -> InspectionFinding:
    f = s.get(InspectionFinding, finding_id, with_for_update=True)
    if f is None:
        raise FindingNotFound(f"finding {finding_id} does not exist")
    return f


def rectify_finding(
    s: Session, finding_id: int, *, rectification: str, by: str, at: datetime | None = None
) -> FindingView:
    who = clean_username(by, "rectified_by")
    text = clean_text(rectification, "rectification", max_len=10_000, required=True)
    now = aware_utc(at, "time") if at is not None else utcnow()
    f = _load_finding(s, finding_id)
    old = f.stage
    f.stage = FINDING.step(f.id, f.stage, "rectify")
    f.rectification, f.rectified_at = text, now
    s.flush()
    record_audit(s, who, "finding.rectify", "finding", f.id, {"from": old, "to": f.stage, "rectification": text})
    s.flush()
    return _finding_view(f)


def verify_finding(s: Session, finding_id: int, *, by: str, at: datetime | None = None) -> FindingView:
    who = clean_username(by, "verified_by")
    now = aware_utc(at, "time") if at is not None else utcnow()
    f = _load_finding(s, finding_id)
    old = f.stage
    f.stage = FINDING.step(f.id, f.stage, "verify")
    f.verified_by, f.verified_at = who, now
    s.flush()
    record_audit(s, who, "finding.verify", "finding", f.id, {"from": old, "to": f.stage})
    s.flush()
    return _finding_view(f)


def reopen_finding(s: Session, finding_id: int, *, deadline: datetime, note: str, by: str) -> FindingView:
    """Verification failed: the task goes back to the assignee with a new deadline."""
    who = clean_username(by, "verified_by")
    due = aware_utc(deadline, "deadline")
    text = clean_text(note, "note", max_len=10_000, required=True)
    f = _load_finding(s, finding_id)
    old = f.stage
    f.stage = FINDING.step(f.id, f.stage, "reopen")
    if f.rectified_at is not None and due <= f.rectified_at:
        raise InvalidWorkflowInput("the new deadline must be after the failed rectification")
    f.deadline, f.rectified_at = due, None
    s.flush()
    record_audit(s, who, "finding.reopen", "finding", f.id,
                 {"from": old, "to": f.stage, "deadline": iso_utc(due), "note": text})
    s.flush()
    return _finding_view(f)


def overdue_findings(s: Session, *, now: datetime | None = None) -> tuple[FindingView, ...]:
    """Open rectification tasks past their deadline, oldest deadline first."""
    when = aware_utc(now, "now") if now is not None else utcnow()
    stmt = (
        select(InspectionFinding)
        .where(InspectionFinding.stage == FindingStage.OPEN.value, InspectionFinding.deadline < when)
        .order_by(InspectionFinding.deadline, InspectionFinding.id)
    )
    return tuple(_finding_view(f) for f in s.scalars(stmt).all())


def record_self_settled(
    s: Session,
    *,
    settled_by: str,
    branch: str,
    issue: str,
    settled_at: datetime,
    amount: Decimal | str | int = "0",
    person: str = "",
    waybill: str | None = None,
    note: str = "",
    by: str,
) -> SelfSettledView:
    """Business settled with a customer by the market, a branch, a driver or a loader themselves."""
    who = clean_username(by, "recorded_by")
    sb = parse_enum(SettledBy, settled_by, "settled_by", InvalidWorkflowInput)
    kind = parse_enum(ComplaintType, issue, "issue", InvalidWorkflowInput)
    branch_name = clean_text(branch, "branch", max_len=100, required=True)
    person_name = clean_text(person, "person", max_len=100)
    fen = to_fen(amount, "amount")
    at = aware_utc(settled_at, "settled_at")
    wb = validate_waybill(waybill) if waybill else None
    x = SelfSettled(
        settled_by=sb.value,
        branch=branch_name,
        person=person_name,
        waybill=wb,
        issue=kind.value,
        amount_fen=fen,
        settled_at=at,
        note=clean_text(note, "note", max_len=10_000),
        recorded_by=who,
        recorded_at=utcnow(),
    )
    s.add(x)
    s.flush()
    record_audit(
        s,
        who,
        "self_settled.record",
        "self_settled",
        x.id,
        {"settled_by": sb.value, "branch": branch_name, "issue": kind.value, "amount": str(yuan0(fen))},
    )
    s.flush()
    return SelfSettledView(x.id, sb, x.branch, x.person, x.waybill, kind, yuan0(fen), x.settled_at, x.note, who)
