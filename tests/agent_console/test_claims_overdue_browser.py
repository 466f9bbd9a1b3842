"""Claims on time in real Chromium (Playwright): a supervisor opens the claims desk, follows the overdue
banner to the overdue list (逾期理赔), opens the claim, sees its ageing and due date, confirms the suggested
重大事故 with a note (then it is escalated), and refuses the claim with the reason: it leaves the overdue list.
zh-CN screenshots at 1366×768 (to docs/screenshots/ when HOTLINE_SCREENSHOTS=1)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser_support import login, new_page, shot

from cases import claims as cl
from cases.models.base import utcnow
from cases.views import CaseInput

if TYPE_CHECKING:
    from conftest import Console

pytestmark = [pytest.mark.browser]


def test_the_overdue_list_and_a_claim_refused_in_chromium(console: Console, base_url: str, tmp_path: Path,
                                                         chromium: Any) -> None:
    with console.db.session() as s:
        late = cl.open_claim(s, CaseInput(kind="claim", subject="整车侧翻，货物全损"), channel="hotline",
                             accident_cause="traffic_accident", claimed="80000", branch="郑州分公司",
                             by="agent1001", at=utcnow() - timedelta(days=4)).id
    errors: list[str] = []
    page = login(new_page(chromium, errors), base_url, "supervisor", connected=False)
    page.goto(f"{base_url}/claims")
    assert page.is_visible('[data-testid="claims-overdue-banner"]')
    assert page.is_visible(f'[data-testid="claim-overdue-{late}"]')
    page.click('[data-testid="claims-overdue-banner"] a')
    page.wait_for_url("**/claims/overdue")
    row = page.locator(f'[data-testid="overdue-row-{late}"]')
    assert row.is_visible() and "整车侧翻" in (row.text_content() or "")
    assert page.text_content(f'[data-testid="overdue-days-{late}"]') == "3.0"  # 已报案: 1 day allowed
    shot(page, tmp_path, "claims-overdue")

    row.locator("a").click()
    page.wait_for_url(f"**/claims/{late}")
    assert page.is_visible('[data-testid="claim-overdue"]')
    assert page.text_content('[data-testid="claim-days-open"]') == "4.0"
    assert page.is_visible('[data-testid="claim-major-suggested"]')
    page.fill('[data-testid="major-note"]', "整车事故，货值八万，确认重大事故")
    page.click('[data-testid="do-decide_major"]')
    page.wait_for_load_state("load")
    assert "已上报 supervisor" in (page.text_content('[data-testid="claim-major-flag"]') or "")
    assert page.get_attribute('[data-testid="claim-major-status"]', "data-status") == "confirmed"
    shot(page, tmp_path, "claim-overdue-major")

    page.click('[data-testid="end-refuse"] summary')  # the endings are folded below the next step
    page.fill('[data-testid="refuse-reason"]', "经调查系发货人包装不当，非承运责任")
    page.click('[data-testid="do-refuse"]')
    page.wait_for_load_state("load")
    assert page.get_attribute('[data-testid="claim-stage"]', "data-stage") == "refused"
    assert page.text_content('[data-testid="claim-ended"]') == "拒赔"
    assert "非承运责任" in (page.text_content('[data-testid="claim-end-reason"]') or "")
    assert not page.is_visible('[data-testid="claim-overdue"]')
    page.goto(f"{base_url}/claims/overdue")
    assert page.locator(f'[data-testid="overdue-row-{late}"]').count() == 0
    assert errors == []
