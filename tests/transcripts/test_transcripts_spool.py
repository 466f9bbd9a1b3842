"""The durable transcription queue: restarts, retries with back-off, corrupt job files, progress, idempotence."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from transcripts.engine import VoskEngine
from transcripts.errors import (
    AudioFormatError,
    CorruptJobFile,
    JobInterrupted,
    ModelNotFound,
    QueueStopped,
    SpoolLocked,
)
from transcripts.jobs import TranscriptionQueue, TranscriptionResult, backoff_delay
from transcripts.spool import JobRecord, JobSpool, JobState, job_file_name

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


class Gate:
    """An engine factory that blocks until released: a worker stuck in its first job."""

    def __init__(self, engine: VoskEngine) -> None:
        self.engine = engine
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> VoskEngine:
        self.entered.set()
        if not self.release.wait(60):
            raise RuntimeError("gate never released")
        return self.engine


@pytest.fixture
def queues() -> Iterator[list[TranscriptionQueue]]:
    created: list[TranscriptionQueue] = []
    yield created
    for q in created:
        q.stop(timeout=10)


def stored(spool: Path, job_id: str) -> JobRecord:
    """A job file read back independently of the queue."""
    data = json.loads((spool / job_file_name(job_id)).read_text(encoding="utf-8"))
    return JobRecord.from_json(json.dumps(data), source=job_id)


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def test_job_survives_a_restart(
    engine: VoskEngine, tmp_path: Path, say: Callable[[str, int], Path], queues: list[TranscriptionQueue]
) -> None:
    spool = tmp_path / "spool"
    first = Collected()
    gate = Gate(engine)
    old = TranscriptionQueue(gate, first.on_done, first.on_error, spool_dir=spool, grammar=MENU)
    assert old.submit("call-1", say("상담원", 8000))
    assert old.submit("call-2", say("배송 조회", 8000))
    assert gate.entered.wait(10)
    assert stored(spool, "call-1").state is JobState.RUNNING
    assert stored(spool, "call-2").state is JobState.QUEUED
    # The process "dies": its worker is stuck in call-1 and stop() gives up waiting.
    assert old.stop(timeout=0.2) is False
    assert first.errors == []  # durable: nothing cancelled, both jobs stay in the spool
    assert stored(spool, "call-1").state is JobState.RUNNING
    with pytest.raises(QueueStopped):
        old.submit("call-3", say("상담원", 8000))

    second = Collected()
    new = TranscriptionQueue(lambda: engine, second.on_done, second.on_error, spool_dir=spool, grammar=MENU)
    queues.append(new)
    assert new.wait_idle(timeout=60)
    assert second.errors == []
    assert {r.job_id: r.transcripts[0].text for r in second.done} == {"call-1": "상담원", "call-2": "배송 조회"}
    one, two = stored(spool, "call-1"), stored(spool, "call-2")
    assert (one.state, one.attempts) == (JobState.DONE, 2)  # the interrupted run counted as an attempt
    assert (two.state, two.attempts) == (JobState.DONE, 1)
    assert one.finished_at is not None and one.elapsed_s is not None
    assert new.progress().done == 2

    # The old worker wakes up late: its result is dropped, the finished job is not touched.
    gate.release.set()
    assert old.stop(timeout=30)
    assert first.done == [] and first.errors == []
    assert stored(spool, "call-1").state is JobState.DONE
    # A third queue finds nothing to do and submitting a done job again does nothing.
    new.stop(timeout=10)
    third = Collected()
    again = TranscriptionQueue(lambda: engine, third.on_done, third.on_error, spool_dir=spool, grammar=MENU)
    queues.append(again)
    assert again.pending == 0 and again.progress().done == 2
    assert again.submit("call-1", say("상담원", 8000)) is False
    assert again.wait_idle(timeout=10) and third.done == []


def test_one_queue_per_spool(tmp_path: Path, queues: list[TranscriptionQueue]) -> None:
    spool = tmp_path / "spool"
    q = TranscriptionQueue(lambda: None, lambda r: None, lambda j, e: None, spool_dir=spool)  # type: ignore[arg-type,return-value]
    queues.append(q)
    with pytest.raises(SpoolLocked, match=f"transcription spool {spool} is in use by another queue"):
        TranscriptionQueue(lambda: None, lambda r: None, lambda j, e: None, spool_dir=spool)  # type: ignore[arg-type,return-value]
    assert q.stop(timeout=5)
    TranscriptionQueue(lambda: None, lambda r: None, lambda j, e: None, spool_dir=spool).stop()  # type: ignore[arg-type,return-value]


def test_failing_recording_is_retried_with_backoff_then_failed(
    engine: VoskEngine, tmp_path: Path, queues: list[TranscriptionQueue]
) -> None:
    spool = tmp_path / "spool"
    not_wav = tmp_path / "notes.wav"
    not_wav.write_text("hello")
    collected = Collected()
    q = TranscriptionQueue(
        lambda: engine, collected.on_done, collected.on_error, spool_dir=spool, max_attempts=3, backoff_s=0.05
    )
    queues.append(q)
    assert q.submit("garbage", not_wav)
    assert q.wait_idle(timeout=30)
    assert collected.done == []
    ((job_id, exc),) = collected.errors  # on_error once, with the last error
    assert job_id == "garbage" and type(exc) is AudioFormatError and str(not_wav) in str(exc)
    record = stored(spool, "garbage")
    assert (record.state, record.attempts, record.error_type) == (JobState.FAILED, 3, "AudioFormatError")
    assert record.last_error is not None and record.last_error.startswith("AudioFormatError: ")
    assert str(not_wav) in record.last_error
    progress = q.progress()
    assert (progress.failed, progress.done, progress.queued, progress.running, progress.pending) == (1, 0, 0, 0, ())

    # Submitting a failed job again starts it afresh.
    assert q.submit("garbage", not_wav)
    assert q.progress().failed == 0
    assert q.wait_idle(timeout=30)
    assert [j for j, _ in collected.errors] == ["garbage", "garbage"]
    assert stored(spool, "garbage").attempts == 3 and q.progress().failed == 1


def test_retries_wait_for_the_backoff(tmp_path: Path, queues: list[TranscriptionQueue]) -> None:
    tries: list[float] = []

    def factory() -> VoskEngine:
        tries.append(time.monotonic())
        raise ModelNotFound(f"Vosk model folder does not exist: {tmp_path / 'm'}")

    collected = Collected()
    q = TranscriptionQueue(
        factory, collected.on_done, collected.on_error, spool_dir=tmp_path / "s", max_attempts=4, backoff_s=0.1
    )
    queues.append(q)
    q.submit("a", tmp_path / "a.wav")
    assert q.wait_idle(timeout=30)
    assert len(tries) == 4
    gaps = [b - a for a, b in zip(tries, tries[1:], strict=False)]
    assert all(gap >= want for gap, want in zip(gaps, [0.1, 0.2, 0.4], strict=True)), gaps
    assert [(j, type(e)) for j, e in collected.errors] == [("a", ModelNotFound)]
    assert [backoff_delay(n, 30, 600) for n in range(0, 7)] == [0, 30, 60, 120, 240, 480, 600]


def test_missing_recording_that_appears_later_is_done_on_retry(
    engine: VoskEngine, tmp_path: Path, say: Callable[[str, int], Path], queues: list[TranscriptionQueue]
) -> None:
    spool = tmp_path / "spool"
    later = tmp_path / "late.wav"
    collected = Collected()
    q = TranscriptionQueue(
        lambda: engine, collected.on_done, collected.on_error, spool_dir=spool, backoff_s=0.3, grammar=MENU
    )
    queues.append(q)
    q.submit("late", later)
    assert wait_until(lambda: q.progress().retrying == 1)
    progress = q.progress()
    (pending,) = progress.pending
    assert (progress.queued, progress.retrying, progress.running) == (1, 1, 0)
    assert pending.state == "queued" and pending.attempts == 1
    assert pending.last_error is not None and pending.last_error.startswith("RecordingNotFound: ")
    assert stored(spool, "late").state is JobState.QUEUED and stored(spool, "late").next_try_at > 0
    shutil.copy(say("상담원", 8000), later)
    assert q.wait_idle(timeout=60)
    assert collected.errors == []
    assert [r.transcripts[0].text for r in collected.done] == ["상담원"]
    record = stored(spool, "late")
    assert (record.state, record.attempts) == (JobState.DONE, 2)


def test_on_done_failure_is_retried(
    engine: VoskEngine, tmp_path: Path, say: Callable[[str, int], Path], queues: list[TranscriptionQueue]
) -> None:
    calls: list[str] = []

    def on_done(result: TranscriptionResult) -> None:
        calls.append(result.job_id)
        if len(calls) == 1:
            raise RuntimeError("database is down")

    errors: list[str] = []
    q = TranscriptionQueue(
        lambda: engine, on_done, lambda j, e: errors.append(j), spool_dir=tmp_path / "s", backoff_s=0.01, grammar=MENU
    )
    queues.append(q)
    q.submit("x", say("상담원", 8000))
    assert q.wait_idle(timeout=60)
    assert calls == ["x", "x"] and errors == []
    assert stored(tmp_path / "s", "x").attempts == 2


def test_corrupt_job_files_are_moved_aside(
    engine: VoskEngine,
    tmp_path: Path,
    say: Callable[[str, int], Path],
    queues: list[TranscriptionQueue],
    caplog: pytest.LogCaptureFixture,
) -> None:
    spool = tmp_path / "spool"
    writer = JobSpool(spool)
    writer.open()
    writer.write(JobRecord("good", str(say("상담원", 8000)), JobState.QUEUED, created_at=time.time()))
    writer.close()
    (spool / "broken.json").write_text('{"version": 1, "job_id": "bro', encoding="utf-8")
    bad_state = json.loads((spool / "good.json").read_text(encoding="utf-8")) | {"job_id": "odd", "state": "paused"}
    (spool / "odd.json").write_text(json.dumps(bad_state), encoding="utf-8")
    (spool / "latin.json").write_bytes(b"\xff\xfe garbage")
    (spool / "good.json.tmp-1-2").write_text("half a job", encoding="utf-8")

    collected = Collected()
    with caplog.at_level(logging.WARNING, logger="transcripts"):
        q = TranscriptionQueue(lambda: engine, collected.on_done, collected.on_error, spool_dir=spool, grammar=MENU)
        queues.append(q)
        assert q.wait_idle(timeout=60)
    assert [r.job_id for r in collected.done] == ["good"]
    assert sorted(p.name for p in (spool / "corrupt").iterdir()) == ["broken.json", "latin.json", "odd.json"]
    assert not (spool / "good.json.tmp-1-2").exists()
    assert q.progress().corrupt == 3
    lines = [r.getMessage() for r in caplog.records]
    assert any(
        f"corrupt job file moved to {spool / 'corrupt' / 'broken.json'}: {spool / 'broken.json'}: not JSON" in m
        for m in lines
    ), lines
    assert any("unknown state 'paused'" in m for m in lines)
    assert any("not UTF-8 text" in m for m in lines)
    # The queue goes on accepting work.
    assert q.submit("next", say("배송 조회", 8000))
    assert q.wait_idle(timeout=60)
    assert sorted(r.job_id for r in collected.done) == ["good", "next"]


def test_progress_and_idempotent_submit(
    engine: VoskEngine, tmp_path: Path, say: Callable[[str, int], Path], queues: list[TranscriptionQueue]
) -> None:
    gate = Gate(engine)
    collected = Collected()
    q = TranscriptionQueue(gate, collected.on_done, collected.on_error, spool_dir=tmp_path / "s", grammar=MENU)
    queues.append(q)
    path = say("상담원", 8000)
    assert q.submit("a", path)
    assert gate.entered.wait(10)
    assert q.submit("b", path) and q.submit("c", path)
    assert q.submit("a", path) is False  # running
    assert q.submit("b", path) is False  # queued
    progress = q.progress()
    assert (progress.queued, progress.retrying, progress.running, progress.done, progress.failed) == (2, 0, 1, 0, 0)
    assert progress.total_pending == 3 == q.pending
    assert [(p.job_id, p.state, p.attempts) for p in progress.pending] == [
        ("a", "running", 1),
        ("b", "queued", 0),
        ("c", "queued", 0),
    ]
    assert all(p.recording == path for p in progress.pending)
    gate.release.set()
    assert q.wait_idle(timeout=60)
    assert sorted(r.job_id for r in collected.done) == ["a", "b", "c"]  # each once
    progress = q.progress()
    assert (progress.queued, progress.running, progress.done, progress.failed, progress.pending) == (0, 0, 3, 0, ())
    assert q.submit("a", path) is False  # done


def test_memory_queue_is_idempotent_while_queued(
    engine: VoskEngine, say: Callable[[str, int], Path], queues: list[TranscriptionQueue]
) -> None:
    gate = Gate(engine)
    collected = Collected()
    q = TranscriptionQueue(gate, collected.on_done, collected.on_error, grammar=MENU)
    queues.append(q)
    path = say("상담원", 8000)
    assert q.submit("a", path)
    assert gate.entered.wait(10)
    assert q.submit("b", path)
    assert q.submit("b", path) is False
    assert q.progress().pending[1].job_id == "b"
    gate.release.set()
    assert q.wait_idle(timeout=60)
    assert sorted(r.job_id for r in collected.done) == ["a", "b"]
    assert q.progress().done == 2


def test_job_interrupted_too_often_ends_failed(tmp_path: Path, queues: list[TranscriptionQueue]) -> None:
    spool = tmp_path / "spool"
    writer = JobSpool(spool)
    writer.open()
    writer.write(JobRecord("poison", str(tmp_path / "p.wav"), JobState.RUNNING, attempts=2, created_at=1.0))
    writer.close()
    factory_calls: list[int] = []
    collected = Collected()
    q = TranscriptionQueue(
        lambda: factory_calls.append(1),  # type: ignore[arg-type,return-value]
        collected.on_done,
        collected.on_error,
        spool_dir=spool,
        max_attempts=2,
    )
    queues.append(q)
    assert q.wait_idle(timeout=10)
    ((job_id, exc),) = collected.errors
    assert job_id == "poison" and isinstance(exc, JobInterrupted) and "interrupted 2 times" in str(exc)
    assert factory_calls == []  # never run again
    record = stored(spool, "poison")
    assert (record.state, record.error_type) == (JobState.FAILED, "JobInterrupted")


def test_job_file_names_and_records(tmp_path: Path) -> None:
    assert job_file_name("1796026732.0") == "1796026732.0.json"
    assert job_file_name("pbx-a:1796026732.0") == "pbx-a%3A1796026732.0.json"
    assert job_file_name("../etc/passwd") == "%2E.%2Fetc%2Fpasswd.json"  # no path, no hidden file
    long_a, long_b = "x" * 300 + "a", "x" * 300 + "b"
    assert len(job_file_name(long_a)) < 130 and job_file_name(long_a) != job_file_name(long_b)
    record = JobRecord("j", "/r.wav", JobState.FAILED, attempts=3, last_error="AudioFormatError: bad")
    assert JobRecord.from_json(record.to_json(), source="x") == record
    for text, reason in [
        ("[]", "not a JSON object"),
        ('{"version": 2}', "unknown format version 2"),
        (record.to_json().replace('"attempts": 3', '"attempts": -1'), "'attempts' must be a whole number"),
        (record.to_json().replace('"job_id": "j"', '"job_id": ""'), "'job_id' must be a non-empty string"),
        (record.to_json().replace('"created_at": 0.0', '"created_at": "soon"'), "'created_at' must be a number"),
    ]:
        with pytest.raises(CorruptJobFile, match=reason):
            JobRecord.from_json(text, source="f.json")
    # A file whose name does not match the job it holds is refused too (a hand-copied file).
    spool = JobSpool(tmp_path)
    (tmp_path / "other.json").write_text(record.to_json(), encoding="utf-8")
    with pytest.raises(CorruptJobFile, match="holds job 'j', whose file is j.json"):
        spool.read(tmp_path / "other.json")


def hotline(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "hotline_cli.main", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_transcription_jobs_cli_shows_the_spool(tmp_path: Path, queues: list[TranscriptionQueue]) -> None:
    spool = tmp_path / "spool"

    def factory() -> VoskEngine:
        raise ModelNotFound("Vosk model folder does not exist: /nowhere")

    # A live queue holds the spool: the command reads it anyway and changes nothing.
    q = TranscriptionQueue(
        factory, lambda r: None, lambda j, e: None, spool_dir=spool, max_attempts=2, backoff_s=0.01
    )
    queues.append(q)
    q.submit("dead", tmp_path / "dead.wav")
    assert q.wait_idle(timeout=30)
    JobSpool(spool).write(JobRecord("waiting", str(tmp_path / "w.wav"), JobState.QUEUED, created_at=time.time()))
    (spool / "junk.json").write_text("{", encoding="utf-8")

    out = hotline("transcription-jobs", str(spool))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "queued=1 running=0 done=0 failed=1 unreadable=1"
    assert lines[1].startswith("failed\tdead\tattempts=2\t") and "ModelNotFound: Vosk model folder" in lines[1]
    assert lines[2].startswith("queued\twaiting\tattempts=0\t")
    assert lines[3].startswith(f"unreadable\t{spool / 'junk.json'}\t")
    assert (spool / "junk.json").exists()  # read-only

    out = hotline("transcription-jobs", str(spool), "--json", "--state", "failed")
    data = json.loads(out.stdout)
    assert data["counts"] == {"queued": 1, "running": 0, "done": 0, "failed": 1, "unreadable": 1}
    assert [(j["job_id"], j["attempts"], j["error_type"]) for j in data["jobs"]] == [("dead", 2, "ModelNotFound")]

    out = hotline("transcription-jobs", str(tmp_path / "nope"))
    assert out.returncode == 2
    missing = tmp_path / "nope"
    assert out.stderr.strip() == f"hotline transcription-jobs: error: transcription spool {missing} does not exist"
