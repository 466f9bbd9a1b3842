"""Domain events on the bus → a screen pop for the ringing agent only, then the call's later events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_console.calls import CallInfo
from agent_console.pop import build_screen_pop, ivr_choices, suggested_kind
from cases.demo_data import DEMO_WAYBILLS
from telephony.events import (
    AgentRinging,
    AgentRingStopped,
    AgentStatus,
    CallAnswered,
    CallEnded,
    CallQueued,
    CallStarted,
    CallVariable,
    IvrDigit,
)
from telephony.records import CallRecord

if TYPE_CHECKING:
    from conftest import Console

T0 = 1_764_500_000.0
WAYBILL = DEMO_WAYBILLS[0]  # 张伟's shipment 上海 → 郑州, three stages done: 到达分拨中心
CALLER = "49305551001"  # 张伟


IVR_PATH = f"menu=1:tracking>waybill={WAYBILL}>status=到达分拨中心>menu=0:agent>agent=service"


def publish_call_until_ringing(console: Console, linkedid: str = "1764500000.11", agent: str = "agent1001") -> None:
    bus = console.bus
    bus.publish(CallStarted(linkedid, CALLER, "ZHANG WEI", "4000100100", "service", T0))
    bus.publish(IvrDigit(linkedid, "1", "1", T0 + 2))
    for n in range(1, len(WAYBILL) + 1):
        bus.publish(IvrDigit(linkedid, WAYBILL[n - 1], "1" + WAYBILL[:n], T0 + 3 + n * 0.2))
    bus.publish(CallVariable(linkedid, "WAYBILL", WAYBILL, T0 + 6))
    bus.publish(CallVariable(linkedid, "IVR_PATH", IVR_PATH, T0 + 6))
    bus.publish(CallQueued(linkedid, "service", 1, T0 + 7))
    bus.publish(AgentRinging(linkedid, agent, "service", CALLER, T0 + 8))


def test_agent_ringing_pops_on_the_ringing_agent_only(console: Console) -> None:
    mine = console.socket(console.login("agent1001"))
    other = console.socket(console.login("agent1002"))
    console.received(mine, "hello")
    console.received(other, "hello")

    publish_call_until_ringing(console)
    pop = console.wait_for(mine, "screen_pop")

    assert pop["linkedid"] == "1764500000.11"
    assert pop["agent"] == "agent1001"
    assert pop["caller"] == CALLER
    assert pop["caller_name"] == "ZHANG WEI"
    assert pop["hotline"] == "service"
    assert pop["customer"]["name"] == "张伟"
    assert pop["waybill"] == WAYBILL
    assert pop["waybill_lookup"] == "found"
    assert pop["shipment"]["status"] == "到达分拨中心"
    assert pop["shipment"]["consignee_address"] == "郑州市金水区花园路 8 号"  # 收货地址 (migration 0012)
    assert [e["status"] for e in pop["shipment"]["events"]] == ["已揽收", "运输中", "到达分拨中心"]
    assert pop["ivr_choices"] == [{"digit": "1", "label_zh": "运单查询", "label_en": "Tracking by waybill"}]
    assert pop["suggested_kind"] == "tracking"
    assert pop["ivr_path"] == IVR_PATH
    assert any(c["subject"] == "货物延误，客户要求尽快派送" for c in pop["open_cases"])
    assert pop["lookup_error"] is None

    console.settle()
    assert console.received(other, "screen_pop") == []


def test_answer_ring_stop_and_end_reach_the_agent(console: Console) -> None:
    mine = console.socket(console.login("agent1001"))
    other = console.socket(console.login("agent1002"))
    linkedid = "1764500000.12"
    publish_call_until_ringing(console, linkedid, agent="agent1002")
    console.bus.publish(AgentRingStopped(linkedid, "agent1002", "no_answer", T0 + 20))
    console.bus.publish(AgentRinging(linkedid, "agent1001", "service", CALLER, T0 + 21))
    console.bus.publish(CallAnswered(linkedid, "agent1001", "service", T0 + 23))
    record = CallRecord(
        linkedid=linkedid,
        caller=CALLER,
        hotline="service",
        digits="1" + WAYBILL,
        queue="service",
        outcome="answered",
        agent="agent1001",
        agents=["agent1001"],
        rang=["agent1002", "agent1001"],
        wait_s=15.0,
        talk_s=42.0,
        started_at=T0,
        answered_at=T0 + 23,
        ended_at=T0 + 65,
        waybill=WAYBILL,
    )
    console.bus.publish(CallEnded(record, T0 + 65))
    console.settle()

    other_got = {m["name"]: m["args"][0] for m in other.get_received()}
    assert other_got["ring_stopped"] == {
        "linkedid": linkedid,
        "agent": "agent1002",
        "reason": "no_answer",
        "at": T0 + 20,
    }
    assert other_got["call_ended"]["linkedid"] == linkedid  # it rang, so it hears the end
    assert "call_answered" not in other_got
    names = [m["name"] for m in mine.get_received() if m["name"] != "agent_delta"]
    # the live pane hears the end of the answered call too (live_call_ended), before the call's own end
    assert names[-4:] == ["screen_pop", "call_answered", "live_call_ended", "call_ended"], names


def test_call_ended_carries_the_summary_and_forgets_the_call(console: Console) -> None:
    mine = console.socket(console.login("agent1001"))
    linkedid = "1764500000.13"
    publish_call_until_ringing(console, linkedid)
    record = CallRecord(
        linkedid=linkedid,
        caller=CALLER,
        hotline="service",
        outcome="answered",
        agent="agent1001",
        agents=["agent1001"],
        rang=["agent1001"],
        talk_s=12.5,
        started_at=T0,
        ended_at=T0 + 30,
    )
    console.bus.publish(CallEnded(record, T0 + 30))
    ended = console.wait_for(mine, "call_ended")
    assert ended["linkedid"] == linkedid
    assert ended["summary"]["outcome"] == "answered"
    assert ended["summary"]["talk_s"] == 12.5
    assert ended["summary"]["started_at"] == "2025-11-30T10:53:20.000Z"
    console.settle()
    assert len(console.app.extensions["hotline_console"].calls) == 0


def test_agent_status_reaches_the_agent(console: Console) -> None:
    mine = console.socket(console.login("agent1001"))
    console.bus.publish(AgentStatus("agent1001", "service", "idle", True, "午休", T0))
    status = console.wait_for(mine, "agent_status")
    assert status["paused"] is True
    assert status["pause_reason"] == "午休"


def test_pop_for_unknown_caller_and_unknown_waybill(console: Console) -> None:
    mine = console.socket(console.login("agent1003"))
    bus = console.bus
    bus.publish(CallStarted("u.1", "49305551019", "", "4000200200", "claims", T0))
    bus.publish(IvrDigit("u.1", "2", "2", T0 + 1))
    bus.publish(CallVariable("u.1", "WAYBILL", "999999999999", T0 + 2))
    bus.publish(AgentRinging("u.1", "agent1003", "claims", "49305551019", T0 + 3))
    pop = console.wait_for(mine, "screen_pop")
    assert pop["customer"] is None
    assert pop["shipment"] is None
    assert pop["waybill_lookup"] == "not_found"
    assert pop["ivr_choices"][0]["label_zh"] == "理赔进度查询"
    assert pop["suggested_kind"] == "claim"


def test_ringing_without_earlier_events_still_pops(console: Console) -> None:
    """The console may start in the middle of a call: the pop uses what AgentRinging says."""
    mine = console.socket(console.login("agent1001"))
    console.bus.publish(AgentRinging("late.1", "agent1001", "service", CALLER, T0))
    pop = console.wait_for(mine, "screen_pop")
    assert pop["caller"] == CALLER
    assert pop["customer"]["name"] == "张伟"
    assert pop["waybill"] is None


def test_pop_survives_a_database_failure(console: Console) -> None:
    """The lookup fails (here: a table is gone); the agent still gets a pop with what the events said."""
    mine = console.socket(console.login("agent1001"))
    with console.db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE customer_phones RENAME TO customer_phones_gone")
    publish_call_until_ringing(console, "db.1")
    pop = console.wait_for(mine, "screen_pop")
    assert pop["caller"] == CALLER
    assert pop["waybill"] == WAYBILL
    assert pop["customer"] is None
    assert pop["waybill_lookup"] == "unavailable"
    assert "customer_phones" in pop["lookup_error"]


def test_ivr_choices_are_labelled_from_the_ivr_menus() -> None:
    choices = ivr_choices("service", "91" + WAYBILL)
    assert [(c.digit, c.label_zh) for c in choices] == [("9", ""), ("1", "运单查询")]  # waybill keys left out
    assert [c.label_en for c in ivr_choices("claims", "2")] == ["Claim status"]
    assert (
        ivr_choices(
            "",
            "",
        )
        == ()
    )
    assert suggested_kind("service", "2") == "complaint"
    assert suggested_kind("service", "1" + WAYBILL) == "tracking"
    assert suggested_kind("service", "") == "inquiry"
    assert suggested_kind("claims", "1") == "claim"


def test_build_screen_pop_without_context_keeps_the_event_data() -> None:
    ringing = AgentRinging("x.1", "agent1001", "service", CALLER, T0)
    info = CallInfo(linkedid="x.1", caller=CALLER, hotline="service", digits="2", variables={"WAYBILL": WAYBILL})
    pop = build_screen_pop(ringing, info, None, lookup_error="database down")
    assert pop.waybill_lookup == "unavailable"
    assert pop.lookup_error == "database down"
    assert pop.to_json()["ivr_choices"][0]["label_en"] == "Complaint"


def test_a_page_opened_mid_call_gets_the_current_pop(console: Console) -> None:
    publish_call_until_ringing(console, "mid.1")
    console.bus.publish(CallAnswered("mid.1", "agent1001", "service", T0 + 9))
    console.settle()
    late = console.socket(console.login("agent1001"))
    received = late.get_received()
    names = [m["name"] for m in received]
    assert names == ["hello", "agent_state", "screen_pop", "call_answered"]
    state = received[1]["args"][0]
    assert state["state"] == "talking" and state["call"]["linkedid"] == "mid.1" and state["pops"] == []
    console.bus.publish(CallEnded(CallRecord(linkedid="mid.1", agent="agent1001", agents=["agent1001"]), T0 + 60))
    console.settle()
    after = console.socket(console.login("agent1001"))
    assert [m["name"] for m in after.get_received()] == ["hello", "agent_state"]
    other = console.socket(console.login("agent1002"))
    assert [m["name"] for m in other.get_received()] == ["hello", "agent_state"]
