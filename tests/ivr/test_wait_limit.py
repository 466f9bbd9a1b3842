"""Queue wait limits: the listener moves a caller waiting past its queue's limit (once) into the
IVR's callback offer; key 1 leaves a callback request the console lists as a callback task and
ends the call (outcome callback_offered), no key puts the caller back into the same queue. Run
on the PBX simulator over AMI with the real FastAGI IVR and a real database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent_console.data import callback_tasks
from cases.call_records import get_call
from cases.db import Database
from cases.demo_seed import seed_demo
from hotline_cli.config import ConfigError, load_settings
from hotline_cli.demo_ivr import DemoIvr
from ivr.overflow import WaitLimitError, WaitLimitWatcher, check_limits
from pipeline.call_pipeline import CallPipeline
from telephony.connection import AmiEndpoint
from telephony.events import CallEnded, CallQueued, DomainEvent, EventBus
from telephony.frames import Message
from telephony.pbxlink import PbxControl, make_links
from telephony.records import CallRecord
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.server import AmiServer

LIMIT_S = 1.5


@dataclass
class Rig:
    pbx: SimulatedPbx
    server: AmiServer
    db: Database
    ivr: DemoIvr
    watcher: WaitLimitWatcher
    pipeline: CallPipeline
    links: list
    records: list[CallRecord] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)

    def wait_records(self, n: int, timeout: float = 30) -> None:
        deadline = time.time() + timeout
        while (len(self.records) < n or self.pipeline.stored < n) and time.time() < deadline:
            time.sleep(0.05)
        assert len(self.records) >= n, f"{len(self.records)} of {n} calls ended"


@pytest.fixture()
def rig(tmp_path: Path) -> Iterator[Rig]:
    db = Database(f"sqlite:///{tmp_path / 'calls.db'}")
    db.migrate()
    with db.session() as s:
        seed_demo(s)
    ivr = DemoIvr(db, tmp_path / "data")
    pbx = SimulatedPbx(recordings_dir=str(tmp_path / "rec"), time_scale=20.0, seed=5)
    pbx.ivr_hook = ivr.visit
    pbx.start()
    server = AmiServer(("127.0.0.1", 0), pbx)
    server.serve_in_thread()
    bus = EventBus()
    links = make_links([AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline", "pbx1")], bus)
    control = PbxControl(links)
    watcher = WaitLimitWatcher(lambda lid: control.actions(control.pbx_of_call(lid)),
                               {"complaints": LIMIT_S, "service": LIMIT_S})
    bus.subscribe(watcher.on_event)
    pipeline = CallPipeline(db, bus, tmp_path / "rec", None)
    r = Rig(pbx, server, db, ivr, watcher, pipeline, links)

    def collect(e: DomainEvent) -> None:
        if isinstance(e, CallEnded):
            r.records.append(e.record)

    bus.subscribe(collect)
    server.pbx.add_listener(lambda batch: r.messages.extend(Message(dict(f)) for f in batch))
    for link in links:
        link.client.start()
        assert link.client.connected.wait(5)
    yield r
    for link in links:
        link.client.stop()
    watcher.stop()
    pipeline.stop()
    server.shutdown_all()
    pbx.stop()
    ivr.stop()


def test_a_caller_waiting_too_long_is_moved_once_and_ends_as_a_callback_task(rig: Rig) -> None:
    # agent1002 would ring after 40 simulated seconds (2 s here): the limit comes first
    script = rig.pbx.start_call("service_answered", caller=("49305551002", "李娜"), extra_wait_s=40, talk_s=2,
                                agents=["agent1002"], offer_key="1")
    rig.wait_records(1)
    [rec] = rig.records
    assert rec.linkedid == script.linkedid
    assert (rec.outcome, rec.queue, rec.agent, rec.agents, rec.rang) == ("callback_offered", "service", None, [], [])
    assert rec.wait_s is not None and LIMIT_S <= rec.wait_s < LIMIT_S + 1.0
    [move] = rig.watcher.moves
    assert (move.linkedid, move.queue, move.ok) == (script.linkedid, "service", True)
    assert rig.pbx.queue_redirects == 1 and rig.server.actions["redirect"] == 1
    # the rest of its script is never played: nobody rings for it after the move
    own = [m for m in rig.messages if m.get("Linkedid") == script.linkedid]
    assert not [m for m in own if m.event in ("AgentCalled", "AgentConnect")]
    assert "agent1002" in rig.pbx.free_agents(time.time() + 2.0 / 20)  # no longer booked for it (wrap-up aside)
    assert rec.ivr_path is not None
    menu, _, offer = rec.ivr_path.partition(">wait_limit=")
    assert menu == "menu=0:agent>agent=service"  # the demo caller's first IVR visit
    assert offer.startswith("service>case=C") and offer.endswith(">callback>goodbye")
    with rig.db.session() as s:
        stored = get_call(s, script.linkedid)
    assert stored is not None and (stored.outcome, stored.ivr_path) == ("callback_offered", rec.ivr_path)
    [task] = [t for t in callback_tasks(rig.db) if t.caller == "49305551002"]
    assert task.number == offer.split("case=", 1)[1].split(">", 1)[0]


def test_a_caller_who_declines_goes_back_to_the_same_queue_and_is_not_moved_again(rig: Rig) -> None:
    script = rig.pbx.start_call("complaints_abandoned", caller=("49305551003", "王芳"), abandon_after_s=120,
                                offer_key="")
    rig.wait_records(1, timeout=40)
    [rec] = rig.records
    assert rec.outcome == "abandoned_in_queue" and rec.queue == "complaints"
    assert [m.queue for m in rig.watcher.moves] == ["complaints"]  # waited past the limit again: not moved twice
    own = [m for m in rig.messages if m.get("Linkedid") == script.linkedid]
    assert [m["Queue"] for m in own if m.event == "QueueCallerJoin"] == ["complaints", "complaints"]
    assert rec.ivr_path is not None and rec.ivr_path.endswith(
        ">wait_limit=complaints>offer:timeout>agent=complaints")
    assert not [t for t in callback_tasks(rig.db) if t.caller == "49305551003"]



def test_a_restarted_listener_does_not_offer_a_callback_twice(rig: Rig) -> None:
    """A listener that restarted after the move knows nothing of it; the channel's CALLBACK_OFFER does."""
    script = rig.pbx.start_call("complaints_abandoned", caller=("49305551004", "刘洋"), abandon_after_s=120,
                                offer_key="")
    deadline = time.time() + 20
    joins: list[Message] = []
    while len(joins) < 2 and time.time() < deadline:  # moved, declined, back in the queue
        joins = [m for m in list(rig.messages) if m.event == "QueueCallerJoin" and m.get("Linkedid") == script.linkedid]
        time.sleep(0.05)
    assert len(joins) == 2 and rig.pbx.queue_redirects == 1
    control = PbxControl(rig.links)
    fresh = WaitLimitWatcher(lambda lid: control.actions(), {"complaints": LIMIT_S})
    try:
        fresh.on_event(CallQueued(script.linkedid, "complaints", 1, time.time() - 10, joins[-1]["Channel"]))
        deadline = time.time() + 5
        while not fresh.moves and time.time() < deadline:
            time.sleep(0.02)
        [move] = fresh.moves
        assert not move.ok and "CALLBACK_OFFER already set" in move.detail
        assert rig.pbx.queue_redirects == 1 and rig.server.actions["redirect"] == 1
    finally:
        fresh.stop()


def test_wait_limits_are_checked_with_clear_errors(tmp_path: Path) -> None:
    assert check_limits({"service": 120, "claims": 90.5}) == {"service": 120.0, "claims": 90.5}
    for bad, why in (({"service": 0}, "1 to 86400"), ({"service": "2m"}, "1 to 86400"),
                     ({"ser vice": 60}, "not a queue name"), ({"service": True}, "1 to 86400")):
        with pytest.raises(WaitLimitError, match=why):
            check_limits(bad)
    good = tmp_path / "ok.toml"
    good.write_text("[queue_wait_limits]\nservice = 120\ncomplaints = 60\n", encoding="utf-8")
    assert dict(load_settings(good, environ={}).queue_wait_limits) == {"service": 120.0, "complaints": 60.0}
    for text, why in (("queue_wait_limits = 5\n", "must be a table"),
                      ("[queue_wait_limits]\nservice = -1\n", "queue_wait_limits: wait limit of queue 'service'")):
        bad_file = tmp_path / "bad.toml"
        bad_file.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=why):
            load_settings(bad_file, environ={})
