"""The contact centre's call figures: offered, answered, abandoned, service level, per hotline, queue
and agent."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from cases.errors import InvalidReportRequest
from cases.models.calls import Call
from cases.reports.data import DayCount, Period, daily_trend, percent

SERVICE_LEVEL_S = 20.0
ABANDONED = ("abandoned_in_queue", "abandoned_in_ivr")
NOT_OFFERED = ("internal", "pending", "out_of_hours", "self_served")  # never offered to an agent


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
            percent(int(r.in_sl or 0), offered),
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
        daily_trend(s, Call.started_at, base, period),
        daily_trend(s, Call.started_at, and_(base, ans), period),
    )
