"""Speaker turns from per-speaker transcripts, and the live tap's AMI Originates as data."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from transcripts.engine import Transcript, VoskEngine, Word
from transcripts.live import LiveTapError, originate_text, stream_uuid_of_channel, tap_call
from transcripts.turns import AGENT, CUSTOMER, UNKNOWN, Turn, build_turns, talk_over, turns_json, turns_text

FIX = Path(__file__).parent / "fixtures" / "audiosocket"


def tr(speaker: str, *words: tuple[str, float, float], duration: float = 10.0) -> Transcript:
    ws = tuple(Word(w, s, e, 1.0) for w, s, e in words)
    return Transcript(" ".join(w.word for w in ws), ws, duration, 8000, "m", speaker=speaker)


def test_turns_split_at_pauses_and_interleave_in_time_order() -> None:
    caller = tr("caller", ("你好", 0.5, 0.9), ("我的", 1.0, 1.3), ("快递", 3.0, 3.4))
    agent = tr("agent", ("您好", 1.8, 2.2), ("请讲", 5.0, 5.3))
    turns = build_turns([caller, agent])
    assert [(t.speaker, t.start, t.end, t.text) for t in turns] == [
        (CUSTOMER, 0.5, 1.3, "你好 我的"),
        (AGENT, 1.8, 2.2, "您好"),
        (CUSTOMER, 3.0, 3.4, "快递"),
        (AGENT, 5.0, 5.3, "请讲"),
    ]
    assert talk_over(turns) == []
    assert json.loads(turns_json(turns))[0] == {"speaker": "customer", "start": 0.5, "end": 1.3, "text": "你好 我的"}
    assert turns_text(turns).splitlines()[1] == "agent: 您好"
    # a longer allowed pause keeps the caller's words in one turn
    assert len(build_turns([caller], max_pause_s=2.0)) == 1


def test_overlapping_speech_is_talk_over() -> None:
    turns = build_turns([tr("caller", ("喂", 1.0, 3.0)), tr("agent", ("您好", 2.5, 4.0)), tr("mixed", ("x", 9, 9.5))])
    found = talk_over(turns)
    assert len(found) == 1 and found[0][2] == pytest.approx(0.5)
    assert talk_over(turns, min_overlap_s=0.6) == []
    assert turns[-1].speaker == UNKNOWN


def test_stereo_transcript_and_text_without_words() -> None:
    stereo = Transcript("", (), 4.0, 8000, "m", speaker="caller+agent",
                        channels=(tr("caller", ("a", 0, 1)), tr("agent", ("b", 2, 3))))
    assert [t.speaker for t in build_turns([stereo])] == [CUSTOMER, AGENT]
    no_words = Transcript("整段文字", (), 7.5, 8000, "m", speaker="agent")
    assert build_turns([no_words]) == (Turn(AGENT, 0.0, 7.5, "整段文字"),)
    assert build_turns([tr("caller")]) == ()
    with pytest.raises(ValueError):
        build_turns([], max_pause_s=-1)


def test_turns_of_a_real_mixmonitor_recording_match_who_spoke_when(steady_engine: VoskEngine, recordings: Path) -> None:
    notes = json.loads((recordings / "run-notes.json").read_text())
    parts = {"caller": recordings / "mm-1796029431.41-rx.wav", "agent": recordings / "mm-1796029431.41-tx.wav"}
    turns = build_turns(steady_engine.transcribe_call(parts))
    speakers = [t.speaker for t in turns]
    assert speakers[0] == AGENT and speakers[-1] == CUSTOMER  # the agent greets first, then the caller speaks
    assert speakers == sorted(speakers)  # "agent" < "customer": all agent turns come before the caller's
    assert talk_over(turns) == []  # they spoke one after the other
    for speaker, media in ((AGENT, notes["agent_media"]), (CUSTOMER, notes["caller_media"])):
        (voice,) = [m for m in media if m["segment"][0] == "voice"]
        mine = [t for t in turns if t.speaker == speaker]
        assert mine[0].start == pytest.approx(voice["start_s"], abs=0.5)
        assert mine[-1].end == pytest.approx(voice["end_s"], abs=0.9)  # a last word may run to the end
        for turn in mine:
            assert turn.text and all(turn.start <= w.start <= w.end <= turn.end for w in turn.words)


def test_real_overlap_capture_shows_talk_over(steady_engine: VoskEngine) -> None:
    parts = {
        "caller": FIX / "as-tap-overlap-1-caller-only-chanspy-o.audio.wav",
        "agent": FIX / "as-tap-overlap-2-agent-only-chanspy-o.audio.wav",
    }
    turns = build_turns(steady_engine.transcribe_call(parts))
    assert {t.speaker for t in turns} == {CUSTOMER, AGENT}
    assert talk_over(turns, min_overlap_s=0.5)  # the caller started at 2.0 s while the agent talked


def _sent_originates() -> dict[str, dict[str, str]]:
    actions: dict[str, dict[str, str]] = {}
    for block in (FIX / "as-tap-queue-call.ami.sent").read_text().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.strip().splitlines())
        if fields.get("Action") == "Originate":
            actions[fields["ActionID"]] = fields
    return actions


def _agent_connect() -> dict[str, str]:
    text = (FIX / "as-tap-queue-call.ami.ami").read_text(errors="replace").replace("\r\n", "\n")
    block = next(b for b in text.split("\n\n") if "Event: AgentConnect" in b)
    return dict(line.split(": ", 1) for line in block.strip().splitlines() if ": " in line)


def test_originates_equal_the_ones_verified_on_real_asterisk() -> None:
    sent = _sent_originates()
    real = {CUSTOMER: sent["as-tap-1-caller-only-chanspy-o"], AGENT: sent["as-tap-2-agent-only-chanspy-o"]}
    uuids = iter(uuid.UUID(real[s]["Channel"].rsplit("/", 1)[1]) for s in (CUSTOMER, AGENT))
    event = _agent_connect()
    customer, agent = tap_call(
        event["Linkedid"], event["Uniqueid"], event["DestUniqueid"], new_uuid=lambda: next(uuids)
    )
    for stream in (customer, agent):
        fields = dict(stream.originate_fields("127.0.0.1", 9092))
        for key in ("Action", "Channel", "Application", "Data", "Timeout", "Async"):
            assert fields[key] == real[stream.speaker][key], key
    assert customer.linkedid == agent.linkedid == "1796029404.29"
    # the AudioSocket channel named in the events maps back to the stream
    text = (FIX / "as-tap-queue-call.ami.ami").read_text(errors="replace")
    names = set(re.findall(r"Channel: (AudioSocket/\S+)", text))
    mapped = {stream_uuid_of_channel(n) for n in names}
    assert customer.stream_uuid in mapped and agent.stream_uuid in mapped
    wire = originate_text(customer.originate_fields("127.0.0.1", 9092))
    assert wire.startswith("Action: Originate\r\n") and wire.endswith("Async: true\r\n\r\n")


def test_tap_input_errors() -> None:
    with pytest.raises(LiveTapError, match="Uniqueid"):
        tap_call("1.1", "SIP/carrier-0001", "1.2")
    with pytest.raises(LiveTapError, match="same channel"):
        tap_call("1.1", "1.2", "1.2")
    customer, _ = tap_call("1.1", "1.2", "1.3")
    with pytest.raises(LiveTapError, match="port"):
        customer.originate_fields("127.0.0.1", 0)
    with pytest.raises(LiveTapError, match="host"):
        customer.originate_fields("evil/host", 9092)
    assert dict(customer.originate_fields("::1", 9092))["Channel"].startswith("AudioSocket/[::1]:9092/")
    assert dict(customer.originate_fields("10.0.0.5", 9092, slin16=True))["Channel"].endswith("/c(slin16)")
    with pytest.raises(LiveTapError, match="line break"):
        originate_text([("Data", "x\r\nAction: Hangup")])
    assert stream_uuid_of_channel("SIP/agent1001-00000011") is None


def test_queue_result_gives_turns_ready_to_store() -> None:
    from transcripts.jobs import TranscriptionResult

    parts = [tr("agent", ("您好", 0.2, 0.6)), tr("caller", ("喂", 1.0, 1.2))]
    result = TranscriptionResult("1.1", Path("x.wav"), parts, 0.1)
    assert [t.speaker for t in result.turns] == [AGENT, CUSTOMER]
    assert json.loads(result.turns_json())[1] == {"speaker": "customer", "start": 1.0, "end": 1.2, "text": "喂"}
