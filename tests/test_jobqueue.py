"""Transcription jobs on RQ (processes by role): real Redis (a queue name of the test's own), real
PostgreSQL, real Vosk, real espeak-ng recordings. A burst worker runs the jobs in this process."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from loopback import free_port, redis_url

from cases.call_records import record_call
from cases.db import Database
from cases.transcript_records import transcripts_for_call
from hotline_cli import jobqueue
from hotline_cli.jobqueue import JobQueueError, RqTranscriber, WorkerContext
from telephony.records import CallRecord
from telephony.simulator.voice import make_call_recording
from transcripts.engine import default_model_dir

REDIS = redis_url()


@pytest.fixture
def queue_name() -> Iterator[str]:
    name = f"test-transcription-{uuid.uuid4().hex[:10]}"
    yield name
    conn = redis.Redis.from_url(REDIS)
    q = jobqueue.job_queue(name, conn)
    for reg in (q.failed_job_registry, q.finished_job_registry, q.scheduled_job_registry, q.started_job_registry):
        for jid in reg.get_job_ids():
            reg.remove(jid, delete_job=True)
    q.delete(delete_jobs=True)
    conn.close()


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def context(db: Database, tmp_path: Path) -> Iterator[WorkerContext]:
    yield WorkerContext(db, default_model_dir(), tmp_path)


def store_call(db: Database, linkedid: str, recording: Path) -> None:
    now = time.time()
    with db.session() as s:
        record_call(s, CallRecord(linkedid=linkedid, caller="49305551001", hotline="service", outcome="answered",
                                  agent="agent1001", agents=["agent1001"], recording=str(recording),
                                  started_at=now - 20, answered_at=now - 15, ended_at=now - 1))


def run_burst(queue_name: str, context: WorkerContext, rounds: int = 1, pause_s: float = 0.0) -> None:
    conn = redis.Redis.from_url(REDIS)
    try:
        for _ in range(rounds):
            worker = jobqueue.make_worker(conn, queue_name, context=context)
            worker.work(burst=True, with_scheduler=True, logging_level="ERROR")
            time.sleep(pause_s)
    finally:
        conn.close()


def engines(db: Database, linkedid: str) -> list[str]:
    with db.session() as s:
        return sorted(t.engine for t in transcripts_for_call(s, linkedid))


def test_a_job_transcribes_the_call_once_even_when_enqueued_twice(
        queue_name: str, db: Database, context: WorkerContext, tmp_path: Path) -> None:
    rec = make_call_recording(tmp_path / "service-1700000000.1", "택배가 아직 안 왔어요", "네 확인해 드리겠습니다")
    store_call(db, "1700000000.1", rec)
    jobs = RqTranscriber(REDIS, queue_name, (1,))
    assert jobs.submit("1700000000.1", rec) is True
    assert jobs.submit("1700000000.1", rec) is False  # already queued: not twice
    assert jobqueue.counts(jobs.redis, queue_name).queued == 1
    run_burst(queue_name, context)
    first = engines(db, "1700000000.1")
    assert "vosk" in first and "vosk-turns" in first
    done_key = f"rq:job:{jobqueue.rq_job_id('1700000000.1')}"
    assert 0 < jobs.redis.ttl(done_key) <= jobqueue.RESULT_KEPT_S  # a done job leaves Redis soon
    with db.session() as s:
        caller = [t for t in transcripts_for_call(s, "1700000000.1") if t.speaker == "caller" and t.engine == "vosk"]
    assert caller and caller[0].text  # real words from the real recording
    # delivered again (at least once): the job sees the transcript and stores nothing more
    assert jobs.submit("1700000000.1", rec) is True
    run_burst(queue_name, context)
    assert engines(db, "1700000000.1") == first
    c = jobqueue.counts(jobs.redis, queue_name)
    assert (c.queued, c.started, c.scheduled, c.failed) == (0, 0, 0, 0)


def test_a_failing_job_is_retried_with_backoff_then_succeeds(
        queue_name: str, db: Database, context: WorkerContext, tmp_path: Path) -> None:
    context.recording_wait_s = 0.6  # the worker's setting recording_wait_s
    later = tmp_path / "service-1700000000.2"
    wav = tmp_path / "service-1700000000.2.wav"
    store_call(db, "1700000000.2", wav)
    jobs = RqTranscriber(REDIS, queue_name, (2, 2, 2))
    assert jobs.submit("1700000000.2", wav)
    run_burst(queue_name, context)  # the recording is not there yet: the job fails and waits for its retry
    c = jobqueue.counts(jobs.redis, queue_name)
    assert (c.scheduled, c.failed) == (1, 0), c
    job = jobqueue.fetch_job(jobqueue.rq_job_id("1700000000.2"), jobs.redis)
    assert job.retries_left == 2
    make_call_recording(later, "배송 조회를 하고 싶어요", "안녕하세요 상담원입니다")
    deadline = time.time() + 120  # a condition: generous for a loaded machine (the suite runs in parallel)
    while "vosk" not in engines(db, "1700000000.2") and time.time() < deadline:
        run_burst(queue_name, context, pause_s=0.5)  # the scheduler moves the job back when its retry is due
    assert "vosk" in engines(db, "1700000000.2")
    c = jobqueue.counts(jobs.redis, queue_name)
    assert (c.scheduled, c.failed) == (0, 0)


def test_a_job_out_of_retries_is_in_the_failed_registry_and_not_requeued(
        queue_name: str, db: Database, context: WorkerContext, tmp_path: Path) -> None:
    context.recording_wait_s = 0.3
    missing = tmp_path / "never-written.wav"
    store_call(db, "1700000000.3", missing)
    jobs = RqTranscriber(REDIS, queue_name, (0,))  # one immediate retry
    assert jobs.submit("1700000000.3", missing)
    run_burst(queue_name, context, rounds=2)
    c = jobqueue.counts(jobs.redis, queue_name)
    assert c.failed == 1 and c.scheduled == 0
    (failed,) = c.failed_jobs
    assert failed.job_id == "1700000000.3" and "RecordingNotReady" in failed.error
    shown = jobqueue.counts_json(c)
    assert shown["failed"] == 1 and shown["failed_jobs"] == [
        {"job": "1700000000.3", "error": failed.error, "ended_at": failed.ended_at}]
    assert jobs.submit("1700000000.3", missing) is False  # a failed job waits for a person: `rq requeue`
    assert engines(db, "1700000000.3") == []


def test_a_job_outside_a_worker_and_bad_settings_are_clear_errors(queue_name: str, tmp_path: Path) -> None:
    with pytest.raises(JobQueueError, match="only in `hotline serve --role worker`"):
        jobqueue.transcribe_job("x", str(tmp_path / "x.wav"))
    with pytest.raises(JobQueueError, match="whole seconds"):
        jobqueue.parse_retry("10,soon")
    with pytest.raises(JobQueueError, match="not empty"):
        jobqueue.parse_retry("")
    assert jobqueue.parse_retry("10, 30,60") == (10, 30, 60)
    assert jobqueue.rq_job_id("pbx2:1700000000.4") == jobqueue.rq_job_id("pbx2:1700000000.4")
    assert jobqueue.rq_job_id("pbx2:1700000000.4") != jobqueue.rq_job_id("pbx1:1700000000.4")


def test_a_stopping_worker_starts_no_new_scheduler_process(queue_name: str) -> None:
    """A SIGTERM during a job stops RQ's scheduler; the maintenance after the job must not start another
    (it would inherit RQ's cold-stop handler and die with a traceback when the worker stops it)."""
    from rq.scheduler import RQScheduler

    conn = redis.Redis.from_url(REDIS)
    try:
        worker = jobqueue.make_worker(conn, queue_name)
        assert isinstance(worker, jobqueue.TranscriptionWorker)
        scheduler = RQScheduler([queue_name], connection=conn)
        worker.scheduler = scheduler
        worker.last_cleaned_at = datetime.now(UTC)  # type: ignore[assignment]  # not the first maintenance (that one starts none)
        worker._stop_requested = True  # what RQ's warm shutdown sets when the signal comes mid-job
        worker.run_maintenance_tasks()
        assert scheduler._process is None  # no scheduler process forked
        worker._stop_requested = False  # running normally: the maintenance does start one (the check can fail)
        worker.run_maintenance_tasks()
        try:
            assert scheduler._process is not None and scheduler._process.is_alive()
        finally:
            if scheduler._process is not None:
                # a fork of this test process: a SIGTERM handler an earlier test installed here may be its
                # own, so SIGTERM may not end it; one left running would hang pytest's exit (multiprocessing
                # joins its children)
                scheduler._process.terminate()
                scheduler._process.join(5)
                if scheduler._process.is_alive():
                    scheduler._process.kill()
                    scheduler._process.join(5)
            scheduler.release_locks()  # type: ignore[no-untyped-call]
    finally:
        conn.close()


def test_a_recording_written_a_while_ago_is_taken_at_once_and_a_fresh_one_after_a_second_look(tmp_path: Path) -> None:
    from hotline_cli.jobqueue import SETTLE_S, RecordingNotReady, _wait_written

    old = tmp_path / "old.wav"
    old.write_bytes(b"RIFF" + bytes(200))
    os.utime(old, (time.time() - 60, time.time() - 60))
    _wait_written(old, wait_s=SETTLE_S / 5)  # a backlog's job: no time for a second look, none needed
    fresh = tmp_path / "fresh.wav"
    fresh.write_bytes(b"RIFF" + bytes(200))
    with pytest.raises(RecordingNotReady):  # still being written, for all we know: it needs a second look
        _wait_written(fresh, wait_s=SETTLE_S / 5)
    _wait_written(fresh, wait_s=10 * SETTLE_S)  # which finds the same size
    header = tmp_path / "header.wav"
    header.write_bytes(bytes(44))
    os.utime(header, (time.time() - 60, time.time() - 60))
    with pytest.raises(RecordingNotReady, match="size 44"):  # a header and no audio is not a recording
        _wait_written(header, wait_s=2 * SETTLE_S)
    with pytest.raises(RecordingNotReady, match="size -1"):
        _wait_written(tmp_path / "missing.wav", wait_s=2 * SETTLE_S)


def test_an_idle_worker_keeps_waiting_for_jobs_and_stops_cleanly(tmp_path: Path) -> None:
    """With no jobs, RQ blocks on BLPOP for minutes; the worker's connection must wait that long (redis-py's
    default socket timeout of 5 s made it quit and restart every 5 s, logging an error each time)."""
    import signal
    import subprocess
    import sys

    from waits import start_redis, wait_until

    port = free_port()
    redis_proc = start_redis(port, tmp_path)
    log_path = tmp_path / "worker.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env |= {"HOTLINE_REDIS_URL": f"redis://127.0.0.1:{port}/0", "HOTLINE_DATA_DIR": str(tmp_path / "data"),
            "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}"}
    with log_path.open("w") as log:
        worker = subprocess.Popen([sys.executable, "-m", "hotline_cli.main", "serve", "--role", "worker"], env=env,
                                  stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        wait_until(lambda: "Hotline worker:" in log_path.read_text(), 60, "the worker up", every=0.2)
        conn = redis.Redis(port=port)
        wait_until(lambda: conn.smembers("rq:workers"), 30, "the RQ worker registered", every=0.2)
        first = conn.smembers("rq:workers")
        time.sleep(12)  # idle for more than twice redis-py's default socket timeout
        text = log_path.read_text()
        assert "Redis connection timeout" not in text and "starting again" not in text, text[-2000:]
        assert conn.smembers("rq:workers") == first  # the same RQ worker, never re-registered
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
        assert "Traceback" not in log_path.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
        redis_proc.terminate()
        redis_proc.wait(10)


@pytest.mark.parametrize("value", ["0", "0.1", "601", '"soon"'])
def test_recording_wait_is_a_setting_with_a_range(tmp_path: Path, value: str) -> None:
    from hotline_cli.config import ConfigError, load_settings

    assert load_settings(None, environ={}).recording_wait_s == 20.0
    assert load_settings(None, environ={"HOTLINE_RECORDING_WAIT_S": "2.5"}).recording_wait_s == 2.5
    cfg = tmp_path / "hotline.toml"
    cfg.write_text(f"recording_wait_s = {value}\n")
    with pytest.raises(ConfigError, match="recording_wait_s"):
        load_settings(cfg, environ={})


def test_a_worker_leaves_its_pubsub_channel_without_waiting_out_the_read(queue_name: str) -> None:
    """RQ's teardown unsubscribes, then stops the pubsub thread; redis-py 8's stop() joins that thread, and a
    thread that had already taken the unsubscription waits up to RQ's 60 s for a new subscription, so a
    worker that ended (a burst, a SIGTERM) could hang a minute (seen in the parallel suite: 61 s for a
    one-second test). Here the thread is put in that state first."""
    conn = redis.Redis.from_url(REDIS)
    try:
        worker = jobqueue.make_worker(conn, queue_name)
        worker.subscribe()
        assert worker.pubsub is not None and worker.pubsub_thread is not None
        worker.pubsub.unsubscribe()
        deadline = time.monotonic() + 10
        while worker.pubsub.subscribed and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # the thread is back in get_message, waiting for a subscription
        leaving = threading.Thread(target=worker.unsubscribe, daemon=True)
        leaving.start()
        leaving.join(15)
        assert not leaving.is_alive(), "unsubscribe waited out the pubsub thread's 60 s wait"
    finally:
        conn.close()
