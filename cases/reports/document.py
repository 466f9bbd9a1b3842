"""A report as a renderer-neutral document (KPIs, tables, charts) built from the typed report data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from cases.reports.calls import CallFigures, CallLine
from cases.reports.changes import ChangesSection
from cases.reports.claims import ClaimsReport
from cases.reports.claims_analysis import cause_analysis
from cases.reports.complaints import ComplaintSummary
from cases.reports.data import Count, DayCount, Period
from cases.reports.inspections import InspectionsReport
from cases.reports.ivr import IvrLine, IvrReport, NodeCount
from cases.reports.self_settled import SelfSettledReport

Cell = str | int | Decimal


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


CHART_UNITS = ("count", "yuan")


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    kind: str  # bar | line
    categories: tuple[str, ...]
    series: tuple[tuple[str, tuple[float, ...]], ...]
    unit: str = "count"  # one of CHART_UNITS: count (whole numbers on the axis) or yuan (amounts)


@dataclass(frozen=True, slots=True)
class ReportDoc:
    name: str
    title: str
    period: str
    kpis: tuple[tuple[str, Cell], ...]
    blocks: tuple[Table | Chart, ...]
    analysis: str = ""  # the supervisor's written analysis and suggestions (cases.reports.analyses)
    analysis_by: str = ""  # who wrote it, when (local time)


ANALYSIS_TITLE = "分析与建议 Analysis and suggestions"


HOTLINES = {"service": "客服热线", "claims": "理赔热线", "total": "合计"}  # the standard's 客服电话, 理赔电话


def _local(dt: datetime, period: Period) -> str:
    return dt.astimezone(ZoneInfo(period.tz)).strftime("%Y-%m-%d %H:%M")


def _count_table(title: str, head: str, counts: tuple[Count, ...]) -> Table:
    return Table(title, (head, "数量"), tuple((c.label, c.count) for c in counts))


def _count_chart(title: str, counts: tuple[Count, ...]) -> Chart:
    return Chart(title, "bar", tuple(c.label for c in counts), (("数量", tuple(float(c.count) for c in counts)),))


def _trend_chart(title: str, series: tuple[tuple[str, tuple[DayCount, ...]], ...]) -> Chart:
    cats = tuple(d.day.strftime("%m-%d") for d in series[0][1])
    return Chart(title, "line", cats, tuple((name, tuple(float(d.count) for d in days)) for name, days in series))


def changes_blocks(c: ChangesSection, period: Period) -> tuple[Table, ...]:
    """The complaint summary's section of change requests (客服员 3.4): per field, and each request."""
    return (
        Table("更改申请 Change requests", ("项目", "申请", "已更改", "已驳回", "待审批"),
              (*((f.label, f.requested, f.applied, f.refused, f.pending) for f in c.by_field),
               ("合计", c.requested, c.applied, c.refused, c.pending))),
        Table("更改明细 Change request details",
              ("案件号", "运单号", "项目", "原值", "新值", "申请人", "申请时间", "审批人", "结果", "更改原因",
               "审批意见"),
              tuple((x.case_number, x.waybill, x.field, x.old_value, x.new_value, x.requested_by,
                     _local(x.requested_at, period), x.decided_by, x.outcome, x.reason, x.decision_note)
                    for x in c.rows)),
    )


def complaints_doc(r: ComplaintSummary) -> ReportDoc:
    change = r.total - r.previous_total
    return ReportDoc(
        "complaints-weekly",
        "每周投诉汇总表 Weekly complaint summary",
        r.period.label,
        (
            ("投诉总数", r.total),
            ("上期", r.previous_total),
            ("环比变化", f"{change:+d}"),
            ("已关闭", r.closed),
            ("转交超期", r.overdue_referrals),
            ("更改申请", r.changes.requested),
        ),
        (
            _count_chart("按类型", r.by_type),
            _count_table("按类型 By type", "类型", r.by_type),
            _count_table("按分公司 By branch", "分公司", r.by_branch),
            _count_chart("按原因", r.by_cause),
            _count_table("按原因 By cause", "原因", r.by_cause),
            _count_table("按责任部门 By responsible department", "部门", r.by_department),
            _count_table("按状态 By status", "状态", r.by_stage),
            _trend_chart("每日投诉趋势 Daily trend", (("投诉", r.trend),)),
            Table(
                "明细 Details",
                ("案件号", "登记时间", "运单号", "客户", "类型", "分公司", "原因", "状态", "转交部门", "主题",
                 "整改结果", "答复客户", "处理人"),
                tuple(
                    (x.case_number, _local(x.recorded_at, r.period), x.waybill, x.customer, x.complaint_type,
                     x.branch, x.cause, x.stage, x.referred_to, x.subject, x.rectification, x.customer_reply,
                     x.handler)
                    for x in r.rows
                ),
            ),
            *changes_blocks(r.changes, r.period),
        ),
    )


