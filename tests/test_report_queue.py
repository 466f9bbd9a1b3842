"""Report jobs on RQ: two sites sharing one Redis never see each other's jobs (real Redis); results
come back from a worker as JSON."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from loopback import redis_url

from agent_console.report_jobs import ReportRequest
from cases import reports
from cases.db import Database
from cases.reports.document import Chart, ReportDoc, Table, doc_to_json
from hotline_cli import jobqueue
from hotline_cli.reportqueue import ReportResultUnreadable, RqReportRunner, decode_result, encode_result

REDIS = redis_url()


@pytest.fixture
def two_sites() -> Iterator[tuple[RqReportRunner, RqReportRunner]]:
    tag = uuid.uuid4().hex[:8]
    a, b = RqReportRunner(REDIS, f"reports-a-{tag}"), RqReportRunner(REDIS, f"reports-b-{tag}")
    yield a, b
    for runner in (a, b):
        runner.queue.empty()  # type: ignore[no-untyped-call]
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


def test_a_report_rendered_by_a_worker_comes_back_as_json(
        two_sites: tuple[RqReportRunner, RqReportRunner], seeded_sqlite_db: Database, tmp_path: Path) -> None:
    """Report jobs go through Redis as JSON (RQ's JSON serializer, issue #16 finding 7): the page's
    document and a file's bytes come back from the worker as they were rendered."""
    runner, _ = two_sites
    period = (date(2026, 11, 1), date(2026, 12, 1), "Asia/Shanghai")
    page = ReportRequest("claims-monthly", *period, reports.PAGE)
    xlsx = ReportRequest("calls", *period, "xlsx")
    ids = [runner.submit(page).id, runner.submit(xlsx).id]
    context = jobqueue.WorkerContext(seeded_sqlite_db, tmp_path, tmp_path)
    jobqueue.make_worker(runner.redis, runner.queue.name, context=context).work(burst=True, logging_level="ERROR")
    doc, file = (runner.view(i, with_result=True) for i in ids)
    assert doc is not None and file is not None and doc.state == file.state == "done", (doc, file)
    with seeded_sqlite_db.reading() as s:
        assert doc.result == reports.produce(s, "claims-monthly", page.period(), reports.PAGE)
    assert isinstance(file.result, bytes) and file.result.startswith(b"PK")


def test_report_results_round_trip_and_refuse_anything_else() -> None:
    doc = ReportDoc("x", "标题 Title", "2026-11", (("金额", Decimal("12.30")), ("件数", 3), ("变化", "+1")),
                    (Table("表 Table", ("a", "b"), (("甲", Decimal("-0.50")), ("乙", 7))),
                     Chart("图 Chart", "bar", ("一", "二"), (("数量", (1.0, 2.5)),))))
    assert decode_result(json.loads(json.dumps(encode_result(doc)))) == doc
    assert decode_result(json.loads(json.dumps(encode_result(b"PK\x03\x04 bytes")))) == b"PK\x03\x04 bytes"
    for bad in (None, "x", {"file": "not base64!"}, {"page": {"name": 1}}, {"page": {}, "file": ""},
                {"page": doc_to_json(doc) | {"blocks": [{"script": {}}]}}):
        with pytest.raises(ReportResultUnreadable):
            decode_result(bad)


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
