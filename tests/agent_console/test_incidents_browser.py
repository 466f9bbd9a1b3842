"""The incidents desk (突发事件) in real Chromium (Playwright): an inspector records a traffic accident (a time in
the future refused first, what was typed kept), takes it in hand with a first measure, adds one, closes it with
the result, decides a penalty from it and marks the penalty collected (已收缴). zh-CN screenshots at 1366×768
(to docs/screenshots/ when HOTLINE_SCREENSHOTS=1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser_support import login, new_page, shot

from cases.incidents import get_incident
from cases.sanctions import list_sanctions

if TYPE_CHECKING:
    from conftest import Console

pytestmark = [pytest.mark.browser]


def _do(page: Any, testid: str) -> None:
    page.click(f'[data-testid="{testid}"]')
    page.wait_for_load_state("load")


def _notice(page: Any, kind: str) -> str:
    return str(page.text_content(f'[data-testid="notice-{kind}"]') or "")


def test_an_incident_from_report_to_close_with_a_collected_penalty(console: Console, base_url: str, tmp_path: Path,
                                                                   chromium: Any) -> None:
    errors: list[str] = []
    page = login(new_page(chromium, errors), base_url, "inspector", connected=False)
    page.click('[data-testid="nav-incidents"]')
    page.wait_for_url("**/incidents")
    assert "暂无突发事件" in (page.text_content("main") or "")
    page.select_option('[data-testid="incident-kind"]', "traffic_accident")
    later = (datetime.now(UTC) + timedelta(days=1)).astimezone().strftime("%Y-%m-%dT%H:%M")
    page.fill('[data-testid="incident-at"]', later)
    page.fill('[data-testid="incident-branch"]', "郑州分公司")
    page.fill('[data-testid="incident-place"]', "京港澳高速 K689 处")
    page.fill('[data-testid="incident-description"]', "干线车辆追尾，车厢后门变形，部分货物受损")
    page.fill('[data-testid="incident-people"]', "司机 王强（轻伤）")
    page.fill('[data-testid="incident-reported-by"]', "司机 王强")
    _do(page, "incident-submit")
    assert "in the future" in _notice(page, "error")
    assert page.input_value('[data-testid="incident-description"]') == "干线车辆追尾，车厢后门变形，部分货物受损"
    page.fill('[data-testid="incident-at"]', "2026-11-30T08:30")
    _do(page, "incident-submit")
    page.wait_for_url("**/incidents/*")
    assert "登记突发事件" in _notice(page, "ok")
    assert page.text_content('[data-testid="incident-stage"]') == "已上报"
    incident_id = int(page.url.split("/incidents/")[1].split("?")[0])
    page.fill('[data-testid="incident-measure-first"]', "报警，通知保险公司到场查勘")
    _do(page, "do-handle")
    assert page.text_content('[data-testid="incident-stage"]') == "处理中"
    assert page.text_content('[data-testid="incident-handler"]').startswith("inspector")  # type: ignore[union-attr]
    page.fill('[data-testid="incident-measure"]', "调派郑州分公司车辆转运货物")
    _do(page, "do-add_measure")
    measures = page.text_content('[data-testid="incident-measures"]') or ""
    assert "报警，通知保险公司到场查勘" in measures and "调派郑州分公司车辆转运货物" in measures
    shot(page, tmp_path, "incident-handling")
    # a penalty decided from the incident, then collected from the list on the same page
    page.select_option('[data-testid="sanction-kind"]', "penalty")
    page.fill('[data-testid="sanction-amount"]', "300")
    page.fill('[data-testid="sanction-person"]', "王强")
    page.fill('[data-testid="sanction-reason"]', "未按规定保持车距")
    _do(page, "sanction-submit")
    assert page.url.split("?")[0].endswith(f"/incidents/{incident_id}") and "登记奖罚" in _notice(page, "ok")
    with console.db.reading() as s:
        (penalty,) = list_sanctions(s)
    assert (penalty.incident_id, penalty.decided_by, penalty.person) == (incident_id, "inspector", "王强")
    assert "未收缴" in (page.text_content(f'[data-testid="sanction-collected-{penalty.id}"]') or "")
    _do(page, f"collect-{penalty.id}")
    assert "已收缴" in (page.text_content(f'[data-testid="sanction-collected-{penalty.id}"]') or "")
    page.fill('[data-testid="incident-result-text"]', "货物已转运，受损货物转理赔")
    _do(page, "do-close")
    assert page.text_content('[data-testid="incident-stage"]') == "已处理完毕"
    assert "受损货物转理赔" in (page.text_content('[data-testid="incident-result"]') or "")
    assert not page.is_visible('[data-testid="form-close"]')
    with console.db.reading() as s:
        view = get_incident(s, incident_id)
    assert (view.stage.value, len(view.measures), view.handled_by) == ("closed", 2, "inspector")
    page.click('[data-testid="worknav-sanctions"]')
    page.wait_for_url("**/sanctions")
    assert "突发事件 #" in (page.text_content(f'[data-testid="sanction-source-{penalty.id}"]') or "")
    shot(page, tmp_path, "sanctions")
    page.goto(f"{base_url}/incidents")
    assert "交通事故" in (page.text_content(f'[data-testid="incident-row-{incident_id}"]') or "")
    shot(page, tmp_path, "incidents")
    assert errors == []
