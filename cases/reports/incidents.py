"""The incidents (突发事件, 监察主管9) of a period, for the monthly inspection report: how many, of which
kind, how far handled, and each one with its measures (处理措施) and result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, selectinload

from cases.models.case import Case
from cases.models.incidents import Incident
from cases.reports.data import DETAIL_LIMIT, Count, Period, count_rows
from cases.vocab import IncidentKind, IncidentStage


@dataclass(frozen=True, slots=True)
class IncidentRow:
    number: str  # #id, as on the incidents desk
    occurred_at: datetime
    kind: str
    branch: str
    place: str
    description: str
    stage: str
    reported_by: str
    handled_by: str
    measures: str  # every measure taken, in order, one per line
    result: str
    case_number: str


@dataclass(frozen=True, slots=True)
class IncidentFigures:
    total: int
    not_closed: int
    by_kind: tuple[Count, ...]
    by_stage: tuple[Count, ...]
    rows: tuple[IncidentRow, ...]


def incident_figures(s: Session, period: Period) -> IncidentFigures:
    """The incidents that occurred in the period (by `occurred_at`), whatever their stage now."""
    within = and_(Incident.occurred_at >= period.start, Incident.occurred_at < period.end)
    n = func.count()
    by_kind = count_rows(s, select(Incident.kind, n).where(within).group_by(Incident.kind), IncidentKind)
    by_stage = count_rows(s, select(Incident.stage, n).where(within).group_by(Incident.stage), IncidentStage)
    found = s.execute(
        select(Incident, Case.number)
        .outerjoin(Case, Case.id == Incident.case_id)
        .options(selectinload(Incident.measures))
        .where(within)
        .order_by(Incident.occurred_at, Incident.id)
        .limit(DETAIL_LIMIT)
    ).all()
    rows = tuple(
        IncidentRow(
            number=f"#{i.id}",
            occurred_at=i.occurred_at,
            kind=IncidentKind(i.kind).label_zh,
            branch=i.branch,
            place=i.place,
            description=i.description,
            stage=IncidentStage(i.stage).label_zh,
            reported_by=i.reported_by,
            handled_by=i.handled_by or "",
            measures="\n".join(m.measure for m in i.measures),
            result=i.result,
            case_number=number or "",
        )
        for i, number in found
    )
    total = sum(c.count for c in by_kind)
    closed = sum(c.count for c in by_stage if c.key == IncidentStage.CLOSED.value)
    return IncidentFigures(total, total - closed, by_kind, by_stage, rows)
