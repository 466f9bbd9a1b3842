"""Routing mode "ami": calls wait in the holding step until the listener Redirects them into their
IVR; blocked callers are refused; key accounts are marked; a listener that fails leaves the call
to the dialplan's fallback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.routing import HotlineRouter, RoutingDecision, RoutingRules
from telephony.calls import CallTracker
from telephony.connection import AmiClient, AmiEndpoint
from telephony.events import CallEnded, CallVariable, DomainEvent, EventBus
from telephony.manager_rights import ManagerConf, parse_manager_conf
from telephony.pbxlink import PbxControl, make_links
from telephony.records import CallRecord
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.server import AmiServer


class Rig:
    def __init__(self, tmp: Path, rules: RoutingRules, manager: ManagerConf | None = None) -> None:
        """`manager`: the simulator's manager.conf (default: the one `hotline asterisk-config` generates)."""
        self.pbx = SimulatedPbx(recordings_dir=str(tmp), time_scale=5.0, seed=9, routing="ami", hold_s=10.0)
        self.pbx.start()
        self.server = AmiServer(("127.0.0.1", 0), self.pbx, manager=manager)
        self.server.serve_in_thread()
        self.bus = EventBus()
        self.links = make_links([AmiEndpoint("127.0.0.1", self.server.port, "hotline", "hotline", "pbx1")], self.bus)
        self.control = PbxControl(self.links)
        self.records: list[CallRecord] = []
        self.variables: list[CallVariable] = []
        self.bus.subscribe(self._collect)
        self.router = HotlineRouter(lambda lid: self.control.actions(self.control.pbx_of_call(lid)), rules)
        self.bus.subscribe(self.router.on_event)
        for link in self.links:
            link.client.start()
            assert link.client.connected.wait(5)

    def _collect(self, e: DomainEvent) -> None:
        if isinstance(e, CallEnded):
            self.records.append(e.record)
        elif isinstance(e, CallVariable):
            self.variables.append(e)

    def wait_records(self, n: int, timeout: float = 20) -> None:
        deadline = time.time() + timeout
        while len(self.records) < n and time.time() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.router.stop()
        for link in self.links:
            link.client.stop()
        self.server.shutdown_all()
        self.pbx.stop()


@pytest.fixture()
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path, RoutingRules.build(blocked=["+49 3055 5101 2"], key_accounts=["49305551001"]))
    yield r
    r.close()


def test_a_held_call_is_redirected_into_its_ivr_before_the_fallback(rig: Rig) -> None:
    script = rig.pbx.start_call("service_answered", caller=("49305551002", "李娜"), talk_s=2)
    fallback_at = script.fallback_at  # hold_until is None once the Redirect came, maybe before this line
    assert fallback_at is not None
    rig.wait_records(1)
    [rec] = rig.records
    [decision] = rig.router.decisions
    assert decision == RoutingDecision(rec.linkedid, "ivr", "ivr-service", decision.seen_at, decision.done_at)
    assert decision.done_at < fallback_at  # routed by Hotline, not by the dialplan's timeout
    assert rig.pbx.redirects == 1 and rig.server.actions["redirect"] == 1
    assert (rec.hotline, rec.outcome, rec.digits) == ("service", "answered", "1")
    assert not [v for v in rig.variables if v.name == "QUEUE_PRIO"]


def test_key_accounts_are_served_first_and_blocked_callers_refused(rig: Rig) -> None:
    rig.pbx.start_call("service_answered", caller=("49305551001", "张伟"), talk_s=1)
    rig.pbx.start_call("service_answered", caller=("49305551012", "黄强"), talk_s=1)
    rig.wait_records(2)
    by_caller = {r.caller: r for r in rig.records}
    assert by_caller["49305551012"].outcome == "rejected" and by_caller["49305551012"].queue is None
    assert by_caller["49305551001"].outcome == "answered"
    prio = [v for v in rig.variables if v.name == "QUEUE_PRIO"]
    assert [(v.linkedid, v.value) for v in prio] == [(by_caller["49305551001"].linkedid, "10")]
    assert sorted(d.action for d in rig.router.decisions) == ["blocked", "ivr"]


def test_without_the_listener_the_dialplan_fallback_takes_the_call(tmp_path: Path) -> None:
    pbx = SimulatedPbx(recordings_dir=str(tmp_path), time_scale=5.0, seed=9, routing="ami", hold_s=3.0)
    pbx.start()
    server = AmiServer(("127.0.0.1", 0), pbx)
    server.serve_in_thread()
    records: list[CallRecord] = []
    tracker = CallTracker(lambda e: records.append(e.record) if isinstance(e, CallEnded) else None)
    client = AmiClient(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"), tracker.feed)
    client.start()
    try:
        assert client.connected.wait(5)
        script = pbx.start_call("service_answered", talk_s=1)
        deadline = time.time() + 20
        while not records and time.time() < deadline:
            time.sleep(0.05)
        [rec] = records
        assert rec.outcome == "answered" and pbx.redirects == 0
        assert script.fallback_at is not None and rec.answered_at is not None
        assert rec.answered_at > script.fallback_at  # it waited the whole holding step
    finally:
        client.stop()
        server.shutdown_all()
        pbx.stop()


def test_the_old_generated_manager_conf_loses_every_key_and_the_generated_one_keeps_them(
        tmp_path: Path, old_manager_conf: Path) -> None:
    """The simulator answers the AMI user as Asterisk would: without `dtmf` no DTMFEnd reaches the
    listener, so no key reaches the call record (seen on a real Asterisk 20); with the generated user the
    call is routed by the listener and keeps its key."""
    rules = RoutingRules.build(blocked=[], key_accounts=[])
    old = parse_manager_conf(old_manager_conf.read_text(encoding="utf-8"))
    for conf, digits in ((old, ""), (None, "1")):
        rig = Rig(tmp_path, rules, conf)
        try:
            script = rig.pbx.start_call("service_answered", caller=("49305551002", "李娜"), talk_s=1)
            fallback_at = script.fallback_at  # hold_until is None once the Redirect came, maybe before this line
            rig.wait_records(1)
            [rec] = rig.records
            [decision] = rig.router.decisions
            assert fallback_at is not None and decision.done_at < fallback_at  # routed by Hotline
            assert (rec.outcome, rec.digits) == ("answered", digits)
        finally:
            rig.close()
