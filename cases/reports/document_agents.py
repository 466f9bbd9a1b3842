"""The document (KPIs, tables, charts) of the agents' report (`cases.reports.agents`): quality scores
per agent for training and assessment, and the wrap-up codes per code, hotline and agent."""

from __future__ import annotations

from cases.reports.agents import AgentsReport
from cases.reports.document import HOTLINES, Chart, ReportDoc, Table

RULES_ZH = {"greeting": "缺少问候语", "closing": "缺少结束语", "taboo": "服务禁语", "silence": "长时间静音",
            "talk_over": "抢话", "escalation": "升级风险词"}
NO_HOTLINE_ZH = "无来电"


def rule_label(rule: str) -> str:
    base, _, detail = rule.partition(":")
    label = RULES_ZH.get(base, base)
    return f"{label}（{detail}）" if detail else label


def agents_doc(r: AgentsReport) -> ReportDoc:
    hotlines = sorted({w.hotline for w in r.wrap_up_counts})
    agents = sorted({w.agent for w in r.wrap_up_counts})
    codes = [(c.code, c.label) for c in r.by_code]

    def count(code: str, *, hotline: str | None = None, agent: str | None = None) -> int:
        return sum(w.count for w in r.wrap_up_counts
                   if w.code == code and hotline in (None, w.hotline) and agent in (None, w.agent))

    return ReportDoc(
        "agents-monthly",
        "客服员质检评分及话后代码统计 Agents' quality scores and wrap-up codes",
        r.period.label,
        (("质检通话", r.checked), ("平均质检分", r.avg_score), ("客服员", len(r.by_agent)), ("话后代码", r.wrap_ups)),
        (
            Table(
                "客服员质检评分（培训、考核）Quality scores by agent",
                ("客服员", "质检通话", "总分", "平均分", "最低分", "扣分合计", "问题数", "最常见问题"),
                tuple((a.agent, a.checked, a.total_score, a.avg_score, a.min_score, a.deducted, a.findings,
                       rule_label(a.top_rule) if a.top_rule else "") for a in r.by_agent),
            ),
            Chart("客服员平均质检分", "bar", tuple(a.agent for a in r.by_agent),
                  (("平均分", tuple(float(a.avg_score) for a in r.by_agent)),)),
            Table("话后代码 By wrap-up code", ("代码", "名称", "次数"),
                  tuple((c.code, c.label, c.count) for c in r.by_code)),
            Chart("话后代码次数", "bar", tuple(c.label for c in r.by_code),
                  (("次数", tuple(float(c.count) for c in r.by_code)),)),
            Table(
                "话后代码按热线 Wrap-up codes by hotline",
                ("话后代码", *(HOTLINES.get(h, NO_HOTLINE_ZH) for h in hotlines), "合计"),
                tuple((label, *(count(code, hotline=h) for h in hotlines), count(code)) for code, label in codes),
            ),
            Table(
                "话后代码按客服员 Wrap-up codes by agent",
                ("客服员", *(label for _, label in codes), "合计"),
                tuple((a, *(count(code, agent=a) for code, _ in codes), sum(count(c, agent=a) for c, _ in codes))
                      for a in agents),
            ),
        ),
    )
