"""No AMI action injection: a CR or LF in any field of any action is refused where actions are written
(telephony.connection.encode_action), before a byte goes out; every action builder of telephony.actions is
tried with a line break in each of its text arguments against the PBX simulator, which must see nothing."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator

import pytest

from telephony.actions import Actions
from telephony.connection import AmiConnection, AmiEndpoint, AmiFieldRefused, encode_action
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.server import AmiServer

BREAKS = ("x\r\nAction: Originate\r\nChannel: Local/1@default\r\nApplication: System\r\nData: id",
          "x\nAction: Command", "x\r", "\r\n")


@pytest.fixture
def connected() -> Iterator[tuple[Actions, AmiServer]]:
    server = AmiServer(("127.0.0.1", 0), SimulatedPbx(seed=3))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn = AmiConnection(AmiEndpoint("127.0.0.1", server.server_address[1], "hotline", "hotline"), lambda m: None)
    conn.connect_and_login()
    stop = threading.Event()
    reader = threading.Thread(target=lambda: [conn.read_once() for _ in iter(stop.is_set, True)], daemon=True)
    reader.start()
    try:
        yield Actions(conn, timeout=5), server
    finally:
        stop.set()
        conn.close()
        server.shutdown()
        server.server_close()


def _text_params(method: object) -> list[str]:
    sig = inspect.signature(method)  # type: ignore[arg-type]
    return [n for n, p in sig.parameters.items() if p.annotation in ("str", str)]


def _calls(actions: Actions) -> Iterator[tuple[str, str, dict[str, object]]]:
    """Each public action builder with one text argument broken, the others plain."""
    for name, method in inspect.getmembers(actions, inspect.ismethod):
        if name.startswith("_") or name in ("send_action",):
            continue
        params = _text_params(method)
        sig = inspect.signature(method)
        for broken in params:
            if (name, broken) == ("spy", "mode"):
                continue  # one of SPY_OPTIONS or ValueError: never written
            for text in BREAKS:
                kwargs: dict[str, object] = {}
                for n, p in sig.parameters.items():
                    if n == broken:
                        kwargs[n] = text
                    elif n in params and p.default is inspect.Parameter.empty:
                        kwargs[n] = "SIP/agent1001" if "channel" in n or "interface" in n else "service"
                if "paused" in sig.parameters:
                    kwargs["paused"] = True
                if (name, broken) == ("originate", "data"):
                    kwargs["application"] = "ChanSpy"  # Data is written only with an application
                yield name, broken, kwargs


def test_every_action_builder_refuses_a_line_break_in_every_text_field(connected: tuple[Actions, AmiServer]) -> None:
    actions, server = connected
    before = dict(server.actions)
    tried = set()
    for name, broken, kwargs in _calls(actions):
        with pytest.raises(AmiFieldRefused, match="line break"):
            getattr(actions, name)(**kwargs)
            pytest.fail(f"{name}: a line break in {broken} was written")
        tried.add(name)
    assert {"redirect", "originate", "spy", "setvar", "queue_pause", "queue_add", "hangup"} <= tried
    assert dict(server.actions) == before  # nothing reached the PBX
    actions.queue_pause("SIP/agent1001", True, reason="break")  # the link is still usable
    assert server.actions["queuepause"] == before.get("queuepause", 0) + 1


def test_the_writer_refuses_bad_field_names_and_keeps_good_actions_byte_for_byte() -> None:
    assert encode_action("Redirect", {"ActionID": "a1", "Channel": "SIP/x-1", "Exten": "s"}) == (
        "Action: Redirect\r\nActionID: a1\r\nChannel: SIP/x-1\r\nExten: s\r\n\r\n")
    for fields in ({"Bad:Name": "x"}, {"": "x"}, {" Pad": "x"}, {"Na\nme": "x"}):
        with pytest.raises(AmiFieldRefused):
            encode_action("Redirect", fields)
    with pytest.raises(AmiFieldRefused):
        encode_action("Redirect\r\nAction: Command", {})