def claims_doc(r: ClaimsReport) -> ReportDoc:
    return ReportDoc(
        "claims-monthly",
        "每月理赔报表及事故原因分析 Monthly claims report",
        r.period.label,
        (
            ("理赔案件", r.total),
            ("重大事故", r.major),
            ("已结案", r.closed),
            ("索赔金额", r.claimed),
            ("理赔金额", r.agreed),
            ("已赔付", r.paid),
            ("保险赔付", r.insurer_payout),
            ("平均理赔天数", r.avg_days_to_settle if r.avg_days_to_settle is not None else "–"),
            ("拒赔", r.refused),
            ("客户撤回", r.withdrawn),
        ),
        (
            Table("事故原因文字分析 Accident-cause analysis in words", ("分析",),
                  tuple((line,) for line in cause_analysis(r))),
            Chart(
                "事故原因（件数）",
                "bar",
                tuple(c.label for c in r.by_cause),
                (("件数", tuple(float(c.count) for c in r.by_cause)),),
            ),
            Table(
                "事故原因分析 Accident-cause analysis",
                ("事故原因", "件数", "占比%", "索赔金额", "理赔金额", "已赔付", "重大"),
                tuple((c.label, c.count, c.share_percent, c.claimed, c.agreed, c.paid, c.major) for c in r.by_cause),
            ),
            Chart(
                "事故原因（索赔金额）",
                "bar",
                tuple(c.label for c in r.by_cause),
                (("索赔金额", tuple(float(c.claimed) for c in r.by_cause)),),
                unit="yuan",
            ),
            Table(
                "责任方 Responsible parties",
                ("责任方", "案件数", "应承担金额"),
                tuple((p.label, p.claims, p.owed) for p in r.by_party),
            ),
            Table(
                "责任人 Liable people",
                ("责任方", "责任人", "案件数", "责任比例合计%", "应承担金额"),
                tuple((p.label, p.name, p.claims, p.shares_percent, p.owed) for p in r.by_person),
            ),
            _count_table("按状态 By stage", "状态", r.by_stage),
            Table(
                "拒赔与客户撤回 Refused and withdrawn",
                ("案件号", "结果", "结束时间", "原因", "索赔"),
                tuple((x.case_number, x.stage, _local(x.ended_at, r.period) if x.ended_at else "", x.end_reason,
                       x.claimed) for x in r.rows if x.ended_at is not None),
            ),
            _count_table("按分公司 By branch", "分公司", r.by_branch),
            _trend_chart("每日报案趋势 Daily trend", (("报案", r.trend),)),
            Table(
                "明细 Details",
                ("案件号", "报案时间", "分公司", "事故原因", "状态", "索赔", "理赔金额", "赔付", "重大", "责任人",
                 "保险状态", "理赔天数", "拒赔/撤回原因"),
                tuple(
                    (
                        x.case_number,
                        _local(x.reported_at, r.period),
                        x.branch,
                        x.cause,
                        x.stage,
                        x.claimed,
                        x.agreed if x.agreed is not None else "",
                        x.paid if x.paid is not None else "",
                        "是" if x.major else "",
                        x.liable,
                        x.insurer_status,
                        x.days_to_settle if x.days_to_settle is not None else "",
                        x.end_reason,
                    )
                    for x in r.rows
                ),
            ),
        ),
    )


