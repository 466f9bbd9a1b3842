"""Transcription jobs over Redis with RQ, for processes by role.

The listener enqueues one job per recorded, answered call (and per IVR description); `hotline serve
--role worker` runs an RQ worker (`SimpleWorker`: the Vosk model is loaded once and kept) with
RQ's scheduler for retries. A job that fails (the recording not written yet, the database down)
is retried with back-off (`RETRY_INTERVALS_S`); after the last try it stays in RQ's failed-job
registry, which `/status` lists. A worker killed mid-job leaves its job in RQ's started registry:
the next worker on the same machine sees that the dead worker's process is gone and hands the job
back to RQ (retried like any failure); on other machines RQ itself does so when the job's
heartbeat expires. Storing a transcript is idempotent (a call that has one is not transcribed
again), so at-least-once delivery never doubles a transcript.

Nothing read back from Redis is unpickled (issue #16, finding 7: whoever could write to Redis ran
code in the workers and web processes): every queue, worker, registry and fetch here uses
`HotlineJob`, RQ's job read and written with RQ's JSON serializer whatever a caller passes, which
runs only Hotline's own job functions (`JOB_FUNCTIONS`) and no callbacks or webhooks. A job in
Redis that is not JSON, or names another function, is refused: failed, with one error line, never
run. Job arguments and results are JSON values (a report's result: `reportqueue.encode_result`).

The embedded single process (`hotline demo`, `hotline serve`) keeps `transcripts.jobs`' spool.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from rq import Queue, Retry, SimpleWorker, get_current_job
from rq.defaults import DEFAULT_WORKER_TTL
from rq.exceptions import DeserializationError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer, Serializer
from rq.worker import WorkerStatus
from sqlalchemy.exc import SQLAlchemyError

from agent_console import metrics
from agent_console.config import DEFAULT_JOB_RETRY_S
from agent_console.report_jobs import ReportJobError
from cases.db import Database
from cases.errors import CasesError
from cases.redact import masked
from cases.transcript_records import transcripts_for_call
from pipeline.transcription_jobs import IVR_JOB
from pipeline.transcription_results import call_ended_at, store_transcription
from transcripts.engine import VoskEngine, recording_parts, stereo_speakers_for
from transcripts.errors import TranscriptsError
from transcripts.jobs import TranscriptionResult
from transcripts.standard import Rules

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "hotline-transcription"
RETRY_INTERVALS_S: tuple[int, ...] = DEFAULT_JOB_RETRY_S
JOB_TIMEOUT_S = 600
# a done transcription job: its transcript is in the database and nothing reads the job again, so it goes
# after a minute (kept an hour, a busy site's finished jobs grew Redis by 20 MB in 5 minutes of the load run)
RESULT_KEPT_S = 60
# RQ blocks on BLPOP for worker_ttl - 15 s and wants its socket to wait 10 s longer
WORKER_SOCKET_TIMEOUT_S = DEFAULT_WORKER_TTL - 15 + 10 + 5
RECORDING_WAIT_S = 20.0
FAILED_SHOWN = 10
WORKER_PREFIX = "hotline-worker"


class JobQueueError(Exception):
    """The job queue cannot be used (bad settings, Redis unreachable)."""


class RecordingNotReady(JobQueueError):
    """The recording is not (completely) written yet: the job is retried later."""


class TranscriptionNotQueued(JobQueueError, TranscriptsError):
    """A transcription job could not be enqueued (Redis away): the pipeline's `TranscriptsError`."""


class JobRefused(JobQueueError):
    """A job in Redis that Hotline did not write (not JSON, another function, callbacks, webhooks): never run."""


# the only functions a job may run: RQ imports whatever a job's data names, so this is checked first
JOB_FUNCTIONS = frozenset({"hotline_cli.jobqueue.transcribe_job", "hotline_cli.reportqueue.report_job"})


