"""The monthly inspection report with rewards and penalties (每月监察奖罚明细报表)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from cases.models.workflows import (
    Inspection,
    InspectionFinding,
    Sanction,
)
from cases.money import yuan0
from cases.reports.data import DETAIL_LIMIT, Count, Period, count_rows
from cases.vocab import (
    FindingStage,
    InspectionKind,
    SanctionKind,
)


@dataclass(frozen=True, slots=True)
class KindLine:
    kind: InspectionKind
    label: str
    inspections: int
    failed: int


@dataclass(frozen=True, slots=True)
class SanctionTotals:
    branch: str
    person: str  # "" for the branch total
    rewards: Decimal
    penalties: Decimal
    net: Decimal  # rewards - penalties
    count: int


@dataclass(frozen=True, slots=True)
class SanctionRow:
    decided_at: datetime
    branch: str
    person: str
    kind: str
    amount: Decimal
    reason: str
    inspection_kind: str


@dataclass(frozen=True, slots=True)
class InspectionsReport:
    period: Period
    inspections: int
    failed: int
    findings: int
    findings_by_stage: tuple[Count, ...]
    findings_overdue: int
    rewards: Decimal
    penalties: Decimal
    by_kind: tuple[KindLine, ...]
    by_branch: tuple[SanctionTotals, ...]
    by_person: tuple[SanctionTotals, ...]
    rows: tuple[SanctionRow, ...]


def _sanction_totals(rows: Sequence[Any], with_person: bool) -> tuple[SanctionTotals, ...]:
    out = []
    for r in rows:
        rw, pn = yuan0(int(r.rewards)), yuan0(int(r.penalties))
        out.append(SanctionTotals(r.branch, r.person if with_person else "", rw, pn, rw - pn, int(r.count)))
    return tuple(sorted(out, key=lambda t: (t.net, t.branch, t.person)))


def inspections_report(s: Session, period: Period, *, now: datetime | None = None) -> InspectionsReport:
    """Inspections done and failed per kind, findings by stage (overdue as of `now`, default period
    end), and every reward and penalty decided in the period, with totals per branch and per person."""
    when = now or min(period.end, datetime.now(UTC))
    ins = and_(Inspection.inspected_at >= period.start, Inspection.inspected_at < period.end)
    sin = and_(Sanction.decided_at >= period.start, Sanction.decided_at < period.end)
    n = func.count()
    kind_rows = s.execute(
        select(Inspection.kind, n, func.sum(case((Inspection.passed, 0), else_=1))).where(ins).group_by(Inspection.kind)
    ).all()
    by_kind = tuple(
        sorted(
            (KindLine(InspectionKind(k), InspectionKind(k).label_zh, int(c), int(f or 0)) for k, c, f in kind_rows),
            key=lambda x: (-x.inspections, x.kind.value),
        )
    )
    fj = select(InspectionFinding.stage, n).join(Inspection, Inspection.id == InspectionFinding.inspection_id)
    findings_by_stage = count_rows(s, fj.where(ins).group_by(InspectionFinding.stage), FindingStage)
    overdue = int(
        s.scalar(
            select(n)
            .select_from(InspectionFinding)
            .join(Inspection, Inspection.id == InspectionFinding.inspection_id)
            .where(ins, InspectionFinding.stage == FindingStage.OPEN.value, InspectionFinding.deadline < when)
        )
        or 0
    )
    rew = func.coalesce(func.sum(case((Sanction.kind == SanctionKind.REWARD.value, Sanction.amount_fen), else_=0)), 0)
    pen = func.coalesce(func.sum(case((Sanction.kind == SanctionKind.PENALTY.value, Sanction.amount_fen), else_=0)), 0)
    cols = (rew.label("rewards"), pen.label("penalties"), n.label("count"))
    by_branch = _sanction_totals(
        s.execute(select(Sanction.branch, *cols).where(sin).group_by(Sanction.branch)).all(), False
    )
    by_person = _sanction_totals(
        s.execute(
            select(Sanction.branch, Sanction.person, *cols)
            .where(sin, Sanction.person != "")
            .group_by(Sanction.branch, Sanction.person)
        ).all(),
        True,
    )
    detail = s.execute(
        select(Sanction, Inspection.kind)
        .outerjoin(Inspection, Inspection.id == Sanction.inspection_id)
        .where(sin)
        .order_by(Sanction.decided_at, Sanction.id)
        .limit(DETAIL_LIMIT)
    ).all()
    rows = tuple(
        SanctionRow(
            x.decided_at,
            x.branch,
            x.person,
            SanctionKind(x.kind).label_zh,
            yuan0(x.amount_fen),
            x.reason,
            InspectionKind(k).label_zh if k else "",
        )
        for x, k in detail
    )
    return InspectionsReport(
        period=period,
        inspections=sum(k.inspections for k in by_kind),
        failed=sum(k.failed for k in by_kind),
        findings=sum(c.count for c in findings_by_stage),
        findings_by_stage=findings_by_stage,
        findings_overdue=overdue,
        rewards=sum((b.rewards for b in by_branch), Decimal("0.00")),
        penalties=sum((b.penalties for b in by_branch), Decimal("0.00")),
        by_kind=by_kind,
        by_branch=by_branch,
        by_person=by_person,
        rows=rows,
    )