def inspections_doc(r: InspectionsReport) -> ReportDoc:
    return ReportDoc(
        "inspections-monthly",
        "每月监察奖罚明细报表 Monthly inspection rewards and penalties",
        r.period.label,
        (
            ("监察次数", r.inspections),
            ("不合格", r.failed),
            ("整改项", r.findings),
            ("整改超期", r.findings_overdue),
            ("奖励合计", r.rewards),
            ("处罚合计", r.penalties),
            ("处罚已收缴", r.penalties_collected),
            ("处罚未收缴", r.penalties_uncollected),
            ("突发事件", r.incidents.total),
            ("突发事件未处理完毕", r.incidents.not_closed),
        ),
        (
            Chart(
                "各项监察（次数/不合格）",
                "bar",
                tuple(k.label for k in r.by_kind),
                (
                    ("次数", tuple(float(k.inspections) for k in r.by_kind)),
                    ("不合格", tuple(float(k.failed) for k in r.by_kind)),
                ),
            ),
            Table(
                "监察项目 Inspections by kind",
                ("项目", "次数", "不合格"),
                tuple((k.label, k.inspections, k.failed) for k in r.by_kind),
            ),
            _count_table("整改状态 Findings", "状态", r.findings_by_stage),
            Chart(
                "各分公司奖罚",
                "bar",
                tuple(b.branch for b in r.by_branch),
                (
                    ("奖励", tuple(float(b.rewards) for b in r.by_branch)),
                    ("处罚", tuple(float(b.penalties) for b in r.by_branch)),
                ),
                unit="yuan",
            ),
            Table(
                "分公司奖罚 By branch",
                ("分公司", "奖励", "处罚", "净额", "笔数"),
                tuple((b.branch, b.rewards, b.penalties, b.net, b.count) for b in r.by_branch),
            ),
            Table(
                "个人奖罚 By person",
                ("分公司", "姓名", "奖励", "处罚", "净额", "笔数"),
                tuple((p.branch, p.person, p.rewards, p.penalties, p.net, p.count) for p in r.by_person),
            ),
            Table(
                "奖罚明细 Details",
                ("日期", "分公司", "姓名", "奖/罚", "金额", "事由", "监察项目", "决定人", "来源", "来源编号", "收缴",
                 "收缴时间", "收缴人"),
                tuple(
                    (_local(x.decided_at, r.period), x.branch, x.person, x.kind, x.amount, x.reason, x.inspection_kind,
                     x.decided_by, x.source, x.source_ref, x.collected,
                     _local(x.collected_at, r.period) if x.collected_at is not None else "", x.collected_by)
                    for x in r.rows
                ),
            ),
            _count_table("突发事件类型 Incidents by kind", "类型", r.incidents.by_kind),
            _count_table("突发事件处理状态 Incidents by stage", "状态", r.incidents.by_stage),
            Table(
                "突发事件明细 Incidents",
                ("编号", "发生时间", "类型", "分公司", "地点", "经过", "状态", "上报人", "处理人", "处理措施",
                 "处理结果", "案件号"),
                tuple(
                    (i.number, _local(i.occurred_at, r.period), i.kind, i.branch, i.place, i.description, i.stage,
                     i.reported_by, i.handled_by, i.measures, i.result, i.case_number)
                    for i in r.incidents.rows
                ),
            ),
        ),
    )


def self_settled_doc(r: SelfSettledReport) -> ReportDoc:
    def amount_table(title: str, head: str, items: tuple[object, ...]) -> Table:
        return Table(title, (head, "件数", "金额"), tuple((i.label, i.count, i.amount) for i in items))  # type: ignore[attr-defined]

    return ReportDoc(
        "self-settled-monthly",
        "每月自行解决业务统计 Monthly self-settled business",
        r.period.label,
        (("件数", r.total), ("金额合计", r.amount)),
        (
            Chart(
                "按解决方",
                "bar",
                tuple(x.label for x in r.by_settled_by),
                (("件数", tuple(float(x.count) for x in r.by_settled_by)),),
            ),
            amount_table("按解决方 By who settled", "解决方", r.by_settled_by),
            amount_table("按分公司 By branch", "分公司", r.by_branch),
            Chart(
                "按问题类型",
                "bar",
                tuple(x.label for x in r.by_issue),
                (("件数", tuple(float(x.count) for x in r.by_issue)),),
            ),
            amount_table("按问题类型 By issue", "问题", r.by_issue),
            Table(
                "明细 Details",
                ("日期", "解决方", "分公司", "人员", "运单号", "问题", "金额", "说明"),
                tuple(
                    (
                        _local(x.settled_at, r.period),
                        x.settled_by,
                        x.branch,
                        x.person,
                        x.waybill,
                        x.issue,
                        x.amount,
                        x.note,
                    )
                    for x in r.rows
                ),
            ),
        ),
    )


_CALL_HEAD = ("", "呼入", "接通", "放弃", "未接通", "服务水平%", "平均等待(秒)", "平均通话(秒)")


def _call_rows(lines: tuple[CallLine, ...], names: dict[str, str]) -> tuple[tuple[Cell, ...], ...]:
    return tuple(
        (
            names.get(x.key, x.key),
            x.offered,
            x.answered,
            x.abandoned,
            x.unanswered,
            x.service_level_percent,
            x.avg_wait_s,
            x.avg_handle_s,
        )
        for x in lines
    )


