"""Real Chromium: a socket reconnect (no reload) restores what changed while the page was away — the
pause, and the pop of a phone that began to ring meanwhile; follow-up reminders appear on the agent
and supervisor pages and an acknowledgement clears them on both. Saves zh-CN 1366×768 screenshots
(docs/screenshots/ when HOTLINE_SCREENSHOTS=1)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from werkzeug.serving import make_server

from agent_console.reminders import REMINDERS_KEY, ReminderChecker
from cases import services
from cases.demo_data import DEMO_PASSWORD
from cases.models import AuditEntry, Case, utcnow
from cases.views import CaseInput
from telephony.events import AgentRinging, AgentStatus, CallQueued, CallStarted

if TYPE_CHECKING:
    from conftest import Console

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.browser]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def base_url(console: Console) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, console.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def _login(browser: Any, base: str, user: str) -> Any:
    page = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN").new_page()
    page.goto(f"{base}/login")
    page.fill('[data-testid="login-username"]', user)
    page.fill('[data-testid="login-password"]', DEMO_PASSWORD)
    page.click('[data-testid="login-submit"]')
    page.wait_for_selector('[data-testid="conn-state"][data-state="connected"]')
    return page


def _shot(page: Any, tmp: Path, name: str) -> None:
    target = SHOTS if os.environ.get("HOTLINE_SCREENSHOTS") == "1" else tmp
    target.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(target / f"{name}.png"))


def test_reconnect_restores_state_and_reminders_in_chromium(console: Console, base_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup --test (Debian package chromium)")
    checker: ReminderChecker = console.app.extensions[REMINDERS_KEY]
    checker.stop()  # the test says when reminders are checked
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            agent = _login(browser, base_url, "agent1001")
            agent.on("pageerror", lambda e: errors.append(str(e)))
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
            sup = _login(browser, base_url, "supervisor")
            sup.on("pageerror", lambda e: errors.append(str(e)))
            for page in (agent, sup):
                page.wait_for_selector('[data-testid="reminders-empty"]:visible')
            with console.db.session() as s:
                case = services.create_case(s, CaseInput(
                    kind="complaint", subject="破损理赔进度未反馈", status="referred", department="branch",
                    assigned_to="agent1001", follow_up_due=utcnow() + timedelta(days=1)), "agent1001")
                s.get_one(Case, case.id).follow_up_due = utcnow() - timedelta(hours=3)
            checker.check()
            for page in (agent, sup):
                page.wait_for_selector(f'[data-testid="reminder"]:has-text("{case.number}")')
                assert "已逾期未跟进" in (page.text_content('[data-testid="reminder"]') or "")
            _shot(agent, tmp_path, "agent-reminder")
            _shot(sup, tmp_path, "supervisor-reminders")
            agent.click('[data-testid="reminder-ack"]')
            for page in (agent, sup):
                page.wait_for_selector('[data-testid="reminder"]', state="detached")
                page.wait_for_selector('[data-testid="reminders-empty"]:visible')
            with console.db.session() as s:
                assert s.query(AuditEntry).filter_by(what="reminder.acknowledge", who="agent1001").count() == 1
        finally:
            browser.close()
    assert errors == []
