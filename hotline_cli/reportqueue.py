"""Report jobs on RQ (processes by role): web processes enqueue, `hotline serve --role worker` renders.

`RqReportRunner` is the web side of agent_console.report_jobs.ReportRunner: one RQ job per report,
period, time zone and format (the job id is the queue's name and the request's), on the report queue (`report_queue`),
which the worker takes before transcriptions. A failed job is retried with the transcription jobs'
back-off (`job_retry_s`); the worker writes the job's progress into its meta; the result (a file's
bytes or the page's document) is kept `RESULT_KEPT_S` in Redis, as JSON (`encode_result`: the file in
base64, the document by cases.reports.document.doc_to_json); jobs are jobqueue.HotlineJob, never pickle.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections.abc import Sequence
from datetime import date

import redis
from rq import Retry, get_current_job
from rq.exceptions import DeserializationError
from rq.job import Job, JobStatus

from agent_console.report_jobs import RESULT_KEPT_S, JobView, ReportJobError, ReportRequest, produce
from cases.reports.document import ReportDoc, ReportDocUnreadable, doc_from_json, doc_to_json
from hotline_cli import jobqueue
from hotline_cli.jobqueue import HotlineJob, JobQueueError

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "hotline-reports"
UNREADABLE = "unreadable job in Redis (not written by Hotline): not run"
JOB_TIMEOUT_S = 600
_STATES = {
    JobStatus.QUEUED: "queued", JobStatus.DEFERRED: "queued", JobStatus.STARTED: "running",
    JobStatus.SCHEDULED: "retrying", JobStatus.FINISHED: "done", JobStatus.FAILED: "failed",
    JobStatus.STOPPED: "failed", JobStatus.CANCELED: "failed",
}


class ReportQueueError(JobQueueError, ReportJobError):
    """A report job cannot be queued or read (Redis away), or failed in the worker."""


class ReportResultUnreadable(ReportQueueError):
    """A report job's result in Redis is not what `encode_result` writes."""


def encode_result(out: bytes | ReportDoc) -> dict[str, object]:
    """A report job's result as JSON: {"file": base64 of the bytes} or {"page": the document}."""
    if isinstance(out, bytes):
        return {"file": base64.b64encode(out).decode("ascii")}
    return {"page": doc_to_json(out)}


def decode_result(value: object) -> bytes | ReportDoc:
    """What `encode_result` wrote; ReportResultUnreadable for anything else."""
    if isinstance(value, dict) and len(value) == 1:
        if isinstance(value.get("file"), str):
            try:
                return base64.b64decode(value["file"], validate=True)
            except (binascii.Error, ValueError):
                pass
        elif "page" in value:
            try:
                return doc_from_json(value["page"])
            except ReportDocUnreadable as exc:
                raise ReportResultUnreadable(f"report result unreadable: {exc}") from None
    raise ReportResultUnreadable(f"report result unreadable: {type(value).__name__}")