class HotlineJob(Job):
    """RQ's job, read and written with RQ's JSON serializer only (whatever serializer RQ's own code passes:
    its default is pickle), running only `JOB_FUNCTIONS`, without callbacks or webhooks. A worker
    hands the job its `context` before running it (`TranscriptionWorker.perform_job`)."""

    context: WorkerContext | None = None  # never stored in Redis

    def __init__(self, id: str | None = None, connection: redis.Redis | None = None,
                 serializer: Serializer | str | None = None) -> None:
        super().__init__(id, connection=connection, serializer=JSONSerializer)

    @property
    def func(self) -> Any:
        name = self.func_name  # DeserializationError for data that is not JSON
        if name not in JOB_FUNCTIONS or self.instance is not None:
            raise JobRefused(f"job {self.id} names {str(name)[:80]!r}, not one of Hotline's job functions")
        return super().func

    def written_by_hotline(self) -> bool:
        """Whether the job is one Hotline enqueues: JSON data naming one of `JOB_FUNCTIONS`, no callbacks
        or webhooks (a job that is not is refused by the worker, and replaced when enqueued again)."""
        try:
            name, instance = self.func_name, self.instance
        except DeserializationError:
            return False
        return (name in JOB_FUNCTIONS and instance is None and not self.webhooks
                and not any(self._callback_names().values()))

    def _callback_names(self) -> dict[str, str | None]:
        return {"success": self._success_callback_name, "failure": self._failure_callback_name,
                "stopped": self._stopped_callback_name}

    def _no_callback(self, which: str) -> None:
        names = self._callback_names()
        if names[which]:
            log.error("job %s: its %s callback %r is ignored (Hotline's jobs have none)", self.id, which,
                      str(names[which])[:80])

    @property
    def success_callback(self) -> None:
        self._no_callback("success")
        return None

    @property
    def failure_callback(self) -> None:
        self._no_callback("failure")
        return None

    @property
    def stopped_callback(self) -> None:
        self._no_callback("stopped")
        return None

    def send_webhooks(self, status: str | JobStatus, *, exc_string: str | None = None) -> None:
        if self.webhooks:
            log.error("job %s: %s webhooks ignored (Hotline's jobs have none)", self.id, len(self.webhooks))


def job_queue(name: str, conn: redis.Redis) -> Queue:
    """The RQ queue `name` (HotlineJob: JSON only)."""
    return Queue(name, connection=conn, job_class=HotlineJob, serializer=JSONSerializer)


def fetch_job(job_id: str, conn: redis.Redis) -> HotlineJob:
    """The job `job_id` (JSON only); rq's NoSuchJobError if there is none."""
    job = HotlineJob.fetch(job_id, connection=conn, serializer=JSONSerializer)
    assert isinstance(job, HotlineJob)
    return job


@dataclass(frozen=True, slots=True)
class FailedJob:
    job_id: str  # the call's linkedid (or "ivr:<case>:<linkedid>")
    rq_id: str
    error: str  # the last line of the last failure
    ended_at: str  # ISO 8601 UTC, "" if unknown


@dataclass(frozen=True, slots=True)
class JobCounts:
    """What the queue holds: for /status and /metrics."""

    queue: str
    queued: int
    started: int
    scheduled: int  # waiting for a retry
    failed: int
    workers: int
    failed_jobs: tuple[FailedJob, ...]

    @property
    def backlog(self) -> int:
        return self.queued + self.started + self.scheduled


def parse_retry(text: str) -> tuple[int, ...]:
    """"10,30,60" -> (10, 30, 60): seconds before each retry."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise JobQueueError(f"job retry intervals must be whole seconds separated by commas, not {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise JobQueueError(f"job retry intervals must be non-negative and not empty, not {text!r}")
    return values


def rq_job_id(job_id: str) -> str:
    """RQ ids allow [A-Za-z0-9_-]; ours hold '.' and ':' — a stable digest, the real id in the args."""
    return "tr-" + hashlib.sha256(job_id.encode("utf-8")).hexdigest()[:32]


def connect(url: str, socket_timeout: float | None = None) -> redis.Redis:
    """A client for the job queue (`socket_timeout` None: redis-py's default)."""
    extra = {} if socket_timeout is None else {"socket_timeout": socket_timeout}
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=10, health_check_interval=30, **extra)
    except ValueError as exc:
        raise JobQueueError(f"bad Redis URL {masked(url)}: {exc}") from None


ACTIVE = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