def calls_doc(r: CallFigures) -> ReportDoc:
    hotlines = HOTLINES
    t = r.total
    return ReportDoc(
        "calls",
        "呼叫中心话务统计 Contact-centre call figures",
        r.period.label,
        (
            ("呼入", t.offered),
            ("接通", t.answered),
            ("放弃", t.abandoned),
            (f"服务水平({r.service_level_s:g}秒)%", t.service_level_percent),
            ("平均等待(秒)", t.avg_wait_s),
            ("平均通话(秒)", t.avg_handle_s),
        ),
        (
            Table("按热线 By hotline", ("热线", *_CALL_HEAD[1:]), _call_rows((*r.by_hotline, t), hotlines)),
            Chart(
                "各热线话务",
                "bar",
                tuple(hotlines.get(x.key, x.key) for x in r.by_hotline),
                (
                    ("接通", tuple(float(x.answered) for x in r.by_hotline)),
                    ("放弃", tuple(float(x.abandoned) for x in r.by_hotline)),
                ),
            ),
            Table("按队列 By queue", ("队列", *_CALL_HEAD[1:]), _call_rows(r.by_queue, {})),
            _trend_chart("每日话务 Daily calls", (("呼入", r.trend_offered), ("接通", r.trend_answered))),
            Table(
                "按客服员 By agent",
                ("客服员", "接通", "通话合计(秒)", "平均通话(秒)", "平均等待(秒)"),
                tuple((a.agent, a.answered, a.talk_s, a.avg_handle_s, a.avg_wait_s) for a in r.by_agent),
            ),
            Chart(
                "客服员接通量",
                "bar",
                tuple(a.agent for a in r.by_agent),
                (("接通", tuple(float(a.answered) for a in r.by_agent)),),
            ),
        ),
    )


_IVR_HEAD = ("进入导航", "转人工", "接通人工", "接通率%", "队列中放弃", "队列未接通", "导航中挂机", "挂机率%",
             "自助完成", "自助率%", "非工作时间", "其中回电登记", "登记案件", "其他")


def _ivr_cells(x: IvrLine) -> tuple[Cell, ...]:
    return (x.entered, x.to_agent, x.answered, x.answered_percent, x.abandoned_in_queue, x.unanswered_in_queue,
            x.left_in_ivr, x.left_percent, x.self_served, x.self_served_percent, x.out_of_hours,
            x.out_of_hours_callbacks, x.cases_registered, x.other)


def _node_pivot(title: str, r: IvrReport, nodes_of: Callable[[IvrLine], tuple[NodeCount, ...]]) -> Table:
    """One row per node (in the total's order): its count on each hotline, the total and its share."""
    per_hotline = [{n.node: n.count for n in nodes_of(x)} for x in r.by_hotline]
    return Table(
        title,
        ("节点", "Node", *(HOTLINES.get(x.hotline, x.hotline) for x in r.by_hotline), "合计", "占比%"),
        tuple((n.label, n.label_en, *(h.get(n.node, 0) for h in per_hotline), n.count, n.share_percent)
              for n in nodes_of(r.total)),
    )


def ivr_doc(r: IvrReport) -> ReportDoc:
    t = r.total
    names = [HOTLINES.get(x.hotline, x.hotline) for x in r.by_hotline]
    return ReportDoc(
        "ivr",
        "语音导航报表 IVR report",
        r.period.label,
        (
            ("进入导航", t.entered),
            ("接通人工", t.answered),
            ("队列中放弃", t.abandoned_in_queue),
            ("导航中挂机", t.left_in_ivr),
            ("自助完成", t.self_served),
            ("非工作时间", t.out_of_hours),
            ("接通率%", t.answered_percent),
        ),
        (
            Table("按热线 By hotline", ("热线", *_IVR_HEAD),
                  tuple((HOTLINES.get(x.hotline, x.hotline), *_ivr_cells(x)) for x in (*r.by_hotline, t))),
            Chart(
                "各热线来电去向",
                "bar",
                tuple(names),
                (
                    ("接通人工", tuple(float(x.answered) for x in r.by_hotline)),
                    ("导航中挂机", tuple(float(x.left_in_ivr) for x in r.by_hotline)),
                    ("自助完成", tuple(float(x.self_served) for x in r.by_hotline)),
                    ("非工作时间", tuple(float(x.out_of_hours) for x in r.by_hotline)),
                ),
            ),
            Chart(
                "挂机节点（导航中挂机）",
                "bar",
                tuple(n.label for n in t.left_at),
                (("挂机", tuple(float(n.count) for n in t.left_at)),),
            ),
            _node_pivot("挂机节点 Where callers left the IVR", r, lambda x: x.left_at),
            _node_pivot("自助服务 Served by the IVR", r, lambda x: x.served),
            Chart(
                "每日来电去向 Daily",
                "line",
                tuple(x.day.strftime("%m-%d") for x in r.days if x.day is not None),
                (
                    ("进入导航", tuple(float(x.entered) for x in r.days)),
                    ("接通人工", tuple(float(x.answered) for x in r.days)),
                    ("导航中挂机", tuple(float(x.left_in_ivr) for x in r.days)),
                ),
            ),
            Table(
                "按热线和日期 By hotline and day",
                ("日期", "热线", *_IVR_HEAD),
                tuple((x.day.isoformat() if x.day else "", HOTLINES.get(x.hotline, x.hotline), *_ivr_cells(x))
                      for x in r.by_day),
            ),
        ),
    )


