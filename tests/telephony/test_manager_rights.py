"""manager.conf as Asterisk 20.20.1 applies it (telephony.manager_rights), Hotline's generated AMI user
(telephony.ami_user), and the simulator applying both to its sessions."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from telephony import ami_user
from telephony.ami_reads import READ_EVENTS, READ_VARIABLES
from telephony.calls import CallTracker
from telephony.frames import parse_all
from telephony.manager_rights import (
    CLASSES,
    ManagerConfError,
    ManagerUser,
    classes,
    event_mask,
    parse_filter,
    parse_manager_conf,
)
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.server import AmiServer


def ev(name: str, privilege: str, *more: tuple[str, str]) -> list[tuple[str, str]]:
    return [("Event", name), ("Privilege", privilege), *more]


def test_classes_are_whole_words_and_all_is_every_class() -> None:
    assert classes("system, call,agentx") == {"system", "call"}
    assert classes("all") == set(CLASSES) and classes("none") == set()
    assert event_mask("on") == set(CLASSES) and event_mask("off") == set() and event_mask("") is None
    assert event_mask("call,agent") == {"call", "agent"}


def test_an_event_needs_every_class_of_its_privilege() -> None:
    user = ManagerUser("u", read=classes("call"))
    assert user.receives(ev("Hangup", "call,all"))
    assert not user.receives(ev("DTMFEnd", "dtmf,all"))
    assert not user.receives(ev("Hangup", "call,all"), mask=frozenset({"agent"}))  # the session's event mask


def test_legacy_filters_include_exclude_and_both() -> None:
    def user(*lines: str) -> ManagerUser:
        return ManagerUser("u", read=frozenset(CLASSES), filters=tuple(parse_filter("eventfilter", v) for v in lines))

    hangup = ev("Hangup", "call,all", ("Channel", "SIP/carrier-00000001"))
    local = ev("Hangup", "call,all", ("Channel", "Local/x@y-00000001;1"))
    newexten = ev("Newexten", "dialplan,all", ("Context", "hotline-hold"))
    only_exclude = user("!Event: Newexten")
    assert only_exclude.receives(hangup) and not only_exclude.receives(newexten)
    only_include = user("Event: Hangup")
    assert only_include.receives(hangup) and not only_include.receives(newexten)
    both = user("Event: Hangup", "!Channel: Local/")  # manager.conf.sample: include first, then exclude
    assert both.receives(hangup) and not both.receives(local) and not both.receives(newexten)
    # a legacy regex is searched in the whole event text: "Event: Hangup" matches HangupRequest too
    assert only_include.receives(ev("HangupRequest", "call,all"))


def test_advanced_filters_name_header_and_methods() -> None:
    f = parse_filter("eventfilter(action(exclude),name(Newchannel),header(Channel),method(starts_with))", "Local/")
    assert f.exclude and f.name == "Newchannel" and f.header == "Channel:" and f.method == "starts_with"
    user = ManagerUser("u", read=frozenset(CLASSES), filters=(f,))
    assert not user.receives(ev("Newchannel", "call,all", ("Channel", "Local/a@b-1;1")))
    assert user.receives(ev("Newchannel", "call,all", ("Channel", "SIP/a-1")))
    assert user.receives(ev("Hangup", "call,all", ("Channel", "Local/a@b-1;1")))  # another name
    varset = parse_filter("eventfilter(name(VarSet),header(Variable),method(regex))", "^_{0,2}WAYBILL$")
    user = ManagerUser("u", read=frozenset(CLASSES), filters=(varset,))
    assert user.receives(ev("VarSet", "dialplan,all", ("Variable", "__WAYBILL")))
    assert not user.receives(ev("VarSet", "dialplan,all", ("Variable", "WAYBILL_OLD")))
    assert not user.receives(ev("Hangup", "call,all"))  # include filters only: nothing else


@pytest.mark.parametrize(("key", "value"), [
    ("eventfilter", ""),  # a legacy filter needs a pattern
    ("eventfilter(name(Hangup),method(none))", "x"),  # none with a pattern
    ("eventfilter(name(Hangup),method(exact))", ""),  # exact without one
    ("eventfilter(action(drop),name(Hangup))", ""),
    ("eventfilter(colour(red))", "x"),
    ("eventfilter(name(Hangup", ""),
    ("eventfilter", "Event: (Hangup"),
])
def test_filters_asterisk_refuses_are_refused(key: str, value: str) -> None:
    with pytest.raises(ManagerConfError):
        parse_filter(key, value)


def test_a_bad_filter_line_is_skipped_with_a_warning_as_asterisk_does() -> None:
    conf = parse_manager_conf("[u]\nsecret = s\nread = all\neventfilter(colour(red)) = x\neventfilter = !Event: X\n")
    assert len(conf.users["u"].filters) == 1 and "line 4" in conf.warnings[0]
    with pytest.raises(ManagerConfError, match="line 1"):
        parse_manager_conf("read = all\n")


def test_channelvars_is_read_in_general_only(old_manager_conf: Path) -> None:
    conf = parse_manager_conf(old_manager_conf.read_text(encoding="utf-8"))
    assert conf.channelvars == ()  # a user section's channelvars is an unknown option in manager.c
    assert parse_manager_conf("[general]\nchannelvars = HOTLINE, LANG\n").channelvars == ("HOTLINE", "LANG")


def test_the_event_classes_hotline_expects_are_asterisks(traces: Path) -> None:
    """Every event Hotline reads has the class Asterisk 20 gave it in the captures (UserEvent, absent
    from them, is EVENT_FLAG_USER in main/stasis.c multi_user_event_to_ami)."""
    assert set(ami_user.EVENT_CLASSES) == set(READ_EVENTS)
    seen: dict[str, set[str]] = {}
    files = [*traces.glob("0[1-6]*.ami"), *(traces / "product-dialplan").glob("*.ami")]
    for f in files:
        for m in parse_all(f.read_bytes()):
            if m.event in ami_user.EVENT_CLASSES:
                seen.setdefault(m.event, set()).add(m.get("Privilege"))
    assert set(seen) == set(READ_EVENTS) - {"UserEvent"}
    for event, privileges in seen.items():
        assert privileges == {f"{ami_user.EVENT_CLASSES[event]},all"}, event
    assert ami_user.EVENT_CLASSES["UserEvent"] == "user"


def test_the_tracker_reads_exactly_the_events_the_generated_user_keeps() -> None:
    assert CallTracker(lambda e: None).handled_events() == set(READ_EVENTS) | {"Newexten", "QueueMember"}


def test_the_generated_user_is_least_privilege_and_keeps_what_hotline_reads() -> None:
    conf = parse_manager_conf(ami_user.manager_conf(secret="s"))
    assert conf.warnings == ()
    user = conf.users["hotline"]
    assert user.write == {"call", "agent", "originate", "reporting"}  # no command, no system
    assert user.read == set(ami_user.READ_CLASSES)
    assert all(user.may_send(a) for a in ami_user.SENT_ACTIONS)
    assert not user.may_send("Command") and not user.may_send("MixMonitor")
    assert ami_user.read_rights(user) == ami_user.RightsReport()
    assert not user.receives(ev("VarSet", "dialplan,all", ("Variable", "AGISTATUS")))
    assert not user.receives(ev("Newexten", "dialplan,all"))
    assert not user.receives(ev("UserEvent", "user,all", ("UserEvent", "SomebodyElses")))


def test_rights_reports_name_what_the_old_generated_user_lacked(old_manager_conf: Path) -> None:
    old = parse_manager_conf(old_manager_conf.read_text(encoding="utf-8")).users["hotline"]
    report = ami_user.read_rights(old)
    assert report.missing_read == ("dtmf",) and report.lacking
    listed = [a for a in ("Ping", "Redirect", "Hangup", "Setvar", "Getvar", "Originate", "QueuePause", "QueueAdd",
                          "QueueRemove", "QueueStatus", "QueueSummary", "CoreShowChannels", "Command", "MixMonitor")]
    writing = ami_user.write_rights(listed)
    assert writing.refused_actions == () and writing.dangerous_write == ("command", "system")
    writing = ami_user.write_rights([a for a in listed if a not in ("QueuePause", "QueueAdd", "QueueRemove")])
    assert writing.refused_actions == ("QueuePause", "QueueAdd", "QueueRemove") and writing.missing_write == ("agent",)


def _session(port: int, username: str, secret: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(f"Action: Login\r\nUsername: {username}\r\nSecret: {secret}\r\n\r\n".encode())
    return sock


def _read_until(sock: socket.socket, needle: bytes, timeout: float = 10.0) -> bytes:
    """What the socket sends until `needle` has come (b"": until `timeout` passes)."""
    data = b""
    sock.settimeout(0.2)
    deadline = time.monotonic() + timeout
    while (not needle or needle not in data) and time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            break
        data += chunk
    return data


def test_each_simulator_session_gets_what_its_user_would(tmp_path: Path) -> None:
    """Two users on one simulator: Hotline's generated one and one reading everything; the same call
    reaches them filtered and whole; an action a user may not write is refused."""
    text = ami_user.manager_conf(secret="s1") + "\n[general]\nchannelvars = HOTLINE\n[all]\nsecret = s2\n" \
                                                "read = all\nwrite = all\n"
    pbx = SimulatedPbx(recordings_dir=str(tmp_path), time_scale=20.0, seed=3, routing="ami", hold_s=0.5)
    pbx.start()
    server = AmiServer(("127.0.0.1", 0), pbx, manager=parse_manager_conf(text))
    server.serve_in_thread()
    try:
        hotline, everything = _session(server.port, "hotline", "s1"), _session(server.port, "all", "s2")
        for sock in (hotline, everything):
            assert b"Authentication accepted" in _read_until(sock, b"FullyBooted")
        script = pbx.start_call("service_answered", talk_s=1)
        deadline = time.monotonic() + 60
        while script.linkedid in pbx.calls and time.monotonic() < deadline:
            time.sleep(0.05)
        assert script.linkedid not in pbx.calls
        got = {name: parse_all(_read_until(sock, b"", 1.0))
               for name, sock in (("hotline", hotline), ("all", everything))}
        filtered = {m.event for m in got["hotline"] if m.event}
        whole = {m.event for m in got["all"] if m.event}
        assert filtered <= set(READ_EVENTS) and {"UserEvent", "DTMFEnd", "Newchannel", "Hangup"} <= filtered
        assert {"Newexten", "RTCPSent", "Cdr", "MusicOnHoldStart"} & whole and not {"Newexten", "Cdr"} & filtered
        assert all(m.get("Variable").lstrip("_") in READ_VARIABLES
                   for m in got["hotline"] if m.event == "VarSet")
        assert any(m.all("ChanVariable") for m in got["all"])  # [general] channelvars = HOTLINE
        hotline.sendall(b"Action: Command\r\nActionID: c1\r\nCommand: core show version\r\n\r\n")
        assert b"ActionID: c1\r\nMessage: Permission denied" in _read_until(hotline, b"ActionID: c1\r\nMessage")
        hotline.close()
        everything.close()
    finally:
        server.shutdown_all()
        pbx.stop()
