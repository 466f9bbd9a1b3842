"""The monthly inspection report with rewards and penalties (每月监察奖罚明细报表): each reward or penalty
with the inspector who decided it, its source (an inspection, complaint, claim or incident, with its number)
and whether a penalty was collected (已收缴); and the period's incidents (突发事件, `cases.reports.incidents`)."""

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
from cases.reports.incidents import IncidentFigures, incident_figures
from cases.sanctions import sanction_views
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
    decided_by: str  # the inspector (or supervisor) who decided it
    source: str  # 监察 / 投诉 / 理赔 / 突发事件, "" when none
    source_ref: str  # its number: 案件号 of a complaint or claim, #id of an inspection or incident
    collected: str  # a penalty: 已收缴 / 未收缴; a reward: ""
    collected_at: datetime | None
    collected_by: str


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
    penalties_collected: Decimal
    penalties_uncollected: Decimal
    by_kind: tuple[KindLine, ...]
    by_branch: tuple[SanctionTotals, ...]
    by_person: tuple[SanctionTotals, ...]
    rows: tuple[SanctionRow, ...]
    incidents: IncidentFigures


COLLECTED, NOT_COLLECTED = "已收缴", "未收缴"


def _sanction_totals(rows: Sequence[Any], with_person: bool) -> tuple[SanctionTotals, ...]:
    out = []
    for r in rows:
        rw, pn = yuan0(int(r.rewards)), yuan0(int(r.penalties))
        out.append(SanctionTotals(r.branch, r.person if with_person else "", rw, pn, rw - pn, int(r.count)))
    return tuple(sorted(out, key=lambda t: (t.net, t.branch, t.person)))


def inspections_report(s: Session, period: Period, *, now: datetime | None = None) -> InspectionsReport:
    """Inspections done and failed per kind, findings by stage (overdue as of `now`, default period
    end), every reward and penalty decided in the period, with totals per branch and per person and the
    penalties collected (已收缴) or not, and the incidents that occurred in the period."""
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
    rows = []
    for v, k in zip(sanction_views(s, [x for x, _ in detail]), [k for _, k in detail], strict=True):
        is_penalty = v.kind is SanctionKind.PENALTY
        rows.append(SanctionRow(
            v.decided_at, v.branch, v.person, v.kind.label_zh, v.amount, v.reason,
            InspectionKind(k).label_zh if k else "", v.decided_by,
            v.source.label_zh if v.source is not None else "", v.source_ref,
            (NOT_COLLECTED if v.collected_at is None else COLLECTED) if is_penalty else "",
            v.collected_at, v.collected_by or "",
        ))
    collected = yuan0(int(s.scalar(
        select(func.coalesce(func.sum(Sanction.amount_fen), 0))
        .where(sin, Sanction.kind == SanctionKind.PENALTY.value, Sanction.collected_at.is_not(None))
    ) or 0))
    penalties = sum((b.penalties for b in by_branch), Decimal("0.00"))
    return InspectionsReport(
        period=period,
        inspections=sum(k.inspections for k in by_kind),
        failed=sum(k.failed for k in by_kind),
        findings=sum(c.count for c in findings_by_stage),
        findings_by_stage=findings_by_stage,
        findings_overdue=overdue,
        rewards=sum((b.rewards for b in by_branch), Decimal("0.00")),
        penalties=penalties,
        penalties_collected=collected,
        penalties_uncollected=penalties - collected,
        by_kind=by_kind,
        by_branch=by_branch,
        by_person=by_person,
        rows=tuple(rows),
        incidents=incident_figures(s, period),
    )
