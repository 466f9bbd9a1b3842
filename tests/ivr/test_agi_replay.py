"""Our FastAGI server against the real Asterisk 20 captures, byte for byte: for each captured
session a script issuing the same commands through `ivr.agi.AgiSession` must send exactly the
captured `to-asterisk.raw` when fed the captured `from-asterisk.raw`, and must read every reply
form right (results, digits, `(timeout)`, `endpos`, 510/511/520, the HANGUP line)."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator

import pytest

from ivr.agi import AgiHangup, AgiInvalidCommand, AgiSession, AgiUsageError
from ivr.server import AgiServer
from tests.ivr.conftest import replay_against

Seen = dict[str, object]


def lab_01(s: AgiSession, seen: Seen) -> None:
    assert s.env is not None
    seen["env"] = s.env
    seen["answer"] = s.answer().value
    seen["verbose"] = s.verbose("FastAGI lab session 1 (service?lang=zh)", 1).value
    seen["set"] = s.set_variable("LABVAR", "hello world").value
    seen["labvar"] = s.get_variable("LABVAR")
    seen["unset"] = s.get_variable("NO_SUCH_VARIABLE")
    seen["language"] = s.get_variable("CHANNEL(language)")
    seen["full"] = s.get_full_variable("${CALLERID(num)} / ${HOTLINE} / ${LABVAR}")
    seen["status"] = s.channel_status()
    seen["status_unknown"] = s.channel_status("SIP/no-such-channel-00000000")
    r = s.stream_file("vm-intro", "0123456789*#")
    seen["stream_key"] = (r.digit, r.endpos)
    r = s.stream_file("hello")
    seen["stream_end"] = (r.value, r.digit, r.endpos)
    r = s.stream_file("no-such-prompt")
    seen["stream_missing"] = (r.value, r.endpos)
    seen["say"] = s.say_digits("4711").value
    seen["exec"] = s.exec("Playback", "beep").value
    seen["exec_unknown"] = s.exec("NoSuchApplication", "foo").value
    try:
        s.command("FOOBAR something")
    except AgiInvalidCommand as exc:
        seen["510"] = exc.code
    try:
        s.command("WAIT FOR DIGIT")
    except AgiUsageError as exc:
        seen["520"] = exc.message
    s.verbose("session 1 done", 1)
    seen["hangup_seen"] = s.hangup_seen


def lab_02(s: AgiSession, seen: Seen) -> None:
    seen["hash"] = s.get_data("beep", 4000, 4)
    seen["nothing"] = s.get_data("beep", 3000, 4)
    seen["wait_key"] = s.wait_for_digit(5000)
    seen["wait_none"] = s.wait_for_digit(2000)
    seen["max"] = s.get_data("beep", 3000, 2)
    seen["one_then_timeout"] = s.get_data("beep", 3000, 4)


def lab_03(s: AgiSession, seen: Seen) -> None:
    rec = "/var/spool/asterisk/agi-rec/agi-03-record-"
    r = s.record_file(rec + "silence-085901", "wav", "#", 20000, silence_s=2)
    seen["silence"] = (r.value, r.data, r.endpos, r.digit)
    r = s.record_file(rec + "timeout-085901", "wav", "#", 3000)
    seen["timeout"] = (r.value, r.data, r.endpos)
    r = s.record_file(rec + "dtmf-085901", "wav", "#", 15000)
    seen["dtmf"] = (r.digit, r.data, r.endpos)
    s.stream_file("auth-thankyou")


def lab_04(s: AgiSession, seen: Seen) -> None:
    assert s.env is not None
    seen["env"] = s.env
    seen["hotline"] = s.get_variable("HOTLINE")
    s.say_digits("123")
    seen["hangup"] = s.hangup().value
    try:
        s.stream_file("hello")
    except AgiHangup:
        seen["511"] = True
    seen["after"] = s.get_variable("HOTLINE")
    s.verbose("claims session after hangup", 1)


def lab_05(s: AgiSession, seen: Seen) -> None:
    hangups = 0
    for call in (lambda: s.get_data("vm-intro", 10000, 4), lambda: s.stream_file("hello"),
                 lambda: s.get_data("beep", 3000, 4)):
        try:
            call()
        except AgiHangup:
            hangups += 1
    seen["hangups"] = hangups
    seen["hotline"] = s.get_variable("HOTLINE")
    seen["full"] = s.get_full_variable("${CHANNEL} ${HANGUPCAUSE}")
    s.verbose("still talking to a dead channel", 1)
    seen["hangup_seen"] = s.hangup_seen


LABS: dict[str, tuple[str, Callable[[AgiSession, Seen], None]]] = {
    "agi-01-service-basics": ("service", lab_01),
    "agi-02-service-getdata": ("service", lab_02),
    "agi-03-service-record": ("service", lab_03),
    "agi-04-claims-args-agi-hangup": ("claims", lab_04),
    "agi-05-service-caller-hangs-up-in-get-data": ("service", lab_05),
}


@pytest.fixture
def lab_server() -> Iterator[tuple[AgiServer, queue.Queue[Seen]]]:
    """A server whose `service` and `claims` scripts run the lab script named by the test."""
    results: queue.Queue[Seen] = queue.Queue()
    current: list[Callable[[AgiSession, Seen], None]] = []

    def run(s: AgiSession) -> None:
        seen: Seen = {}
        try:
            current[0](s, seen)
        finally:
            results.put(seen)

    server = AgiServer({"service": run, "claims": run}, port=0)
    server.current = current  # type: ignore[attr-defined]
    with server:
        yield server, results


def _replay(lab_server: tuple[AgiServer, queue.Queue[Seen]], name: str) -> Seen:
    server, results = lab_server
    server.current[:] = [LABS[name][1]]  # type: ignore[attr-defined]
    res = replay_against(server.port, name)
    assert res.received == res.expected
    assert res.half_closed, "the server must end the session with a half-close"
    return results.get(timeout=5)


def test_session_1_basics_byte_for_byte(lab_server: tuple[AgiServer, queue.Queue[Seen]]) -> None:
    seen = _replay(lab_server, "agi-01-service-basics")
    env = seen["env"]
    assert env.script == "service" and env.query == {"lang": "zh"}  # type: ignore[attr-defined]
    assert env.uniqueid == "1796029115.0" and env.callerid == "49305558101"  # type: ignore[attr-defined]
    assert env.get("accountcode") == "" and env.dnid == "4008101" and env.args == ()  # type: ignore[attr-defined]
    assert env.items[0] == ("network", "yes") and len(env.items) == 22  # type: ignore[attr-defined]
    assert seen["answer"] == 0 and seen["verbose"] == 1 and seen["set"] == 1
    assert seen["labvar"] == "hello world" and seen["unset"] is None and seen["language"] == "en"
    assert seen["full"] == "49305558101 / agi-service / hello world"
    assert seen["status"] == 6 and seen["status_unknown"] == -1
    assert seen["stream_key"] == ("5", 21280)
    assert seen["stream_end"] == (0, None, 6400)
    assert seen["stream_missing"] == (-1, 0)
    assert seen["say"] == 0 and seen["exec"] == 0 and seen["exec_unknown"] == -2
    assert seen["510"] == 510
    usage = str(seen["520"])
    assert usage.startswith("Invalid command syntax.") and "<replaceable>timeout</replaceable>" in usage
    assert seen["hangup_seen"] is False


def test_session_2_get_data_and_wait_for_digit(lab_server: tuple[AgiServer, queue.Queue[Seen]]) -> None:
    seen = _replay(lab_server, "agi-02-service-getdata")
    assert seen["hash"] == ("123", False)
    assert seen["nothing"] == ("", True)
    assert seen["wait_key"] == "7" and seen["wait_none"] is None
    assert seen["max"] == ("45", False)
    assert seen["one_then_timeout"] == ("9", True)


def test_session_3_record_file(lab_server: tuple[AgiServer, queue.Queue[Seen]]) -> None:
    seen = _replay(lab_server, "agi-03-service-record")
    assert seen["silence"] == (13323, "timeout", 45440, None)  # remaining ms, not a key
    assert seen["timeout"] == (0, "timeout", 24000)
    assert seen["dtmf"] == ("#", "dtmf", 42560)


def test_session_4_args_agi_hangup_and_511(lab_server: tuple[AgiServer, queue.Queue[Seen]]) -> None:
    seen = _replay(lab_server, "agi-04-claims-args-agi-hangup")
    env = seen["env"]
    assert env.script == "claims" and env.args == ("arg1", "arg2")  # type: ignore[attr-defined]
    assert seen["hotline"] == "agi-claims" and seen["hangup"] == 1
    assert seen["511"] is True and seen["after"] == "agi-claims"


def test_session_5_caller_hangs_up_in_get_data(lab_server: tuple[AgiServer, queue.Queue[Seen]]) -> None:
    seen = _replay(lab_server, "agi-05-service-caller-hangs-up-in-get-data")
    assert seen["hangups"] == 3  # -1 in GET DATA, then 511 twice
    assert seen["hotline"] == "agi-service" and seen["full"] == "SIP/carrier-00000004 0"
    assert seen["hangup_seen"] is True