class RqTranscriber:
    """The enqueuing side (listener, and the worker's catch-up): pipeline.transcription_jobs'
    `TranscriptionJobs`, as the embedded TranscriptionQueue."""

    def __init__(self, redis_url: str, queue_name: str = DEFAULT_QUEUE,
                 retry_intervals: Sequence[int] = RETRY_INTERVALS_S) -> None:
        self.redis = connect(redis_url)
        self.queue = job_queue(queue_name, self.redis)
        self.retry_intervals = tuple(retry_intervals)
        self.enqueued = 0

    def submit(self, job_id: str, recording: Path) -> bool:
        """Enqueue unless a job for this id is waiting, running, scheduled for a retry or failed for
        good (failed jobs are requeued by hand: `rq requeue --serializer json`). Returns whether it was enqueued."""
        rid = rq_job_id(job_id)
        try:
            existing = fetch_job(rid, self.redis)
        except Exception:  # rq raises NoSuchJobError, or a decoding error for a half-expired hash
            existing = None
        try:
            if existing is not None and not existing.written_by_hotline():
                log.error("job %s of call %s in Redis was not written by Hotline: replaced", rid, job_id)
                existing.delete()
                existing = None
            if existing is not None:
                status = existing.get_status(refresh=False)
                if status in ACTIVE or status == JobStatus.FAILED:
                    return False
            self.queue.enqueue(transcribe_job, job_id, str(recording), job_id=rid, job_timeout=JOB_TIMEOUT_S,
                               retry=Retry(max=len(self.retry_intervals), interval=list(self.retry_intervals)),
                               result_ttl=RESULT_KEPT_S, failure_ttl=30 * 86400, description=f"transcribe {job_id}")
        except redis.RedisError as exc:
            raise TranscriptionNotQueued(f"transcription of {job_id} not queued: Redis: {exc}") from None
        self.enqueued += 1
        return True

    def submit_when_written(self, job_id: str, recording: Path) -> None:
        """Enqueue at once: the job waits for the recording itself (`recording_wait_s`, then retries)."""
        self.submit(job_id, recording)

    @property
    def pending(self) -> int:
        try:
            return counts(self.redis, self.queue.name).backlog
        except redis.RedisError:
            return -1

    def stop(self, timeout: float | None = None) -> None:
        self.redis.close()


def counts(conn: redis.Redis, queue_name: str) -> JobCounts:
    """The queue's counts and its latest failed jobs (raises redis.RedisError when Redis is down)."""
    q = job_queue(queue_name, conn)
    failed_reg = FailedJobRegistry(queue=q, job_class=HotlineJob)
    failed_ids = failed_reg.get_job_ids(0, FAILED_SHOWN - 1, desc=True)
    shown = []
    for job in HotlineJob.fetch_many(failed_ids, connection=conn, serializer=JSONSerializer):
        if job is None:
            continue
        try:
            exc = job.latest_result()
            error = (exc.exc_string or "").strip().splitlines()[-1] if exc is not None and exc.exc_string else ""
            call = str(job.args[0]) if job.args else job.id
        except (DeserializationError, ValueError, TypeError):  # not written by Hotline: shown, never run
            error, call = "unreadable job (not JSON)", job.id
        ended = job.ended_at.isoformat() if job.ended_at else ""
        shown.append(FailedJob(call, job.id, error[:300], ended))
    from rq import Worker

    scheduled = ScheduledJobRegistry(queue=q, job_class=HotlineJob)  # type: ignore[no-untyped-call]
    return JobCounts(queue_name, q.count, StartedJobRegistry(queue=q, job_class=HotlineJob).count, scheduled.count,
                     failed_reg.count, Worker.count(queue=q), tuple(shown))


def counts_json(c: JobCounts) -> dict[str, object]:
    return {"queue": c.queue, "queued": c.queued, "running": c.started, "retrying": c.scheduled,
            "failed": c.failed, "workers": c.workers,
            "failed_jobs": [{"job": f.job_id, "error": f.error, "ended_at": f.ended_at} for f in c.failed_jobs]}


# --- the worker side ----------------------------------------------------------------------------


