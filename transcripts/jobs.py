"""Background transcription: a queue of recordings, N worker threads, retries, and an optional spool.

The model is loaded lazily by the first job (about 1 s, 0.5 GB), so starting the application stays
fast. `submit` never blocks on transcription (it is called from event handlers): it raises
`QueueFull` instead. Jobs are idempotent by `job_id`: submitting an id that is queued or running
(or, with a spool, already done) does nothing and returns False.

A job is done when `on_done(result)` has returned; if transcription fails or `on_done` raises, the
attempt failed and the job is tried again after a back-off (`backoff_s`, doubling up to
`max_backoff_s`) until `max_attempts` attempts have failed; then `on_error(job_id, exc)` gets the
last error. Delivery is at least once: `on_done` may see a job again if the process stopped after
`on_done` returned and before the job was recorded as done. Callbacks run on a worker thread.

With `spool_dir` the jobs are durable (see `transcripts.spool`): each is a JSON file, written
atomically at every change of state. A new queue over the same folder picks up the jobs that were
queued and the ones that were running when the process stopped (that run counts as an attempt, so a
recording that crashes the process ends failed with `JobInterrupted`). `stop()` then leaves queued
jobs in the spool instead of cancelling them. Without a spool, jobs live in memory only and are
attempted once unless `max_attempts` says otherwise.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from transcripts.engine import Transcript, VoskEngine, recording_parts, stereo_speakers_for
from transcripts.errors import JobInterrupted, QueueFull, QueueStopped, SpoolError, TranscriptsError
from transcripts.spool import JobRecord, JobSpool, JobState
from transcripts.turns import Turn, build_turns, turns_json

log = logging.getLogger(__name__)

DURABLE_MAX_ATTEMPTS = 5
MEMORY_MAX_ATTEMPTS = 1
DEFAULT_BACKOFF_S = 30.0
DEFAULT_MAX_BACKOFF_S = 1800.0
DEFAULT_KEEP_DONE_S = 7 * 86400.0
RECORDING_WAIT_S = 20.0  # `submit_when_written`: how long a just-ended call's recording may take to appear


@dataclass(frozen=True, slots=True)
class TranscriptionResult:
    """The transcripts of one job: one per speaker file found for the recording."""

    job_id: str
    recording: Path
    transcripts: list[Transcript]
    elapsed_s: float

    @property
    def turns(self) -> tuple[Turn, ...]:
        """The call's speaker turns (customer/agent, start, end, text) in time order."""
        return build_turns(self.transcripts)

    def turns_json(self) -> str:
        """The turns as a JSON array, ready for `attach_transcript(words_json=...)`."""
        return turns_json(self.turns)


@dataclass(frozen=True, slots=True)
class PendingJob:
    """A job not finished yet, as `progress()` shows it. Times are wall-clock (time.time())."""

    job_id: str
    recording: Path
    state: str  # "queued" or "running"
    attempts: int  # attempts started so far (the running one included)
    next_try_at: float | None  # a queued job waiting for a retry: when it may run again
    last_error: str | None  # "ErrorType: message" of its latest failed attempt


@dataclass(frozen=True, slots=True)
class QueueProgress:
    """Counts of the queue's jobs and the list of pending ones (running first, then by next try).

    `done` and `failed` count the jobs finished since the queue started plus, with a spool, the
    finished jobs kept in it (done jobs are kept `keep_done_s`, failed ones until deleted).
    """

    queued: int  # waiting to run, retries included
    retrying: int  # of `queued`: failed before, waiting for their next try
    running: int
    done: int
    failed: int
    corrupt: int  # job files found unreadable at start and moved aside
    pending: tuple[PendingJob, ...]

    @property
    def total_pending(self) -> int:
        return self.queued + self.running


