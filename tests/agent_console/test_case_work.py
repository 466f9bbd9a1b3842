"""Case work from the pop: wrap-up code, note, referral with a deadline, consignee change request;
several matching customers give a choice list; an unknown caller never becomes a customer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from cases.audit import audit_for
from cases.call_records import record_call
from cases.case_records import create_case, get_case, link_call
from cases.customers import create_customer
from cases.demo_data import DEMO_WAYBILLS
from cases.models.customers import Customer
from cases.models.wrap_ups import WrapUp
from telephony.events import AgentRinging, CallStarted, CallVariable

if TYPE_CHECKING:
    from conftest import Console


def _customers(console: Console) -> int:
    with console.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Customer)) or 0)


def _pop(console: Console, linkedid: str, caller: str, waybill: str | None = None) -> dict[str, object]:
    sock = console.socket(console.login("agent1001"))
    console.bus.publish(CallStarted(linkedid, caller, "", "4008001", "service", 1.0))
    if waybill:
        console.bus.publish(CallVariable(linkedid, "WAYBILL", waybill, 1.5))
    console.bus.publish(AgentRinging(linkedid, "agent1001", "service", caller, 2.0))
    pop: dict[str, object] = console.wait_for(sock, "screen_pop", where=lambda p: p["linkedid"] == linkedid)
    return pop


def test_several_matching_customers_give_a_choice_list(console: Console) -> None:
    with console.db.session() as s:
        a = create_customer(s, "王芳", "shipper", ["0055551099"])
        b = create_customer(s, "王芳物流", "key_account", ["4955551099"])
    pop = _pop(console, "m.1", "55551099")
    assert pop["customer"] is None  # not one match: nobody is guessed
    assert {c["id"] for c in pop["candidates"]} == {a.id, b.id}  # type: ignore[union-attr]


def test_waybill_adds_shipper_and_consignee_as_candidates(console: Console) -> None:
    pop = _pop(console, "m.2", "49305551001", DEMO_WAYBILLS[0])
    assert pop["customer"]["name"] == "张伟"  # type: ignore[index]
    assert {c["name"] for c in pop["candidates"]} == {"张伟", "李娜"}  # type: ignore[union-attr]


def test_unknown_caller_never_becomes_a_customer(console: Console) -> None:
    before = _customers(console)
    pop = _pop(console, "u.1", "49305551019")
    assert pop["customer"] is None and pop["candidates"] == []
    http = console.login("agent1001")
    resp = http.post("/api/cases", json={"kind": "inquiry", "subject": "陌生来电咨询", "linkedid": "u.1"})
    assert resp.status_code == 201
    assert _customers(console) == before


def test_wrap_up_code_note_and_referral_with_deadline(console: Console) -> None:
    http = console.login("agent1001")
    case = http.post("/api/cases", json={"kind": "complaint", "subject": "派送延误"}).get_json()
    resp = http.post(f"/api/cases/{case['id']}/update", json={
        "wrap_up_code": "follow_up", "note": "客户要求今天送达", "department": "branch",
        "follow_up_due": "2026-12-01T18:00"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "referred" and body["department"] == "branch"
    assert body["follow_up_due"].startswith("2026-12-01T10:00")  # 18:00 China time, stored in UTC
    with console.db.session() as s:
        stored = get_case(s, case["id"])
        audit = audit_for(s, "case", case["id"])
        rows = [(w.case_id, w.agent, w.code, w.label, w.call_id, w.hotline) for w in s.scalars(select(WrapUp))]
    assert "follow_up" in stored.description and "客户要求今天送达" in stored.description
    assert [a.what for a in audit] == ["case.create", "case.update"] and audit[-1].who == "agent1001"
    assert rows == [(case["id"], "agent1001", "follow_up", "需跟进", None, None)]  # a row, for the report


def test_bad_updates_are_refused_with_nothing_changed(console: Console) -> None:
    http = console.login("agent1001")
    case = http.post("/api/cases", json={"kind": "inquiry", "subject": "x"}).get_json()
    for body in ({"wrap_up_code": "nope"}, {"department": "moon"}, {"follow_up_due": "tomorrow"},
                 {"colour": "red"}, {"status": "flying"}):
        resp = http.post(f"/api/cases/{case['id']}/update", json=body)
        assert resp.status_code == 400, body
        assert resp.get_json()["message"]
    assert http.post("/api/cases/99999/update", json={"note": "x"}).status_code == 404
    with console.db.session() as s:
        assert get_case(s, case["id"]).status == "open"
        assert len(audit_for(s, "case", case["id"])) == 1
        assert s.scalars(select(WrapUp)).all() == []


def test_consignee_phone_change_request_from_the_pop(console: Console) -> None:
    http = console.login("agent1001")
    case = http.post("/api/cases", json={"kind": "change_request", "subject": "改收货电话",
                                         "waybill": DEMO_WAYBILLS[0]}).get_json()
    resp = http.post(f"/api/cases/{case['id']}/change-request",
                     json={"field": "consignee_phone", "new_value": "13912345678", "reason": "客户来电"})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["new_value"] == "13912345678" and resp.get_json()["stage"]
    other = http.post("/api/cases", json={"kind": "inquiry", "subject": "y"}).get_json()
    bad = http.post(f"/api/cases/{other['id']}/change-request",
                    json={"field": "consignee_phone", "new_value": "13912345678"})
    assert bad.status_code == 400 and "change request" in bad.get_json()["detail"]


def test_the_case_page_shows_each_calls_ivr_path(console: Console) -> None:
    from cases.views import CaseInput
    from telephony.records import CallRecord

    path = "menu=2:complaint>waybill:skipped>recorded=5.3s>case=C20261130-0001>agent=complaints"
    with console.db.session() as s:
        record_call(s, CallRecord(linkedid="ivr.page.1", caller="49305551001", hotline="service",
                                           outcome="answered", ivr_path=path))
        record_call(s, CallRecord(linkedid="ivr.page.2", caller="49305551001", hotline="service",
                                           outcome="abandoned_in_ivr"))
        case = create_case(s, CaseInput(kind="complaint", subject="投诉", linkedid="ivr.page.1"), "ivr")
        link_call(s, case.id, "ivr.page.2", "ivr")
    html = console.login("agent1001").get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'data-testid="case-call-ivr-path-ivr.page.1">' + path.replace(">", "&gt;") + "<" in html
    assert "case-call-ivr-path-ivr.page.2" not in html  # a call without an IVR path shows none
