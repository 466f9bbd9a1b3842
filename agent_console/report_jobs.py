"""Report rendering as jobs: the `/reports` page and its downloads ask a `ReportRunner` for the
report of a period (the page's document, or an XLSX/PDF/JSON file) and show the job's state —
queued, running, retrying, done, failed — with its progress, and the result once done.

With processes by role the runner is RQ's (hotline_cli.reportqueue): a worker process renders. The
embedded process (`hotline serve`, `hotline demo`) has `LocalReportRunner`: the same states, the same
retries with the same back-off, on a thread of its own. A job is named by what it renders (report,
period, time zone, format), so asking again for the same thing while it runs, or soon after it is
done (`RESULT_KEPT_S`), gets the same job; a failed one is only run again when asked to (`again`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Protocol

from cases import reports
from cases.db import Database

log = logging.getLogger(__name__)

RESULT_KEPT_S = 600  # a finished report is served again for this long, then rendered anew
STATES = ("queued", "running", "retrying", "done", "failed")


class ReportJobError(Exception):
    """A report job failed (the database away, no CJK font for PDFs ...): retried, then shown."""


@dataclass(frozen=True, slots=True)
class ReportRequest:
    name: str
    from_day: date
    until_day: date
    tz: str
    fmt: str  # one of cases.reports.FORMATS, or cases.reports.PAGE
    analysis: str = ""  # the version of the report's written analysis (a new one: a new job, never the old file)

    @property
    def job_id(self) -> str:
        key = f"{self.name}|{self.from_day.isoformat()}|{self.until_day.isoformat()}|{self.tz}|{self.fmt}"
        if self.analysis:
            key += f"|{self.analysis}"
        return "rp-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]

    def period(self) -> reports.Period:
        return reports.make_period(self.from_day, self.until_day, self.tz)


@dataclass(frozen=True, slots=True)
class JobView:
    """What the page shows of a job."""

    id: str
    state: str  # one of STATES
    progress: int  # percent
    step: str  # the step running (data, document, xlsx, pdf, json)
    error: str = ""  # the last failure, one line ("" when none)
    attempts: int = 0  # runs started so far
    result: Any = None  # when done: bytes (a file) or a ReportDoc (the page)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "progress": self.progress, "step": self.step,
                "error": self.error, "attempts": self.attempts}


class ReportRunner(Protocol):
    def submit(self, req: ReportRequest, *, again: bool = False) -> JobView: ...

    def find(self, req: ReportRequest) -> JobView | None:
        """The job `submit(req)` would hand back without new work (None: it would queue one)."""
        ...

    def view(self, job_id: str, *, with_result: bool = False) -> JobView | None: ...

    def stop(self) -> None: ...


def wait(runner: ReportRunner, job_id: str, timeout: float, poll_s: float = 0.05) -> JobView | None:
    """The job once done or failed for good, or as it is after `timeout` seconds (with its result if done)."""
    deadline = time.monotonic() + timeout
    while True:
        view = runner.view(job_id, with_result=True)
        if view is None or view.state in ("done", "failed") or time.monotonic() >= deadline:
            return view
        time.sleep(poll_s)


def produce(db: Database, req: ReportRequest, progress: reports.Progress) -> Any:
    """Run one report job (either runner): bytes of the file, or the page's ReportDoc. Any failure is
    a ReportJobError with a one-line reason."""
    try:
        with db.reading() as s:
            out = reports.produce(s, req.name, req.period(), req.fmt, progress)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReportJobError(f"report {req.name} ({req.fmt}) failed: {first}") from exc
    progress(100, "done")
    return out


@dataclass
class _Local:
    req: ReportRequest
    view: JobView
    finished: float = 0.0  # time.monotonic() when done or failed


class LocalReportRunner:
    """The embedded process's runner: jobs on one thread, retried after `retry_intervals` seconds."""

    def __init__(self, db: Database, retry_intervals: Sequence[int], workers: int = 1,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.retry_intervals = tuple(retry_intervals)
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[str, _Local] = {}
        self._timers: list[threading.Timer] = []
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="report-job")
        self._stopped = False

    def submit(self, req: ReportRequest, *, again: bool = False) -> JobView:
        jid = req.job_id
        now = self._clock()
        with self._lock:
            for old in [k for k, j in self._jobs.items() if j.finished and now - j.finished > RESULT_KEPT_S]:
                del self._jobs[old]
            job = self._jobs.get(jid)
            if job is not None and (job.view.state not in ("done", "failed") or not again):
                return job.view
            job = _Local(req, JobView(jid, "queued", 0, ""))
            self._jobs[jid] = job
        self._queue(job)
        return job.view

    def find(self, req: ReportRequest) -> JobView | None:
        with self._lock:
            job = self._jobs.get(req.job_id)
            if job is None or (job.finished and self._clock() - job.finished > RESULT_KEPT_S):
                return None
            return replace(job.view, result=None)

    def view(self, job_id: str, *, with_result: bool = False) -> JobView | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            return job.view if with_result else replace(job.view, result=None)

    def _set(self, job: _Local, **changes: Any) -> None:
        with self._lock:
            job.view = replace(job.view, **changes)
            if job.view.state in ("done", "failed"):
                job.finished = self._clock()

    def _queue(self, job: _Local) -> None:
        try:
            self._pool.submit(self._run, job)
        except RuntimeError:  # stopping
            self._set(job, state="failed", error="the console is stopping")

    def _run(self, job: _Local) -> None:
        attempt = job.view.attempts + 1
        self._set(job, state="running", attempts=attempt, progress=0, step="")
        try:
            result = produce(self.db, job.req, lambda pct, step: self._set(job, progress=pct, step=step))
        except ReportJobError as exc:
            retries_left = len(self.retry_intervals) - (attempt - 1)
            if retries_left > 0 and not self._stopped:
                delay = self.retry_intervals[attempt - 1]
                log.warning("report job %s failed (retry in %s s): %s", job.view.id, delay, exc)
                self._set(job, state="retrying", error=str(exc))
                timer = threading.Timer(delay, self._queue, args=(job,))
                timer.daemon = True
                with self._lock:
                    self._timers = [t for t in self._timers if t.is_alive()] + [timer]
                timer.start()
            else:
                log.warning("report job %s failed for good: %s", job.view.id, exc)
                self._set(job, state="failed", error=str(exc))
            return
        self._set(job, state="done", progress=100, step="done", error="", result=result)

    def stop(self) -> None:
        self._stopped = True
        with self._lock:
            timers = list(self._timers)
        for t in timers:
            t.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
