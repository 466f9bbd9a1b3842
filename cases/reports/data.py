"""The reports of the service standard as typed data, aggregated in SQL over a period given as local
calendar dates in a time zone (default Asia/Shanghai): `from_day` inclusive, `until_day` exclusive."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.orm import Session

from cases.errors import InvalidReportRequest
from cases.models.calls import Call
from cases.models.case import Case
from cases.models.workflows import (
    Claim,
    ClaimLiability,
    Complaint,
    Inspection,
    InspectionFinding,
    Sanction,
    SelfSettled,
)
from cases.money import yuan0
from cases.vocab import (
    AccidentCause,
    ClaimStage,
    ComplaintCause,
    ComplaintStage,
    ComplaintType,
    Department,
    FindingStage,
    InspectionKind,
    LiableParty,
    SanctionKind,
    SettledBy,
)

DEFAULT_TZ = "Asia/Shanghai"
DETAIL_LIMIT = 500
SERVICE_LEVEL_S = 20.0
ABANDONED = ("abandoned_in_queue", "abandoned_in_ivr")
NOT_OFFERED = ("internal", "pending", "out_of_hours", "self_served")  # never offered to an agent


@dataclass(frozen=True, slots=True)
class Period:
    from_day: date
    until_day: date  # exclusive
    tz: str
    start: datetime  # UTC
    end: datetime  # UTC, exclusive

    @property
    def label(self) -> str:
        last = self.until_day - timedelta(days=1)
        return f"{self.from_day.isoformat()} – {last.isoformat()} ({self.tz})"

    def previous(self) -> Period:
        return make_period(self.from_day - (self.until_day - self.from_day), self.from_day, self.tz)


def make_period(from_day: date, until_day: date, tz: str = DEFAULT_TZ) -> Period:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidReportRequest(f"unknown time zone {tz!r}") from None
    if until_day <= from_day:
        raise InvalidReportRequest(f"until {until_day} must be after from {from_day}")
    if (until_day - from_day).days > 3660:
        raise InvalidReportRequest("a report period is at most 10 years")
    start = datetime.combine(from_day, time(), zone).astimezone(UTC)
    end = datetime.combine(until_day, time(), zone).astimezone(UTC)
    return Period(from_day, until_day, tz, start, end)


@dataclass(frozen=True, slots=True)
class Count:
    key: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    count: int


def _local_day(col: Any, period: Period, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.to_char(func.timezone(period.tz, col), "YYYY-MM-DD")
    offset = int(period.start.astimezone(ZoneInfo(period.tz)).utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
    return func.strftime("%Y-%m-%d", col, f"{offset:+d} minutes")


def _counts(s: Session, stmt: Select[Any] | Any, enum: type[StrEnum] | None) -> tuple[Count, ...]:
    rows = [(k if k is not None else "", int(n)) for k, n in s.execute(stmt).all()]
    out = []
    for key, n in rows:
        label = key or "—"
        if enum is not None and key:
            try:
                label = enum(key).label_zh  # type: ignore[attr-defined]
            except ValueError:
                pass
        out.append(Count(key, label, n))
    return tuple(sorted(out, key=lambda c: (-c.count, c.key)))


def _trend(s: Session, col: Any, where: ColumnElement[bool], period: Period) -> tuple[DayCount, ...]:
    day = _local_day(col, period, s.get_bind().dialect.name).label("day")
    got = {str(d): int(n) for d, n in s.execute(select(day, func.count()).where(where).group_by(day)).all()}
    out, d = [], period.from_day
    while d < period.until_day:
        out.append(DayCount(d, got.get(d.isoformat(), 0)))
        d += timedelta(days=1)
    return tuple(out)


# ---------------------------------------------------------------- weekly complaint summary (每周汇总表)


@dataclass(frozen=True, slots=True)
class ComplaintRow:
    case_number: str
    recorded_at: datetime
    complaint_type: str
    branch: str
    cause: str
    stage: str
    referred_to: str
    subject: str


@dataclass(frozen=True, slots=True)
class ComplaintSummary:
    period: Period
    total: int
    previous_total: int
    closed: int
    overdue_referrals: int
    by_type: tuple[Count, ...]
    by_branch: tuple[Count, ...]
    by_cause: tuple[Count, ...]
    by_stage: tuple[Count, ...]
    by_department: tuple[Count, ...]
    trend: tuple[DayCount, ...]
    rows: tuple[ComplaintRow, ...]


def complaint_summary(s: Session, period: Period, *, now: datetime | None = None) -> ComplaintSummary:
    """Complaints recorded in the period by type, branch, cause, stage, responsible department; per day;
    against the previous period of the same length; overdue referrals as of `now` (default: period end)."""
    when = now or min(period.end, datetime.now(UTC))
    inp = and_(Complaint.recorded_at >= period.start, Complaint.recorded_at < period.end)
    prev = period.previous()
    n = func.count()

    def by(col: Any, enum: type[StrEnum] | None) -> tuple[Count, ...]:
        return _counts(s, select(col, n).where(inp).group_by(col), enum)

    total = int(s.scalar(select(n).select_from(Complaint).where(inp)) or 0)
    previous_total = int(
        s.scalar(
            select(n)
            .select_from(Complaint)
            .where(Complaint.recorded_at >= prev.start, Complaint.recorded_at < prev.end)
        )
        or 0
    )
    closed = int(
        s.scalar(select(n).select_from(Complaint).where(inp, Complaint.stage == ComplaintStage.CLOSED.value)) or 0
    )
    overdue = int(
        s.scalar(
            select(n)
            .select_from(Complaint)
            .where(inp, Complaint.stage == ComplaintStage.REFERRED.value, Complaint.referral_deadline < when)
        )
        or 0
    )
    detail = s.execute(
        select(Complaint, Case.number, Case.subject)
        .join(Case, Case.id == Complaint.case_id)
        .where(inp)
        .order_by(Complaint.recorded_at, Complaint.id)
        .limit(DETAIL_LIMIT)
    ).all()
    rows = tuple(
        ComplaintRow(
            case_number=num,
            recorded_at=c.recorded_at,
            complaint_type=ComplaintType(c.complaint_type).label_zh,
            branch=c.branch,
            cause=ComplaintCause(c.cause).label_zh if c.cause else "",
            stage=ComplaintStage(c.stage).label_zh,
            referred_to=Department(c.referred_to).label_zh if c.referred_to else "",
            subject=subj,
        )
        for c, num, subj in detail
    )
    return ComplaintSummary(
        period=period,
        total=total,
        previous_total=previous_total,
        closed=closed,
        overdue_referrals=overdue,
        by_type=by(Complaint.complaint_type, ComplaintType),
        by_branch=by(Complaint.branch, None),
        by_cause=by(Complaint.cause, ComplaintCause),
        by_stage=by(Complaint.stage, ComplaintStage),
        by_department=by(Complaint.responsible_department, Department),
        trend=_trend(s, Complaint.recorded_at, inp, period),
        rows=rows,
    )


# ---------------------------------------------------------------- monthly claims report (每月理赔报表及事故原因分析)


@dataclass(frozen=True, slots=True)
class CauseLine:
    cause: AccidentCause
    label: str
    count: int
    share_percent: Decimal  # of the claims in the period
    claimed: Decimal
    agreed: Decimal
    paid: Decimal
    major: int


@dataclass(frozen=True, slots=True)
class PartyLine:
    party: LiableParty
    label: str
    claims: int
    owed: Decimal  # notified amounts owed


@dataclass(frozen=True, slots=True)
class ClaimRow:
    case_number: str
    reported_at: datetime
    branch: str
    cause: str
    stage: str
    claimed: Decimal
    agreed: Decimal | None
    paid: Decimal | None
    major: bool


@dataclass(frozen=True, slots=True)
class ClaimsReport:
    period: Period
    total: int
    major: int
    closed: int
    claimed: Decimal
    agreed: Decimal
    paid: Decimal
    insurer_payout: Decimal
    by_cause: tuple[CauseLine, ...]
    by_stage: tuple[Count, ...]
    by_branch: tuple[Count, ...]
    by_party: tuple[PartyLine, ...]
    trend: tuple[DayCount, ...]
    rows: tuple[ClaimRow, ...]


def _pct(part: int, whole: int) -> Decimal:
    return (Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.1")) if whole else Decimal("0.0")


def claims_report(s: Session, period: Period) -> ClaimsReport:
    """Claims reported in the period with the accident-cause analysis: count, share, amounts claimed,
    agreed and paid per cause; stage, branch, responsible parties' amounts owed; per day."""
    inp = and_(Claim.reported_at >= period.start, Claim.reported_at < period.end)
    n = func.count()
    zero = func.coalesce
    tot = s.execute(
        select(
            n,
            zero(func.sum(Claim.claimed_fen), 0),
            zero(func.sum(Claim.agreed_fen), 0),
            zero(func.sum(Claim.paid_fen), 0),
            zero(func.sum(Claim.insurer_payout_fen), 0),
            func.sum(case((Claim.major, 1), else_=0)),
            func.sum(case((Claim.stage == ClaimStage.CLOSED.value, 1), else_=0)),
        ).where(inp)
    ).one()
    total = int(tot[0])
    cause_rows = s.execute(
        select(
            Claim.accident_cause,
            n,
            zero(func.sum(Claim.claimed_fen), 0),
            zero(func.sum(Claim.agreed_fen), 0),
            zero(func.sum(Claim.paid_fen), 0),
            func.sum(case((Claim.major, 1), else_=0)),
        )
        .where(inp)
        .group_by(Claim.accident_cause)
    ).all()
    by_cause = tuple(
        sorted(
            (
                CauseLine(
                    AccidentCause(c),
                    AccidentCause(c).label_zh,
                    int(k),
                    _pct(int(k), total),
                    yuan0(int(cl)),
                    yuan0(int(ag)),
                    yuan0(int(pd)),
                    int(mj or 0),
                )
                for c, k, cl, ag, pd, mj in cause_rows
            ),
            key=lambda x: (-x.count, x.cause.value),
        )
    )
    party_rows = s.execute(
        select(
            ClaimLiability.party,
            func.count(func.distinct(ClaimLiability.claim_id)),
            zero(func.sum(ClaimLiability.owed_fen), 0),
        )
        .join(Claim, Claim.id == ClaimLiability.claim_id)
        .where(inp)
        .group_by(ClaimLiability.party)
    ).all()
    by_party = tuple(
        sorted(
            (PartyLine(LiableParty(p), LiableParty(p).label_zh, int(k), yuan0(int(o or 0))) for p, k, o in party_rows),
            key=lambda x: (-x.owed, x.party.value),
        )
    )
    detail = s.execute(
        select(Claim, Case.number)
        .join(Case, Case.id == Claim.case_id)
        .where(inp)
        .order_by(Claim.reported_at, Claim.id)
        .limit(DETAIL_LIMIT)
    ).all()
    rows = tuple(
        ClaimRow(
            num,
            c.reported_at,
            c.branch,
            AccidentCause(c.accident_cause).label_zh,
            ClaimStage(c.stage).label_zh,
            yuan0(c.claimed_fen),
            yuan0(c.agreed_fen) if c.agreed_fen is not None else None,
            yuan0(c.paid_fen) if c.paid_fen is not None else None,
            c.major,
        )
        for c, num in detail
    )
    return ClaimsReport(
        period=period,
        total=total,
        major=int(tot[5] or 0),
        closed=int(tot[6] or 0),
        claimed=yuan0(int(tot[1])),
        agreed=yuan0(int(tot[2])),
        paid=yuan0(int(tot[3])),
        insurer_payout=yuan0(int(tot[4])),
        by_cause=by_cause,
        by_stage=_counts(s, select(Claim.stage, n).where(inp).group_by(Claim.stage), ClaimStage),
        by_branch=_counts(s, select(Claim.branch, n).where(inp).group_by(Claim.branch), None),
        by_party=by_party,
        trend=_trend(s, Claim.reported_at, inp, period),
        rows=rows,
    )


