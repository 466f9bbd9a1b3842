"""Report jobs per user (#16, finding 8): at most `report_jobs_per_user` queued or running per user; one
more is 429 with Retry-After and queues nothing; asking again for a job already there is free; other
users are not affected; a finished job frees its place; the users remembered are bounded."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask

from agent_console.app import create_app, dispatcher
from agent_console.config import ConsoleConfig
from agent_console.report_jobs import RESULT_KEPT_S, JobView, LocalReportRunner, ReportRequest
from agent_console.report_quota import ReportQuota, TooManyReportJobs
from cases.accounts import create_user
from cases.db import Database
from cases.demo_data import DEMO_PASSWORD
from telephony.events import EventBus
from telephony.live import LiveSnapshot


@dataclass
class HeldRunner:
    """A ReportRunner whose jobs stay queued until the test finishes them (a worker that is busy)."""

    jobs: dict[str, JobView] = field(default_factory=dict)
    submitted: int = 0

    def submit(self, req: ReportRequest, *, again: bool = False) -> JobView:
        job = self.jobs.get(req.job_id)
        if job is not None and (job.state not in ("done", "failed") or not again):
            return job
        self.submitted += 1
        self.jobs[req.job_id] = JobView(req.job_id, "queued", 0, "")
        return self.jobs[req.job_id]

    def find(self, req: ReportRequest) -> JobView | None:
        return self.jobs.get(req.job_id)

    def view(self, job_id: str, *, with_result: bool = False) -> JobView | None:
        return self.jobs.get(job_id)

    def finish(self) -> None:
        for jid, job in self.jobs.items():
            self.jobs[jid] = dataclasses.replace(job, state="done", progress=100)

    def stop(self) -> None:
        pass


class EmptyLive:
    def snapshot(self, now: float | None = None) -> LiveSnapshot:
        return LiveSnapshot(time.time(), (), (), 0)


@pytest.fixture
def site(seeded_sqlite_db: Database, tmp_path: Path) -> Iterator[tuple[Flask, HeldRunner]]:
    runner = HeldRunner()
    with seeded_sqlite_db.session() as s:
        create_user(s, "inspector1", DEMO_PASSWORD, "inspector", "质检")
    config = ConsoleConfig(secret_key="k", demo=True, report_wait_s=0.0, report_jobs_per_user=3)
    app, _ = create_app(config, seeded_sqlite_db, EventBus(), EmptyLive(), reports=runner)  # type: ignore[arg-type]
    app.config["TESTING"] = True
    yield app, runner
    dispatcher(app).stop()


def _login(app: Flask, user: str) -> object:
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["csrf"] = "t" * 40
    resp = client.post("/login", data={"username": user, "password": DEMO_PASSWORD},
                       headers={"X-CSRF-Token": "t" * 40})
    assert resp.status_code == 302
    return client


def _period(n: int) -> dict[str, str]:
    day = date(2026, 1, 1) + timedelta(days=7 * n)
    return {"name": "complaints-weekly", "from": day.isoformat(), "until": (day + timedelta(days=7)).isoformat()}


def test_a_user_may_have_three_report_jobs_queued_and_the_fourth_is_429(site: tuple[Flask, HeldRunner]) -> None:
    app, runner = site
    sup = _login(app, "supervisor")
    for n in range(3):
        assert sup.get("/reports", query_string=_period(n)).status_code == 202  # type: ignore[attr-defined]
    resp = sup.get("/reports", query_string=_period(3))  # type: ignore[attr-defined]
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "30"
    assert "您的报表任务过多" in resp.get_data(as_text=True)
    assert runner.submitted == 3  # nothing queued for it
    resp = sup.get("/reports/complaints-weekly/pdf",  # type: ignore[attr-defined]
                   query_string={k: v for k, v in _period(4).items() if k != "name"} | {"lang": "en"})
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "30"
    assert runner.submitted == 3
    # the same report again: no new work, so served (its progress)
    assert sup.get("/reports", query_string=_period(1)).status_code == 202  # type: ignore[attr-defined]
    # another user has places of its own
    other = _login(app, "inspector1")
    assert other.get("/reports", query_string=_period(5)).status_code == 202  # type: ignore[attr-defined]
    # the worker finishes: the places are free again
    runner.finish()
    assert sup.get("/reports", query_string=_period(3)).status_code == 202  # type: ignore[attr-defined]
    assert runner.submitted == 5


def test_find_tells_whether_submit_would_queue_a_job(seeded_sqlite_db: Database) -> None:
    """What the quota asks the embedded runner (the RQ runner answers from Redis the same way)."""
    now = [1000.0]
    runner = LocalReportRunner(seeded_sqlite_db, (), clock=lambda: now[0])
    req = ReportRequest("complaints-weekly", date(2026, 1, 1), date(2026, 1, 8), "Asia/Shanghai", "json")
    try:
        assert runner.find(req) is None
        submitted = runner.submit(req)
        found = runner.find(req)
        assert found is not None and found.id == submitted.id
        deadline = time.monotonic() + 60
        while (runner.view(req.job_id) or submitted).state not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        now[0] += RESULT_KEPT_S + 1  # no longer served again: a request would render it anew
        assert runner.find(req) is None
    finally:
        runner.stop()


def test_the_users_remembered_are_bounded() -> None:
    runner = HeldRunner()
    quota = ReportQuota(per_user=1, max_users=50)
    req = ReportRequest("complaints-weekly", date(2026, 1, 1), date(2026, 1, 8), "Asia/Shanghai", "json")
    for n in range(500):
        quota.submit(runner, dataclasses.replace(req, fmt=f"f{n}"), f"user{n}")
    assert quota.users() == 50
    with pytest.raises(TooManyReportJobs):
        quota.submit(runner, dataclasses.replace(req, fmt="other"), "user499")
