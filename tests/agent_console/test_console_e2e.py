"""The console in real Chromium on the PBX simulator over real AMI: an agent takes a call from the
pop to a saved, referred case; wrap-up runs out to ready; a pause survives a reload; the supervisor
watches queues, listens in and re-routes; an agent cannot reach supervisor pages or another agent's
pops. Saves zh-CN screenshots at 1366×768 (docs/screenshots/ when HOTLINE_SCREENSHOTS=1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser_support import login, new_page, serve, shot

from cases.demo_data import DEMO_WAYBILLS

if TYPE_CHECKING:
    from conftest import LivePbx

from waits import wait_until

pytestmark = [pytest.mark.browser]


# cells of a table whose content takes more than one line or sticks out, and whether the table is wider than its card
WRAPPED = """(testid) => {
  const table = document.querySelector(`[data-testid="${testid}"]`);
  const bad = [...table.querySelectorAll("td")].filter((td) => {
    const range = document.createRange();
    range.selectNodeContents(td);
    const tops = [...range.getClientRects()].map((r) => r.top).sort((a, b) => a - b);
    return (tops.length > 0 && tops[tops.length - 1] - tops[0] > 10) || td.scrollWidth > td.clientWidth + 1;
  }).map((td) => td.textContent);
  const right = table.getBoundingClientRect().right, box = table.parentElement.getBoundingClientRect().right;
  if (right > box + 0.5) bad.push(`overflow ${right} > ${box}`);
  return bad;
}"""


@pytest.fixture
def live_url(live_pbx: LivePbx) -> Iterator[str]:
    with serve(live_pbx.console.app) as url:
        yield url


def test_agent_and_supervisor_on_the_simulator(live_pbx: LivePbx, live_url: str, tmp_path: Path,
                                               chromium: Any) -> None:
    pbx = live_pbx.pbx
    errors: list[str] = []
    form = new_page(chromium)
    form.goto(f"{live_url}/login")
    shot(form, tmp_path, "login")
    form.close()

    agent = login(new_page(chromium, errors), live_url, "agent1001")
    agent.wait_for_selector('[data-testid="agent-state"][data-state="ready"]')

    # --- a call from pop to saved, referred case ---
    script = pbx.start_call("service_answered", caller=("49305551001", "张伟"), agents=["agent1001"],
                            talk_s=28.0, waybill=DEMO_WAYBILLS[0])
    agent.wait_for_selector(f'[data-testid="pop-linkedid"]:has-text("{script.linkedid}")', timeout=20000)
    assert "张伟" in (agent.text_content('[data-testid="pop-customer"]') or "")
    agent.wait_for_selector('[data-testid="pop-candidates"]:visible')  # 张伟 (caller) or 李娜 (consignee)
    assert agent.text_content('[data-testid="pop-waybill"]') == DEMO_WAYBILLS[0]
    agent.wait_for_selector('[data-testid="agent-state"][data-state="talking"]', timeout=20000)
    agent.fill('[data-testid="case-subject"]', "催派送：客户要求今日送达")
    agent.fill('[data-testid="case-description"]', "客户来电催促派送，已查询运单在郑州分拨中心。")
    agent.click('[data-testid="case-save"]')
    agent.wait_for_selector('[data-testid="case-number"]:visible')
    agent.select_option('[data-testid="work-wrapup"]', "follow_up")
    agent.select_option('[data-testid="work-department"]', "branch")
    agent.fill('[data-testid="work-due"]', "2026-12-01T18:00")
    agent.fill('[data-testid="work-note"]', "请郑州分公司今日安排派送")
    agent.click('[data-testid="work-save"]')
    agent.wait_for_selector('[data-testid="work-result"]:has-text("已转交")')
    assert agent.is_hidden('[data-testid="case-error"]'), agent.text_content('[data-testid="case-error"]')
    shot(agent, tmp_path, "agent-pop-case")

    # --- supervisor watches queues, listens in, re-routes ---
    sup = login(new_page(chromium, errors), live_url, "supervisor")
    waiting = pbx.start_call("complaints_abandoned", caller=("49305551006", "陈静"), abandon_after_s=60)
    sup.wait_for_selector('[data-testid="queue-waiting-complaints"]:has-text("1")', timeout=20000)
    sup.wait_for_selector('[data-testid="agent-state-agent1001"][data-state="talking"]')
    call = sup.text_content('[data-testid="agent-call-agent1001"]') or ""
    assert "张伟" in call and "49305551001" in call and "客服队列" in call and script.linkedid not in call
    sup.wait_for_selector(f'[data-testid="live-call-{waiting.linkedid}"]')
    for table in ("live-calls-table", "agents-table"):  # 1366×768: no cell wraps, no table overflows its card
        assert sup.evaluate(WRAPPED, table) == [], table
    before = live_pbx.actions("originate")
    sup.click('[data-testid="spy-listen-agent1001"]')
    sup.wait_for_selector('[data-testid="action-result"]:visible')
    wait_until(lambda: live_pbx.actions("originate") == before + 1, what="Originate at the simulator")
    shot(sup, tmp_path, "supervisor-wallboard")
    before = live_pbx.actions("redirect")
    sup.select_option(f'[data-testid="reroute-queue-{waiting.linkedid}"]', "service")
    sup.click(f'[data-testid="reroute-{waiting.linkedid}"]')
    sup.wait_for_selector('[data-testid="action-result"]:has-text("已改派")')
    assert live_pbx.actions("redirect") == before + 1

    # --- after the call: wrap-up, then ready by itself ---
    agent.bring_to_front()
    agent.wait_for_selector('[data-testid="agent-state"][data-state="wrap_up"]', timeout=20000)
    agent.wait_for_selector('[data-testid="wrapup-box"]:visible')
    agent.wait_for_selector('[data-testid="agent-state"][data-state="ready"]', timeout=10000)

    # --- pause with a reason; a reload restores it from the server ---
    agent.click('[data-testid="pause-meal"]')
    agent.wait_for_selector('[data-testid="agent-state"][data-state="paused"]')
    assert agent.text_content('[data-testid="agent-reason"]') == "用餐"
    agent.reload()
    agent.wait_for_selector('[data-testid="agent-state"][data-state="paused"]')
    assert agent.text_content('[data-testid="agent-reason"]') == "用餐"
    shot(agent, tmp_path, "agent-paused")
    agent.click('[data-testid="state-ready"]')
    agent.wait_for_selector('[data-testid="agent-state"][data-state="ready"]')

    # --- an agent cannot reach the supervisor's page, API, or another agent's pop ---
    resp = agent.goto(f"{live_url}/supervisor")
    assert resp is not None and resp.status == 403
    resp = agent.goto(f"{live_url}/api/wallboard")
    assert resp is not None and resp.status == 403
    other = login(new_page(chromium), live_url, "agent1002")
    ringing = pbx.start_call("service_answered", caller=("49305551002", "李娜"), agents=["agent1002"],
                             talk_s=8.0)
    other.wait_for_selector(f'[data-testid="pop-linkedid"]:has-text("{ringing.linkedid}")', timeout=20000)
    resp = agent.goto(f"{live_url}/api/pops/{ringing.linkedid}")
    assert resp is not None and resp.status == 404

    cases = login(new_page(chromium), live_url, "supervisor", connected=False)
    cases.goto(f"{live_url}/cases")
    shot(cases, tmp_path, "cases")
    cases.click('[data-testid^="cases-row-"] a >> nth=0')
    cases.wait_for_selector('[data-testid="case-page-number"]')
    shot(cases, tmp_path, "case")
    assert errors == []
