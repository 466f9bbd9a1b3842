"""The standard's reports in the console (`/reports`): pick a report and a period, see its figures,
tables and charts on the page, and download it as XLSX, PDF or JSON — the same documents as
`hotline report` (cases.reports)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from flask import Blueprint, Response, abort, render_template, request
from flask.typing import ResponseReturnValue

from agent_console.auth import requires
from agent_console.context import console
from agent_console.i18n import current_language, translate
from cases import reports
from cases.errors import CasesError, InvalidReportRequest
from cases.reports.document import Chart, ReportDoc, Table

log = logging.getLogger(__name__)

bp = Blueprint("reports", __name__)

MIME = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "json": "application/json",
}


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    width: float  # percent of the largest value


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    series: str
    bars: tuple[Bar, ...]


def _bars(chart: Chart) -> BarChart | None:
    if not chart.series:
        return None
    name, values = chart.series[0]
    top = max(values, default=0.0) or 1.0
    return BarChart(chart.title, name, tuple(Bar(c, v, 100.0 * v / top) for c, v in
                                             zip(chart.categories, values, strict=False)))


def _period(name: str) -> reports.Period:
    tz = (request.args.get("tz") or reports.DEFAULT_TZ).strip()
    raw_from, raw_until = request.args.get("from", ""), request.args.get("until", "")
    if not raw_from and not raw_until:
        return reports.default_period(name, tz)
    try:
        return reports.make_period(date.fromisoformat(raw_from), date.fromisoformat(raw_until), tz)
    except ValueError:
        raise InvalidReportRequest(f"from {raw_from!r} and until {raw_until!r} must be dates (YYYY-MM-DD)") from None


@bp.get("/reports")
@requires("reports")
def page() -> ResponseReturnValue:
    name = request.args.get("name") or "complaints-weekly"
    if name not in reports.REPORTS:
        abort(404)
    doc: ReportDoc | None = None
    error: str | None = None
    period: reports.Period | None = None
    status = 200
    try:
        period = _period(name)
        with console().db.reading() as s:
            doc = reports.REPORTS[name].document(reports.build(s, name, period))
    except CasesError as exc:
        error, status = str(exc), 400
    tables = [b for b in doc.blocks if isinstance(b, Table)] if doc else []
    charts = [c for c in (_bars(b) for b in doc.blocks if isinstance(b, Chart)) if c is not None] if doc else []
    return render_template(
        "reports.html", specs=list(reports.REPORTS.values()), name=name, doc=doc, tables=tables, charts=charts,
        period=period, error=error, error_text=translate(current_language(), "reports.err"),
        tz=request.args.get("tz") or reports.DEFAULT_TZ,
    ), status


@bp.get("/reports/<name>/<fmt>")
@requires("reports")
def download(name: str, fmt: str) -> ResponseReturnValue:
    if name not in reports.REPORTS or fmt not in reports.FORMATS:
        abort(404)
    try:
        period = _period(name)
        with console().db.reading() as s:
            data = reports.render(s, name, period, fmt)
    except CasesError as exc:
        return {"error": "invalid_report", "message": str(exc)}, 400
    filename = f"{name}-{period.from_day.isoformat()}.{fmt}"
    log.info("report %s %s as %s", name, period.label, fmt)
    return Response(data, mimetype=MIME[fmt], headers={"Content-Disposition": f'attachment; filename="{filename}"'})
