"""PBX control from a web process: requests over the real Redis to a listener-side `ControlServer`
running on a real AMI link to the PBX simulator. The console's own `ConsoleControl` (and the whole
console app) is given the remote control object and behaves as in one process."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from loopback import redis_url
from waits import wait_until

from agent_console import metrics
from agent_console.app import create_app, dispatcher
from agent_console.config import ConsoleConfig
from agent_console.control import BadControlRequest, ConsoleControl, PbxRefused, PbxUnavailable
from agent_console.wrapup import NotInWrapUp, WrapUps
from cases.db import Database
from hotline_cli.pbxrpc import (
    ControlRequest,
    ControlServer,
    QueuePause,
    RemotePbx,
    RemoteWrapUps,
    WrapUpMirror,
    decode_reply,
    encode_request,
    wrap_up_key,
)
from telephony.actions import AlreadyQueueMember, NoSuchChannel, NoSuchQueueMember
from telephony.connection import AmiEndpoint
from telephony.events import AgentWrapUp, EventBus
from telephony.pbxlink import CombinedLive, PbxControl, PbxLink, make_links
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.server import AmiServer

REDIS = redis_url()


@dataclass
class Listener:
    key: str
    pbx: SimulatedPbx
    server: AmiServer
    links: list[PbxLink]
    bus: EventBus
    control_server: ControlServer
    wrap_ups: WrapUps

    def count(self, action: str) -> int:
        return int(self.server.actions[action])


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    key = f"test-pbxctl-{uuid.uuid4().hex}"
    pbx = SimulatedPbx(recordings_dir=str(tmp_path), time_scale=4.0, seed=11, wrap_up_s=0.5)
    server = AmiServer(("127.0.0.1", 0), pbx)
    pbx.start()
    server.serve_in_thread()
    bus = EventBus()
    links = make_links([AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline", "sim")], bus)
    for link in links:
        link.client.start()
    wait_until(lambda: all(link.client.connected.is_set() for link in links), what="AMI login")
    # as `hotline serve --role listener`: the site's one wrap-up keeper, extended over the control list
    WrapUpMirror(REDIS, bus, key)  # its deadlines in Redis, for web processes that start later
    wrap_ups = WrapUps(bus, ConsoleControl(config(tmp_path), PbxControl(links)), config(tmp_path).wrap_up_s)
    wrap_ups.start()
    control_server = ControlServer(REDIS, PbxControl(links), key, wrap_ups=wrap_ups)
    wait_until(control_server.ready.is_set, what="control server on Redis")
    try:
        yield Listener(key, pbx, server, links, bus, control_server, wrap_ups)
    finally:
        wrap_ups.stop()
        control_server.stop()
        for link in links:
            link.client.stop()
        server.shutdown_all()
        pbx.stop()
        redis.Redis.from_url(REDIS).delete(key, wrap_up_key(key))


def config(tmp_path: Path) -> ConsoleConfig:
    return ConsoleConfig(secret_key="test-secret", demo=True, recordings_dir=tmp_path, wrap_up_s=1.5,
                         supervisor_phones={"supervisor": "SIP/sup9000"})


def test_pause_and_ready_from_a_web_process_reach_the_pbx(listener: Listener, tmp_path: Path) -> None:
    control = ConsoleControl(config(tmp_path), RemotePbx(REDIS, listener.key), timeout=3.0)
    tracker = listener.links[0].tracker
    before = listener.count("queuepause")
    control.pause("agent1001", "meal")
    assert listener.count("queuepause") == before + 1
    agent = wait_until(lambda: next((a for a in tracker.snapshot().agents
                                     if a.agent == "agent1001" and a.paused), None), what="paused on the PBX")
    assert agent.pause_reason == "meal"
    control.ready("agent1001")
    wait_until(lambda: any(a.agent == "agent1001" and not a.paused for a in tracker.snapshot().agents),
               what="ready on the PBX")
    assert listener.count("queuepause") == before + 2
    control.join_queue("agent1001", "complaints")
    assert "agent1001" in listener.pbx.members_of("complaints")
    control.leave_queue("agent1001", "complaints")
    assert "agent1001" not in listener.pbx.members_of("complaints")
    control.callback("agent1001", "030 555 1234", "C-1")  # Originate through the listener
    assert listener.count("originate") == 1
    assert listener.control_server.handled == 5
    # the counts the listener's /status and /metrics show
    status = listener.control_server.status()
    assert status["served"] == 5 and status["errors"] == 0 and status["connected"] is True
    assert status["last_latency_ms"] is not None and 0 < status["last_latency_ms"] <= status["max_latency_ms"]
    text = metrics.exposition().decode()
    assert 'hotline_pbx_control_requests_total{action="QueuePause",outcome="ok"}' in text
    assert 'hotline_pbx_control_seconds_count{action="Originate"}' in text


def test_named_errors_come_back_as_the_same_exception_types(listener: Listener, tmp_path: Path) -> None:
    actions = RemotePbx(REDIS, listener.key).actions(timeout=3.0)
    with pytest.raises(AlreadyQueueMember):
        actions.queue_add("service", "SIP/agent1001", member_name="agent1001")
    with pytest.raises(NoSuchQueueMember):
        actions.queue_remove("complaints", "SIP/agent1001")
    with pytest.raises(NoSuchChannel):
        actions.redirect("SIP/nobody-00000001", "hotline-reroute", "claims")
    # the console says the same as with a local link: the PBX refused; a call not waiting is a bad request
    control = ConsoleControl(config(tmp_path), RemotePbx(REDIS, listener.key), timeout=3.0)
    with pytest.raises(PbxRefused):
        control.leave_queue("agent1001", "complaints")
    with pytest.raises(BadControlRequest):
        control.reroute("1764500000.99", "claims")  # CoreShowChannels ran remotely: no such call waiting
    assert listener.count("coreshowchannels") >= 1
    assert listener.control_server.failed == 4
    assert listener.control_server.status()["errors"] == 4
    assert 'hotline_pbx_control_requests_total{action="QueueRemove",outcome="error"}' in metrics.exposition().decode()


def test_listener_down_is_a_clear_error_within_the_timeout_and_nothing_runs_later(listener: Listener,
                                                                                  tmp_path: Path) -> None:
    nobody = f"test-pbxctl-nobody-{uuid.uuid4().hex}"
    control = ConsoleControl(config(tmp_path), RemotePbx(REDIS, nobody, margin_s=0.2), timeout=0.5)
    with pytest.raises(PbxUnavailable, match="PBX control unavailable"):
        control.pause("agent1001", "meal")
    assert redis.Redis.from_url(REDIS).llen(nobody) == 0  # taken back: a listener starting later won't run it


def test_a_request_nobody_waits_for_any_more_is_dropped(listener: Listener) -> None:
    r = redis.Redis.from_url(REDIS)
    before = listener.count("queuepause")
    stale = ControlRequest("old", f"{listener.key}:reply:old", "", 3.0, time.time() - 1,
                           QueuePause("SIP/agent1001", True, reason="meal"))
    fresh = ControlRequest("new", f"{listener.key}:reply:new", "", 3.0, time.time() + 10,
                           QueuePause("SIP/agent1001", True, reason="training"))
    r.rpush(listener.key, encode_request(stale), encode_request(fresh), "not json")
    got = r.blpop([fresh.reply_key], timeout=5)
    assert got is not None and decode_reply(got[1]).ok
    assert listener.count("queuepause") == before + 1
    assert listener.control_server.expired == 1
    assert r.exists(stale.reply_key) == 0


def test_the_console_app_with_the_remote_control_pauses_the_agent(listener: Listener, tmp_path: Path,
                                                                  db: Database) -> None:
    # by its package path: a bare `conftest` is whichever test folder's conftest pytest imported last
    from tests.agent_console.conftest import Console

    live = CombinedLive([link.tracker for link in listener.links])
    cfg = config(tmp_path)
    remote = RemotePbx(REDIS, listener.key)
    # two web processes by role: the wrap-ups are the listener's, extended over Redis
    app, socketio = create_app(cfg, db, listener.bus, live, control=remote, wrap_ups=RemoteWrapUps(remote))
    app.config["TESTING"] = True
    other, _ = create_app(cfg, db, listener.bus, live, control=remote, wrap_ups=RemoteWrapUps(remote))
    console = Console(app=app, socketio=socketio, db=db, bus=listener.bus, live=live, config=cfg)  # type: ignore[arg-type]
    try:
        http = console.login("agent1001")
        before = listener.count("queuepause")
        resp = http.post("/api/agent/state", json={"state": "paused", "reason": "meal"})
        assert resp.status_code == 202, resp.get_json()
        wait_until(lambda: listener.count("queuepause") == before + 1, what="QueuePause from the console")
        http.post("/api/agent/state", json={"state": "ready"})
        wait_until(lambda: listener.count("queuepause") == before + 2, what="unpause from the console")
        assert http.post("/api/agent/wrap-up/extend").status_code == 409  # not in wrap-up: the listener says so
        # after a call the listener's keeper pauses the agent for wrap-up; both consoles show its deadline
        sock = console.socket(http)
        listener.pbx.start_call("service_answered", caller=("49305551001", "张伟"), agents=["agent1001"],
                                talk_s=2.0)
        snap = wait_until(lambda: (s := sock.emit("agent_state", {}, callback=True))["state"] == "wrap_up" and s,
                          timeout=20, what="wrap-up")
        assert snap["pause_reason"] == "wrap-up"
        until = listener.wrap_ups.until("agent1001")
        assert until is not None and snap["wrap_up_until"] == until
        wait_until(lambda: dispatcher(other).board.wrap_up_until("agent1001") == until, what="the other console")
        # extend from the console: over Redis to the listener's keeper; every console gets the new deadline
        resp = http.post("/api/agent/wrap-up/extend")
        assert resp.status_code == 200, resp.get_json()
        new = resp.get_json()["wrap_up_until"]
        assert new >= until + cfg.wrap_up_s - 0.1 and listener.wrap_ups.until("agent1001") == new
        wait_until(lambda: dispatcher(other).board.wrap_up_until("agent1001") == new, what="extended elsewhere")
        wait_until(lambda: sock.emit("agent_state", {}, callback=True)["wrap_up_until"] == new, what="extended here")
        tracker = listener.links[0].tracker
        wait_until(lambda: any(a.agent == "agent1001" and a.paused and a.pause_reason == "wrap-up"
                               for a in tracker.snapshot().agents), what="wrap-up pause on the PBX")
        # a web process started during the wrap-up shows the listener's deadline too (kept in Redis)
        late, _ = create_app(cfg, db, listener.bus, live, control=remote, wrap_ups=RemoteWrapUps(remote))
        try:
            snap = dispatcher(late).agent_snapshot("agent1001")
            assert snap["state"] == "wrap_up" and snap["wrap_up_until"] == new, snap
        finally:
            dispatcher(late).stop()
        wait_until(lambda: sock.emit("agent_state", {}, callback=True)["state"] == "ready",
                   timeout=10, what="ready after wrap-up")
        assert time.time() >= new - 0.3  # the extension held: not unpaused at the first deadline
        wait_until(lambda: any(a.agent == "agent1001" and not a.paused for a in tracker.snapshot().agents),
                   what="unpaused on the PBX")
        wait_until(lambda: dispatcher(other).board.wrap_up_until("agent1001") is None,
                   what="the other console's wrap-up ended")  # its own events thread: a moment after the PBX
        time.sleep(0.3)  # a second wrap-up pause / unpause (from a console) would have come by now
        assert listener.count("queuepause") == before + 4  # pause, ready, wrap-up, end of wrap-up: once each
    finally:
        dispatcher(other).stop()
        dispatcher(app).stop()


def test_extending_a_wrap_up_remotely_without_one_is_not_in_wrap_up(listener: Listener) -> None:
    with pytest.raises(NotInWrapUp):
        RemoteWrapUps(RemotePbx(REDIS, listener.key)).extend("agent1003")
    # a listener without a keeper (wrap_up_s = 0) says the same
    bare = ControlServer(REDIS, PbxControl(listener.links), listener.key + ":bare")
    try:
        wait_until(bare.ready.is_set, what="second control server")
        with pytest.raises(NotInWrapUp):
            RemoteWrapUps(RemotePbx(REDIS, listener.key + ":bare")).extend("agent1001")
        assert bare.status()["errors"] == 1 and bare.status()["served"] == 0
    finally:
        bare.stop()


def test_a_keeper_started_later_takes_up_an_agent_left_paused_for_wrap_up(listener: Listener,
                                                                          tmp_path: Path) -> None:
    tracker = listener.links[0].tracker
    # as a listener killed during a wrap-up leaves it: paused for wrap-up, no keeper knows the deadline
    ConsoleControl(config(tmp_path), PbxControl(listener.links)).wrap_up("agent1002")
    wait_until(lambda: any(a.agent == "agent1002" and a.paused and a.pause_reason == "wrap-up"
                           for a in tracker.snapshot().agents), what="wrap-up pause on the PBX")
    bus = EventBus()  # the new listener's keeper
    seen: list[AgentWrapUp] = []
    bus.subscribe(lambda e: seen.append(e) if isinstance(e, AgentWrapUp) else None)
    fresh = WrapUps(bus, ConsoleControl(config(tmp_path), PbxControl(listener.links)), 1.5)
    fresh.start()
    try:
        assert fresh.adopt(tracker.snapshot().agents) == ["agent1002"]  # after its link's resync
        assert fresh.adopt(tracker.snapshot().agents) == []  # taken up once
        assert seen[0].agent == "agent1002" and seen[0].until is not None
        wait_until(lambda: any(a.agent == "agent1002" and not a.paused for a in tracker.snapshot().agents),
                   what="ready after the taken-up wrap-up")
        assert seen[-1].until is None and fresh.status()["ended"] == 1
    finally:
        fresh.stop()
