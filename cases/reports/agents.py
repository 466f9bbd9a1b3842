"""The agents' figures for training and assessment (客服主管: 培训、考核所属人员): per agent the service
checks of its calls in the period summed (checked calls, total and average score, lowest score, points
deducted, the rule failed most), and the wrap-up codes agents chose (话后代码) per code, hotline and agent.

A wrap-up code is one row of `wrap_ups` (cases.wrap_ups.record_wrap_up, migration 0017): counted here by
who chose it and when, on the hotline of the call it was about (the case's call that agent took, else the
case's latest call; "none": the case had no call)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from cases.models.call_analysis import CallCheckFinding, CallCheckResult
from cases.models.calls import Call
from cases.models.wrap_ups import WrapUp
from cases.reports.data import Period

NO_HOTLINE = "none"


@dataclass(frozen=True, slots=True)
class AgentQuality:
    agent: str
    checked: int  # calls of the agent in the period with a service check
    total_score: int
    avg_score: Decimal
    min_score: int
    deducted: int  # points deducted over all findings
    findings: int
    top_rule: str  # the rule failed most ("" when none)


@dataclass(frozen=True, slots=True)
class WrapUpCount:
    code: str
    label: str
    hotline: str  # service | claims | none
    agent: str
    count: int


@dataclass(frozen=True, slots=True)
class CodeTotal:
    code: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class AgentsReport:
    period: Period
    checked: int
    avg_score: Decimal
    by_agent: tuple[AgentQuality, ...]  # best average first
    wrap_ups: int
    by_code: tuple[CodeTotal, ...]
    wrap_up_counts: tuple[WrapUpCount, ...]  # per code, hotline and agent


def _avg(total: int, n: int) -> Decimal:
    return (Decimal(total) / n).quantize(Decimal("0.1")) if n else Decimal("0.0")


def _quality(s: Session, period: Period) -> tuple[AgentQuality, ...]:
    inp = and_(Call.started_at >= period.start, Call.started_at < period.end, Call.agent.is_not(None))
    rows = s.execute(
        select(Call.agent, func.count(), func.sum(CallCheckResult.score), func.min(CallCheckResult.score))
        .join(CallCheckResult, CallCheckResult.call_id == Call.id)
        .where(inp)
        .group_by(Call.agent)
    ).all()
    found: dict[str, Counter[str]] = defaultdict(Counter)
    deducted: Counter[str] = Counter()
    for agent, rule, k, points in s.execute(
        select(Call.agent, CallCheckFinding.rule, func.count(), func.sum(CallCheckFinding.deduction))
        .join(CallCheckResult, CallCheckResult.call_id == Call.id)
        .join(CallCheckFinding, CallCheckFinding.check_id == CallCheckResult.id)
        .where(inp)
        .group_by(Call.agent, CallCheckFinding.rule)
    ).all():
        found[str(agent)][rule] += int(k)
        deducted[str(agent)] += int(points or 0)
    out = []
    for name, k, total, low in rows:
        agent = str(name)
        rules = found.get(agent, Counter())
        top = min(rules.items(), key=lambda kv: (-kv[1], kv[0]))[0] if rules else ""
        out.append(AgentQuality(agent, int(k), int(total or 0), _avg(int(total or 0), int(k)), int(low or 0),
                                deducted[agent], sum(rules.values()), top))
    return tuple(sorted(out, key=lambda a: (-a.avg_score, a.agent)))


def _wrap_ups(s: Session, period: Period) -> tuple[WrapUpCount, ...]:
    rows = s.execute(
        select(WrapUp.code, WrapUp.label, WrapUp.hotline, WrapUp.agent, func.count())
        .where(WrapUp.at >= period.start, WrapUp.at < period.end)
        .group_by(WrapUp.code, WrapUp.label, WrapUp.hotline, WrapUp.agent)
    ).all()
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for code, label, hotline, agent, k in rows:
        counts[(code, label, hotline or NO_HOTLINE, agent)] += int(k)
    return tuple(WrapUpCount(code, label, hotline, agent, k)
                 for (code, label, hotline, agent), k in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def agents_report(s: Session, period: Period) -> AgentsReport:
    """The service-check scores summed per agent over the calls started in the period, and the
    wrap-up codes chosen in the period per code, hotline and agent."""
    by_agent = _quality(s, period)
    counts = _wrap_ups(s, period)
    per_code: Counter[tuple[str, str]] = Counter()
    for w in counts:
        per_code[(w.code, w.label)] += w.count
    checked = sum(a.checked for a in by_agent)
    return AgentsReport(
        period=period,
        checked=checked,
        avg_score=_avg(sum(a.total_score for a in by_agent), checked),
        by_agent=by_agent,
        wrap_ups=sum(per_code.values()),
        by_code=tuple(CodeTotal(c, lb, k) for (c, lb), k in sorted(per_code.items(), key=lambda kv: (-kv[1], kv[0]))),
        wrap_up_counts=counts,
    )