class RqReportRunner:
    def __init__(self, redis_url: str, queue_name: str = DEFAULT_QUEUE,
                 retry_intervals: Sequence[int] = jobqueue.RETRY_INTERVALS_S) -> None:
        self.redis = jobqueue.connect(redis_url)
        self.queue = jobqueue.job_queue(queue_name, self.redis)
        self.retry_intervals = tuple(retry_intervals)
        # job ids are global in Redis: the queue's name keeps two sites (or databases) sharing one
        # Redis from being handed each other's reports
        # (RQ ids allow letters, digits, _ and -: the name's digest, of one length for every name)
        self._prefix = hashlib.sha256(queue_name.encode("utf-8")).hexdigest()[:12] + "-"

    def _fetch(self, job_id: str) -> HotlineJob | None:
        try:
            return jobqueue.fetch_job(job_id, self.redis)
        except redis.RedisError as exc:
            raise ReportQueueError(f"report jobs unavailable: Redis: {exc}") from None
        except Exception:  # NoSuchJobError, or a half-expired hash
            return None

    def submit(self, req: ReportRequest, *, again: bool = False) -> JobView:
        jid = self._prefix + req.job_id
        job = self._fetch(jid)
        if job is not None and not job.written_by_hotline():
            log.error("report job %s in Redis was not written by Hotline: replaced", jid)
            job.delete()
            job = None
        if job is not None:
            view = _view(job, with_result=False)
            if view.state not in ("done", "failed") or not again:
                return view
            job.delete()
        try:
            queued = self.queue.enqueue(
                report_job, req.name, req.from_day.isoformat(), req.until_day.isoformat(), req.tz, req.fmt,
                job_id=jid, job_timeout=JOB_TIMEOUT_S, result_ttl=RESULT_KEPT_S, failure_ttl=RESULT_KEPT_S,
                retry=Retry(max=len(self.retry_intervals), interval=list(self.retry_intervals)),
                description=f"report {req.name} {req.from_day}..{req.until_day} {req.fmt}")
        except redis.RedisError as exc:
            raise ReportQueueError(f"report job not queued: Redis: {exc}") from None
        log.info("report job %s queued: %s %s", jid, req.name, req.fmt)
        return _view(queued, with_result=False)

    def find(self, req: ReportRequest) -> JobView | None:
        job = self._fetch(self._prefix + req.job_id)
        if job is None:
            return None
        try:
            return _view(job, with_result=False)
        except redis.RedisError as exc:
            raise ReportQueueError(f"report jobs unavailable: Redis: {exc}") from None

    def view(self, job_id: str, *, with_result: bool = False) -> JobView | None:
        if not job_id.startswith(self._prefix):
            return None  # not a job of this site's report queue
        job = self._fetch(job_id)
        if job is None:
            return None
        if not job.written_by_hotline():
            log.error("report job %s in Redis was not written by Hotline: shown failed", job_id)
            return JobView(job_id, "failed", 0, "", UNREADABLE, 0, None)
        try:
            return _view(job, with_result=with_result)
        except redis.RedisError as exc:
            raise ReportQueueError(f"report jobs unavailable: Redis: {exc}") from None
        except (ReportResultUnreadable, DeserializationError, ValueError, TypeError) as exc:  # not Hotline's JSON
            log.error("report job %s unreadable, shown failed: %s", job_id, type(exc).__name__)
            return JobView(job_id, "failed", 0, "", UNREADABLE, 0, None)

    def stop(self) -> None:
        self.redis.close()


def _view(job: Job, *, with_result: bool) -> JobView:
    status = job.get_status(refresh=True)
    state = _STATES.get(status, "queued") if status is not None else "queued"
    meta = job.get_meta(refresh=True)
    if not isinstance(meta, dict):
        raise TypeError("job meta is not a JSON object")
    error = str(meta.get("error", ""))
    if state == "failed" and not error:
        last = job.latest_result()
        if last is not None and last.exc_string:
            error = last.exc_string.strip().splitlines()[-1]
    result = decode_result(job.return_value()) if with_result and state == "done" else None
    return JobView(job.id, state, int(meta.get("progress", 100 if state == "done" else 0)),
                   str(meta.get("step", "")), error if state in ("retrying", "failed") else "",
                   int(meta.get("attempts", 0)), result)


def report_job(name: str, from_day: str, until_day: str, tz: str, fmt: str) -> dict[str, object]:
    """The RQ job (worker role): render the report (its result as `encode_result`'s JSON); raises
    ReportJobError to have RQ retry it."""
    ctx = jobqueue.worker_context()
    job = get_current_job()
    req = ReportRequest(name, date.fromisoformat(from_day), date.fromisoformat(until_day), tz, fmt)

    def progress(pct: int, step: str) -> None:
        if job is not None:
            job.meta.update(progress=pct, step=step)
            job.save_meta()  # type: ignore[no-untyped-call]

    if job is not None:
        job.meta.update(attempts=int(job.meta.get("attempts", 0)) + 1, progress=0, step="", error="")
        job.save_meta()  # type: ignore[no-untyped-call]
    try:
        out = produce(ctx.db, req, progress)
    except ReportJobError as exc:
        if job is not None:
            job.meta["error"] = str(exc)
            job.save_meta()  # type: ignore[no-untyped-call]
        raise
    log.info("report %s (%s) rendered", name, fmt)
    return encode_result(out)
