"""Report jobs on RQ: two sites sharing one Redis never see each other's jobs (real Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date

import pytest
from loopback import redis_url
from rq import Queue

from agent_console.report_jobs import ReportRequest
from hotline_cli.reportqueue import RqReportRunner

REDIS = redis_url()


@pytest.fixture
def two_sites() -> Iterator[tuple[RqReportRunner, RqReportRunner]]:
    tag = uuid.uuid4().hex[:8]
    a, b = RqReportRunner(REDIS, f"reports-a-{tag}"), RqReportRunner(REDIS, f"reports-b-{tag}")
    yield a, b
    for runner in (a, b):
        Queue(runner.queue.name, connection=runner.redis).empty()  # type: ignore[no-untyped-call]
        runner.stop()


def test_the_same_report_on_two_sites_is_two_jobs(two_sites: tuple[RqReportRunner, RqReportRunner]) -> None:
    a, b = two_sites
    req = ReportRequest("calls", date(2026, 11, 1), date(2026, 12, 1), "Asia/Shanghai", "xlsx")
    ja, jb = a.submit(req), b.submit(req)
    assert ja.id != jb.id and ja.state == jb.state == "queued"
    assert a.submit(req).id == ja.id  # asked again on the same site: the same job
    assert len(a.queue) == 1 and len(b.queue) == 1
    # a site reads only its own jobs: another site's id is unknown to it
    assert a.view(jb.id) is None and b.view(ja.id) is None
    seen = a.view(ja.id)
    assert seen is not None and seen.id == ja.id


def test_find_tells_whether_submit_would_queue_a_job_and_the_quota_counts_queued_ones(
        two_sites: tuple[RqReportRunner, RqReportRunner]) -> None:
    """What agent_console.report_quota asks the RQ runner; jobs wait in the queue (no worker here)."""
    from agent_console.report_quota import ReportQuota, TooManyReportJobs

    a, b = two_sites
    req = ReportRequest("calls", date(2026, 11, 1), date(2026, 12, 1), "Asia/Shanghai", "xlsx")
    assert a.find(req) is None
    job = a.submit(req)
    found = a.find(req)
    assert found is not None and found.id == job.id and found.state == "queued"
    assert b.find(req) is None  # the other site's job is not this one's
    quota = ReportQuota(per_user=2)
    quota.submit(a, req, "sup")
    quota.submit(a, ReportRequest("calls", date(2026, 10, 1), date(2026, 11, 1), "Asia/Shanghai", "xlsx"), "sup")
    with pytest.raises(TooManyReportJobs):
        quota.submit(a, ReportRequest("calls", date(2026, 9, 1), date(2026, 10, 1), "Asia/Shanghai", "xlsx"), "sup")
    assert len(a.queue) == 2