@dataclass
class WorkerContext:
    """What a job needs in the worker process: built once at wiring, given to `make_worker`, which
    hands it to each job it runs (`job_context`)."""

    db: Database
    model_dir: Path
    recordings_dir: Path
    recorded_on: str = "caller"
    engine: VoskEngine | None = None
    done: int = 0
    rules: Rules | None = None  # service-standard rules (None: the built-in ones)
    recording_wait_s: float = RECORDING_WAIT_S  # setting recording_wait_s

    def vosk(self) -> VoskEngine:
        if self.engine is None:
            self.engine = VoskEngine(self.model_dir)
        return self.engine


def job_context() -> WorkerContext | None:
    """The context of the worker running the current job; None outside a job of a Hotline worker."""
    job = get_current_job()
    return job.context if isinstance(job, HotlineJob) else None


def worker_context() -> WorkerContext:
    """The context of the worker running the current job (report jobs too); JobQueueError outside a worker."""
    ctx = job_context()
    if ctx is None:
        raise JobQueueError("jobs run only in `hotline serve --role worker`")
    return ctx


SETTLE_S = 0.5  # a recording that has not changed for this long is taken as written


def _wait_written(path: Path, wait_s: float) -> None:
    """Return once `path` holds more than a WAV header and has stopped growing: at once for a file
    last written `SETTLE_S` or more ago (a job from a backlog), else when two looks `SETTLE_S` apart
    see the same size. RecordingNotReady after `wait_s`."""
    deadline = time.monotonic() + wait_s
    last = -1
    while time.monotonic() < deadline:
        try:
            st = path.stat()
        except OSError:
            size = -1
        else:
            size = st.st_size
            if size > 44 and (size == last or time.time() - st.st_mtime >= SETTLE_S):
                return
        last = size
        time.sleep(SETTLE_S)
    raise RecordingNotReady(f"recording {path} not written (size {last})")


def already_transcribed(db: Database, job_id: str) -> bool:
    if job_id.startswith(IVR_JOB):
        linkedid, engine = job_id[len(IVR_JOB):].partition(":")[2], "vosk-ivr"
    else:
        linkedid, engine = job_id, "vosk"
    with db.session() as s:
        return any(t.engine == engine for t in transcripts_for_call(s, linkedid))


def transcribe_job(job_id: str, recording: str) -> int:
    """The RQ job: transcribe a call's recording and attach the transcripts. Returns how many
    transcripts were stored (0 when the call had them already). Raises to have RQ retry it."""
    ctx = job_context()
    if ctx is None:
        raise JobQueueError("transcribe_job runs only in `hotline serve --role worker`")
    try:
        if already_transcribed(ctx.db, job_id):
            log.info("call %s has its transcript already", job_id)
            return 0
    except (CasesError, SQLAlchemyError) as exc:
        raise JobQueueError(f"database: {str(exc).splitlines()[0]}") from exc
    path = Path(recording)
    if not path.exists():
        path = ctx.recordings_dir / path.name
    _wait_written(path, ctx.recording_wait_s)
    started = time.monotonic()
    try:
        parts = recording_parts(path, recorded_on=ctx.recorded_on)
        transcripts = ctx.vosk().transcribe_call(parts, None, stereo_speakers=stereo_speakers_for(ctx.recorded_on))
    except TranscriptsError as exc:
        raise JobQueueError(f"transcription of {job_id} failed: {exc}") from exc
    result = TranscriptionResult(job_id=job_id, recording=path, transcripts=transcripts,
                                 elapsed_s=time.monotonic() - started)
    try:
        store_transcription(ctx.db, result, ctx.rules)
    except (CasesError, SQLAlchemyError) as exc:
        raise JobQueueError(f"transcript of {job_id} not stored: {str(exc).splitlines()[0]}") from exc
    ctx.done += 1
    metrics.transcription_stored(call_ended_at(ctx.db, job_id))
    log.info("call %s transcribed in %.1f s", job_id, result.elapsed_s)
    return len(transcripts)


def worker_name() -> str:
    return f"{WORKER_PREFIX}.{socket.gethostname()}.{os.getpid()}"


