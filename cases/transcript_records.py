"""Transcripts of recorded calls: attaching one to a stored call, and reading a call's back. Importing
this module registers the transcript search index's listeners (`cases.search`), so every transcript
stored here is indexed in the same transaction."""

from __future__ import annotations

import json
import logging
import math

from sqlalchemy.orm import Session

from cases import search as _search  # noqa: F401  (registers the transcript index listeners)
from cases.call_records import call_by_linkedid
from cases.errors import CallNotFound, InvalidTranscriptInput
from cases.inputs import parse_enum
from cases.models.base import utcnow
from cases.models.calls import Transcript
from cases.views import TranscriptView
from cases.vocab import Speaker

log = logging.getLogger(__name__)


def transcript_view(t: Transcript, linkedid: str) -> TranscriptView:
    return TranscriptView(
        id=t.id,
        linkedid=linkedid,
        engine=t.engine,
        model=t.model,
        speaker=Speaker(t.speaker),
        text=t.text,
        words_json=json.dumps(t.words, ensure_ascii=False, sort_keys=True),
        duration_s=t.duration_s,
        created_at=t.created_at,
    )



def transcripts_for_call(s: Session, linkedid: str) -> tuple[TranscriptView, ...]:
    """The call's transcripts, oldest first (empty if the call is unknown)."""
    call = call_by_linkedid(s, linkedid)
    return tuple(transcript_view(t, call.linkedid) for t in call.transcripts) if call is not None else ()



def attach_transcript(
    s: Session,
    linkedid: str,
    *,
    engine: str,
    model: str,
    speaker: str,
    text: str,
    words_json: str,
    duration_s: float | None,
) -> TranscriptView:
    """Store a transcript of a recorded call; `CallNotFound` if the call is unknown.

    `words_json` is a JSON array (e.g. Vosk's word list) and is stored as JSON.
    """
    call = call_by_linkedid(s, linkedid)
    if call is None:
        raise CallNotFound(f"call {linkedid!r} does not exist")
    spk = parse_enum(Speaker, speaker, "speaker", InvalidTranscriptInput)
    engine_name = (engine or "").strip()
    if not engine_name or len(engine_name) > 50:
        raise InvalidTranscriptInput("engine must be 1-50 characters")
    if len(model or "") > 200:
        raise InvalidTranscriptInput("model must be at most 200 characters")
    try:
        words = json.loads(words_json)
    except (TypeError, ValueError) as exc:
        raise InvalidTranscriptInput(f"words_json is not JSON: {exc}") from None
    if not isinstance(words, list):
        raise InvalidTranscriptInput("words_json must be a JSON array")
    if duration_s is not None and (not math.isfinite(duration_s) or duration_s < 0):
        raise InvalidTranscriptInput(f"duration_s must be a non-negative number, got {duration_s!r}")
    transcript = Transcript(
        call=call,
        engine=engine_name,
        model=model or "",
        speaker=spk.value,
        text=text or "",
        words=words,
        duration_s=duration_s,
        created_at=utcnow(),
    )
    s.add(transcript)
    s.flush()
    log.info("transcript %s (%s, %s) attached to call %s", transcript.id, engine_name, spk.value, linkedid)
    return transcript_view(transcript, call.linkedid)

