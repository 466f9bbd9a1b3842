"""Issue #16, finding 7: RQ's jobs were pickled, so whoever could write to Redis ran code in the workers
and in the web and listener processes (RQ unpickles a job's meta as soon as it reads the job). Here an
attacker writes job hashes straight into a real Redis, as one would: pickles whose loading makes a
directory (the marker), JSON naming a function that is not Hotline's, a failure callback. The worker,
the web process's report view, `/status`'s job counts and the listener's enqueue then read them: no
marker may appear, and the jobs are refused (failed, with one clear line) or replaced."""

from __future__ import annotations

import base64
import json
import logging
import os
import pickle
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import redis
from loopback import redis_url

from agent_console.report_jobs import ReportRequest
from hotline_cli import jobqueue, reportqueue
from hotline_cli.jobqueue import RqTranscriber
from hotline_cli.reportqueue import RqReportRunner

REDIS = redis_url()
MARKERS: list[Path] = []  # every marker a test made up: none may exist afterwards


class _Mkdir:
    """Unpickled, this makes a directory: the attacker's code running in our process."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (self.path,))


def evil(tmp_path: Path, name: str) -> bytes:
    marker = tmp_path / f"ran-{name}"
    MARKERS.append(marker)
    return pickle.dumps(_Mkdir(marker))


def touch_marker(*args: object) -> None:
    """A failure callback an attacker names (any importable function would do)."""
    for marker in MARKERS:
        if marker.name == "ran-callback":
            marker.mkdir()


def no_marker() -> list[str]:
    return [m.name for m in MARKERS if m.exists()]


@pytest.fixture
def conn() -> Iterator[redis.Redis]:
    MARKERS.clear()
    c = redis.Redis.from_url(REDIS)
    tag = uuid.uuid4().hex[:10]
    yield c
    for key in c.scan_iter(f"*{tag}*"):
        c.delete(key)
    c.close()


def plant(conn: redis.Redis, queue: str, job_id: str, **fields: bytes | str) -> None:
    """A job hash as an attacker writes it, waiting in `queue`."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    conn.hset(f"rq:job:{job_id}", mapping={"created_at": now, "enqueued_at": now, "origin": queue,
                                          "status": "queued", "description": "transcribe x", **fields})


def test_the_worker_never_runs_a_job_hotline_did_not_write(
        tmp_path: Path, conn: redis.Redis, caplog: pytest.LogCaptureFixture) -> None:
    queue = f"test-evil-{uuid.uuid4().hex[:10]}"
    jobs = {
        # a pickle as the job's data and meta: RQ's default serializer loads both
        f"evil-pickle-{queue}": {"data": evil(tmp_path, "data"), "meta": evil(tmp_path, "meta")},
        # JSON, but naming a function of the attacker's choice
        f"evil-func-{queue}": {"data": json.dumps(["os.mkdir", None, [str(tmp_path / "ran-func")], {}])},
        # Hotline's function (it fails: no worker context), with a failure callback of the attacker's
        f"evil-callback-{queue}": {"data": json.dumps(["hotline_cli.jobqueue.transcribe_job", None,
                                                       ["1700000000.66", str(tmp_path / "none.wav")], {}]),
                                   "failure_callback_name": f"{__name__}.touch_marker"},
    }
    MARKERS.extend([tmp_path / "ran-func", tmp_path / "ran-callback"])
    for job_id, fields in jobs.items():
        plant(conn, queue, job_id, **fields)
        conn.rpush(f"rq:queue:{queue}", job_id)
    conn.sadd("rq:queues", f"rq:queue:{queue}")
    caplog.set_level(logging.INFO, logger="hotline_cli.jobqueue")
    try:
        jobqueue.make_worker(conn, queue).work(burst=True, logging_level="ERROR")
    finally:
        for key in conn.scan_iter(f"*{queue}*"):
            conn.delete(key)
        conn.srem("rq:queues", f"rq:queue:{queue}")
    assert no_marker() == []
    refused = [r.getMessage() for r in caplog.records if "refused, not run" in r.getMessage()]
    assert any(f"evil-pickle-{queue}" in line and "not JSON" in line for line in refused), refused
    assert any(f"evil-func-{queue}" in line and "'os.mkdir'" in line for line in refused), refused
    assert any("callback" in r.getMessage() and "ignored" in r.getMessage() for r in caplog.records)


def test_web_status_and_listener_never_unpickle_a_job(
        tmp_path: Path, conn: redis.Redis, caplog: pytest.LogCaptureFixture) -> None:
    tag = uuid.uuid4().hex[:10]
    caplog.set_level(logging.INFO)
    # the web process: a report job the page asked for, then overwritten in Redis
    runner = RqReportRunner(REDIS, f"test-evil-reports-{tag}")
    req = ReportRequest("calls", date(2026, 11, 1), date(2026, 12, 1), "Asia/Shanghai", "xlsx")
    jid = runner.submit(req).id
    assert runner.view(jid) is not None and no_marker() == []
    conn.hset(f"rq:job:{jid}", mapping={"status": "finished", "meta": evil(tmp_path, "report-meta"),
                                        "data": evil(tmp_path, "report-data")})
    conn.xadd(f"rq:results:{jid}", {"type": 1, "return_value": base64.b64encode(evil(tmp_path, "report-result"))})
    seen = runner.view(jid, with_result=True)
    assert seen is not None and (seen.state, seen.error, seen.result) == ("failed", reportqueue.UNREADABLE, None)
    again = runner.submit(req)  # asked for again: a job of Hotline's own in its place
    assert again.state == "queued" and jobqueue.fetch_job(jid, conn).written_by_hotline()
    # Hotline's job, finished, but its result in Redis a pickle
    conn.hset(f"rq:job:{jid}", "status", "finished")
    conn.xadd(f"rq:results:{jid}", {"type": 1, "return_value": base64.b64encode(evil(tmp_path, "result-only"))})
    seen = runner.view(jid, with_result=True)
    assert seen is not None and seen.state == "failed" and seen.result is None
    runner.queue.empty()  # type: ignore[no-untyped-call]
    runner.stop()

    # /status and /metrics: the transcription queue's counts read its failed jobs
    queue = f"test-evil-transcription-{tag}"
    plant(conn, queue, f"evil-failed-{tag}", data=evil(tmp_path, "failed-data"), meta=evil(tmp_path, "failed-meta"),
          status="failed")
    conn.zadd(f"rq:failed:{queue}", {f"evil-failed-{tag}": time.time() + 3600})
    counts = jobqueue.counts(conn, queue)
    assert counts.failed == 1 and counts.failed_jobs[0].error.startswith("unreadable job"), counts

    # the listener: a call's job id taken by a planted pickle; the call is still queued, as Hotline's job
    rid = jobqueue.rq_job_id(f"1700000000.{tag}")
    plant(conn, queue, rid, data=evil(tmp_path, "listener-data"), meta=evil(tmp_path, "listener-meta"),
          status="failed")
    jobs = RqTranscriber(REDIS, queue)
    assert jobs.submit(f"1700000000.{tag}", tmp_path / "call.wav") is True
    assert jobqueue.fetch_job(rid, conn).written_by_hotline()
    jobs.queue.empty()  # type: ignore[no-untyped-call]
    jobs.stop()
    for key in conn.scan_iter(f"*{tag}*"):
        conn.delete(key)
    conn.delete(f"rq:job:{rid}", f"rq:job:{jid}", f"rq:results:{jid}")

    assert no_marker() == []
    logged = [r.getMessage() for r in caplog.records]
    assert any("not written by Hotline" in line for line in logged), logged
