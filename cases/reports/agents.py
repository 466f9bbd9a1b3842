"""The agents' figures for training and assessment (客服主管: 培训、考核所属人员): per agent the service
checks of its calls in the period summed (checked calls, total and average score, lowest score, points
deducted, the rule failed most), and the wrap-up codes agents chose (话后代码) per code, hotline and agent.

A wrap-up code is recorded on a case as a note of the case update ("话后代码 wrap-up: <code> (<label>)",
agent_console.data.parse_case_update), audited as `case.update`: counted here by who chose it and when,
on the hotline of the case's call that agent took (else the case's latest call)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from cases.models.audit import AuditEntry
from cases.models.call_analysis import CallCheckFinding, CallCheckResult
from cases.models.calls import Call
from cases.models.case import case_calls
from cases.reports.data import Period

WRAP_UP_NOTE = re.compile(r"^话后代码 wrap-up: (?P<code>[^\s()]+) \((?P<label>[^)\n]*)\)", re.MULTILINE)
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


def _hotlines(s: Session, case_ids: set[int]) -> dict[int, list[tuple[Any, str | None, str]]]:
    """Per case: its calls as (started_at, agent, hotline), latest first."""
    out: dict[int, list[tuple[Any, str | None, str]]] = defaultdict(list)
    if not case_ids:
        return out
    for cid, started, agent, hotline in s.execute(
        select(case_calls.c.case_id, Call.started_at, Call.agent, Call.hotline)
        .join(Call, Call.id == case_calls.c.call_id)
        .where(case_calls.c.case_id.in_(sorted(case_ids)))
        .order_by(case_calls.c.case_id, Call.started_at.desc(), Call.id.desc())
    ).all():
        out[int(cid)].append((started, agent, hotline or NO_HOTLINE))
    return out


def _wrap_ups(s: Session, period: Period) -> tuple[WrapUpCount, ...]:
    entries = s.execute(
        select(AuditEntry.who, AuditEntry.entity_id, AuditEntry.detail)
        .where(AuditEntry.what == "case.update", AuditEntry.entity == "case", AuditEntry.at >= period.start,
               AuditEntry.at < period.end)
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()
    chosen: list[tuple[str, int, str, str]] = []
    for who, entity_id, detail in entries:
        note = detail.get("note") if isinstance(detail, dict) else None
        m = WRAP_UP_NOTE.search(note) if isinstance(note, str) else None
        if m is not None and entity_id.isdigit():
            chosen.append((who, int(entity_id), m["code"], m["label"]))
    calls = _hotlines(s, {cid for _, cid, _, _ in chosen})
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for who, cid, code, label in chosen:
        mine = [h for _, agent, h in calls.get(cid, []) if agent == who]
        hotline = (mine or [h for _, _, h in calls.get(cid, [])] or [NO_HOTLINE])[0]
        counts[(code, label, hotline, who)] += 1
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
