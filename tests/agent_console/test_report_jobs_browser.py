"""The report page in real Chromium while its job runs: the page shows the job's state and progress,
polls it, and shows the report by itself once the job is done; a failed export shows its reason."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser_support import login, new_page, serve

from agent_console.app import create_app, dispatcher
from cases.demo_workflows import seed_month
from cases.reports.render import find_cjk_font
from telephony.events import EventBus

if TYPE_CHECKING:
    from conftest import Console


def test_the_report_page_follows_its_job_to_the_report(console: Console, chromium: Any, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # by its package path: a bare `conftest` is whichever test folder's conftest pytest imported last
    from tests.agent_console.conftest import FakeLiveView

    assert console.config.evidence_dir is not None
    with console.db.session() as s:
        seed_month(s, date(2026, 11, 1), evidence_root=console.config.evidence_dir)
    cfg = dataclasses.replace(console.config, report_wait_s=0.0, job_retry_s=(1,))
    app, _ = create_app(cfg, console.db, EventBus(), FakeLiveView())
    errors: list[str] = []
    try:
        with serve(app) as base_url:
            page = login(new_page(chromium, errors), base_url, "supervisor", connected=False)
            page.goto(f"{base_url}/reports?name=claims-monthly&from=2026-11-01&until=2026-12-01")
            box = page.wait_for_selector('[data-testid="report-job"]', state="attached")
            assert box is not None and box.get_attribute("data-state") in ("queued", "running", "done")
            # no click: the page polls the job and shows the report once it is done
            page.wait_for_selector('[data-testid="report-title"]', timeout=60000)
            assert "每月理赔报表及事故原因分析" in (page.text_content('[data-testid="report-title"]') or "")
            assert not page.is_visible('[data-testid="report-job"]')
            # an export that fails (no CJK font): retried once, then its reason and "try again"
            find_cjk_font.cache_clear()
            monkeypatch.setenv("HOTLINE_CJK_FONT", str(tmp_path / "no-such-font.ttc"))
            page.goto(f"{base_url}/reports/claims-monthly/pdf?from=2026-11-01&until=2026-12-01")
            page.wait_for_selector('[data-testid="report-job"][data-state="failed"]', timeout=60000)
            assert page.is_visible('[data-testid="report-job-again"]')
            assert "is not a font file" in (page.text_content('[data-testid="report-job-error"]') or "")
        assert errors == []
    finally:
        find_cjk_font.cache_clear()
        dispatcher(app).stop()
