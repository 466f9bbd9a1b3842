"""The standard's reports in the console (`/reports`): pick a report and a period, see its figures,
tables and charts on the page, and download it as XLSX, PDF or JSON — the same documents as
`hotline report` (cases.reports).

The page's document and each download are report jobs (agent_console.report_jobs): rendered by a
worker process with processes by role (RQ), on a thread of the console's own when embedded. A request
waits up to `report_wait_s` for its job; a job not done by then is shown with its state and progress
(the page polls `/api/report-jobs/<id>`), and offered (the page shown, the file sent) once done. A job
failed for good shows its error and a "try again" link (`again=1`).

Each report and period has the supervisor's written analysis and suggestions (分析…提出合理化建议,
`cases.reports.analyses`): shown to everyone who sees the report, written by supervisors (capability
`report_analysis`, POST /reports/<name>/analysis), carried into its XLSX, PDF and JSON. A job's name holds the
analysis' version, so a file rendered before the text changed is not offered after it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from agent_console.auth import current_user, requires
from agent_console.context import console
from agent_console.i18n import current_language, translate
from agent_console.report_jobs import JobView, ReportJobError, ReportRequest, ReportRunner, wait
from agent_console.report_quota import ReportQuota, TooManyReportJobs
from agent_console.security import may_write_analysis
from cases import reports
from cases.errors import CasesError, DatabaseUnavailable, InvalidReportRequest
from cases.reports.document import Chart, Table

log = logging.getLogger(__name__)

bp = Blueprint("reports", __name__)
RUNNER_KEY = "hotline_report_runner"
QUOTA_KEY = "hotline_report_quota"  # agent_console.report_quota.ReportQuota: jobs per user
QUOTA_RETRY_AFTER_S = 30

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
    args = request.form if request.method == "POST" else request.args
    tz = (args.get("tz") or reports.DEFAULT_TZ).strip()
    raw_from, raw_until = args.get("from", ""), args.get("until", "")
    if not raw_from and not raw_until:
        return reports.default_period(name, tz)
    try:
        return reports.make_period(date.fromisoformat(raw_from), date.fromisoformat(raw_until), tz)
    except ValueError:
        raise InvalidReportRequest(f"from {raw_from!r} and until {raw_until!r} must be dates (YYYY-MM-DD)") from None


def _runner() -> ReportRunner:
    runner: ReportRunner = current_app.extensions[RUNNER_KEY]
    return runner


def _job(name: str, fmt: str) -> tuple[reports.Period, JobView]:
    """Submit (or find) the job of this report, period and format; wait up to `report_wait_s`.
    Raises CasesError for bad input, ReportJobError when jobs cannot be queued."""
    period = _period(name)
    with console().db.reading() as s:
        written = reports.analysis(s, name, period)
    req = ReportRequest(name, period.from_day, period.until_day, period.tz, fmt,
                        written.version if written is not None else "")
    runner = _runner()
    quota: ReportQuota = current_app.extensions[QUOTA_KEY]
    user = current_user()
    assert user is not None  # requires() ran first
    try:
        submitted = quota.submit(runner, req, user.username, again=request.args.get("again") == "1")
    except TooManyReportJobs as exc:
        log.info("report job refused: %s", exc)
        abort(429, description=str(exc), retry_after=QUOTA_RETRY_AFTER_S)
    return period, wait(runner, submitted.id, console().config.report_wait_s) or submitted


def _job_status(job: JobView) -> int:
    return 200 if job.state == "done" else 502 if job.state == "failed" else 202


def _again_url() -> str:
    return f"{request.path}?" + urlencode(request.args.to_dict() | {"again": "1"})


def _analysis(name: str, period: reports.Period | None) -> reports.AnalysisView | None:
    if period is None:
        return None
    with console().db.reading() as s:
        return reports.analysis(s, name, period)


def _render(name: str, *, period: reports.Period | None, job: JobView | None, job_fmt: str,
            error: str | None, status: int, draft: str | None = None) -> tuple[str, int]:
    user = current_user()
    doc = job.result if job is not None and job.state == "done" and job_fmt == reports.PAGE else None
    tables = [b for b in doc.blocks if isinstance(b, Table)] if doc else []
    charts = [c for c in (_bars(b) for b in doc.blocks if isinstance(b, Chart)) if c is not None] if doc else []
    return render_template(
        "reports.html", specs=list(reports.REPORTS.values()), name=name, doc=doc, tables=tables, charts=charts,
        period=period, error=error, error_text=translate(current_language(), "reports.err"),
        tz=request.args.get("tz") or reports.DEFAULT_TZ,
        job=job if job is not None and (job.state != "done" or job_fmt != reports.PAGE) else None,
        job_fmt=job_fmt, poll_url=url_for("reports.job_status", job_id=job.id) if job is not None else "",
        again_url=_again_url(), analysis=_analysis(name, period),
        may_write_analysis=user is not None and may_write_analysis(user.role, name),
        analysis_saved=request.args.get("saved") == "1", draft=draft,
    ), status


@bp.get("/reports")
@requires("reports")
def page() -> ResponseReturnValue:
    name = request.args.get("name") or "complaints-weekly"
    if name not in reports.REPORTS:
        abort(404)
    try:
        period, job = _job(name, reports.PAGE)
    except DatabaseUnavailable:
        raise
    except CasesError as exc:
        return _render(name, period=None, job=None, job_fmt=reports.PAGE, error=str(exc), status=400)
    except ReportJobError as exc:
        log.warning("report page %s: %s", name, exc)
        return _render(name, period=None, job=None, job_fmt=reports.PAGE, error=str(exc), status=503)
    return _render(name, period=period, job=job, job_fmt=reports.PAGE, error=None, status=_job_status(job))


@bp.get("/reports/<name>/<fmt>")
@requires("reports")
def download(name: str, fmt: str) -> ResponseReturnValue:
    if name not in reports.REPORTS or fmt not in reports.FORMATS:
        abort(404)
    try:
        period, job = _job(name, fmt)
    except DatabaseUnavailable:
        raise
    except CasesError as exc:
        return {"error": "invalid_report", "message": str(exc)}, 400
    except ReportJobError as exc:
        return {"error": "report_jobs_unavailable", "message": str(exc)}, 503
    if job.state != "done":  # the page of the job: its progress, then the file
        body, status = _render(name, period=period, job=job, job_fmt=fmt, error=None, status=_job_status(job))
        return body, status, {"X-Report-Job": job.id}
    filename = f"{name}-{period.from_day.isoformat()}.{fmt}"
    log.info("report %s %s as %s", name, period.label, fmt)
    return Response(job.result, mimetype=MIME[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.post("/reports/<name>/analysis")
@requires("report_analysis")
def write_analysis(name: str) -> ResponseReturnValue:
    """The supervisor's analysis and suggestions of the report over the period (form: from, until, tz,
    text): stored (last write wins, audited), then the page again (303); bad input: the page with the error."""
    if name not in reports.REPORTS:
        abort(404)
    user = current_user()
    assert user is not None  # requires() ran first
    if not may_write_analysis(user.role, name):
        abort(403)
    period: reports.Period | None = None
    try:
        period = _period(name)
        with console().db.session() as s:
            reports.write_analysis(s, name, period, request.form.get("text", ""), user.username)
    except DatabaseUnavailable:
        raise
    except CasesError as exc:
        log.info("analysis of report %s refused: %s", name, exc)
        return _render(name, period=period, job=None, job_fmt=reports.PAGE, error=str(exc), status=400,
                       draft=request.form.get("text", ""))
    args = urlencode({"name": name, "from": period.from_day.isoformat(), "until": period.until_day.isoformat(),
                      "tz": period.tz, "saved": "1"})
    return redirect(f"{url_for('reports.page')}?{args}", 303)


@bp.get("/api/report-jobs/<job_id>")
@requires("reports")
def job_status(job_id: str) -> ResponseReturnValue:
    """{id, state: queued|running|retrying|done|failed, progress, step, error, attempts}."""
    try:
        job = _runner().view(job_id)
    except ReportJobError as exc:
        return {"error": "report_jobs_unavailable", "message": str(exc)}, 503
    if job is None:
        abort(404)
    return job.to_json()
