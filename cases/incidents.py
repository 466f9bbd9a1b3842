"""Incidents (突发事件, 监察主管9: 能够及时处理各种突发事件): an inspector or supervisor records what happened
(kind, when, branch and place, the people involved, who reported it, optionally the case it concerns),
takes it in hand, records each measure taken (处理措施) and closes it with the result (处理结果).
Every step asks `cases.workflow.INCIDENT` and is audited (entity `incident`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from cases.audit import iso_utc, record_audit
from cases.errors import IncidentNotFound, InvalidWorkflowInput
from cases.inputs import aware_utc, clean_text, clean_username, parse_enum
from cases.models.base import utcnow
from cases.models.case import Case
from cases.models.incidents import Incident, IncidentMeasure
from cases.models.workflows import Claim, Complaint
from cases.vocab import IncidentKind, IncidentStage
from cases.workflow import INCIDENT

CLOCK_SKEW = timedelta(minutes=5)  # an incident "occurring" later than now by more than this is a typo
LIST_LIMIT = 500


@dataclass(frozen=True, slots=True)
class IncidentInput:
    kind: str
    occurred_at: datetime
    branch: str
    description: str
    reported_by: str
    place: str = ""
    people: str = ""
    case_number: str = ""  # 案件号 of the complaint or claim the incident concerns, if any


@dataclass(frozen=True, slots=True)
class MeasureView:
    id: int
    measure: str
    taken_by: str
    taken_at: datetime


@dataclass(frozen=True, slots=True)
class IncidentView:
    id: int
    kind: IncidentKind
    stage: IncidentStage
    occurred_at: datetime
    branch: str
    place: str
    description: str
    people: str
    result: str
    reported_by: str
    recorded_by: str
    handled_by: str | None
    case_id: int | None
    case_number: str | None
    complaint_id: int | None  # the case's complaint or claim, for a link to its desk
    claim_id: int | None
    recorded_at: datetime
    handling_at: datetime | None
    closed_at: datetime | None
    measures: tuple[MeasureView, ...]
    allowed_actions: tuple[str, ...]


def _views(s: Session, rows: Sequence[Incident]) -> tuple[IncidentView, ...]:
    """The views of `rows`; the complaints and claims of their cases looked up in two queries."""
    case_ids = {i.case_id for i in rows if i.case_id is not None}
    complaints: dict[int, int] = {}
    claims: dict[int, int] = {}
    if case_ids:
        complaints = {int(c): int(i) for i, c in s.execute(
            select(Complaint.id, Complaint.case_id).where(Complaint.case_id.in_(case_ids)))}
        claims = {int(c): int(i) for i, c in s.execute(
            select(Claim.id, Claim.case_id).where(Claim.case_id.in_(case_ids)))}
    return tuple(_view(i, complaints, claims) for i in rows)


def _view(i: Incident, complaints: dict[int, int], claims: dict[int, int]) -> IncidentView:
    return IncidentView(
        id=i.id,
        kind=IncidentKind(i.kind),
        stage=IncidentStage(i.stage),
        occurred_at=i.occurred_at,
        branch=i.branch,
        place=i.place,
        description=i.description,
        people=i.people,
        result=i.result,
        reported_by=i.reported_by,
        recorded_by=i.recorded_by,
        handled_by=i.handled_by,
        case_id=i.case_id,
        case_number=i.case.number if i.case is not None else None,
        complaint_id=complaints.get(i.case_id) if i.case_id is not None else None,
        claim_id=claims.get(i.case_id) if i.case_id is not None else None,
        recorded_at=i.recorded_at,
        handling_at=i.handling_at,
        closed_at=i.closed_at,
        measures=tuple(MeasureView(m.id, m.measure, m.taken_by, m.taken_at) for m in i.measures),
        allowed_actions=INCIDENT.allowed(i.stage),
    )


def case_by_number(s: Session, number: str) -> Case:
    """The case with 案件号 `number` (surrounding spaces ignored); `InvalidWorkflowInput` if there is none."""
    wanted = clean_text(number, "case number", max_len=20, required=True)
    case = s.scalar(select(Case).where(Case.number == wanted))
    if case is None:
        raise InvalidWorkflowInput(f"there is no case {wanted!r}")
    return case


def record_incident(s: Session, data: IncidentInput, *, by: str, now: datetime | None = None) -> IncidentView:
    who = clean_username(by, "recorded_by")
    kind = parse_enum(IncidentKind, data.kind, "incident kind", InvalidWorkflowInput)
    when = aware_utc(data.occurred_at, "occurred_at")
    at = aware_utc(now, "now") if now is not None else utcnow()
    if when > at + CLOCK_SKEW:
        raise InvalidWorkflowInput(f"the incident cannot have occurred in the future ({iso_utc(when)})")
    branch = clean_text(data.branch, "branch", max_len=100, required=True)
    place = clean_text(data.place, "place", max_len=200)
    description = clean_text(data.description, "description", max_len=10_000, required=True)
    people = clean_text(data.people, "people involved", max_len=10_000)
    reporter = clean_text(data.reported_by, "reported_by", max_len=100, required=True)
    case = case_by_number(s, data.case_number) if data.case_number.strip() else None
    i = Incident(
        kind=kind.value, stage=INCIDENT.initial, occurred_at=when, branch=branch, place=place,
        description=description, people=people, result="", reported_by=reporter, recorded_by=who,
        case=case, recorded_at=at, updated_at=at,
    )
    s.add(i)
    s.flush()
    record_audit(s, who, "incident.record", "incident", i.id, {
        "to": i.stage, "kind": kind.value, "branch": branch, "occurred_at": iso_utc(when),
        "reported_by": reporter, "case": case.number if case is not None else None,
    })
    s.flush()
    return _views(s, [i])[0]


def _load(s: Session, incident_id: int, *, lock: bool = False) -> Incident:
    i = s.get(Incident, incident_id, options=[selectinload(Incident.measures)], with_for_update=lock)
    if i is None:
        raise IncidentNotFound(f"incident {incident_id} does not exist")
    return i


def get_incident(s: Session, incident_id: int) -> IncidentView:
    return _views(s, [_load(s, incident_id)])[0]


def list_incidents(s: Session, *, stage: str | None = None, limit: int = 200) -> tuple[IncidentView, ...]:
    """Newest first; `stage` one of IncidentStage (None: all)."""
    stmt = select(Incident).options(selectinload(Incident.measures), selectinload(Incident.case))
    if stage is not None:
        stmt = stmt.where(Incident.stage == parse_enum(IncidentStage, stage, "stage", InvalidWorkflowInput).value)
    stmt = stmt.order_by(Incident.occurred_at.desc(), Incident.id.desc()).limit(max(1, min(limit, LIST_LIMIT)))
    return _views(s, s.scalars(stmt).all())


def _step(s: Session, i: Incident, action: str, who: str, at: datetime, detail: dict[str, object]) -> None:
    old = i.stage
    i.stage = INCIDENT.step(i.id, i.stage, action)
    i.updated_at = at
    s.flush()
    record_audit(s, who, f"incident.{action}", "incident", i.id, {"from": old, "to": i.stage, **detail})
    s.flush()


def _measure(i: Incident, text: str, who: str, at: datetime) -> None:
    i.measures.append(IncidentMeasure(measure=text, taken_by=who, taken_at=at))


def handle_incident(
    s: Session, incident_id: int, *, by: str, measure: str = "", at: datetime | None = None
) -> IncidentView:
    """`by` takes the incident in hand (handled_by), with the first measure taken if given."""
    who = clean_username(by, "handled_by")
    text = clean_text(measure, "measure", max_len=10_000)
    now = aware_utc(at, "time") if at is not None else utcnow()
    i = _load(s, incident_id, lock=True)
    INCIDENT.step(i.id, i.stage, "handle")  # refused before anything changes
    i.handled_by, i.handling_at = who, now
    if text:
        _measure(i, text, who, now)
    _step(s, i, "handle", who, now, {"handled_by": who, "measure": text})
    return _views(s, [i])[0]


def add_measure(s: Session, incident_id: int, *, measure: str, by: str, at: datetime | None = None) -> IncidentView:
    """One more measure taken (处理措施) while the incident is being handled."""
    who = clean_username(by, "taken_by")
    text = clean_text(measure, "measure", max_len=10_000, required=True)
    now = aware_utc(at, "time") if at is not None else utcnow()
    i = _load(s, incident_id, lock=True)
    INCIDENT.step(i.id, i.stage, "add_measure")
    _measure(i, text, who, now)
    _step(s, i, "add_measure", who, now, {"measure": text})
    return _views(s, [i])[0]


def close_incident(s: Session, incident_id: int, *, result: str, by: str, at: datetime | None = None) -> IncidentView:
    """The incident is over: the result (处理结果) is written down."""
    who = clean_username(by, "closed_by")
    text = clean_text(result, "result", max_len=10_000, required=True)
    now = aware_utc(at, "time") if at is not None else utcnow()
    i = _load(s, incident_id, lock=True)
    INCIDENT.step(i.id, i.stage, "close")
    if i.handling_at is not None and now < i.handling_at:
        raise InvalidWorkflowInput("an incident cannot be closed before it was taken in hand")
    i.result, i.closed_at = text, now
    _step(s, i, "close", who, now, {"result": text})
    return _views(s, [i])[0]
