"""The console in real Chromium: login, a screen pop from bus events, saving a case, the wallboard."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from browser_support import login, new_page
from waits import wait_until

from agent_console.app import dispatcher
from cases.demo_data import DEMO_WAYBILLS
from cases.probes import ProbeInput, record_probe
from telephony.events import AgentRinging, CallAnswered, CallQueued, CallStarted, CallVariable, IvrDigit

if TYPE_CHECKING:
    from conftest import Console

pytestmark = [pytest.mark.browser]


def test_agent_and_supervisor_pages_in_chromium(console: Console, base_url: str, chromium: Any) -> None:
    console.live.current = console.sample_snapshot(at=time.time(), waiting=2)
    page_errors: list[str] = []
    page = login(new_page(chromium, page_errors), base_url, "agent1001")
    page.wait_for_url("**/agent")

    t0 = time.time()
    lid, waybill = f"{t0:.2f}", DEMO_WAYBILLS[0]
    console.bus.publish(CallStarted(lid, "49305551001", "ZHANG WEI", "4008001", "service", t0))
    console.bus.publish(IvrDigit(lid, "1", "1", t0))
    console.bus.publish(CallVariable(lid, "WAYBILL", waybill, t0))
    console.bus.publish(CallVariable(lid, "IVR_PATH", f"menu=1:tracking>waybill={waybill}>agent=service", t0))
    console.bus.publish(CallQueued(lid, "service", 1, t0))
    console.bus.publish(AgentRinging(lid, "agent1001", "service", "49305551001", t0))
    page.wait_for_selector('[data-testid="pop-shipment-status"]:has-text("到达分拨中心")')
    assert page.text_content('[data-testid="pop-caller"]') == "49305551001"
    assert "张伟" in (page.text_content('[data-testid="pop-customer"]') or "")
    assert page.text_content('[data-testid="pop-waybill"]') == waybill
    path = page.text_content('[data-testid="pop-ivr-path"]')
    assert path == f"menu=1:tracking>waybill={waybill}>agent=service"
    assert page.input_value('[data-testid="case-kind"]') == "tracking"
    console.bus.publish(CallAnswered(lid, "agent1001", "service", t0 + 2))
    page.wait_for_selector('[data-testid="call-state"][data-state="talking"]')

    page.fill('[data-testid="case-subject"]', "查询派送时间")
    page.click('[data-testid="case-save"]')
    page.wait_for_selector('[data-testid="case-number"]:visible')
    number = page.text_content('[data-testid="case-number"]') or ""
    assert number.startswith("C")
    page.click('[data-testid="case-number"]')
    page.wait_for_selector(f'[data-testid="case-page-number"]:has-text("{number}")')
    assert "张伟" in (page.text_content('[data-testid="case-page-customer"]') or "")

    with console.db.session() as s:  # as `hotline probe` in another process stores it
        record_probe(s, ProbeInput(hotline="service", number="4008001", pbx="pbx:5060", up=False,
                                   stage="prompt", reason="no prompt audio", started_at=datetime.now(UTC),
                                   duration_s=9.0))
    dispatcher(console.app).refresh_health()
    sup = login(new_page(chromium, page_errors), base_url, "supervisor", lang="en")
    sup.wait_for_url("**/supervisor")
    sup.wait_for_selector('[data-testid="queue-waiting-service"]:has-text("2")')
    assert sup.text_content('[data-testid="agent-state-agent1001"]') == "On a call"
    sup.wait_for_selector('[data-testid="probe-service"][data-state="down"]')
    assert "no prompt audio" in (sup.text_content('[data-testid="alert-probe_down:service"]') or "")
    console.live.current = console.sample_snapshot(at=time.time(), waiting=3)
    console.bus.publish(CallQueued("other", "service", 3, time.time()))
    sup.wait_for_selector('[data-testid="queue-waiting-service"]:has-text("3")')
    first = sup.text_content('[data-testid="queue-longest-service"]') or ""
    assert first.count(":") == 1  # mm:ss
    # polled from here: Playwright's wait_for_function evaluates a string in the page, which the
    # console's Content-Security-Policy (no 'unsafe-eval') refuses, as it should
    wait_until(lambda: sup.text_content('[data-testid="queue-longest-service"]') != first, timeout=3.0,
               what="the longest wait ticking")
    assert page_errors == []
