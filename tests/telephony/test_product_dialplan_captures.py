"""Hotline's own dialplan on a real Asterisk 20 (asterisk-traces/product-dialplan: chan_sip and PJSIP,
captured by a user reading every event): replayed as Hotline's generated AMI user would have received it,
every call is stored as from the whole stream; as the user generated before, every key is lost."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from telephony.ami_user import manager_conf
from telephony.frames import Message
from telephony.manager_rights import ManagerUser, parse_manager_conf
from telephony.records import CallRecord
from telephony.replay import replay_files

CAPTURES = ("08-product-dialplan-ami-routing-fastagi.ami", "09-product-dialplan-pjsip.ami")


def as_user(user: ManagerUser, seen: list[str]) -> Callable[[Message], bool]:
    """What `user` would have received of a capture taken by a user reading everything (names into `seen`)."""
    def keep(msg: Message) -> bool:
        sent = user.receives(list(msg.fields.items()) + list(msg.repeats or []))
        if sent:
            seen.append(msg.event or "")
        return sent

    return keep


def facts(records: list[CallRecord]) -> dict[str, tuple[object, ...]]:
    return {r.linkedid: (r.caller, r.hotline, r.digits, r.waybill, r.ivr_path, r.queue, r.outcome, r.agent, r.agents,
                         r.rang, r.hangup_by, r.recording, r.wait_s, r.talk_s) for r in records}


@pytest.mark.parametrize("capture", CAPTURES)
def test_the_generated_user_gets_every_call_as_the_whole_stream_tells_it(traces: Path, capture: str) -> None:
    path = traces / "product-dialplan" / capture
    whole = replay_files([path])
    seen: list[str] = []
    user = parse_manager_conf(manager_conf(secret="x")).users["hotline"]
    filtered = replay_files([path], only=as_user(user, seen))
    assert len(whole) >= 6 and facts(filtered) == facts(whole)
    assert seen and "Newexten" not in seen and "RTCPSent" not in seen


def test_the_calls_of_the_chan_sip_capture(traces: Path) -> None:
    """What the capture's README says happened, as the generated user's stream stores it."""
    user = parse_manager_conf(manager_conf(secret="x")).users["hotline"]
    calls = {r.caller: r for r in replay_files([traces / "product-dialplan" / CAPTURES[0]],
                                               only=as_user(user, []))}
    assert calls["13800138001"].digits == "1800012345678#0"  # tracking, the waybill, then 0 during the status
    assert calls["13666666666"].outcome == "rejected"  # the block list
    assert (calls["13777777777"].outcome, calls["13777777777"].agent) == ("answered", "agent1002")  # key account
    assert calls["13900139002"].outcome == "out_of_hours"  # the claims hotline was closed: the IVR said goodbye


@pytest.mark.parametrize("capture", CAPTURES)
def test_the_user_generated_before_lost_every_key(traces: Path, capture: str, old_manager_conf: Path) -> None:
    path = traces / "product-dialplan" / capture
    old = parse_manager_conf(old_manager_conf.read_text(encoding="utf-8")).users["hotline"]
    lost = replay_files([path], only=as_user(old, []))
    assert any(r.digits for r in replay_files([path]))
    assert not any(r.digits for r in lost)
