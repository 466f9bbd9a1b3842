"""Real Chromium: a socket reconnect (no reload) restores what changed while the page was away — the
pause, and the pop of a phone that began to ring meanwhile; follow-up reminders appear on the agent
and supervisor pages and an acknowledgement clears them on both. Saves zh-CN 1366×768 screenshots
(docs/screenshots/ when HOTLINE_SCREENSHOTS=1)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser_support import login, new_page, shot

from agent_console.reminders import REMINDERS_KEY, ReminderChecker
from cases.case_records import create_case
from cases.models.audit import AuditEntry
from cases.models.base import utcnow
from cases.models.case import Case
from cases.views import CaseInput
from telephony.events import AgentRinging, AgentStatus, CallQueued, CallStarted

if TYPE_CHECKING:
    from conftest import Console

pytestmark = [pytest.mark.browser]


def test_reconnect_restores_state_and_reminders_in_chromium(console: Console, base_url: str, tmp_path: Path,
                                                            chromium: Any) -> None:
    checker: ReminderChecker = console.app.extensions[REMINDERS_KEY]
    checker.stop()  # the test says when reminders are checked
    errors: list[str] = []
    agent = login(new_page(chromium, errors), base_url, "agent1001")
    now = time.time()
    console.bus.publish(AgentStatus("agent1001", "service", "idle", False, "", now))
    agent.wait_for_selector('[data-testid="agent-state"][data-state="ready"]')

    # --- the socket drops; meanwhile the agent is paused and a call rings the phone ---
    agent.evaluate("window.hotlineSocket.disconnect()")
    agent.wait_for_selector('[data-testid="conn-state"][data-state="disconnected"]')
    console.bus.publish(AgentStatus("agent1001", "service", "idle", True, "training", now + 1))
    console.bus.publish(CallStarted("rc.1", "49305551001", "ZHANG WEI", "4008001", "service", now + 2))
    console.bus.publish(CallQueued("rc.1", "service", 1, now + 2))
    console.bus.publish(AgentRinging("rc.1", "agent1001", "service", "49305551001", now + 3))
    console.settle()
    time.sleep(0.3)
    assert agent.get_attribute('[data-testid="agent-state"]', "data-state") == "ready"  # it missed them
    agent.evaluate("window.hotlineSocket.connect()")
    agent.wait_for_selector('[data-testid="conn-state"][data-state="connected"]')
    agent.wait_for_selector('[data-testid="pop-linkedid"]:has-text("rc.1")')
    assert "张伟" in (agent.text_content('[data-testid="pop-customer"]') or "")
    assert agent.text_content('[data-testid="agent-reason"]') == "培训"

    # --- a referral's deadline passes: a reminder on the agent's and the supervisor's page ---
    sup = login(new_page(chromium, errors), base_url, "supervisor")
    for page in (agent, sup):
        page.wait_for_selector('[data-testid="reminders-empty"]:visible')
    with console.db.session() as s:
        case = create_case(s, CaseInput(
            kind="complaint", subject="破损理赔进度未反馈", status="referred", department="branch",
            assigned_to="agent1001", follow_up_due=utcnow() + timedelta(days=1)), "agent1001")
        s.get_one(Case, case.id).follow_up_due = utcnow() - timedelta(hours=3)
    checker.check()
    for page in (agent, sup):
        page.wait_for_selector(f'[data-testid="reminder"]:has-text("{case.number}")')
        assert "已逾期未跟进" in (page.text_content('[data-testid="reminder"]') or "")
    shot(agent, tmp_path, "agent-reminder")
    shot(sup, tmp_path, "supervisor-reminders")
    agent.click('[data-testid="reminder-ack"]')
    for page in (agent, sup):
        page.wait_for_selector('[data-testid="reminder"]', state="detached")
        page.wait_for_selector('[data-testid="reminders-empty"]:visible')
    with console.db.session() as s:
        assert s.query(AuditEntry).filter_by(what="reminder.acknowledge", who="agent1001").count() == 1
    assert errors == []
