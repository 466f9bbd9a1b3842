"""The agent page's change box (更改收货人/联系电话/地址) in real Chromium: the reason the customer gives is sent
with the change request and stored on it (the changes desk shows it to whoever decides)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser_support import login, new_page, shot
from sqlalchemy import select

from cases.demo_data import DEMO_WAYBILLS
from cases.models.workflows import ChangeRequest
from telephony.events import AgentRinging, CallAnswered, CallQueued, CallStarted, CallVariable

if TYPE_CHECKING:
    from conftest import Console

pytestmark = [pytest.mark.browser]


def test_the_change_box_sends_the_reason(console: Console, base_url: str, chromium: Any, tmp_path: Path) -> None:
    errors: list[str] = []
    page = login(new_page(chromium, errors), base_url, "agent1001")
    page.wait_for_url("**/agent")
    t0 = time.time()
    lid = f"{t0:.2f}"
    console.bus.publish(CallStarted(lid, "49305551001", "ZHANG WEI", "4008001", "service", t0))
    console.bus.publish(CallVariable(lid, "WAYBILL", DEMO_WAYBILLS[0], t0))
    console.bus.publish(CallQueued(lid, "service", 1, t0))
    console.bus.publish(AgentRinging(lid, "agent1001", "service", "49305551001", t0))
    page.wait_for_selector(f'[data-testid="pop-linkedid"]:has-text("{lid}")')
    console.bus.publish(CallAnswered(lid, "agent1001", "service", t0 + 2))
    page.select_option('[data-testid="case-kind"]', "change_request")
    page.fill('[data-testid="case-subject"]', "客户要求更改收货人电话")
    page.click('[data-testid="case-save"]')
    page.wait_for_selector('[data-testid="case-number"]:visible')

    page.wait_for_selector('[data-testid="change-box"][open]')  # opened for a change request's case
    assert page.is_visible('[data-testid="change-reason"]')
    assert "更改原因" in (page.text_content('label[for="change-reason"]') or "")
    page.select_option('[data-testid="change-field"]', "consignee_phone")
    page.fill('[data-testid="change-value"]', "13700137000")
    page.fill('[data-testid="change-reason"]', "收货人换了手机号")
    page.click('[data-testid="change-save"]')
    page.wait_for_selector('[data-testid="work-result"]:visible')
    assert "13700137000" in (page.text_content('[data-testid="work-result"]') or "")
    assert page.input_value('[data-testid="change-reason"]') == ""  # cleared for the next one
    shot(page, tmp_path, "agent-change-reason")
    with console.db.reading() as s:
        got = [(c.field, c.new_value, c.reason, c.requested_by) for c in s.scalars(select(ChangeRequest))]
    assert got == [("consignee_phone", "13700137000", "收货人换了手机号", "agent1001")]
    assert errors == []
