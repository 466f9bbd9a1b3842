"""Background transcription: a bounded queue of recordings and N worker threads.

The model is loaded lazily by the first job (about 1 s, 0.5 GB), so starting the application stays
fast. `submit` never blocks (it is called from event handlers): it raises `QueueFull` instead.
Every accepted job ends in exactly one callback: `on_done(result)` or `on_error(job_id, exc)`.
Callbacks run on a worker thread; an exception in a callback is logged and the worker continues.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from transcripts.engine import Transcript, VoskEngine, recording_parts, stereo_speakers_for
from transcripts.errors import QueueFull, QueueStopped, TranscriptsError
from transcripts.turns import Turn, build_turns, turns_json

log = logging.getLogger(__name__)


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
class _Job:
    job_id: str
    recording: Path


_STOP = object()


class TranscriptionQueue:
    """Transcribes recordings on `workers` daemon threads, sharing one lazily created engine.

    `grammar` (optional) is passed to every transcription; `recorded_on` says on which channel
    MixMonitor ran, to label the `-rx`/`-tx` files or a stereo file's channels (see `recording_parts`).
    Every transcript of a result has speaker "caller", "agent" or "mixed" (a mono file without parts).
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
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, not {maxsize}")
        self._engine_factory = engine_factory
        self._on_done = on_done
        self._on_error = on_error
        self._grammar = None if grammar is None else tuple(grammar)
        self._recorded_on = recorded_on
        self._stereo_speakers = stereo_speakers_for(recorded_on)
        self._maxsize = maxsize
        # Unbounded underneath (stop() must always be able to add its sentinels); submit() enforces
        # the bound, and only submit() adds jobs, under self._state.
        self._queue: queue.Queue[_Job | object] = queue.Queue()
        self._engine: VoskEngine | None = None
        self._engine_lock = threading.Lock()
        self._state = threading.Condition()
        self._pending = 0  # accepted jobs not yet finished (queued or running)
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._work, name=f"transcription-{i + 1}", daemon=True) for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def pending(self) -> int:
        """Jobs accepted and not yet finished."""
        with self._state:
            return self._pending

    def submit(self, job_id: str, recording: Path) -> None:
        """Queue a recording (its `-rx`/`-tx` siblings are used if they exist). Never blocks."""
        with self._state:
            if self._stopping:
                raise QueueStopped(f"transcription queue is stopped; job {job_id} not accepted")
            if self._queue.qsize() >= self._maxsize:
                raise QueueFull(
                    f"transcription queue is full ({self._maxsize} jobs waiting); job {job_id} not accepted"
                )
            self._queue.put_nowait(_Job(job_id=job_id, recording=Path(recording)))
            self._pending += 1
        log.debug("transcription job %s queued: %s", job_id, recording)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every accepted job has finished; False if `timeout` passed first."""
        with self._state:
            return self._state.wait_for(lambda: self._pending == 0, timeout=timeout)

    def stop(self, timeout: float | None = 5.0) -> bool:
        """Stop the workers after their current job; queued jobs get `on_error(QueueStopped)`.

        Returns True if every worker thread ended within `timeout`.
        """
        with self._state:
            self._stopping = True
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Job):
                self._fail(item.job_id, QueueStopped(f"transcription queue stopped before job {item.job_id}"))
                self._finished()
        for _ in self._threads:
            self._queue.put_nowait(_STOP)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        return not any(t.is_alive() for t in self._threads)

    def _get_engine(self) -> VoskEngine:
        with self._engine_lock:
            if self._engine is None:
                started = time.monotonic()
                self._engine = self._engine_factory()
                log.info("transcription engine ready in %.2f s", time.monotonic() - started)
            return self._engine

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if not isinstance(item, _Job):
                return
            try:
                self._run(item)
            finally:
                self._finished()

    def _run(self, job: _Job) -> None:
        started = time.monotonic()
        try:
            engine = self._get_engine()
            parts = recording_parts(job.recording, recorded_on=self._recorded_on)
            transcripts = engine.transcribe_call(parts, self._grammar, stereo_speakers=self._stereo_speakers)
        except Exception as exc:  # a bad job must never kill the worker
            if not isinstance(exc, TranscriptsError):
                log.exception("transcription job %s failed unexpectedly", job.job_id)
            else:
                log.warning("transcription job %s failed: %s", job.job_id, exc)
            self._fail(job.job_id, exc)
            return
        result = TranscriptionResult(
            job_id=job.job_id,
            recording=job.recording,
            transcripts=transcripts,
            elapsed_s=time.monotonic() - started,
        )
        log.info("transcription job %s done in %.2f s", job.job_id, result.elapsed_s)
        try:
            self._on_done(result)
        except Exception:
            log.exception("on_done callback failed for transcription job %s", job.job_id)

    def _fail(self, job_id: str, exc: Exception) -> None:
        try:
            self._on_error(job_id, exc)
        except Exception:
            log.exception("on_error callback failed for transcription job %s", job_id)

    def _finished(self) -> None:
        with self._state:
            self._pending -= 1
            self._state.notify_all()