# ---------------------------------------------------------------- monthly inspection report (每月监察奖罚明细报表)


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
    findings_by_stage = _counts(s, fj.where(ins).group_by(InspectionFinding.stage), FindingStage)
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


# ---------------------------------------------------------------- monthly self-settled statistics (自行解决业务)


@dataclass(frozen=True, slots=True)
class AmountCount:
    key: str
    label: str
    count: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class SelfSettledRow:
    settled_at: datetime
    settled_by: str
    branch: str
    person: str
    waybill: str
    issue: str
    amount: Decimal
    note: str


@dataclass(frozen=True, slots=True)
class SelfSettledReport:
    period: Period
    total: int
    amount: Decimal
    by_settled_by: tuple[AmountCount, ...]
    by_branch: tuple[AmountCount, ...]
    by_issue: tuple[AmountCount, ...]
    rows: tuple[SelfSettledRow, ...]


def self_settled_report(s: Session, period: Period) -> SelfSettledReport:
    inp = and_(SelfSettled.settled_at >= period.start, SelfSettled.settled_at < period.end)

    def by(col: Any, enum: type[StrEnum] | None) -> tuple[AmountCount, ...]:
        got = s.execute(
            select(col, func.count(), func.coalesce(func.sum(SelfSettled.amount_fen), 0)).where(inp).group_by(col)
        ).all()
        out = [
            AmountCount(k, enum(k).label_zh if enum else k, int(c), yuan0(int(a)))  # type: ignore[attr-defined]
            for k, c, a in got
        ]
        return tuple(sorted(out, key=lambda x: (-x.count, x.key)))

    tot = s.execute(select(func.count(), func.coalesce(func.sum(SelfSettled.amount_fen), 0)).where(inp)).one()
    detail = s.scalars(
        select(SelfSettled).where(inp).order_by(SelfSettled.settled_at, SelfSettled.id).limit(DETAIL_LIMIT)
    ).all()
    rows = tuple(
        SelfSettledRow(
            x.settled_at,
            SettledBy(x.settled_by).label_zh,
            x.branch,
            x.person,
            x.waybill or "",
            ComplaintType(x.issue).label_zh,
            yuan0(x.amount_fen),
            x.note,
        )
        for x in detail
    )
    return SelfSettledReport(
        period,
        int(tot[0]),
        yuan0(int(tot[1])),
        by(SelfSettled.settled_by, SettledBy),
        by(SelfSettled.branch, None),
        by(SelfSettled.issue, ComplaintType),
        rows,
    )


