"""The IVR path of every call lands on its call record: from the IVR's IVR_PATH channel variable
(VarSet on AMI) through telephony's CallRecord into cases' `calls.ivr_path`, on SQLite and
PostgreSQL, with simulated callers going through the real FastAGI IVR."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cases.call_records import get_call
from cases.db import Database
from cases.demo_data import DEMO_WAYBILLS
from cases.demo_seed import seed_demo
from hotline_cli.demo_ivr import DemoIvr
from pipeline.call_pipeline import CallPipeline
from telephony.calls import CallTracker
from telephony.connection import AmiEndpoint
from telephony.events import CallEnded, DomainEvent, EventBus
from telephony.frames import Message
from telephony.pbxlink import make_links
from telephony.records import CallRecord
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.server import AmiServer


def _msg(at: float, **fields: str) -> Message:
    return Message(dict(fields), received_at=at)


def _channel(uid: str, **extra: str) -> dict[str, str]:
    return {"Channel": "SIP/trunk-00000001", "Uniqueid": uid, "Linkedid": uid, **extra}


def test_tracker_keeps_the_ivr_path_and_joins_a_second_visit() -> None:
    ended: list[CallRecord] = []

    def publish(e: DomainEvent) -> None:
        if isinstance(e, CallEnded):
            ended.append(e.record)

    t = CallTracker(publish)
    uid = "1796000000.1"
    t.feed(_msg(1.0, Event="Newchannel", Exten="4008001", CallerIDNum="49305551001", CallerIDName="张伟",
                **_channel(uid)))
    t.feed(_msg(2.0, Event="VarSet", Variable="IVR_PATH", Value="menu=0:agent>agent=service", **_channel(uid)))
    t.feed(_msg(3.0, Event="VarSet", Variable="IVR_PATH", Value="menu=0:agent>agent=service", **_channel(uid)))
    t.feed(_msg(9.0, Event="VarSet", Variable="IVR_PATH", Value="callback_offer=service>callback>goodbye",
                **_channel(uid)))
    t.feed(_msg(10.0, Event="Hangup", Cause="16", **_channel(uid)))
    [rec] = ended
    # the same value set twice is one visit; the callback offer's own path follows the menu's
    assert rec.ivr_path == "menu=0:agent>agent=service>callback_offer=service>callback>goodbye"
    assert rec.to_json_dict()["ivr_path"] == rec.ivr_path


def test_a_call_without_ivr_has_no_path() -> None:
    ended: list[CallRecord] = []
    t = CallTracker(lambda e: ended.append(e.record) if isinstance(e, CallEnded) else None)
    uid = "1796000000.2"
    t.feed(_msg(1.0, Event="Newchannel", Exten="4008001", CallerIDNum="1", CallerIDName="", **_channel(uid)))
    t.feed(_msg(2.0, Event="VarSet", Variable="IVR_PATH", Value="", **_channel(uid)))
    t.feed(_msg(3.0, Event="Hangup", Cause="16", **_channel(uid)))
    assert ended[0].ivr_path is None


@pytest.mark.parametrize(("path", "outcome"), [
    ("closed>offer=1>callback>goodbye", "out_of_hours"),
    ("announcement=holiday>closed>goodbye", "out_of_hours"),
    ("menu=1:tracking>hangup", "abandoned_in_ivr"),
    ("", "abandoned_in_ivr"),
    ("menu=1:tracking>waybill=800012345678>status=运输中>goodbye", "self_served"),  # told, then goodbye
    ("menu=3:change_phone>phone:confirmed>case=C20261207-0001>goodbye>hangup", "self_served"),  # hung up in it
    ("menu=2:complaint>error>goodbye", "abandoned_in_ivr"),  # the IVR failed: not served
])
def test_a_closed_hotline_call_has_its_own_outcome(path: str, outcome: str) -> None:
    """An out-of-hours call the IVR ended with its goodbye is no caller abandoning the IVR."""
    ended: list[CallRecord] = []
    t = CallTracker(lambda e: ended.append(e.record) if isinstance(e, CallEnded) else None)
    uid = "1796000000.3"
    t.feed(_msg(1.0, Event="Newchannel", Exten="4008002", CallerIDNum="1", CallerIDName="", **_channel(uid)))
    t.feed(_msg(2.0, Event="VarSet", Variable="IVR_PATH", Value=path, **_channel(uid)))
    t.feed(_msg(3.0, Event="Hangup", Cause="16", **_channel(uid)))
    assert (ended[0].hotline, ended[0].outcome) == ("claims", outcome)


@pytest.fixture(params=["sqlite", "postgresql"])
def stored_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'calls.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    db = Database(url)
    db.migrate()
    with db.session() as s:
        seed_demo(s)
    yield db
    db.dispose()


def test_simulated_calls_through_the_real_ivr_end_with_their_path_stored(stored_db: Database,
                                                                         tmp_path: Path) -> None:
    ivr = DemoIvr(stored_db, tmp_path / "data")
    pbx = SimulatedPbx(recordings_dir=str(tmp_path / "rec"), time_scale=10.0, seed=3)
    pbx.ivr_hook = ivr.visit
    pbx.start()
    server = AmiServer(("127.0.0.1", 0), pbx)
    server.serve_in_thread()
    bus = EventBus()
    ended: list[CallRecord] = []
    bus.subscribe(lambda e: ended.append(e.record) if isinstance(e, CallEnded) else None)
    pipeline = CallPipeline(stored_db, bus, tmp_path / "rec", None)
    links = make_links([AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline", "pbx1")], bus)
    try:
        for link in links:
            link.client.start()
            assert link.client.connected.wait(5)
        waybill = DEMO_WAYBILLS[0]
        tracked = pbx.start_call("service_answered", waybill=waybill, talk_s=2)
        missed = pbx.start_call("service_ring_no_answer", talk_s=2, delay_s=0.2)
        deadline = time.time() + 30
        while time.time() < deadline and pipeline.stored < 2:
            time.sleep(0.05)
        assert pipeline.stored == 2, pipeline.errors
        with stored_db.session() as s:
            first = get_call(s, tracked.linkedid)
            second = get_call(s, missed.linkedid)
        assert first is not None and second is not None
        # what the FastAGI IVR walked: key 1, the waybill found and read back, 0 for an agent
        assert first.ivr_path is not None and first.ivr_path.startswith(f"menu=1:tracking>waybill={waybill}>status=")
        assert first.ivr_path.endswith(">agent=service")
        assert first.waybill == waybill and first.outcome == "answered"
        assert second.ivr_path == "menu:invalid=9>menu=0:agent>agent=service"
        assert {r.linkedid: r.ivr_path for r in ended} == {first.linkedid: first.ivr_path,
                                                           second.linkedid: second.ivr_path}
    finally:
        for link in links:
            link.client.stop()
        pipeline.stop()
        server.shutdown_all()
        pbx.stop()
        ivr.stop()
