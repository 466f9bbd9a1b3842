"""A console that is one of several web processes (role mode, `pops_connected_only`) builds screen pops
only for the agents connected to it; an agent whose page connects while the phone rings still gets
the whole pop, and the board of every agent stays right (ringing, answered, withdrawn)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_console.app import create_app, dispatcher
from agent_console.config import ConsoleConfig
from cases.db import Database
from telephony.events import AgentRinging, AgentRingStopped, CallAnswered, CallQueued, CallStarted, EventBus
from tests.agent_console.conftest import Console, FakeLiveView

T0 = 1_764_500_000.0
CALLER = "49305551001"  # 张伟, a seeded customer


@pytest.fixture
def shared(db: Database, tmp_path: Path) -> Iterator[Console]:
    config = dataclasses.replace(ConsoleConfig(secret_key="test-secret", demo=True, wallboard_interval_s=0.05),
                                 pops_connected_only=True)
    bus = EventBus()
    live = FakeLiveView()
    app, socketio = create_app(config, db, bus, live)
    app.config["TESTING"] = True
    yield Console(app=app, socketio=socketio, db=db, bus=bus, live=live, config=config)
    dispatcher(app).stop()


def _ring_all(console: Console, linkedid: str, agents: tuple[str, ...]) -> None:
    console.bus.publish(CallStarted(linkedid, CALLER, "ZHANG WEI", "4008001", "service", T0))
    console.bus.publish(CallQueued(linkedid, "service", 1, T0 + 1))
    for agent in agents:
        console.bus.publish(AgentRinging(linkedid, agent, "service", CALLER, T0 + 2))
    console.settle()


def test_only_connected_agents_get_pops_built(shared: Console) -> None:
    d = dispatcher(shared.app)
    here = shared.socket(shared.login("agent1001"))
    _ring_all(shared, "co.1", ("agent1001", "agent1002", "agent1003"))
    pop = shared.wait_for(here, "screen_pop")
    assert pop["linkedid"] == "co.1" and pop["customer"]["name"] == "张伟"
    assert d.pops_built == 1  # not for agent1002 / agent1003, whose pages are elsewhere
    # their boards still say ringing
    assert [p["linkedid"] for p in d.board.snapshot("agent1002")["pops"]] == ["co.1"]
    assert d.board.snapshot("agent1003")["state"] == "ringing"
    status = shared.client().get("/status").get_json()
    assert status["pops_built"] == 1


def test_a_page_connecting_while_its_phone_rings_gets_the_whole_pop(shared: Console) -> None:
    d = dispatcher(shared.app)
    _ring_all(shared, "co.2", ("agent1002",))
    assert d.pops_built == 0
    sock = shared.socket(shared.login("agent1002"))
    got = sock.get_received()  # what the connect sent: the snapshot, then the pop again
    state = next(m["args"][0] for m in got if m["name"] == "agent_state")
    assert [(p["linkedid"], p["customer"]["name"]) for p in state["pops"]] == [("co.2", "张伟")]
    pops = [m["args"][0] for m in got if m["name"] == "screen_pop"]
    assert [p["linkedid"] for p in pops] == ["co.2"] and "unbuilt" not in pops[0]
    assert d.pops_built == 1


def test_an_answered_call_gets_its_pop_when_the_page_connects_and_withdrawals_stay_right(shared: Console) -> None:
    d = dispatcher(shared.app)
    _ring_all(shared, "co.3", ("agent1002", "agent1003"))
    shared.bus.publish(AgentRingStopped("co.3", "agent1003", "no_answer", T0 + 3))
    shared.bus.publish(CallAnswered("co.3", "agent1002", "service", T0 + 4))
    shared.settle()
    assert d.board.snapshot("agent1003")["pops"] == []  # withdrawn
    assert d.board.snapshot("agent1003")["state"] != "ringing"
    sock = shared.socket(shared.login("agent1002"))
    state = shared.wait_for(sock, "agent_state")
    assert state["state"] == "talking"
    assert state["call"]["linkedid"] == "co.3" and state["call"]["pop"]["customer"]["name"] == "张伟"
    assert d.pops_built == 1  # agent1003's ring never built one


def test_the_single_process_console_builds_every_pop(console: Console) -> None:
    _ring_all(console, "co.4", ("agent1001", "agent1002"))
    d = dispatcher(console.app)
    assert d.pops_built == 2
    assert d.board.snapshot("agent1002")["pops"][0]["customer"]["name"] == "张伟"