# ---------------------------------------------------------------- contact-centre call figures


@dataclass(frozen=True, slots=True)
class CallLine:
    key: str  # hotline, queue or agent
    offered: int
    answered: int
    abandoned: int
    unanswered: int
    answered_in_sl: int
    service_level_percent: Decimal  # answered within the threshold / offered
    avg_wait_s: Decimal  # over answered calls
    avg_handle_s: Decimal  # talk time over answered calls


@dataclass(frozen=True, slots=True)
class AgentLine:
    agent: str
    answered: int
    talk_s: Decimal
    avg_handle_s: Decimal
    avg_wait_s: Decimal


@dataclass(frozen=True, slots=True)
class CallFigures:
    period: Period
    service_level_s: float
    total: CallLine
    by_hotline: tuple[CallLine, ...]
    by_queue: tuple[CallLine, ...]
    by_agent: tuple[AgentLine, ...]
    trend_offered: tuple[DayCount, ...]
    trend_answered: tuple[DayCount, ...]


def _avg(total: float | None, n: int) -> Decimal:
    return (Decimal(str(total or 0)) / n).quantize(Decimal("0.1")) if n else Decimal("0.0")


def call_figures(s: Session, period: Period, *, service_level_s: float = SERVICE_LEVEL_S) -> CallFigures:
    """Hotline calls started in the period (internal and still-pending calls left out): offered,
    answered, abandoned (in queue or IVR), unanswered; service level = answered with wait ≤ threshold ÷
    offered; average wait and handle (talk) time over answered calls; per hotline, queue and agent."""
    if not 0 < service_level_s <= 3600:
        raise InvalidReportRequest(f"service level threshold {service_level_s} s is not between 0 and 3600")
    base = and_(
        Call.started_at >= period.start,
        Call.started_at < period.end,
        Call.hotline.is_not(None),
        Call.outcome.not_in(NOT_OFFERED),
    )
    ans = Call.outcome == "answered"
    cols = (
        func.count().label("offered"),
        func.sum(case((ans, 1), else_=0)).label("answered"),
        func.sum(case((Call.outcome.in_(ABANDONED), 1), else_=0)).label("abandoned"),
        func.sum(case((and_(ans, func.coalesce(Call.wait_s, 0) <= service_level_s), 1), else_=0)).label("in_sl"),
        func.sum(case((ans, func.coalesce(Call.wait_s, 0)), else_=0)).label("wait"),
        func.sum(case((ans, func.coalesce(Call.talk_s, 0)), else_=0)).label("talk"),
    )

    def line(key: str, r: Any) -> CallLine:
        offered, answered, abandoned = int(r.offered or 0), int(r.answered or 0), int(r.abandoned or 0)
        return CallLine(
            key,
            offered,
            answered,
            abandoned,
            offered - answered - abandoned,
            int(r.in_sl or 0),
            _pct(int(r.in_sl or 0), offered),
            _avg(r.wait, answered),
            _avg(r.talk, answered),
        )

    total = line("total", s.execute(select(*cols).where(base)).one())
    by_hotline = tuple(
        line(r.key, r)
        for r in s.execute(
            select(Call.hotline.label("key"), *cols).where(base).group_by(Call.hotline).order_by(Call.hotline)
        ).all()
    )
    by_queue = tuple(
        line(r.key, r)
        for r in s.execute(
            select(Call.queue.label("key"), *cols)
            .where(base, Call.queue.is_not(None))
            .group_by(Call.queue)
            .order_by(Call.queue)
        ).all()
    )
    agent_rows = s.execute(
        select(
            Call.agent, func.count(), func.sum(func.coalesce(Call.talk_s, 0)), func.sum(func.coalesce(Call.wait_s, 0))
        )
        .where(base, ans, Call.agent.is_not(None))
        .group_by(Call.agent)
        .order_by(Call.agent)
    ).all()
    by_agent = tuple(
        AgentLine(a or "", int(k), Decimal(str(t or 0)).quantize(Decimal("0.1")), _avg(t, int(k)), _avg(w, int(k)))
        for a, k, t, w in agent_rows
    )
    return CallFigures(
        period,
        service_level_s,
        total,
        by_hotline,
        by_queue,
        by_agent,
        _trend(s, Call.started_at, base, period),
        _trend(s, Call.started_at, and_(base, ans), period),
    )
