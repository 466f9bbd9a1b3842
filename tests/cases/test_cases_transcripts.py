"""attach_transcript and reading transcripts back."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from cases.call_records import record_call
from cases.db import Database
from cases.errors import CallNotFound, InvalidTranscriptInput
from cases.models.calls import Transcript
from cases.transcript_records import attach_transcript, transcripts_for_call
from telephony.records import CallRecord

WORDS = [
    {"word": "我的", "start": 0.12, "end": 0.4, "conf": 0.93},
    {"word": "货", "start": 0.4, "end": 0.6, "conf": 1.0},
]


@pytest.fixture
def call(db: Database) -> str:
    with db.session() as s:
        record_call(s, CallRecord(linkedid="T.1", caller="49305551002", outcome="answered", recording="/r/T.1.wav"))
    return "T.1"


def test_attach_transcript_round_trips(db: Database, call: str) -> None:
    with db.session() as s:
        view = attach_transcript(
            s,
            call,
            engine="vosk",
            model="vosk-model-small-cn-0.22",
            speaker="caller",
            text="我的 货",
            words_json=json.dumps(WORDS, ensure_ascii=False),
            duration_s=2.5,
        )
        attach_transcript(
            s, call, engine="vosk", model="m", speaker="agent", text="您好", words_json="[]", duration_s=None
        )
    assert (view.linkedid, view.engine, view.model, view.speaker) == (
        "T.1",
        "vosk",
        "vosk-model-small-cn-0.22",
        "caller",
    )
    assert view.created_at.tzinfo is not None
    with db.session() as s:
        stored = transcripts_for_call(s, call)
        assert transcripts_for_call(s, "unknown") == ()
    assert [t.speaker for t in stored] == ["caller", "agent"]
    assert stored[0] == view
    assert json.loads(stored[0].words_json) == WORDS
    assert stored[0].text == "我的 货" and stored[0].duration_s == 2.5
    assert stored[1].duration_s is None and json.loads(stored[1].words_json) == []


def test_transcript_needs_an_existing_call(db: Database) -> None:
    with db.session() as s, pytest.raises(CallNotFound, match="'nope'"):
        attach_transcript(
            s, "nope", engine="vosk", model="m", speaker="mixed", text="x", words_json="[]", duration_s=1.0
        )
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Transcript)) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"speaker": "robot"}, "unknown speaker 'robot'; expected one of: caller, agent, mixed"),
        ({"words_json": "{not json"}, "words_json is not JSON"),
        ({"words_json": '{"word": "x"}'}, "must be a JSON array"),
        ({"engine": " "}, "engine must be"),
        ({"duration_s": -1.0}, "duration_s must be a non-negative number"),
        ({"duration_s": float("nan")}, "duration_s must be a non-negative number"),
    ],
)
def test_invalid_transcripts_are_refused(db: Database, call: str, change: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "engine": "vosk",
        "model": "m",
        "speaker": "mixed",
        "text": "x",
        "words_json": "[]",
        "duration_s": 1.0,
    }
    args.update(change)
    with db.session() as s, pytest.raises(InvalidTranscriptInput, match=message):
        attach_transcript(s, call, **args)  # type: ignore[arg-type]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Transcript)) == 0
