"""AMI framing on what real links deliver."""

from __future__ import annotations

import random
from pathlib import Path

from telephony.frames import FrameParser, parse_all

T01 = "01-service-hotline-dtmf1-agent-answers-caller-hangs-up.ami"


def test_any_split_of_a_real_capture_gives_the_same_messages(traces: Path) -> None:
    data = (traces / T01).read_bytes()
    whole = [m.fields for m in parse_all(data)]
    rng = random.Random(1)
    for _ in range(20):
        parser = FrameParser()
        got = []
        pos = 0
        while pos < len(data):
            n = rng.randint(1, 700)
            got.extend(m.fields for m in parser.feed(data[pos : pos + n]))
            pos += n
        assert got == whole
    assert len(whole) == 139 and sum(1 for f in whole if "Event" in f) == 137


def test_utf8_caller_name_split_inside_a_character() -> None:
    frame = "Event: Newchannel\r\nCallerIDName: 홍길동\r\nUniqueid: 1.1\r\n\r\n".encode()
    cut = frame.index("길".encode()) + 1  # in the middle of a 3-byte character
    parser = FrameParser()
    assert parser.feed(frame[:cut]) == []
    [msg] = parser.feed(frame[cut:])
    assert msg["CallerIDName"] == "홍길동"


def test_stray_crlf_lf_only_and_garbage_lines_do_not_lose_frames() -> None:
    stream = (
        b"Asterisk Call Manager/9.0.0\r\n"
        b"\r\n\r\nEvent: A\r\nUniqueid: 1\r\n\r\n"  # stray CRLFs before a frame
        b"garbage without a colon\r\nEvent: B\r\nUniqueid:2\r\n\r\n"  # garbage line; no space after colon
        b"Event: C\nUniqueid: 3\n\n"  # LF-only frame
        b"Event: D\r\nUniqueid: 4\r\n\r\n"
    )
    parser = FrameParser()
    msgs = parser.feed(stream)
    assert [(m.event, m.get("Uniqueid")) for m in msgs] == [("A", "1"), ("B", "2"), ("C", "3"), ("D", "4")]
    assert parser.stats.garbage_lines == 1
    assert parser.stats.banner == "Asterisk Call Manager/9.0.0"


def test_oversized_frame_is_dropped_and_the_stream_goes_on() -> None:
    parser = FrameParser(max_frame=1000)
    big = b"Event: Big\r\n" + b"X: " + b"y" * 5000 + b"\r\n\r\n"
    out = []
    for i in range(0, len(big), 512):
        out += parser.feed(big[i : i + 512])
    out += parser.feed(b"Event: After\r\nUniqueid: 9\r\n\r\n")
    assert [m.event for m in out] == ["After"]
    assert parser.stats.oversized_frames == 1


def test_repeated_keys_are_kept() -> None:
    [m] = parse_all(b"Event: X\r\nChanVariable: HOTLINE=service\r\nChanVariable: WAYBILL=1\r\n\r\n")
    assert m.all("ChanVariable") == ["HOTLINE=service", "WAYBILL=1"]
    assert m.keys_in_order() == ["Event", "ChanVariable", "ChanVariable"]


def test_response_inside_an_event_is_not_a_response() -> None:
    [m] = parse_all(b"Event: OriginateResponse\r\nResponse: Success\r\nActionID: a\r\n\r\n")
    assert m.event == "OriginateResponse" and m.response is None
