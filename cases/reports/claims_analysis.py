"""The accident-cause analysis in words (事故原因分析) of the monthly claims report: sentences made from
its figures — how many claims against the month before, the leading causes with their shares and
amounts, how each cause moved, major accidents, days to settle, who was liable for most."""

from __future__ import annotations

from decimal import Decimal

from cases.reports.claims import ClaimsReport
from cases.reports.data import percent

TOP_CAUSES = 3


def _yuan(amount: Decimal) -> str:
    return f"{amount:,.2f} 元"


def _change(now: int, before: int) -> str:
    if now == before:
        return "持平"
    word = "增加" if now > before else "减少"
    tail = f"（{'+' if now > before else '-'}{percent(abs(now - before), before)}%）" if before else ""
    return f"{word} {abs(now - before)} 件{tail}"


def cause_analysis(r: ClaimsReport) -> tuple[str, ...]:
    """The analysis as sentences, most important first; one sentence when the period has no claims."""
    if r.total == 0:
        before = f"上期 {r.previous_total} 件。" if r.previous_total else ""
        return (f"本期无理赔案件。{before}",)
    out = [f"本期受理理赔 {r.total} 件，上期 {r.previous_total} 件，{_change(r.total, r.previous_total)}；"
           f"索赔金额 {_yuan(r.claimed)}，理赔金额 {_yuan(r.agreed)}，已赔付 {_yuan(r.paid)}。"]
    top = r.by_cause[:TOP_CAUSES]
    out.append("事故原因居前的是：" + "、".join(
        f"{c.label} {c.count} 件（占 {c.share_percent}%，索赔 {_yuan(c.claimed)}）" for c in top) + "。")
    if r.by_cause and (len(r.by_cause) < 2 or r.by_cause[0].count > r.by_cause[1].count):
        lead = r.by_cause[0]
        out.append(f"{lead.label}是本期首要事故原因，应重点整改。")
    earlier = {c.key: c.count for c in r.previous_by_cause}
    labels = {c.key: c.label for c in r.previous_by_cause} | {c.cause.value: c.label for c in r.by_cause}
    now = {c.cause.value: c.count for c in r.by_cause}
    moves = sorted(((k, now.get(k, 0) - earlier.get(k, 0)) for k in labels), key=lambda kv: (-abs(kv[1]), kv[0]))
    moved = [f"{labels[k]} {'+' if d > 0 else ''}{d} 件" for k, d in moves if d]
    out.append("与上期相比：" + ("、".join(moved) if moved else "各事故原因件数无变化") + "。")
    big = max(r.by_cause, key=lambda c: (c.claimed, c.count))
    if len(r.by_cause) > 1 and big is not r.by_cause[0]:
        out.append(f"索赔金额最大的是{big.label}（{_yuan(big.claimed)}）。")
    if r.major:
        out.append(f"重大事故 {r.major} 件，需协助处理并跟进保险理赔。")
    if r.settled:
        out.append(f"已赔付 {r.settled} 件，平均理赔天数 {r.avg_days_to_settle} 天（报案至赔付）。")
    else:
        out.append("本期报案的理赔尚无赔付。")
    if r.by_party:
        p = r.by_party[0]
        out.append(f"应承担金额最多的责任方为{p.label}（{p.claims} 件，{_yuan(p.owed)}）。")
    return tuple(out)
