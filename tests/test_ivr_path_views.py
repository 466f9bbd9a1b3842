"""One IVR path for a call that meets the IVR twice (the menu, then the queue wait limit's callback
offer): the stored call, the pipeline's row of the call going on, the console's live call and the
screen pop all join its visits the same way (telephony.records.join_ivr_path)."""

from __future__ import annotations

import time
from pathlib import Path

from agent_console.calls import CallMemory
from agent_console.pop import ScreenPop, build_screen_pop
from cases.call_records import get_call
from cases.db import Database
from pipeline.call_pipeline import CallPipeline
from telephony.calls import CallTracker
from telephony.events import AgentRinging, CallEnded, DomainEvent, EventBus
from telephony.frames import Message
from telephony.records import CallRecord

LID = "1796000100.1"
AGENT_UID = "1796000100.2"
CHANNEL = "SIP/trunk-00000001"
MENU = "menu=0:agent>agent=service"
OFFER = "wait_limit=service>offer:timeout>agent=service"


def _msg(at: float, **fields: str) -> Message:
    return Message(dict(fields), received_at=at)


def _caller(**extra: str) -> dict[str, str]:
    return {"Channel": CHANNEL, "Uniqueid": LID, "Linkedid": LID, "CallerIDNum": "49305551001",
            "CallerIDName": "张伟", **extra}


def _wait_for(check: object, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_a_call_meeting_the_ivr_twice_has_one_path_everywhere(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'calls.db'}")
    db.migrate()
    bus = EventBus()
    memory = CallMemory()
    bus.subscribe(memory.observe)
    pops: list[ScreenPop] = []
    ended: list[CallRecord] = []

    def console(event: DomainEvent) -> None:
        if isinstance(event, AgentRinging):
            pops.append(build_screen_pop(event, memory.get(event.linkedid), None))
        elif isinstance(event, CallEnded):
            ended.append(event.record)

    bus.subscribe(console)
    pipeline = CallPipeline(db, bus, tmp_path / "rec", None)
    tracker = CallTracker(bus.publish)
    agent = {"DestChannel": "SIP/agent1001-00000002", "Interface": "SIP/agent1001", "Queue": "service",
             "MemberName": "Anna Agent"}
    try:
        tracker.feed(_msg(1.0, Event="Newchannel", Exten="4008001", **_caller()))
        # the menu's visit; its VarSet seen twice is one visit
        tracker.feed(_msg(2.0, Event="VarSet", Variable="IVR_PATH", Value=MENU, **_caller()))
        tracker.feed(_msg(2.1, Event="VarSet", Variable="IVR_PATH", Value=MENU, **_caller()))
        tracker.feed(_msg(3.0, Event="QueueCallerJoin", Queue="service", Position="1", **_caller()))
        # waited past the queue's limit: the callback offer, declined, back to the queue
        tracker.feed(_msg(9.0, Event="QueueCallerLeave", Queue="service", Position="1", **_caller()))
        tracker.feed(_msg(9.1, Event="VarSet", Variable="CALLBACK_OFFER", Value="service", **_caller()))
        tracker.feed(_msg(15.0, Event="VarSet", Variable="IVR_PATH", Value=OFFER, **_caller()))
        tracker.feed(_msg(15.1, Event="QueueCallerJoin", Queue="service", Position="1", **_caller()))
        tracker.feed(_msg(16.0, Event="AgentCalled", **_caller(**agent)))
        path = f"{MENU}>{OFFER}"
        live = memory.get(LID)
        assert live is not None and live.ivr_path == path  # the console's live call
        [pop] = pops
        assert pop.ivr_path == path  # the screen pop
        tracker.feed(_msg(18.0, Event="AgentConnect", DestUniqueid=AGENT_UID, **_caller(**agent)))

        def pending_row_has_path() -> bool:
            with db.session() as s:
                call = get_call(s, LID)
            return call is not None and call.outcome == "pending" and call.ivr_path == path

        _wait_for(pending_row_has_path)  # the row of the call going on
        tracker.feed(_msg(40.0, Event="Hangup", Cause="16", **_caller()))
        _wait_for(lambda: pipeline.stored == 1)
        with db.session() as s:
            stored = get_call(s, LID)
        assert stored is not None and (stored.outcome, stored.ivr_path) == ("answered", path)  # the stored call
        assert [r.ivr_path for r in ended] == [path]  # the record every consumer of CallEnded gets
    finally:
        pipeline.stop()
        db.dispose()
