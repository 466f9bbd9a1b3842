"""The standard's reports in the console: the page shows the figures of the chosen period, the
downloads are the same documents as `hotline report`, and bad periods get a clear error. Both are
report jobs (here on the console's own thread): queued, running, done with the result offered, or
retried with back-off and then shown failed with the reason."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from openpyxl import load_workbook

from agent_console.app import create_app, dispatcher
from cases import reports
from cases.demo_workflows import seed_month
from cases.reports.render import find_cjk_font
from telephony.events import EventBus

if TYPE_CHECKING:
    from conftest import Console

NOV = {"from": "2026-11-01", "until": "2026-12-01"}


def _seed(console: Console) -> None:
    assert console.config.evidence_dir is not None
    with console.db.session() as s:
        seed_month(s, date(2026, 11, 1), evidence_root=console.config.evidence_dir)


def test_claims_report_on_the_page_and_as_files(console: Console) -> None:
    _seed(console)
    with console.db.reading() as s:
        expected = reports.build(s, "claims-monthly", reports.make_period(date(2026, 11, 1), date(2026, 12, 1)))
    client = console.login("supervisor")
    page = client.get("/reports", query_string={"name": "claims-monthly", **NOV})
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "每月理赔报表及事故原因分析" in body and "2026-11-01 – 2026-11-30 (Asia/Shanghai)" in body
    assert f"<div class=\"kpi-num\">{expected.total}</div>" in body  # the same count as the report data
    assert "事故原因" in body and 'class="bars"' in body
    pdf = client.get("/reports/claims-monthly/pdf", query_string=NOV)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    assert 'filename="claims-monthly-2026-11-01.pdf"' in pdf.headers["Content-Disposition"]
    xlsx = client.get("/reports/claims-monthly/xlsx", query_string=NOV)
    book = load_workbook(io.BytesIO(xlsx.data))
    assert xlsx.status_code == 200 and book.sheetnames
    data = json.loads(client.get("/reports/claims-monthly/json", query_string=NOV).data)
    assert data["total"] == expected.total


def test_ivr_report_is_offered_on_the_page_and_as_files(console: Console) -> None:
    _seed(console)
    with console.db.reading() as s:
        expected = reports.ivr_report(s, reports.make_period(date(2026, 11, 1), date(2026, 12, 1)))
    assert expected.total.entered > expected.total.left_in_ivr > 0 and expected.total.out_of_hours > 0
    client = console.login("supervisor")
    body = client.get("/reports", query_string={"name": "calls", **NOV}).get_data(as_text=True)
    assert '<option value="ivr" >语音导航报表</option>' in body  # listed for every report
    page = client.get("/reports", query_string={"name": "ivr", **NOV})
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "语音导航报表 IVR report" in body
    assert '<option value="ivr" selected>' in body
    assert ('<div class="kpi-label">进入导航</div><div class="kpi-num">'
            f"{expected.total.entered}</div>") in body
    assert ('<div class="kpi-label">导航中挂机</div><div class="kpi-num">'
            f"{expected.total.left_in_ivr}</div>") in body
    assert "挂机节点 Where callers left the IVR" in body and expected.total.left_at[0].label in body
    xlsx = client.get("/reports/ivr/xlsx", query_string=NOV)
    assert xlsx.status_code == 200 and 'filename="ivr-2026-11-01.xlsx"' in xlsx.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(xlsx.data))
    assert book["概要"]["B4"].value == expected.total.entered
    data = json.loads(client.get("/reports/ivr/json", query_string=NOV).data)
    assert data["total"]["out_of_hours"] == expected.total.out_of_hours


def test_default_period_bad_input_and_roles(console: Console) -> None:
    client = console.login("inspector")
    page = client.get("/reports", query_string={"name": "inspections-monthly"})
    assert page.status_code == 200 and "每月监察奖罚明细报表" in page.get_data(as_text=True)
    bad = client.get("/reports", query_string={"name": "calls", "from": "2026-11-30", "until": "2026-11-01"})
    assert bad.status_code == 400 and "报表参数有误" in bad.get_data(as_text=True)
    bad = client.get("/reports", query_string={"name": "calls", "from": "x", "until": "y"})
    assert bad.status_code == 400 and "must be dates" in bad.get_data(as_text=True)
    bad = client.get("/reports/calls/pdf", query_string={**NOV, "tz": "Mars/Olympus"})
    assert bad.status_code == 400 and "unknown time zone" in bad.get_json()["message"]
    assert client.get("/reports/no-such/pdf").status_code == 404
    assert client.get("/reports/calls/docx").status_code == 404
    assert client.get("/reports", query_string={"name": "no-such"}).status_code == 404
    assert console.login("branch_zz").get("/reports").status_code == 403
    page = client.get("/reports", query_string={"name": "calls", "lang": "en"})
    assert "Until (exclusive)" in page.get_data(as_text=True)


def _poll(client: Any, job_id: str, until: tuple[str, ...], timeout: float = 120.0) -> tuple[dict[str, Any], set[str]]:
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        resp = client.get(f"/api/report-jobs/{job_id}")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        job: dict[str, Any] = resp.get_json()
        seen.add(job["state"])
        if job["state"] in until:
            return job, seen
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def _job_id(body: str) -> str:
    found = re.search(r'data-job="(rp-[0-9a-f]+)"', body)
    assert found, body[-2000:]
    return found.group(1)


def test_report_jobs_show_their_state_then_the_result_and_failures_are_retried_then_shown(
        console: Console, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # by its package path: a bare `conftest` is whichever test folder's conftest pytest imported last
    from tests.agent_console.conftest import Console as ConsoleClass
    from tests.agent_console.conftest import FakeLiveView

    _seed(console)
    # the page does not wait for its job: it shows the job's state, and the page polls
    cfg = dataclasses.replace(console.config, report_wait_s=0.0, job_retry_s=(1, 1))
    app, socketio = create_app(cfg, console.db, EventBus(), FakeLiveView())
    app.config["TESTING"] = True
    jobs = ConsoleClass(app=app, socketio=socketio, db=console.db, bus=EventBus(), live=FakeLiveView(), config=cfg)
    try:
        client = jobs.login("supervisor")
        first = client.get("/reports", query_string={"name": "claims-monthly", **NOV})
        body = first.get_data(as_text=True)
        assert first.status_code == 202 and 'data-testid="report-job"' in body and "reports.js" in body
        job, _ = _poll(client, _job_id(body), ("done", "failed"))
        assert job["state"] == "done" and job["progress"] == 100 and job["attempts"] == 1 and not job["error"]
        shown = client.get("/reports", query_string={"name": "claims-monthly", **NOV})
        text = shown.get_data(as_text=True)
        assert shown.status_code == 200 and "每月理赔报表及事故原因分析" in text
        assert 'data-testid="report-job"' not in text
        # a finished report is served again for a while; "refresh" (again=1) renders it anew
        assert 'data-testid="report-again"' in text and "again=1" in text
        fresh = client.get("/reports", query_string={"name": "claims-monthly", **NOV, "again": "1"})
        assert fresh.status_code == 202 and _job_id(fresh.get_data(as_text=True)) == _job_id(body)
        job, _ = _poll(client, _job_id(body), ("done", "failed"))
        assert job["state"] == "done" and job["attempts"] == 1
        # a PDF without a CJK font on the machine: retried twice (1 s, 1 s), then failed with the reason
        find_cjk_font.cache_clear()
        monkeypatch.setenv("HOTLINE_CJK_FONT", str(tmp_path / "no-such-font.ttc"))
        pdf = client.get("/reports/claims-monthly/pdf", query_string=NOV)
        assert pdf.status_code == 202 and pdf.mimetype == "text/html"
        job, seen = _poll(client, pdf.headers["X-Report-Job"], ("done", "failed"))
        assert job["state"] == "failed" and job["attempts"] == 3, job
        assert "retrying" in seen and "is not a font file" in job["error"], (seen, job)
        again = client.get("/reports/claims-monthly/pdf", query_string=NOV)
        text = again.get_data(as_text=True)
        assert again.status_code == 502 and "is not a font file" in text and "again=1" in text
        # the font back: "try again" makes it anew, and the file comes
        monkeypatch.delenv("HOTLINE_CJK_FONT")
        find_cjk_font.cache_clear()
        retry = client.get("/reports/claims-monthly/pdf", query_string={**NOV, "again": "1"})
        assert retry.status_code == 202
        job, _ = _poll(client, retry.headers["X-Report-Job"], ("done", "failed"))
        assert job["state"] == "done", job
        done = client.get("/reports/claims-monthly/pdf", query_string=NOV)
        assert done.status_code == 200 and done.data.startswith(b"%PDF-")
        assert client.get("/api/report-jobs/rp-0000").status_code == 404
    finally:
        find_cjk_font.cache_clear()
        dispatcher(app).stop()