def requeue_jobs_of_dead_workers(conn: redis.Redis, queue_name: str) -> int:
    """Jobs in the started registry whose worker ran on this machine and whose process is gone
    (kill -9, a crash) are handed back to RQ as abandoned: retried if they have retries left."""
    q = job_queue(queue_name, conn)
    reg = StartedJobRegistry(queue=q, job_class=HotlineJob)
    host = socket.gethostname()
    dead = []
    for raw in conn.zrange(reg.key, 0, -1):
        member = raw.decode() if isinstance(raw, bytes) else str(raw)
        job_id = member.split(":", 1)[0]
        try:
            job = fetch_job(job_id, conn)
        except Exception:
            continue
        name = job.worker_name or ""
        parts = name.split(".")
        if len(parts) < 3 or parts[0] != WORKER_PREFIX or ".".join(parts[1:-1]) != host:
            continue
        try:
            pid = int(parts[-1])
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            dead.append(member)
    if dead:
        conn.zadd(reg.key, dict.fromkeys(dead, 1), xx=True)  # expired: cleanup() retries or fails them
        reg.cleanup(timestamp=2)
        log.warning("%s transcription jobs of a dead worker handed back to the queue", len(dead))
    return len(dead)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie or a recycled pid of something else is not our worker
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"hotline" in cmdline


class TranscriptionWorker(SimpleWorker):
    """RQ's in-process worker, handing each job the worker's `context`; an expected failure
    (JobQueueError: a recording not written yet, a failed transcription; ReportJobError: a report that
    could not be rendered) is one warning line instead of a traceback, and is retried as any."""

    context: WorkerContext | None = None  # set by make_worker

    def perform_job(self, job: Job, queue: Queue) -> bool:
        if isinstance(job, HotlineJob):
            job.context = self.context
        return bool(super().perform_job(job, queue))

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        if exc_info and isinstance(exc_info[0], type) and issubclass(exc_info[0], JobRefused | DeserializationError):
            reason = exc_info[1] if issubclass(exc_info[0], JobRefused) else "its data in Redis is not JSON"
            log.error("job %s refused, not run (Hotline did not write it: %s); left failed", job.id, reason)
            return
        if exc_info and isinstance(exc_info[0], type) and issubclass(exc_info[0], JobQueueError | ReportJobError):
            log.warning("job %s failed (retries left: %s): %s", job.description or job.id, job.retries_left,
                        exc_info[1])
            return
        super().handle_exception(job, *exc_info)

    def unsubscribe(self) -> None:
        """RQ's, with its one-second wait for the pubsub thread: redis-py 8's PubSubWorkerThread.stop() joins
        the thread, which may sit in a read of up to RQ's 60 s sleep time (RQ calls stop() expecting it to
        return at once, then joins for 1 s), so every worker that ended (a burst, a stop) could hang a minute."""
        if self.pubsub_thread is None:
            return
        log.debug("worker %s: unsubscribing from %s", self.name, self.pubsub_channel_name)
        self.pubsub.unsubscribe()
        self.pubsub_thread.stop(timeout=1)
        self.pubsub.close()

    def run_maintenance_tasks(self) -> None:
        """RQ's maintenance, except while stopping: a SIGTERM during a job stops RQ's scheduler process,
        and RQ's maintenance after that job would fork a new one carrying RQ's cold-stop signal handler,
        which the stop right after kills mid-start (SystemExit and a traceback in the log)."""
        if self._stop_requested:
            return
        super().run_maintenance_tasks()  # type: ignore[no-untyped-call]


def worker_connection(url: str) -> redis.Redis:
    """A connection of the worker's own whose socket waits out RQ's blocking dequeue. RQ raises the
    socket timeout of a connection's pool only for connections made after it sees it; redis-py's
    default of 5 s on one made before (any command first) made an idle worker's BLPOP time out every
    5 s ("Redis connection timeout, quitting...") and RQ's loop end, again and again."""
    return connect(url, WORKER_SOCKET_TIMEOUT_S)


def make_worker(conn: redis.Redis, *queue_names: str, context: WorkerContext | None = None) -> SimpleWorker:
    """A worker taking jobs from `queue_names`, the first first (reports before transcriptions), running
    them with `context` (None: every job fails, as outside a worker)."""
    w = TranscriptionWorker([job_queue(name, conn) for name in queue_names], connection=conn,
                            name=worker_name(), maintenance_interval=60, job_class=HotlineJob,
                            serializer=JSONSerializer)
    w.context = context
    return w


def is_busy(worker: SimpleWorker) -> bool:
    return bool(worker.get_state() == WorkerStatus.BUSY)
