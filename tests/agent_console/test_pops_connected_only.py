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
from telephony.events import (
    AgentRinging,
    AgentRingStopped,
    AgentStatus,
    CallAnswered,
    CallQueued,
    CallStarted,
    EventBus,
)
from tests.agent_console.conftest import Console, FakeLiveView
from tests.agent_console.test_pop_prefetch import count_lookups

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


def _prefetched(console: Console, linkedid: str) -> bool:
    """Whether the console started the call's lookup before any ring (it records that synchronously)."""
    console.settle()
    return linkedid in dispatcher(console.app)._contexts  # noqa: SLF001


def test_lookups_are_prefetched_only_for_queues_an_agent_here_may_ring_for(shared: Console) -> None:
    """Every web process saw every call and prefetched its lookup as soon as any agent's page was
    connected to it; now only when one of its agents is a member of the call's queue (or of a queue
    calls of its hotline go to), as far as the queue members' events tell. Pops are not lost: the
    ring looks the caller up when nothing was prefetched."""
    made = count_lookups(shared)
    bus = shared.bus
    service_desk = shared.socket(shared.login("agent1001"))
    bus.publish(AgentStatus("agent1001", "service", "idle", False, "", T0))  # member of service only
    # a claims call before any claims call queued here: its hotline's queue is unknown, so prefetched
    bus.publish(CallStarted("g.1", CALLER, "ZHANG WEI", "4008002", "claims", T0))
    assert _prefetched(shared, "g.1")
    bus.publish(CallQueued("g.1", "claims", 1, T0 + 1))
    # the next claims call: its hotline's calls go to claims, where nobody here is a member
    bus.publish(CallStarted("g.2", CALLER, "ZHANG WEI", "4008002", "claims", T0 + 2))
    assert not _prefetched(shared, "g.2")
    bus.publish(CallQueued("g.2", "claims", 1, T0 + 3))
    assert not _prefetched(shared, "g.2")
    # a service call is (agent1001 may ring for it)
    bus.publish(CallStarted("g.3", CALLER, "ZHANG WEI", "4008001", "service", T0 + 4))
    assert _prefetched(shared, "g.3")
    lookups = len(made)
    # agent1001 added to claims meanwhile: its ring for g.2 still pops, looked up at the ring
    bus.publish(AgentRinging("g.2", "agent1001", "claims", CALLER, T0 + 5))
    pop = shared.wait_for(service_desk, "screen_pop", where=lambda p: p["linkedid"] == "g.2")
    assert pop["customer"]["name"] == "张伟" and len(made) == lookups + 1
    # ... and claims calls are prefetched here from now on
    bus.publish(CallStarted("g.4", CALLER, "ZHANG WEI", "4008002", "claims", T0 + 6))
    assert _prefetched(shared, "g.4")


def test_an_agent_whose_queues_are_not_known_here_gets_prefetches(shared: Console) -> None:
    shared.socket(shared.login("agent1003"))  # no event told its queues yet
    shared.bus.publish(AgentStatus("agent1002", "service", "idle", False, "", T0))  # elsewhere: no matter
    shared.bus.publish(CallStarted("u.1", CALLER, "ZHANG WEI", "4008002", "claims", T0))
    shared.bus.publish(CallQueued("u.1", "claims", 1, T0 + 1))
    shared.bus.publish(CallStarted("u.2", CALLER, "ZHANG WEI", "4008002", "claims", T0 + 2))
    assert _prefetched(shared, "u.2")
    shared.bus.publish(AgentStatus("agent1003", "service", "idle", False, "", T0 + 3))
    shared.bus.publish(CallStarted("u.3", CALLER, "ZHANG WEI", "4008002", "claims", T0 + 4))
    assert not _prefetched(shared, "u.3")


def test_nothing_is_prefetched_without_an_agent_here(shared: Console) -> None:
    shared.socket(shared.login("agent1001")).disconnect()
    shared.bus.publish(CallStarted("n.1", CALLER, "ZHANG WEI", "4008001", "service", T0))
    assert not _prefetched(shared, "n.1")


def test_the_single_process_console_builds_every_pop(console: Console) -> None:
    _ring_all(console, "co.4", ("agent1001", "agent1002"))
    d = dispatcher(console.app)
    assert d.pops_built == 2
    assert d.board.snapshot("agent1002")["pops"][0]["customer"]["name"] == "张伟"
