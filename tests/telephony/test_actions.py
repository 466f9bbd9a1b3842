"""The typed AMI actions against the simulated Asterisk: answers, list results, named errors,
timeouts."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from telephony.actions import Actions, AlreadyQueueMember, NoSuchChannel, NoSuchQueueMember
from telephony.connection import AmiActionError, AmiClient, AmiConnection, AmiEndpoint, AmiTimeout
from telephony.frames import Message
from telephony.manager_rights import ManagerConf
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.server import AmiServer


@pytest.fixture()
def rig(tmp_path: Path, lab_manager: ManagerConf) -> Iterator[tuple[SimulatedPbx, AmiServer, Actions, list[Message]]]:
    pbx = SimulatedPbx(recordings_dir=str(tmp_path), time_scale=10.0, seed=8)
    pbx.start()
    server = AmiServer(("127.0.0.1", 0), pbx, manager=lab_manager)  # every action: the lab's user
    server.serve_in_thread()
    events: list[Message] = []
    client = AmiClient(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"), events.append)
    client.start()
    assert client.connected.wait(5) and client.conn is not None
    yield pbx, server, Actions(client.conn, timeout=5), events
    client.stop()
    server.shutdown_all()
    pbx.stop()


def wait_for(cond: object, timeout: float = 10.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def _talking_channel(pbx: SimulatedPbx, actions: Actions) -> tuple[str, str]:
    script = pbx.start_call("service_answered", agents=["agent1002"], talk_s=60)
    assert wait_for(lambda: any(c.bridge_id for c in actions.core_show_channels()))
    chans = actions.core_show_channels()
    caller = next(c for c in chans if c.channel.startswith("SIP/carrier"))
    assert caller.linkedid == script.linkedid and caller.hotline == "service"
    return caller.channel, script.linkedid


def test_queue_pause_add_remove(rig: tuple[SimulatedPbx, AmiServer, Actions, list[Message]]) -> None:
    pbx, _, actions, events = rig
    actions.queue_pause("SIP/agent1003", True, queue="complaints", reason="lunch")
    assert wait_for(lambda: any(m.event == "QueueMemberPause" and m["PausedReason"] == "lunch" for m in events))
    status = actions.queue_status("complaints")
    member = next(m for m in status.members if m.interface == "SIP/agent1003")
    assert member.paused and member.paused_reason == "lunch"
    actions.queue_pause("SIP/agent1003", False, queue="complaints")
    assert not next(m for m in actions.queue_status("complaints").members if m.interface == "SIP/agent1003").paused
    actions.queue_add("complaints", "SIP/agent1001", member_name="Anna Agent", paused=True, reason="login")
    assert "SIP/agent1001" in [m.interface for m in actions.queue_status("complaints").members]
    with pytest.raises(AlreadyQueueMember):
        actions.queue_add("complaints", "SIP/agent1001")
    actions.queue_remove("complaints", "SIP/agent1001")
    with pytest.raises(NoSuchQueueMember):
        actions.queue_remove("complaints", "SIP/agent1001")
    with pytest.raises(AmiActionError):
        actions.queue_pause("SIP/nobody", True)
    assert [q.queue for q in actions.queue_summary()] == ["service", "complaints", "claims"]


def test_channel_actions_and_errors(rig: tuple[SimulatedPbx, AmiServer, Actions, list[Message]]) -> None:
    pbx, server, actions, events = rig
    channel, linkedid = _talking_channel(pbx, actions)
    assert actions.getvar(channel, "HOTLINE") == "service"
    actions.setvar(channel, "CASE_ID", "42")
    assert wait_for(lambda: any(m.event == "VarSet" and m.get("Variable") == "CASE_ID" for m in events))
    actions.mix_monitor(channel, "/tmp/extra.wav")
    actions.redirect(channel, "queue-direct", "claims")
    actions.blind_transfer(channel, "queue-direct", "claims")
    assert "queued" in actions.spy("SIP/agent1003", channel, "whisper").lower()
    with pytest.raises(ValueError, match="spy mode"):
        actions.spy("SIP/agent1003", channel, "shout")
    assert "queued" in actions.callback_into_queue("13800138001", "service").lower()
    assert wait_for(lambda: sum(1 for m in events if m.event == "OriginateResponse") == 2)
    actions.hangup(channel)
    assert wait_for(lambda: not [c for c in actions.core_show_channels() if c.linkedid == linkedid])
    for call in (lambda: actions.hangup("SIP/carrier-deadbeef"), lambda: actions.getvar("SIP/nope-00000000", "X"),
                 lambda: actions.redirect("SIP/nope-00000000", "x", "y")):
        with pytest.raises(NoSuchChannel):
            call()
    assert server.actions["redirect"] == 2 and server.actions["originate"] == 2


def test_an_unanswered_action_times_out() -> None:
    """A peer that logs in and then never answers: the action ends with AmiTimeout, not a hang."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]

    def peer() -> None:
        conn, _ = sock.accept()
        conn.sendall(b"Asterisk Call Manager/9.0.0\r\n")
        conn.recv(4096)
        conn.sendall(b"Response: Success\r\nActionID: login\r\nMessage: Authentication accepted\r\n\r\n")
        time.sleep(3)
        conn.close()

    threading.Thread(target=peer, daemon=True).start()
    conn = AmiConnection(AmiEndpoint("127.0.0.1", port, "hotline", "x"), lambda m: None)
    conn.connect_and_login()
    reader = threading.Thread(target=lambda: [conn.read_once() for _ in range(30)], daemon=True)
    reader.start()
    t0 = time.monotonic()
    with pytest.raises(AmiTimeout, match="QueueStatus"):
        Actions(conn, timeout=0.5).queue_status()
    assert time.monotonic() - t0 < 2.0
    conn.close()
    sock.close()
