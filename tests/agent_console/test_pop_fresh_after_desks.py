"""A case made or worked on the claims and complaints desks is in the next screen pop at once: the pop's
prefetched caller context is dropped whenever a case is written, not only after a POST to a path with
"/cases" in it (#18: claims made by POST /claims and complaints by POST /complaints left it stale)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cases import claims as cl
from cases import complaints as co
from cases.customers import find_customer_by_phone
from cases.views import CaseInput
from telephony.events import AgentRinging, CallQueued, CallStarted
from tests.agent_console.test_pop_prefetch import count_lookups, eventually

if TYPE_CHECKING:
    from conftest import Console
    from flask.testing import FlaskClient
    from flask_socketio.test_client import SocketIOTestClient

T0 = 1_764_500_000.0
CALLER = "49305551001"  # 张伟, a seeded customer


def _call_waiting(console: Console, linkedid: str, made: list[tuple[str, str | None]]) -> SocketIOTestClient:
    """agent1001's page open, and a call of 张伟 queued whose caller context is looked up (prefetched)."""
    sock = console.socket(console.login("agent1001"))
    console.bus.publish(CallStarted(linkedid, CALLER, "ZHANG WEI", "4008001", "service", T0))
    console.bus.publish(CallQueued(linkedid, "service", 1, T0 + 1))
    console.settle()
    assert eventually(lambda: len(made) == 1)
    return sock


def _ring(console: Console, sock: SocketIOTestClient, linkedid: str) -> dict[str, object]:
    console.bus.publish(AgentRinging(linkedid, "agent1001", "service", CALLER, T0 + 5))
    pop: dict[str, object] = console.wait_for(sock, "screen_pop")
    return pop


def _open_case_statuses(pop: dict[str, object]) -> dict[str, str]:
    cases = pop["open_cases"]
    assert isinstance(cases, list)
    return {c["subject"]: c["status"] for c in cases}


def _made_here(resp_location: str, desk: str) -> int:
    found = re.search(rf"/{desk}/(\d+)", resp_location)
    assert found, resp_location
    return int(found.group(1))


def test_a_claim_reported_on_the_claims_desk_makes_the_next_pop_look_the_caller_up_again(console: Console) -> None:
    made = count_lookups(console)
    sock = _call_waiting(console, "dk.1", made)
    claims: FlaskClient = console.login("claims")
    resp = claims.post("/claims", data={"subject": "通话中登记的理赔", "channel": "hotline",
                                        "accident_cause": "handling_damage", "claimed": "800"})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    _ring(console, sock, "dk.1")
    assert len(made) == 2  # the caller context the pop shows was read after the claim was made


def test_a_complaint_recorded_on_the_complaints_desk_makes_the_next_pop_look_the_caller_up_again(
        console: Console) -> None:
    made = count_lookups(console)
    sock = _call_waiting(console, "dk.2", made)
    resp = console.login("agent1002").post("/complaints", data={"subject": "通话中登记的投诉",
                                                                 "complaint_type": "attitude"})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    _ring(console, sock, "dk.2")
    assert len(made) == 2


def test_a_claim_of_the_caller_worked_on_the_claims_desk_shows_its_new_status_in_the_pop(console: Console) -> None:
    with console.db.session() as s:
        customer = find_customer_by_phone(s, CALLER)
        assert customer is not None
        claim = cl.open_claim(s, CaseInput(kind="claim", subject="张伟的理赔", customer_id=customer.id),
                              channel="hotline", accident_cause="handling_damage", claimed="800", by="agent1001")
    made = count_lookups(console)
    sock = _call_waiting(console, "dk.3", made)
    resp = console.login("claims").post(f"/claims/{claim.id}/start_investigation")
    assert resp.status_code == 303 and _made_here(resp.headers["Location"], "claims") == claim.id
    pop = _ring(console, sock, "dk.3")
    assert _open_case_statuses(pop)["张伟的理赔"] == "in_progress"


def test_a_complaint_of_the_caller_worked_on_the_complaints_desk_shows_its_new_status_in_the_pop(
        console: Console) -> None:
    with console.db.session() as s:
        customer = find_customer_by_phone(s, CALLER)
        assert customer is not None
        complaint = co.open_complaint(s, CaseInput(kind="complaint", subject="张伟的投诉", customer_id=customer.id),
                                      complaint_type="attitude", by="agent1001")
    made = count_lookups(console)
    sock = _call_waiting(console, "dk.4", made)
    resp = console.login("agent1002").post(f"/complaints/{complaint.id}/analyse",
                                           data={"cause": "staff_attitude", "responsible_department": "branch"})
    assert resp.status_code == 303 and _made_here(resp.headers["Location"], "complaints") == complaint.id
    pop = _ring(console, sock, "dk.4")
    assert _open_case_statuses(pop)["张伟的投诉"] == "in_progress"
