"""A resync snapshot stands at one point of a session's event stream, also on a loaded machine.

Asterisk answers CoreShowChannels from its channels at the moment it handles the action: an event
a session was sent before the answer is in the snapshot, one it was not sent (it logged in after) is
too. The simulator plays its events in steps; these tests stall a step halfway through, as a busy
machine does, and make a session log in or ask for a snapshot just then. Before steps and snapshots
were kept apart, a call whose first events were played while a reconnecting session logged in was
in neither its stream nor its snapshot, and the tracker never recorded it (seen under load in
test_resync's 20 cuts)."""

from __future__ import annotations

import threading
from pathlib import Path

from telephony.connection import ActionResult, AmiConnection, AmiEndpoint
from telephony.frames import Message
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.scenario import CallScript, Fields
from telephony.simulator.server import AmiServer
from telephony.simulator.snapshot import PbxState, state_at


def _newchannel_at(script: CallScript) -> float:
    return next(t for t, f in script.messages if f[0] == ("Event", "Newchannel"))


class _Stall:
    """A listener that holds the step it is handed (a session's hand-over on a busy machine)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, batch: list[Fields]) -> None:
        self.entered.set()
        self.release.wait(20)


def test_a_listener_joining_while_a_step_plays_finds_its_events_in_its_snapshot(tmp_path: Path) -> None:
    pbx = SimulatedPbx(recordings_dir=str(tmp_path), time_scale=10.0, seed=1)  # not started: the test steps it
    stall = _Stall()
    pbx.add_listener(stall)  # the session that is about to be cut
    script = pbx.start_call("service_answered")
    first = _newchannel_at(script)
    player = threading.Thread(target=pbx.step, args=(first,))
    player.start()
    assert stall.entered.wait(10)  # the call's first events (its Newchannel) are being handed out
    joined: list[list[Fields]] = []
    snapshot: list[PbxState] = []

    def log_in() -> None:  # the reconnecting session: listener, then its CoreShowChannels
        pbx.add_listener(joined.append)
        with pbx.between_steps():
            snapshot.append(state_at(pbx, first + 1.0))

    session = threading.Thread(target=log_in)
    session.start()
    session.join(0.5)  # room for the login to run while the step is stalled
    stall.release.set()
    player.join(10)
    session.join(10)
    assert snapshot
    handed = any(f[0] == ("Event", "Newchannel") and dict(f).get("Linkedid") == script.linkedid
                 for batch in joined for f in batch)
    in_snapshot = any(c.fields.get("Linkedid") == script.linkedid for c in snapshot[0].channels)
    assert handed or in_snapshot, "the new session neither got the call's Newchannel nor saw it in its snapshot"


def test_core_show_channels_includes_what_the_session_was_sent_before_it(tmp_path: Path) -> None:
    pbx = SimulatedPbx(recordings_dir=str(tmp_path), time_scale=10.0, seed=1)  # not started: the test steps it
    server = AmiServer(("127.0.0.1", 0), pbx)
    server.serve_in_thread()
    stream: list[Message] = []
    got_newchannel = threading.Event()
    conn = AmiConnection(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"), stream.append)
    stop = threading.Event()
    stall = _Stall()
    player: threading.Thread | None = None
    try:
        conn.connect_and_login()

        def read() -> None:
            while not stop.is_set() and conn.read_once():
                if any(m.event == "Newchannel" for m in stream):
                    got_newchannel.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        for _ in range(200):
            if server.sessions:
                break
            stop.wait(0.05)
        assert server.sessions
        pbx.add_listener(stall)  # after the session's listener: the session is handed the step first
        script = pbx.start_call("service_answered")
        player = threading.Thread(target=pbx.step, args=(_newchannel_at(script),))
        player.start()
        assert stall.entered.wait(10)
        assert got_newchannel.wait(10)  # the session has the call's Newchannel; the step is not over
        result: list[ActionResult] = []
        asker = threading.Thread(target=lambda: result.append(
            conn.send_action("CoreShowChannels", is_list=True, timeout=30)))
        asker.start()
        asker.join(0.5)  # room for the answer to be made while the step is stalled
        stall.release.set()
        asker.join(30)
        assert result
        items = [e for e in result[0].events if e.event == "CoreShowChannel"]
        assert any(e.get("Linkedid") == script.linkedid for e in items), \
            "the snapshot is behind the stream: a call the session was told of is not in it"
    finally:
        stall.release.set()
        if player is not None:
            player.join(10)
        stop.set()
        conn.close()
        server.shutdown_all()
