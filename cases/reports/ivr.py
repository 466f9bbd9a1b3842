"""The IVR report (语音导航报表): per hotline and local day, how the calls that entered the IVR ended —
an agent reached, given up or not answered in the agent's queue, served by the IVR alone, left in the
IVR (and at which menu node), out of hours — with totals per hotline over the period.

SQL counts the calls per hotline, local day, outcome and path; the path is read (cases.ivr_path) only
for the calls whose end it decides, so a week of answered calls with distinct waybills in their paths
is not carried into Python one by one."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import case, func, literal, or_, select
from sqlalchemy.orm import Session

from cases.ivr_path import NODES, exit_node, ivr_node, ivr_steps, node_label, self_service
from cases.models.calls import Call
from cases.reports.data import Period, local_day_sql, percent

HOTLINE_ORDER = ("service", "claims")
TOTAL = "total"  # the `hotline` of a line over all hotlines
NOT_FINISHED = ("internal", "pending")
QUEUE_OUTCOMES = ("answered", "abandoned_in_queue", "unanswered")  # decided by the outcome alone
IVR_OUTCOMES = ("out_of_hours", "abandoned_in_ivr", "self_served")  # in the IVR even when no path was recorded


class IvrEnd(StrEnum):
    """How a call that entered the IVR ended (one of these per call)."""

    ANSWERED = "answered"  # an agent talked to the caller
    ABANDONED_IN_QUEUE = "abandoned_in_queue"  # sent to an agent, hung up waiting in the queue
    UNANSWERED_IN_QUEUE = "unanswered_in_queue"  # sent to an agent, left the queue without one (time-out)
    SELF_SERVED = "self_served"  # the IVR ended with goodbye after a self-service or a callback registered
    LEFT_IN_IVR = "left_in_ivr"  # hung up in the IVR (or between it and the queue)
    OUT_OF_HOURS = "out_of_hours"  # the IVR told the caller the hotline was closed
    OTHER = "other"  # interrupted (the PBX went away) and the like


def ivr_end(outcome: str, steps: tuple[str, ...]) -> IvrEnd:
    """The end of one call from its outcome (telephony.records.OUTCOMES) and IVR path steps."""
    if outcome == "answered":
        return IvrEnd.ANSWERED
    if outcome == "abandoned_in_queue":
        return IvrEnd.ABANDONED_IN_QUEUE
    if outcome == "unanswered":
        return IvrEnd.UNANSWERED_IN_QUEUE
    if outcome == "out_of_hours" or "closed" in (ivr_node(step) for step in steps):
        return IvrEnd.OUT_OF_HOURS
    if self_service(steps) is not None:
        return IvrEnd.SELF_SERVED
    if outcome in ("abandoned_in_ivr", "callback_offered"):
        return IvrEnd.LEFT_IN_IVR
    return IvrEnd.OTHER


@dataclass(frozen=True, slots=True)
class NodeCount:
    node: str  # cases.ivr_path.NODES key
    label: str
    label_en: str
    count: int
    share_percent: Decimal  # of the line's calls left in the IVR (or self-served)


@dataclass(frozen=True, slots=True)
class IvrLine:
    hotline: str  # service | claims | "total"
    day: date | None  # a local day of the period; None: the whole period
    entered: int  # calls that entered the IVR
    to_agent: int  # sent to an agent's queue: answered + abandoned_in_queue + unanswered_in_queue
    answered: int  # reached an agent
    abandoned_in_queue: int
    unanswered_in_queue: int
    self_served: int
    left_in_ivr: int
    out_of_hours: int
    out_of_hours_callbacks: int  # of the out-of-hours calls: callback requested
    other: int
    cases_registered: int  # calls whose path has a case the IVR registered (message, change, callback)
    answered_percent: Decimal  # of entered
    self_served_percent: Decimal
    left_percent: Decimal
    left_at: tuple[NodeCount, ...]  # where the calls left in the IVR left it, most first
    served: tuple[NodeCount, ...]  # what the self-served calls got, most first


@dataclass(frozen=True, slots=True)
class IvrReport:
    period: Period
    total: IvrLine  # all hotlines, the whole period
    by_hotline: tuple[IvrLine, ...]  # each hotline, the whole period
    by_day: tuple[IvrLine, ...]  # each hotline and local day (every day of the period), hotline by hotline
    days: tuple[IvrLine, ...]  # all hotlines per local day


@dataclass
class _Tally:
    ends: Counter[IvrEnd] = field(default_factory=Counter)
    left_at: Counter[str] = field(default_factory=Counter)
    served: Counter[str] = field(default_factory=Counter)
    ooh_callbacks: int = 0
    cases: int = 0

    def add(self, other: _Tally) -> None:
        self.ends.update(other.ends)
        self.left_at.update(other.left_at)
        self.served.update(other.served)
        self.ooh_callbacks += other.ooh_callbacks
        self.cases += other.cases

    def line(self, hotline: str, day: date | None) -> IvrLine:
        e = self.ends
        entered = sum(e.values())
        to_agent = e[IvrEnd.ANSWERED] + e[IvrEnd.ABANDONED_IN_QUEUE] + e[IvrEnd.UNANSWERED_IN_QUEUE]
        return IvrLine(
            hotline=hotline,
            day=day,
            entered=entered,
            to_agent=to_agent,
            answered=e[IvrEnd.ANSWERED],
            abandoned_in_queue=e[IvrEnd.ABANDONED_IN_QUEUE],
            unanswered_in_queue=e[IvrEnd.UNANSWERED_IN_QUEUE],
            self_served=e[IvrEnd.SELF_SERVED],
            left_in_ivr=e[IvrEnd.LEFT_IN_IVR],
            out_of_hours=e[IvrEnd.OUT_OF_HOURS],
            out_of_hours_callbacks=self.ooh_callbacks,
            other=e[IvrEnd.OTHER],
            cases_registered=self.cases,
            answered_percent=percent(e[IvrEnd.ANSWERED], entered),
            self_served_percent=percent(e[IvrEnd.SELF_SERVED], entered),
            left_percent=percent(e[IvrEnd.LEFT_IN_IVR], entered),
            left_at=_node_counts(self.left_at),
            served=_node_counts(self.served),
        )


_NODE_ORDER = {node: i for i, node in enumerate(NODES)}


def _node_counts(counts: Counter[str]) -> tuple[NodeCount, ...]:
    whole = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], _NODE_ORDER.get(kv[0], len(NODES)), kv[0]))
    return tuple(
        NodeCount(node, node_label(node).zh, node_label(node).en, n, percent(n, whole)) for node, n in ordered if n
    )


def _hotline_key(hotline: str) -> tuple[int, str]:
    return (HOTLINE_ORDER.index(hotline) if hotline in HOTLINE_ORDER else len(HOTLINE_ORDER), hotline)


def ivr_report(s: Session, period: Period) -> IvrReport:
    """Hotline calls started in the period that entered the IVR (an IVR path, or the outcome
    `out_of_hours` / `abandoned_in_ivr`), by how they ended (`ivr_end`), per hotline and local day."""
    path = func.coalesce(Call.ivr_path, "")
    day = local_day_sql(Call.started_at, period, s.get_bind().dialect.name).label("day")
    kept = case((Call.outcome.in_(QUEUE_OUTCOMES), literal("")), else_=path).label("path")
    has_case = case((or_(path.like("case=%"), path.like("%>case=%")), 1), else_=0).label("has_case")
    rows = s.execute(
        select(Call.hotline, day, Call.outcome, kept, has_case, func.count())
        .where(
            Call.started_at >= period.start,
            Call.started_at < period.end,
            Call.hotline.is_not(None),
            Call.outcome.not_in(NOT_FINISHED),
            or_(path != "", Call.outcome.in_(IVR_OUTCOMES)),
        )
        .group_by(Call.hotline, day, Call.outcome, kept, has_case)
    ).all()
    tallies: dict[tuple[str, str], _Tally] = {}
    for hotline, local_day, outcome, kept_path, with_case, n in rows:
        t = tallies.setdefault((str(hotline), str(local_day)), _Tally())
        steps = ivr_steps(kept_path)
        end = ivr_end(outcome, steps)
        t.ends[end] += n
        t.cases += n if with_case else 0
        if end is IvrEnd.LEFT_IN_IVR:
            t.left_at[exit_node(steps)] += n
        elif end is IvrEnd.SELF_SERVED:
            t.served[self_service(steps) or "goodbye"] += n
        elif end is IvrEnd.OUT_OF_HOURS and "callback" in (ivr_node(step) for step in steps):
            t.ooh_callbacks += n

    days = []
    d = period.from_day
    while d < period.until_day:
        days.append(d)
        d += timedelta(days=1)
    hotlines = sorted({h for h, _ in tallies}, key=_hotline_key)
    total, by_hotline, by_day = _Tally(), [], []
    per_day = {d: _Tally() for d in days}
    for hotline in hotlines:
        whole = _Tally()
        for d in days:
            t = tallies.get((hotline, d.isoformat()), _Tally())
            whole.add(t)
            per_day[d].add(t)
            by_day.append(t.line(hotline, d))
        total.add(whole)
        by_hotline.append(whole.line(hotline, None))
    return IvrReport(
        period=period,
        total=total.line(TOTAL, None),
        by_hotline=tuple(by_hotline),
        by_day=tuple(by_day),
        days=tuple(per_day[d].line(TOTAL, d) for d in days),
    )
