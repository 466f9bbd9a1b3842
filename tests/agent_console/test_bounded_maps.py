"""The console's per-call and per-agent maps stay bounded (#16, finding 8) when the events that would
empty them never come (a CallEnded or AgentRingStopped lost with the AMI link) or a stream of distinct
names arrives: many distinct entries are fed through the real bus and dispatcher (the limits made small
here), and each map keeps at most its limit, newest entries kept."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from agent_console import agents
from agent_console import map_limits as namespaces
from agent_console.app import create_app, dispatcher
from agent_console.calls import CallMemory
from cases.db import Database
from telephony.events import AgentRinging, AgentStatus, CallQueued, CallStarted, EventBus
from transcripts.live_events import LiveLine

if TYPE_CHECKING:
    from conftest import Console

N = 300  # distinct entries fed to each map


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(namespaces, "MAX_LIVE_CALLS", 20)
    monkeypatch.setattr(namespaces, "MAX_UNBUILT_AGENTS", 10)
    monkeypatch.setattr(namespaces, "MAX_LEARNED", 15)
    monkeypatch.setattr(namespaces, "MAX_QUEUES_EACH", 4)
    monkeypatch.setattr(agents, "MAX_POPS_PER_AGENT", 5)
    monkeypatch.setattr(agents, "MAX_AGENTS", 25)


def _line(n: int) -> LiveLine:
    return LiveLine(f"live.{n}", "agent1001", "customer", f"s{n}", 1, True, f"第{n}句", 1.0, time.time())


def test_live_calls_agents_pops_and_learned_queues_stay_bounded(small_limits: None, console: Console) -> None:
    assert console.live_bus is not None
    for n in range(N):  # live transcript lines of calls whose CallEnded never comes
        console.live_bus.publish(_line(n))
    for n in range(N):  # agents and queues never seen again
        console.bus.publish(AgentStatus(f"ghost{n}", f"q{n % 7}", "idle", False, "", float(n)))
        console.bus.publish(AgentStatus("agent1001", f"queue{n}", "idle", False, "", float(n)))
    for n in range(60):  # calls of many hotlines
        console.bus.publish(CallStarted(f"call.{n}", "", "", "4008001", f"hotline{n}", float(n)))
        console.bus.publish(CallQueued(f"call.{n}", f"q{n}", 1, float(n)))
    for n in range(40):  # rings of one agent whose stop never comes
        console.bus.publish(AgentRinging(f"ring.{n}", "agent1002", "service", "", float(n)))
    console.settle()
    sizes = dispatcher(console.app).map_sizes()
    assert sizes["live_calls"] == 20
    assert sizes["agent_queues"] <= 15 and sizes["hotline_queues"] <= 15
    assert sizes["board_agents"] <= 25
    pops = dispatcher(console.app).board.snapshot("agent1002")["pops"]
    assert [p["linkedid"] for p in pops] == [f"ring.{n}" for n in range(35, 40)]  # the newest five
    # a page that connects now gets only the kept calls' finals: the newest
    agent = console.socket(console.login("agent1001"))
    lines = [m["args"][0]["linkedid"] for m in agent.get_received() if m["name"] == "live_transcript"]
    assert sorted(set(lines)) == sorted(f"live.{n}" for n in range(N - 20, N))
    # /status tells the sizes
    assert console.client().get("/status").get_json()["console_maps"]["live_calls"] == 20


@pytest.fixture
def role_mode(small_limits: None, seeded_sqlite_db: Database, console: Console) -> Iterator[Console]:
    """A second console in role mode (pops only for agents connected to it)."""
    bus = EventBus()
    config = replace(console.config, pops_connected_only=True)
    app, socketio = create_app(config, seeded_sqlite_db, bus, console.live)  # type: ignore[arg-type]
    yield replace(console, app=app, socketio=socketio, bus=bus, config=config)
    dispatcher(app).stop()


def test_unbuilt_rings_of_agents_elsewhere_stay_bounded(role_mode: Console) -> None:
    for n in range(N):  # agents whose pages are on another web process, rings that never stop
        role_mode.bus.publish(AgentRinging(f"r.{n}", f"elsewhere{n}", "service", "", float(n)))
    role_mode.settle()
    assert dispatcher(role_mode.app).map_sizes()["unbuilt_agents"] == 10


def test_call_memory_stays_bounded() -> None:
    calls = CallMemory(max_calls=50)
    for n in range(N):
        calls.observe(CallStarted(f"c.{n}", "4930", "", "4008001", "service", float(n)))
    assert len(calls) == 50 and calls.get(f"c.{N - 1}") is not None and calls.get("c.0") is None
