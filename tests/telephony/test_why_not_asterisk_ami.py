"""Why Hotline owns its AMI connection instead of wrapping asterisk-ami 0.1.7 (the design card's
choice): the same failures, against the same simulated Asterisk, side by side. asterisk-ami's
reader thread dies for good when a handler raises and after a quiet spell longer than its socket
timeout; Hotline's connection survives both (tests/telephony/test_connection.py). If a future
asterisk-ami passes, these tests fail and tell us to reconsider."""

from __future__ import annotations

import time

from asterisk.ami import AMIClient

from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.server import AmiServer


def test_asterisk_ami_stops_delivering_after_a_handler_raises(sim: tuple[SimulatedPbx, AmiServer]) -> None:
    pbx, server = sim
    seen: list[str] = []

    def handler(event: object, **kwargs: object) -> None:
        name = getattr(event, "name", "")
        seen.append(name)
        if name == "Newchannel":
            raise RuntimeError("a subscriber bug")

    client = AMIClient(address="127.0.0.1", port=server.port, timeout=None)
    assert client.login(username="hotline", secret="hotline").response is not None
    client.add_event_listener(handler)
    pbx.start_call("service_answered", talk_s=1)
    time.sleep(2.0)
    try:
        client.logoff()
    except Exception:
        pass
    # the first Newchannel killed the reader: nothing after it arrived (Hotline gets both Hangups)
    assert "Newchannel" in seen and "Hangup" not in seen


def test_asterisk_ami_reader_dies_on_a_quiet_line(sim: tuple[SimulatedPbx, AmiServer]) -> None:
    pbx, server = sim
    seen: list[str] = []
    client = AMIClient(address="127.0.0.1", port=server.port, timeout=1)
    assert client.login(username="hotline", secret="hotline").response is not None
    client.add_event_listener(lambda event, **kw: seen.append(getattr(event, "name", "")))
    time.sleep(1.6)  # quiet longer than its socket timeout, as a PBX at night
    pbx.start_call("service_answered", talk_s=1)
    time.sleep(1.5)
    assert "Newchannel" not in seen
