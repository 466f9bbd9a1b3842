"""Transcript search and a call's check in real Chromium: the supervisor searches, the hostile transcript
text stays text (no script runs, no dialog), the hit opens the case, the heard waybill its shipment."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from browser_support import login, new_page

from cases.call_checks import CallAnalysisInput, EntityInput, FindingInput, record_call_analysis
from cases.call_records import record_call
from cases.case_records import create_case
from cases.demo_data import DEMO_WAYBILLS
from cases.transcript_records import attach_transcript
from cases.views import CaseInput
from telephony.records import CallRecord

if TYPE_CHECKING:
    from conftest import Console

pytestmark = [pytest.mark.browser]
HOSTILE = "<img src=x onerror=alert(1)> <script>alert(2)</script>"


def test_search_in_chromium(console: Console, base_url: str, chromium: Any) -> None:
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC).timestamp()
    turns = [{"speaker": "agent", "start": 0.5, "end": 2.0, "text": "您好 请问 有 什么 可以 帮 您"},
             {"speaker": "customer", "start": 65.0, "end": 70.0,
              "text": f"{HOSTILE} 运单 号 {DEMO_WAYBILLS[0]} 快递员 态度 很 差 我 要 投诉"}]
    with console.db.session() as s:
        record_call(s, CallRecord(linkedid="B.1", caller="13900001111", outcome="answered",
                                           agent="agent1001", agents=["agent1001"], hotline="service",
                                           started_at=at, ended_at=at + 90))
        attach_transcript(s, "B.1", engine="vosk-turns", model="m", speaker="mixed", text="",
                                   words_json=json.dumps(turns, ensure_ascii=False), duration_s=90.0)
        case = create_case(s, CaseInput(kind="complaint", subject="态度差", linkedid="B.1"), "agent1001")
        record_call_analysis(s, "B.1", CallAnalysisInput(
            score=70, findings=(FindingInput("escalation", "escalation word: 投诉", 65.0, "customer", "投诉"),
                                FindingInput("closing", "no closing in the last 15 s", deduction=30)),
            entities=(EntityInput("waybill", DEMO_WAYBILLS[0], "customer", 65.0),)))
    dialogs: list[str] = []
    page_errors: list[str] = []
    page = new_page(chromium, page_errors)
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, base_url, "supervisor")
    page.wait_for_url("**/supervisor")
    page.click('[data-testid="nav-search"]')
    page.fill('[data-testid="search-q"]', "态度 投诉")
    page.click('[data-testid="search-submit"]')
    page.wait_for_selector('[data-testid="search-hit"]')
    snippet = page.locator('[data-testid="search-snippet"]').first
    assert snippet.locator("mark").all_text_contents() == ["态度", "投诉"]
    assert "<script>alert(2)</script>" in (snippet.text_content() or "")  # shown as text
    assert snippet.locator("img, script").count() == 0
    assert page.locator('[data-testid="search-hit"] td.mono').nth(1).text_content() == "1:05"

    page.fill('[data-testid="search-q"]', '"投诉')
    page.click('[data-testid="search-submit"]')
    assert "is not closed" in (page.text_content('[data-testid="search-error"]') or "")

    page.goto(f"{base_url}/search?q=投诉")
    page.click(f'[data-testid="search-hit"] a:has-text("{case.number}")')
    page.wait_for_url(f"**/cases/{case.id}")
    assert page.text_content('[data-testid="call-score-B.1"]') == "70 / 100"
    page.click(f'[data-testid="entity-shipment-{DEMO_WAYBILLS[0]}"]')
    page.wait_for_url(f"**/shipments/{DEMO_WAYBILLS[0]}")
    assert page.text_content('[data-testid="shipment-waybill"]') == DEMO_WAYBILLS[0]
    assert dialogs == [] and page_errors == []
