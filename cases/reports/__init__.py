"""The reports of the service standard: `build(session, name, period)` gives the typed data,
`render(session, name, period, fmt)` the bytes of an XLSX, PDF or JSON file, `produce` either of
those or the page's document (`PAGE`), saying how far it got (for report jobs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from cases.errors import InvalidReportRequest
from cases.reports import document as d
from cases.reports.agents import AgentsReport, agents_report
from cases.reports.analyses import AnalysisView, analysis_for, save_analysis
from cases.reports.calls import CallFigures, call_figures
from cases.reports.claims import ClaimsReport, claims_report
from cases.reports.complaints import ComplaintSummary, complaint_summary
from cases.reports.data import DEFAULT_TZ, Period, make_period
from cases.reports.document_agents import agents_doc
from cases.reports.inspections import InspectionsReport, inspections_report
from cases.reports.ivr import IvrLine, IvrReport, ivr_report
from cases.reports.render import find_cjk_font, to_json, to_pdf, to_xlsx
from cases.reports.self_settled import SelfSettledReport, self_settled_report

__all__ = [
    "DEFAULT_TZ",
    "FORMATS",
    "PAGE",
    "AgentsReport",
    "AnalysisView",
    "REPORTS",
    "CallFigures",
    "ClaimsReport",
    "ComplaintSummary",
    "InspectionsReport",
    "IvrLine",
    "IvrReport",
    "Period",
    "Progress",
    "ReportSpec",
    "SelfSettledReport",
    "agents_report",
    "analysis",
    "build",
    "call_figures",
    "claims_report",
    "complaint_summary",
    "default_period",
    "find_cjk_font",
    "inspections_report",
    "ivr_report",
    "make_period",
    "produce",
    "render",
    "self_settled_report",
    "write_analysis",
]

FORMATS = ("xlsx", "pdf", "json")
PAGE = "page"  # `produce`'s other output: the ReportDoc the console's page shows
Progress = Callable[[int, str], None]  # (percent done, the step now running)


@dataclass(frozen=True, slots=True)
class ReportSpec:
    name: str
    title: str
    span: str  # week | month: the default period
    build: Callable[[Session, Period], Any]
    document: Callable[[Any], d.ReportDoc]


REPORTS: dict[str, ReportSpec] = {
    spec.name: spec
    for spec in (
        ReportSpec("complaints-weekly", "每周投诉汇总表", "week", complaint_summary, d.complaints_doc),
        ReportSpec("claims-monthly", "每月理赔报表及事故原因分析", "month", claims_report, d.claims_doc),
        ReportSpec("inspections-monthly", "每月监察奖罚明细报表", "month", inspections_report, d.inspections_doc),
        ReportSpec("self-settled-monthly", "每月自行解决业务统计", "month", self_settled_report, d.self_settled_doc),
        ReportSpec("calls", "呼叫中心话务统计", "week", call_figures, d.calls_doc),
        ReportSpec("ivr", "语音导航报表", "week", ivr_report, d.ivr_doc),
        ReportSpec("agents-monthly", "客服员质检评分及话后代码统计", "month", agents_report, agents_doc),
    )
}


def _spec(name: str) -> ReportSpec:
    spec = REPORTS.get(name)
    if spec is None:
        raise InvalidReportRequest(f"unknown report {name!r}; reports: {', '.join(REPORTS)}")
    return spec


def default_period(name: str, tz: str = DEFAULT_TZ, *, today: date | None = None) -> Period:
    """The last complete week (Monday to Sunday) or calendar month before `today` (in `tz`)."""
    spec = _spec(name)
    make_period(date(2000, 1, 1), date(2000, 1, 2), tz)  # validates tz
    day = today or datetime.now(ZoneInfo(tz)).date()
    if spec.span == "week":
        this_monday = day - timedelta(days=day.weekday())
        return make_period(this_monday - timedelta(days=7), this_monday, tz)
    first = day.replace(day=1)
    prev_first = (first - timedelta(days=1)).replace(day=1)
    return make_period(prev_first, first, tz)


def analysis(s: Session, name: str, period: Period) -> AnalysisView | None:
    """The supervisor's written analysis of this report and period (None: none written)."""
    return analysis_for(s, _spec(name).name, period)


def write_analysis(s: Session, name: str, period: Period, text: str, by: str) -> AnalysisView:
    """Write the analysis of this report and period (last write wins, audited); see cases.reports.analyses."""
    return save_analysis(s, _spec(name).name, period, text, by)


def build(s: Session, name: str, period: Period) -> Any:
    return _spec(name).build(s, period)


def render(s: Session, name: str, period: Period, fmt: str) -> bytes:
    out = produce(s, name, period, fmt)
    assert isinstance(out, bytes)
    return out


def produce(s: Session, name: str, period: Period, fmt: str, progress: Progress | None = None) -> bytes | d.ReportDoc:
    """The report as a file's bytes (`fmt` one of FORMATS) or as the page's document (`PAGE`);
    `progress(percent, step)` is told of each step (steps: data, document, xlsx|pdf|json)."""
    spec = _spec(name)
    if fmt not in FORMATS and fmt != PAGE:
        raise InvalidReportRequest(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    say = progress or (lambda pct, step: None)
    say(5, "data")
    data = spec.build(s, period)
    written = analysis_for(s, spec.name, period)
    if fmt == "json":
        say(70, "json")
        return to_json(data, analysis=written if written is not None and written.text else None)
    say(50, "document")
    doc = spec.document(data)
    if written is not None and written.text:
        doc = replace(doc, analysis=written.text, analysis_by=f"{written.written_by} "
                      f"{written.written_at.astimezone(ZoneInfo(period.tz)):%Y-%m-%d %H:%M}")
    if fmt == PAGE:
        return doc
    say(70, fmt)
    return to_xlsx(doc) if fmt == "xlsx" else to_pdf(doc)