# --- as JSON (a report job's result in Redis: RQ's JSON serializer, never pickle) ---------------------


class ReportDocUnreadable(ValueError):
    """JSON that is not a ReportDoc as `doc_to_json` writes it."""


def _cell_json(cell: Cell) -> object:
    return {"decimal": str(cell)} if isinstance(cell, Decimal) else cell


def _cell_of(value: object) -> Cell:
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, dict) and set(value) == {"decimal"} and isinstance(value["decimal"], str):
        try:
            return Decimal(value["decimal"])
        except ArithmeticError:
            pass
    raise ReportDocUnreadable(f"not a table cell: {value!r:.80}")


def doc_to_json(doc: ReportDoc) -> dict[str, object]:
    """The document as plain JSON values (Decimal cells as {"decimal": "12.30"}); `doc_from_json` reverses it."""
    blocks: list[object] = []
    for block in doc.blocks:
        if isinstance(block, Table):
            blocks.append({"table": {"title": block.title, "headers": list(block.headers),
                                     "rows": [[_cell_json(c) for c in row] for row in block.rows]}})
        else:
            blocks.append({"chart": {"title": block.title, "kind": block.kind, "categories": list(block.categories),
                                     "series": [[name, list(values)] for name, values in block.series],
                                     "unit": block.unit}})
    return {"name": doc.name, "title": doc.title, "period": doc.period,
            "kpis": [[label, _cell_json(value)] for label, value in doc.kpis], "blocks": blocks,
            "analysis": doc.analysis, "analysis_by": doc.analysis_by}


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ReportDocUnreadable(f"not text: {value!r:.80}")
    return value


def _items(value: object) -> list[object]:
    if not isinstance(value, list):
        raise ReportDocUnreadable(f"not a list: {value!r:.80}")
    return value


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReportDocUnreadable(f"not a number: {value!r:.80}")
    return float(value)


def _pair(value: object) -> tuple[object, object]:
    items = _items(value)
    if len(items) != 2:
        raise ReportDocUnreadable(f"not a pair: {value!r:.80}")
    return items[0], items[1]


def _block_of(value: object) -> Table | Chart:
    if not isinstance(value, dict) or len(value) != 1:
        raise ReportDocUnreadable(f"not a table or chart: {value!r:.80}")
    kind, body = next(iter(value.items()))
    if not isinstance(body, dict):
        raise ReportDocUnreadable(f"not a table or chart: {value!r:.80}")
    if kind == "table":
        return Table(_text(body.get("title")), tuple(_text(h) for h in _items(body.get("headers"))),
                     tuple(tuple(_cell_of(c) for c in _items(row)) for row in _items(body.get("rows"))))
    if kind == "chart":
        series = []
        for item in _items(body.get("series")):
            name, values = _pair(item)
            series.append((_text(name), tuple(_number(v) for v in _items(values))))
        unit = _text(body.get("unit", "count"))  # a job written before charts had units: counts
        if unit not in CHART_UNITS:
            raise ReportDocUnreadable(f"unknown chart unit {unit!r:.40}")
        return Chart(_text(body.get("title")), _text(body.get("kind")),
                     tuple(_text(c) for c in _items(body.get("categories"))), tuple(series), unit)
    raise ReportDocUnreadable(f"unknown block {kind!r:.40}")


def doc_from_json(data: object) -> ReportDoc:
    """The ReportDoc `doc_to_json` wrote; ReportDocUnreadable for anything else."""
    if not isinstance(data, dict):
        raise ReportDocUnreadable(f"not a report document: {data!r:.80}")
    kpis = []
    for item in _items(data.get("kpis")):
        label, value = _pair(item)
        kpis.append((_text(label), _cell_of(value)))
    return ReportDoc(_text(data.get("name")), _text(data.get("title")), _text(data.get("period")), tuple(kpis),
                     tuple(_block_of(b) for b in _items(data.get("blocks"))),
                     _text(data.get("analysis", "")), _text(data.get("analysis_by", "")))
