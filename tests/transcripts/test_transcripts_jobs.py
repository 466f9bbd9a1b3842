"""TranscriptionQueue: lazy model load, results, surviving bad jobs, wait_idle, capacity, stop."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from telephony.simulator.voice import make_call_recording
from transcripts.engine import VoskEngine
from transcripts.errors import AudioFormatError, ModelNotFound, QueueFull, QueueStopped, RecordingNotFound
from transcripts.jobs import TranscriptionQueue, TranscriptionResult

MENU = ["배송 조회", "상담원", "[unk]"]


@dataclass
class Collected:
    done: list[TranscriptionResult] = field(default_factory=list)
    errors: list[tuple[str, Exception]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_done(self, result: TranscriptionResult) -> None:
        with self.lock:
            self.done.append(result)

    def on_error(self, job_id: str, exc: Exception) -> None:
        with self.lock:
            self.errors.append((job_id, exc))


@pytest.fixture
def collected() -> Collected:
    return Collected()


@pytest.fixture
def queues() -> Iterator[list[TranscriptionQueue]]:
    """Queues created by a test are stopped at its end."""
    created: list[TranscriptionQueue] = []
    yield created
    for q in created:
        q.stop(timeout=10)


@pytest.fixture
def call_recording(tmp_path: Path, voice_cache: Path) -> Path:
    return make_call_recording(tmp_path / "service-service-1796026732.0", "상담원", "배송 조회", cache_dir=voice_cache)


def test_processes_jobs_with_lazy_model_load(
    engine: VoskEngine,
    collected: Collected,
    queues: list[TranscriptionQueue],
    call_recording: Path,
    say: Callable[[str, int], Path],
) -> None:
    factory_calls: list[int] = []

    def factory() -> VoskEngine:
        factory_calls.append(1)
        return engine

    q = TranscriptionQueue(factory, collected.on_done, collected.on_error, workers=2, grammar=MENU)
    queues.append(q)
    assert factory_calls == []  # nothing loaded until the first job
    q.submit("call-1", call_recording)
    q.submit("menu-1", say("배송 조회", 16000))
    assert q.wait_idle(timeout=60)
    assert q.pending == 0
    assert factory_calls == [1]  # one engine shared by both workers
    assert collected.errors == []
    results = {r.job_id: r for r in collected.done}
    assert [(t.speaker, t.text) for t in results["call-1"].transcripts] == [
        ("caller", "상담원"),
        ("agent", "배송 조회"),
    ]
    assert results["call-1"].recording == call_recording
    assert [(t.speaker, t.text) for t in results["menu-1"].transcripts] == [("mixed", "배송 조회")]


def test_bad_jobs_are_reported_and_worker_survives(
    engine: VoskEngine,
    collected: Collected,
    queues: list[TranscriptionQueue],
    tmp_path: Path,
    say: Callable[[str, int], Path],
) -> None:
    not_wav = tmp_path / "notes.wav"
    not_wav.write_text("hello")
    q = TranscriptionQueue(lambda: engine, collected.on_done, collected.on_error, grammar=MENU)
    queues.append(q)
    q.submit("missing", tmp_path / "gone.wav")
    q.submit("garbage", not_wav)
    q.submit("good", say("상담원", 8000))
    assert q.wait_idle(timeout=60)
    errors = dict(collected.errors)
    assert set(errors) == {"missing", "garbage"}
    assert isinstance(errors["missing"], RecordingNotFound)
    assert type(errors["garbage"]) is AudioFormatError and str(not_wav) in str(errors["garbage"])
    assert [r.job_id for r in collected.done] == ["good"]
    assert collected.done[0].transcripts[0].text == "상담원"


def test_failing_model_load_fails_each_job_and_is_retried(
    collected: Collected, queues: list[TranscriptionQueue], tmp_path: Path
) -> None:
    attempts: list[int] = []

    def factory() -> VoskEngine:
        attempts.append(1)
        raise ModelNotFound(f"Vosk model folder does not exist: {tmp_path / 'm'}")

    q = TranscriptionQueue(factory, collected.on_done, collected.on_error)
    queues.append(q)
    q.submit("a", tmp_path / "a.wav")
    q.submit("b", tmp_path / "b.wav")
    assert q.wait_idle(timeout=10)
    assert [job for job, _ in collected.errors] == ["a", "b"]
    assert all(isinstance(exc, ModelNotFound) for _, exc in collected.errors)
    assert len(attempts) == 2


def test_callback_exception_does_not_kill_the_worker(
    engine: VoskEngine, queues: list[TranscriptionQueue], say: Callable[[str, int], Path]
) -> None:
    seen: list[str] = []

    def on_done(result: TranscriptionResult) -> None:
        seen.append(result.job_id)
        raise RuntimeError("console went away")

    q = TranscriptionQueue(lambda: engine, on_done, lambda job, exc: None, grammar=MENU)
    queues.append(q)
    path = say("상담원", 8000)
    q.submit("1", path)
    q.submit("2", path)
    assert q.wait_idle(timeout=60)
    assert seen == ["1", "2"]


def test_wait_idle_times_out_full_queue_and_stop(
    engine: VoskEngine, collected: Collected, tmp_path: Path, say: Callable[[str, int], Path]
) -> None:
    started = threading.Event()
    release = threading.Event()

    def slow_factory() -> VoskEngine:
        started.set()
        release.wait(30)
        return engine

    q = TranscriptionQueue(slow_factory, collected.on_done, collected.on_error, maxsize=1, grammar=MENU)
    path = say("상담원", 8000)
    q.submit("running", path)
    assert started.wait(10)  # the worker holds "running"; the queue itself is empty
    q.submit("waiting", path)
    with pytest.raises(QueueFull, match="transcription queue is full \\(1 jobs waiting\\); job extra"):
        q.submit("extra", path)
    assert q.wait_idle(timeout=0.2) is False
    assert q.pending == 2

    release.set()
    assert q.wait_idle(timeout=60)
    assert sorted(r.job_id for r in collected.done) == ["running", "waiting"]

    release.clear()
    started.clear()
    assert q.stop(timeout=10)
    with pytest.raises(QueueStopped):
        q.submit("late", path)


def test_stop_cancels_queued_jobs(engine: VoskEngine, collected: Collected, say: Callable[[str, int], Path]) -> None:
    started = threading.Event()
    release = threading.Event()

    def slow_factory() -> VoskEngine:
        started.set()
        release.wait(30)
        return engine

    q = TranscriptionQueue(slow_factory, collected.on_done, collected.on_error, grammar=MENU)
    path = say("상담원", 8000)
    q.submit("running", path)
    assert started.wait(10)
    q.submit("queued", path)
    stopper = threading.Thread(target=q.stop, kwargs={"timeout": 30})
    stopper.start()
    # "queued" is cancelled at once, while "running" is still in progress.
    for _ in range(100):
        if collected.errors:
            break
        threading.Event().wait(0.02)
    assert [(job, type(exc)) for job, exc in collected.errors] == [("queued", QueueStopped)]
    release.set()
    stopper.join(30)
    assert not stopper.is_alive()
    assert [r.job_id for r in collected.done] == ["running"]
    assert q.pending == 0


def test_stereo_recording_gives_caller_and_agent(
    engine: VoskEngine, collected: Collected, queues: list[TranscriptionQueue], recordings: Path
) -> None:
    # Recorded on the agent's channel: MixMonitor D puts the agent left (caller side: see engine tests).
    q = TranscriptionQueue(lambda: engine, collected.on_done, collected.on_error, recorded_on="agent")
    queues.append(q)
    q.submit("stereo", recordings / "mm-1796029431.41-stereo.converted-by-sox.wav")
    assert q.wait_idle(timeout=60)
    assert collected.errors == []
    (result,) = collected.done
    assert [t.speaker for t in result.transcripts] == ["agent", "caller"]  # speakers the database accepts
