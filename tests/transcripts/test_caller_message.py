"""IVR messages (RECORD FILE, caller only): transcribed as the customer's words, wav and raw slin."""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from transcripts.caller_message import transcribe_caller_message
from transcripts.engine import VoskEngine
from transcripts.errors import AudioFormatError, RecordingNotFound
from transcripts.jobs import TranscriptionQueue


def test_message_is_the_customers_words(
    steady_engine: VoskEngine, tmp_path: Path, say: Callable[[str, int], Path]
) -> None:
    wav = say("배송 조회 상담원", 8000)
    message = transcribe_caller_message(steady_engine, wav)
    # The same words Vosk gives for the file (the engine's own single-file path, no speaker logic).
    assert message.text == steady_engine.transcribe_wav(wav).text
    assert message.text != ""
    assert message.speaker == "customer" and message.transcript.speaker == "caller"
    assert message.turns and {t.speaker for t in message.turns} == {"customer"}
    assert " ".join(t.text for t in message.turns) == message.text
    assert '"speaker": "customer"' in message.turns_json()
    assert message.recording == wav

    # RECORD FILE with format sln: headerless 8 kHz 16-bit; same audio, same words.
    with wave.open(str(wav), "rb") as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        frames = w.readframes(w.getnframes())
    sln = tmp_path / "complaint-1796026732.0.sln"
    sln.write_bytes(frames)
    assert transcribe_caller_message(steady_engine, sln).text == message.text


def test_bad_messages_get_named_errors(steady_engine: VoskEngine, tmp_path: Path) -> None:
    with pytest.raises(RecordingNotFound, match="IVR message recording not found: .*gone.wav"):
        transcribe_caller_message(steady_engine, tmp_path / "gone.wav")
    gsm = tmp_path / "claim-1.gsm"
    gsm.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(AudioFormatError, match=str(gsm)):
        transcribe_caller_message(steady_engine, gsm)


def test_queue_shares_its_engine(steady_engine: VoskEngine, say: Callable[[str, int], Path]) -> None:
    made: list[int] = []

    def factory() -> VoskEngine:
        made.append(1)
        return steady_engine

    q = TranscriptionQueue(factory, lambda r: None, lambda j, e: None)
    try:
        assert made == []
        path = say("상담원", 8000)
        message = transcribe_caller_message(q.engine(), path)
        assert message.text == steady_engine.transcribe_wav(path).text != ""
        assert q.engine() is steady_engine and made == [1]  # created once, on first use
    finally:
        q.stop()
