"""The pop's database lookup is made ahead of the ring (call start, the IVR's WAYBILL), once per caller and
waybill, shared by every ringing phone, and made again after the console writes a case."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from agent_console.app import dispatcher
from cases.case_records import create_case
from cases.customers import find_customer_by_phone
from cases.demo_data import DEMO_WAYBILLS
from cases.views import CaseInput
from telephony.events import AgentRinging, CallQueued, CallStarted, CallVariable

if TYPE_CHECKING:
    from conftest import Console

T0 = 1_764_500_000.0
CALLER = "49305551001"  # 张伟


def count_lookups(console: Console) -> list[tuple[str, str | None]]:
    """Record each database lookup of the real PopBuilder (it still does the work)."""
    pops: Any = dispatcher(console.app)._pops  # noqa: SLF001
    made: list[tuple[str, str | None]] = []
    real = pops.lookup

    def lookup(caller: str, waybill: str | None, linkedid: str) -> Any:
        made.append((caller, waybill))
        return real(caller, waybill, linkedid)

    pops.lookup = lookup
    return made


def eventually(check: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return False


def test_ringall_pops_share_one_lookup_made_before_the_ring(console: Console) -> None:
    made = count_lookups(console)
    socks = {a: console.socket(console.login(a)) for a in ("agent1001", "agent1002", "agent1003")}
    bus = console.bus
    bus.publish(CallStarted("pf.1", CALLER, "ZHANG WEI", "4008001", "service", T0))
    bus.publish(CallVariable("pf.1", "WAYBILL", DEMO_WAYBILLS[0], T0 + 1))
    bus.publish(CallQueued("pf.1", "service", 1, T0 + 2))
    console.settle()
    expected = [(CALLER, None), (CALLER, DEMO_WAYBILLS[0])]  # at the start, with the IVR's waybill
    assert eventually(lambda: made == expected)  # before any phone rings; the queue join adds none
    for agent in socks:
        bus.publish(AgentRinging("pf.1", agent, "service", CALLER, T0 + 3))
    pops = {a: console.wait_for(s, "screen_pop") for a, s in socks.items()}
    assert made == expected  # no more lookups for three pops
    assert {a: p["agent"] for a, p in pops.items()} == {a: a for a in socks}
    assert {p["customer"]["name"] for p in pops.values()} == {"张伟"}
    assert {p["shipment"]["waybill"] for p in pops.values()} == {DEMO_WAYBILLS[0]}


def test_a_case_written_meanwhile_is_in_the_pop(console: Console) -> None:
    made = count_lookups(console)
    agent = console.login("agent1001")
    sock = console.socket(agent)
    bus = console.bus
    bus.publish(CallStarted("pf.2", CALLER, "ZHANG WEI", "4008001", "service", T0))
    bus.publish(CallQueued("pf.2", "service", 1, T0 + 1))
    console.settle()
    assert eventually(lambda: len(made) == 1)
    with console.db.session() as s:
        customer = find_customer_by_phone(s, CALLER)
    assert customer is not None
    created = agent.post("/api/cases", json={"kind": "inquiry", "subject": "排队时新建的工单",
                                             "customer_id": customer.id})
    assert created.status_code == 201, created.get_json()
    bus.publish(AgentRinging("pf.2", "agent1001", "service", CALLER, T0 + 5))
    pop = console.wait_for(sock, "screen_pop")
    assert len(made) == 2  # looked up again after the case was written
    assert "排队时新建的工单" in [c["subject"] for c in pop["open_cases"]]


def test_a_waybill_learned_after_queue_join_is_looked_up_again(console: Console) -> None:
    made = count_lookups(console)
    sock = console.socket(console.login("agent1001"))
    bus = console.bus
    bus.publish(CallStarted("pf.3", CALLER, "ZHANG WEI", "4008001", "service", T0))
    bus.publish(CallQueued("pf.3", "service", 1, T0 + 1))
    bus.publish(CallVariable("pf.3", "WAYBILL", DEMO_WAYBILLS[0], T0 + 2))
    bus.publish(AgentRinging("pf.3", "agent1001", "service", CALLER, T0 + 3))
    pop = console.wait_for(sock, "screen_pop")
    assert made == [(CALLER, None), (CALLER, DEMO_WAYBILLS[0])]
    assert pop["shipment"]["waybill"] == DEMO_WAYBILLS[0]


def test_a_case_the_ivr_registered_is_in_the_pop_and_a_late_queue_join_looks_up_nothing(console: Console) -> None:
    """The IVR (another process) registers a complaint and sets CASE_ID: the lookup is made again then, seconds
    before the queue. The queue join itself looks up only when the last lookup is older than the TTL, so the
    phones never wait for a lookup begun as they ring (on a real Asterisk ten callers queued at once did)."""
    made = count_lookups(console)
    sock = console.socket(console.login("agent1001"))
    bus = console.bus
    bus.publish(CallStarted("pf.4", CALLER, "ZHANG WEI", "4008001", "service", T0))
    console.settle()
    assert eventually(lambda: len(made) == 1)
    with console.db.session() as s:
        customer = find_customer_by_phone(s, CALLER)
        assert customer is not None
        case = create_case(s, CaseInput(kind="complaint", subject="语音导航留言的投诉",
                                                 customer_id=customer.id), "ivr")
    bus.publish(CallVariable("pf.4", "CASE_ID", str(case.id), T0 + 20))
    console.settle()
    assert eventually(lambda: len(made) == 2)
    bus.publish(CallQueued("pf.4", "service", 1, T0 + 25))  # 25 s into the call: no lookup again
    bus.publish(AgentRinging("pf.4", "agent1001", "service", CALLER, T0 + 26))
    pop = console.wait_for(sock, "screen_pop")
    assert len(made) == 2
    assert "语音导航留言的投诉" in [c["subject"] for c in pop["open_cases"]]
