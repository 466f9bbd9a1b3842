"""The transcript search page and API, who may search what, XSS-safe snippets; the call check and the
entities on the case page with the link to a waybill's shipment."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from cases.call_checks import CallAnalysisInput, EntityInput, FindingInput, record_call_analysis
from cases.call_records import record_call
from cases.case_records import create_case, get_case, list_cases
from cases.demo_data import DEMO_WAYBILLS
from cases.shipment_records import find_shipment
from cases.transcript_records import attach_transcript
from cases.views import CaseInput
from telephony.records import CallRecord

if TYPE_CHECKING:
    from conftest import Console

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _call(console: Console, linkedid: str, agent: str, turns: list[dict[str, object]], day: int = 2) -> None:
    at = T0.replace(day=day).timestamp()
    with console.db.session() as s:
        record_call(s, CallRecord(linkedid=linkedid, caller="13900001111", outcome="answered", agent=agent,
                                           agents=[agent], hotline="service", started_at=at, ended_at=at + 60))
        attach_transcript(s, linkedid, engine="vosk-turns", model="m", speaker="mixed", text="",
                                   words_json=json.dumps(turns, ensure_ascii=False), duration_s=20.0)


@pytest.fixture
def calls(console: Console) -> Console:
    _call(console, "S.1", "agent1001", [
        {"speaker": "agent", "start": 0.5, "end": 2.0, "text": "您好 请问 有 什么 可以 帮 您"},
        {"speaker": "customer", "start": 2.5, "end": 6.0, "text": f"运单 号 {DEMO_WAYBILLS[0]} 我 要 投诉"},
        {"speaker": "customer", "start": 7.0, "end": 9.0, "text": "<script>alert(1)</script> 投诉 &amp; 赔偿"},
    ])
    _call(console, "S.2", "agent1002", [
        {"speaker": "customer", "start": 1.0, "end": 3.0, "text": "我 也 要 投诉"},
    ], day=3)
    return console


def _linkedids(resp: object) -> list[str]:
    return [h["linkedid"] for h in resp.get_json()["hits"]]  # type: ignore[attr-defined]


def test_supervisor_searches_every_call_agent_only_its_own(calls: Console) -> None:
    sup = calls.login("supervisor").get("/api/search?q=投诉")
    assert sup.status_code == 200 and _linkedids(sup) == ["S.2", "S.1", "S.1"]
    mine = calls.login("agent1001")
    assert _linkedids(mine.get("/api/search?q=投诉")) == ["S.1", "S.1"]
    assert _linkedids(mine.get("/api/search?q=投诉&agent=agent1002")) == ["S.1", "S.1"]  # cannot widen it
    assert _linkedids(calls.login("agent1003").get("/api/search?q=投诉")) == []
    assert _linkedids(calls.login("supervisor").get("/api/search?q=投诉&agent=agent1002")) == ["S.2"]


def test_api_hit_fields_and_filters(calls: Console) -> None:
    with calls.db.session() as s:
        case = create_case(s, CaseInput(kind="complaint", subject="投诉", linkedid="S.1"), "agent1001")
    sup = calls.login("supervisor")
    hit = sup.get(f"/api/search?q={DEMO_WAYBILLS[0]}").get_json()["hits"][0]
    assert (hit["linkedid"], hit["speaker"], hit["start_s"], hit["agent"], hit["hotline"]) == (
        "S.1", "customer", 2.5, "agent1001", "service")
    assert hit["cases"] == [{"id": case.id, "number": case.number}]
    assert hit["snippet_html"] == f"运单 号 <mark>{DEMO_WAYBILLS[0]}</mark> 我 要 投诉"
    assert _linkedids(sup.get("/api/search?q=投诉&since=2026-11-03")) == ["S.2"]
    assert _linkedids(sup.get("/api/search?q=投诉&until=2026-11-02")) == ["S.1", "S.1"]
    assert _linkedids(sup.get("/api/search?q=您好&speaker=customer")) == []
    assert _linkedids(sup.get("/api/search?q=您好&speaker=agent")) == ["S.1"]


@pytest.mark.parametrize(
    "query",
    ["q=", 'q="投诉', "q=OR", "q=-投诉", "q=投诉&since=yesterday", "q=投诉&hotline=sales", "q=投诉&offset=x",
     "q=投诉&speaker=boss", "q=投诉&since=2026-11-05&until=2026-11-01", "q=" + "x" * 300],
)
def test_bad_queries_are_400_with_a_reason(calls: Console, query: str) -> None:
    sup = calls.login("supervisor")
    resp = sup.get(f"/api/search?{query}")
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["error"] == "bad_query" and body["detail"] and body["message"] == "检索条件有误"
    page = sup.get(f"/search?{query}")
    assert page.status_code in (200, 400)  # an empty q shows the empty form
    if "q=&" not in query + "&":
        assert 'data-testid="search-error"' in page.get_data(as_text=True)


def test_page_escapes_transcript_text_and_marks_matches(calls: Console) -> None:
    html = calls.login("supervisor").get("/search?q=赔偿").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 投诉 &amp;amp; <mark>赔偿</mark>" in html
    assert 'data-testid="search-hit" data-linkedid="S.1"' in html


def test_page_in_both_languages(calls: Console) -> None:
    sup = calls.login("supervisor")
    assert "通话转写检索" in sup.get("/search").get_data(as_text=True)
    en = sup.get("/search?q=投诉&lang=en").get_data(as_text=True)
    assert "Search call transcripts" in en and "Customer" in en
    agent_page = calls.login("agent1001").get("/search").get_data(as_text=True)
    assert "仅检索您本人接听的通话" in agent_page and 'name="agent"' not in agent_page
    assert 'data-testid="nav-search"' in agent_page


def test_case_page_shows_the_check_and_links_a_heard_waybill_to_its_shipment(calls: Console) -> None:
    with calls.db.session() as s:
        case = create_case(s, CaseInput(kind="complaint", subject="投诉", linkedid="S.1"), "agent1001")
        record_call_analysis(s, "S.1", CallAnalysisInput(
            score=55,
            findings=(FindingInput("closing", "no closing in the last 15 s", deduction=15),
                      FindingInput("escalation", "escalation word: 投诉", 2.5, "customer", "投诉"),
                      FindingInput("taboo:impatience", "taboo (impatience): 不知道", 7.0, "agent", "不知道", 30)),
            entities=(EntityInput("waybill", DEMO_WAYBILLS[0], "customer", 2.5),
                      EntityInput("waybill", "9999999999", "customer", 3.0),
                      EntityInput("amount", "350", "customer", 8.0)),
        ))
    page = calls.login("agent1001").get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'data-testid="case-page-score">55 / 100' in page
    assert 'data-testid="call-score-S.1">55 / 100' in page
    assert page.count('data-testid="call-finding"') == 3 and "缺少结束语" in page and "服务禁语" in page
    assert f'href="/shipments/{DEMO_WAYBILLS[0]}" data-testid="entity-shipment-{DEMO_WAYBILLS[0]}"' in page
    assert 'entity-shipment-9999999999' not in page and "9999999999" in page  # unknown waybill: no link
    assert "¥350" in page
    shipment = calls.login("agent1001").get(f"/shipments/{DEMO_WAYBILLS[0]}")
    assert shipment.status_code == 200 and DEMO_WAYBILLS[0] in shipment.get_data(as_text=True)
    assert calls.login("agent1001").get("/shipments/12345").status_code == 404
    assert calls.login("agent1001").get("/shipments/1234567890").status_code == 404



def test_with_a_transport_management_system_every_heard_waybill_opens_it(console: Console) -> None:
    from agent_console.search import SHIPMENTS_KEY
    from cases.shipment_sources import HttpShipmentSource, HttpSourceSettings
    from tests.fake_tms import TMS_SHIPMENT, serve_tms

    with serve_tms() as (tms, base):
        tms.json("800099998888", {**TMS_SHIPMENT, "waybill": "800099998888"})  # not in the embedded table
        # what create_app(shipments=...) stores for `hotline serve` with [shipments] source = "http"
        console.app.extensions[SHIPMENTS_KEY] = HttpShipmentSource(HttpSourceSettings(base, 2.0, "", False))
        _call(console, "T.1", "agent1001", [{"speaker": "customer", "start": 1.0, "end": 3.0,
                                             "text": "运单 号 800099998888"}])
        with console.db.session() as s:
            case = create_case(s, CaseInput(kind="inquiry", subject="查询", linkedid="T.1"), "agent1001")
            record_call_analysis(s, "T.1", CallAnalysisInput(score=90, entities=(
                EntityInput("waybill", "800099998888", "customer", 1.0),)))
        agent = console.login("agent1001")
        page = agent.get(f"/cases/{case.id}").get_data(as_text=True)
        assert 'href="/shipments/800099998888" data-testid="entity-shipment-800099998888"' in page
        shipment = agent.get("/shipments/800099998888").get_data(as_text=True)
        assert "派送中" in shipment and "郑州分拨中心" in shipment
        assert agent.get("/shipments/800012345699").status_code == 404  # the TMS does not know it


def test_a_case_on_a_waybill_only_the_tms_knows_keeps_a_copy_of_the_shipment(console: Console) -> None:
    from agent_console.search import SHIPMENTS_KEY
    from cases.shipment_sources import HttpShipmentSource, HttpSourceSettings
    from tests.fake_tms import TMS_SHIPMENT, serve_tms

    with serve_tms() as (tms, base):
        tms.json("800077776666", {**TMS_SHIPMENT, "waybill": "800077776666"})  # not in the embedded table
        console.app.extensions[SHIPMENTS_KEY] = HttpShipmentSource(HttpSourceSettings(base, 0.5, "", False))
        agent = console.login("agent1001")
        resp = agent.post("/api/cases", json={"kind": "complaint", "subject": "派送延误", "waybill": "800077776666"})
        assert resp.status_code == 201, resp.get_json()
        with console.db.session() as s:
            case = get_case(s, resp.get_json()["id"])
            assert case.shipment is not None and case.shipment.waybill == "800077776666"
            assert [e.place for e in case.shipment.events] == ["上海营业部", "郑州分拨中心"]
        # a second case on it uses the copy; the TMS is not asked to copy it again
        asked = len(tms.requests)
        assert agent.post("/api/cases", json={"kind": "inquiry", "subject": "再查",
                                              "waybill": "800077776666"}).status_code == 201
        assert len(tms.requests) == asked
        # unknown to the TMS: the usual clear error; TMS down: a clear error, nothing stored
        with console.db.session() as s:
            before = len(list_cases(s, limit=1000))
        resp = agent.post("/api/cases", json={"kind": "inquiry", "subject": "x", "waybill": "800011112222"})
        assert resp.status_code == 400 and "no shipment with waybill 800011112222" in resp.get_json()["detail"]
        tms.json("800033334444", {**TMS_SHIPMENT, "waybill": "800033334444"}, delay=2.0)
        resp = agent.post("/api/cases", json={"kind": "inquiry", "subject": "x", "waybill": "800033334444"})
        assert resp.status_code == 400 and "cannot be looked up now" in resp.get_json()["detail"]
        with console.db.session() as s:
            assert len(list_cases(s, limit=1000)) == before
            assert find_shipment(s, "800033334444") is None