def backoff_delay(failed_attempts: int, base_s: float, max_s: float) -> float:
    """Seconds to wait before the next try after `failed_attempts` failures: base, 2·base, 4·base… ≤ max."""
    if failed_attempts < 1:
        return 0.0
    return float(min(max_s, base_s * 2 ** min(failed_attempts - 1, 62)))


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class TranscriptionQueue:
    """Transcribes recordings on `workers` daemon threads, sharing one lazily created engine.

    `grammar` (optional) is passed to every transcription; `recorded_on` says on which channel
    MixMonitor ran, to label the `-rx`/`-tx` files or a stereo file's channels (see `recording_parts`).
    Every transcript of a result has speaker "caller", "agent" or "mixed" (a mono file without parts).
    `spool_dir` makes the jobs durable (module doc); `max_attempts` defaults to 5 with a spool and
    1 without.
    """

    def __init__(
        self,
        engine_factory: Callable[[], VoskEngine],
        on_done: Callable[[TranscriptionResult], None],
        on_error: Callable[[str, Exception], None],
        *,
        workers: int = 1,
        maxsize: int = 100,
        grammar: Sequence[str] | None = None,
        recorded_on: str = "caller",
        spool_dir: Path | None = None,
        max_attempts: int | None = None,
        backoff_s: float = DEFAULT_BACKOFF_S,
        max_backoff_s: float = DEFAULT_MAX_BACKOFF_S,
        keep_done_s: float = DEFAULT_KEEP_DONE_S,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, not {maxsize}")
        if max_attempts is not None and max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
        if backoff_s < 0 or max_backoff_s < 0:
            raise ValueError("backoff_s and max_backoff_s must not be negative")
        self._engine_factory = engine_factory
        self._on_done = on_done
        self._on_error = on_error
        self._grammar = None if grammar is None else tuple(grammar)
        self._recorded_on = recorded_on
        self._stereo_speakers = stereo_speakers_for(recorded_on)
        self._maxsize = maxsize
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._keep_done_s = keep_done_s
        default_attempts = MEMORY_MAX_ATTEMPTS if spool_dir is None else DURABLE_MAX_ATTEMPTS
        self.max_attempts = default_attempts if max_attempts is None else max_attempts
        self._engine: VoskEngine | None = None
        self._engine_lock = threading.Lock()
        self._state = threading.Condition()
        # Jobs not finished (queued or running), by id; the heap orders the queued ones by due time.
        self._jobs: dict[str, JobRecord] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0
        self._running: set[str] = set()
        self._done = 0
        self._failed = 0
        self._corrupt = 0
        self._stopping = False
        self._closed = False  # stop() gave up waiting: late results are dropped, the spool keeps the job
        self._spool: JobSpool | None = None
        if spool_dir is not None:
            self._spool = JobSpool(Path(spool_dir))
            self._spool.open()
            try:
                self._load_spool()
            except BaseException:
                self._spool.close()
                raise
        self._threads = [
            threading.Thread(target=self._work, name=f"transcription-{i + 1}", daemon=True) for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    # ------------------------------------------------------------------ public
    @property
    def durable(self) -> bool:
        return self._spool is not None

    @property
    def pending(self) -> int:
        """Jobs accepted and not yet finished (queued, waiting for a retry, or running)."""
        with self._state:
            return len(self._jobs)

    def submit(self, job_id: str, recording: Path) -> bool:
        """Queue a recording (its `-rx`/`-tx` siblings are used if they exist). Never blocks on work.

        Returns False, doing nothing, if a job `job_id` is already queued or running, or (with a
        spool) already done. A job that failed is queued again with a fresh count of attempts.
        With a spool the job file is written before this returns (`SpoolError` if it cannot be).
        """
        if not job_id:
            raise ValueError("job_id must not be empty")
        recording = Path(recording)
        with self._state:
            if self._stopping:
                raise QueueStopped(f"transcription queue is stopped; job {job_id} not accepted")
            if job_id in self._jobs:
                log.info("transcription job %s is already %s; not queued again", job_id, self._jobs[job_id].state.value)
                return False
            previous = self._stored(job_id)
            if previous is not None and previous.state is JobState.DONE:
                log.info("transcription job %s was already done; not queued again", job_id)
                return False
            if len(self._jobs) - len(self._running) >= self._maxsize:
                raise QueueFull(
                    f"transcription queue is full ({self._maxsize} jobs waiting); job {job_id} not accepted"
                )
            now = time.time()
            record = JobRecord(
                job_id=job_id,
                recording=str(recording.absolute()) if self._spool is not None else str(recording),
                state=JobState.QUEUED,
                created_at=now,
            )
            if self._spool is not None:
                self._spool.write(record)
                if previous is not None and previous.state is JobState.FAILED:  # tried again from the start
                    self._failed = max(0, self._failed - 1)
            self._enqueue(record, 0.0)
        log.debug("transcription job %s queued: %s", job_id, recording)
        return True

    def submit_when_written(self, job_id: str, recording: Path) -> None:
        """Queue the recording of a call that just ended once Asterisk has written it (more than a WAV
        header, the same size twice half a second apart), waiting up to `RECORDING_WAIT_S` on a thread
        of its own: returns at once. A recording that never appears, or a job not accepted, is logged."""
        threading.Thread(target=self._submit_once_written, args=(job_id, Path(recording)), daemon=True).start()

    def _submit_once_written(self, job_id: str, path: Path) -> None:
        deadline = time.monotonic() + RECORDING_WAIT_S
        last = -1
        while time.monotonic() < deadline:
            size = path.stat().st_size if path.exists() else -1
            if size > 44 and size == last:
                break
            last = size
            time.sleep(0.5)
        else:
            log.warning("recording of call %s never appeared at %s", job_id, path)
            return
        try:
            self.submit(job_id, path)
        except TranscriptsError as exc:
            log.warning("transcription of %s not queued: %s", job_id, exc)

    def progress(self) -> QueueProgress:
        """Typed counts and the pending jobs (running first, then queued by next try)."""
        now_wall = time.time()
        with self._state:
            pending: list[PendingJob] = []
            for record in self._jobs.values():
                running = record.job_id in self._running
                waiting = not running and record.next_try_at > now_wall
                pending.append(
                    PendingJob(
                        job_id=record.job_id,
                        recording=Path(record.recording),
                        state=JobState.RUNNING.value if running else JobState.QUEUED.value,
                        attempts=record.attempts,
                        next_try_at=record.next_try_at if waiting else None,
                        last_error=record.last_error,
                    )
                )
            retrying = sum(1 for p in pending if p.state == JobState.QUEUED.value and p.last_error is not None)
            return QueueProgress(
                queued=len(self._jobs) - len(self._running),
                retrying=retrying,
                running=len(self._running),
                done=self._done,
                failed=self._failed,
                corrupt=self._corrupt,
                pending=tuple(sorted(pending, key=lambda p: (p.state != "running", p.next_try_at or 0.0))),
            )

    def engine(self) -> VoskEngine:
        """The shared engine, created on first use (for work outside the queue, e.g. IVR messages)."""
        with self._engine_lock:
            if self._engine is None:
                started = time.monotonic()
                self._engine = self._engine_factory()
                log.info("transcription engine ready in %.2f s", time.monotonic() - started)
            return self._engine

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every accepted job has finished; False if `timeout` passed first."""
        with self._state:
            return self._state.wait_for(lambda: not self._jobs, timeout=timeout)

    def stop(self, timeout: float | None = 5.0) -> bool:
        """Stop the workers after their current job.

        Without a spool, queued jobs get `on_error(QueueStopped)`. With one they stay queued in the
        spool for the next queue; a job still running when `timeout` passes stays "running" there,
        is run again by the next queue, and its late result here is dropped. Returns True if every
        worker thread ended within `timeout`.
        """
        cancelled: list[str] = []
        with self._state:
            self._stopping = True
            if self._spool is None:
                cancelled = [job_id for _, _, job_id in sorted(self._heap)]
                self._heap.clear()
            self._state.notify_all()
        for job_id in cancelled:
            self._call_on_error(job_id, QueueStopped(f"transcription queue stopped before job {job_id}"))
            with self._state:
                self._jobs.pop(job_id, None)
                self._state.notify_all()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        ended = not any(t.is_alive() for t in self._threads)
        with self._state:
            if not self._closed:
                self._closed = True
                if self._spool is not None:
                    self._spool.close()
        return ended

    # ------------------------------------------------------------------ internals
    def _stored(self, job_id: str) -> JobRecord | None:
        if self._spool is None:
            return None
        path = self._spool.path_of(job_id)
        if not path.exists():
            return None
        try:
            return self._spool.read(path)
        except SpoolError as exc:
            moved = self._spool.move_aside(path)
            self._corrupt += 1
            log.error("transcription spool: corrupt job file moved to %s: %s", moved, exc)
            return None

    def _enqueue(self, record: JobRecord, delay_s: float) -> None:
        self._jobs[record.job_id] = record
        self._seq += 1
        heapq.heappush(self._heap, (time.monotonic() + delay_s, self._seq, record.job_id))
        self._state.notify_all()  # wait_idle() waits on the same condition: notify() could wake only it

    def _load_spool(self) -> None:
        assert self._spool is not None
        spool = self._spool
        before = self._count_corrupt()
        now = time.time()
        pickup: list[JobRecord] = []
        for record in spool.load():
            if record.state is JobState.DONE:
                if self._keep_done_s >= 0 and (record.finished_at or 0.0) < now - self._keep_done_s:
                    spool.delete(record.job_id)
                else:
                    self._done += 1
            elif record.state is JobState.FAILED:
                self._failed += 1
            else:
                if record.state is JobState.RUNNING:
                    log.warning(
                        "transcription job %s was interrupted during attempt %d; queued again",
                        record.job_id,
                        record.attempts,
                    )
                    record = record.with_(
                        state=JobState.QUEUED,
                        next_try_at=0.0,
                        last_error=f"JobInterrupted: the process stopped during attempt {record.attempts}",
                        error_type="JobInterrupted",
                    )
                    spool.write(record)
                pickup.append(record)
        self._corrupt = self._count_corrupt() - before
        with self._state:
            for record in sorted(pickup, key=lambda r: (r.next_try_at, r.created_at)):
                self._enqueue(record, max(0.0, record.next_try_at - now))
        if pickup:
            log.info("transcription spool %s: %d jobs picked up", spool.directory, len(pickup))

    def _count_corrupt(self) -> int:
        assert self._spool is not None
        folder = self._spool.directory / "corrupt"
        return sum(1 for _ in folder.iterdir()) if folder.is_dir() else 0

    def _persist(self, record: JobRecord) -> None:
        if self._spool is None or self._closed:
            return
        try:
            self._spool.write(record)
        except SpoolError as exc:  # the job goes on in memory; a restart may run it again
            log.error("%s", exc)

    def _next_job(self) -> JobRecord | None:
        """Wait for a due job and mark it running; None when the queue stops."""
        with self._state:
            while True:
                if self._stopping:
                    return None
                if self._heap:
                    due, _, job_id = self._heap[0]
                    wait = due - time.monotonic()
                    if wait <= 0:
                        heapq.heappop(self._heap)
                        break
                    self._state.wait(wait)
                else:
                    self._state.wait()
            record = self._jobs[job_id]
            if record.attempts >= self.max_attempts:  # interrupted too often: do not run it again
                return record
            record = record.with_(state=JobState.RUNNING, attempts=record.attempts + 1, started_at=time.time())
            self._jobs[job_id] = record
            self._running.add(job_id)
            self._persist(record)
            return record

    def _work(self) -> None:
        while True:
            record = self._next_job()
            if record is None:
                return
            if record.state is not JobState.RUNNING:
                exc = JobInterrupted(
                    f"transcription job {record.job_id} was interrupted {record.attempts} times "
                    f"(the process stopped while it ran); not tried again"
                )
                self._finish_failed(record, exc, 0.0, final=True)
                continue
            self._run(record)

    def _run(self, record: JobRecord) -> None:
        started = time.monotonic()
        recording = Path(record.recording)
        try:
            engine = self.engine()
            parts = recording_parts(recording, recorded_on=self._recorded_on)
            transcripts = engine.transcribe_call(parts, self._grammar, stereo_speakers=self._stereo_speakers)
        except Exception as exc:  # a bad job must never kill the worker
            if not isinstance(exc, TranscriptsError):
                log.exception("transcription job %s failed unexpectedly", record.job_id)
            self._finish_failed(record, exc, time.monotonic() - started)
            return
        result = TranscriptionResult(
            job_id=record.job_id,
            recording=recording,
            transcripts=transcripts,
            elapsed_s=time.monotonic() - started,
        )
        with self._state:
            if self._closed:
                log.warning("transcription job %s finished after the queue stopped; result dropped", record.job_id)
                self._drop(record.job_id)
                return
        try:
            self._on_done(result)
        except Exception as exc:
            log.exception("on_done callback failed for transcription job %s", record.job_id)
            self._finish_failed(record, exc, result.elapsed_s)
            return
        log.info("transcription job %s done in %.2f s (attempt %d)", record.job_id, result.elapsed_s, record.attempts)
        with self._state:
            done = record.with_(
                state=JobState.DONE,
                finished_at=time.time(),
                elapsed_s=round(result.elapsed_s, 3),
                next_try_at=0.0,
            )
            self._persist(done)
            self._done += 1
            self._drop(record.job_id)

    def _finish_failed(self, record: JobRecord, exc: Exception, elapsed_s: float, *, final: bool = False) -> None:
        now = time.time()
        failed = record.with_(
            finished_at=now,
            elapsed_s=round(elapsed_s, 3),
            last_error=_error_text(exc),
            error_type=type(exc).__name__,
        )
        with self._state:
            if self._closed:
                log.warning("transcription job %s failed after the queue stopped: %s", record.job_id, exc)
                self._drop(record.job_id)
                return
            final = final or record.attempts >= self.max_attempts or (self._stopping and self._spool is None)
            if not final:
                delay = backoff_delay(record.attempts, self._backoff_s, self._max_backoff_s)
                retry = failed.with_(state=JobState.QUEUED, next_try_at=now + delay)
                self._persist(retry)
                self._running.discard(record.job_id)
                log.warning(
                    "transcription job %s failed (attempt %d of %d), next try in %.0f s: %s",
                    record.job_id,
                    record.attempts,
                    self.max_attempts,
                    delay,
                    exc,
                )
                if self._stopping:  # durable: it stays queued in the spool for the next queue
                    self._drop(record.job_id)
                else:
                    self._enqueue(retry, delay)
                return
        log.warning("transcription job %s failed after %d attempts: %s", record.job_id, record.attempts, exc)
        self._call_on_error(record.job_id, exc)
        with self._state:
            self._persist(failed.with_(state=JobState.FAILED, next_try_at=0.0))
            self._failed += 1
            self._drop(record.job_id)

    def _drop(self, job_id: str) -> None:
        """Forget a job (finished, or left to the spool); caller holds self._state."""
        self._jobs.pop(job_id, None)
        self._running.discard(job_id)
        self._state.notify_all()

    def _call_on_error(self, job_id: str, exc: Exception) -> None:
        try:
            self._on_error(job_id, exc)
        except Exception:
            log.exception("on_error callback failed for transcription job %s", job_id)
