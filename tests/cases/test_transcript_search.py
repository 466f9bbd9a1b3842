"""Full-text search over transcripts (cases.search) on SQLite FTS5 and PostgreSQL, Chinese segmented by jieba."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from casesdb_support import BACKENDS, PgSchemas, new_database
from sqlalchemy import delete, func, select, text

from cases import search
from cases.call_records import record_call
from cases.case_records import create_case
from cases.db import Database
from cases.models.call_analysis import TranscriptSegment
from cases.models.calls import Call, Transcript
from cases.search import InvalidSearchQuery, SearchFilters, parse_query, search_transcripts
from cases.transcript_records import attach_transcript
from cases.views import CaseInput
from telephony.records import CallRecord

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

CALL_A = [  # a complaint about a late parcel, spoken waybill
    {"speaker": "agent", "start": 0.4, "end": 2.1, "text": "您好 这里 是 客服 请问 有 什么 可以 帮 您"},
    {"speaker": "customer", "start": 2.6, "end": 7.9, "text": "我的 运单 号 是 SF1234567890 快递 三 天 还 没 到"},
    {"speaker": "customer", "start": 8.5, "end": 11.0, "text": "我 要 投诉 你们 的 快递员 <b>态度</b> 很 差"},
    {"speaker": "agent", "start": 11.5, "end": 13.0, "text": "非常 抱歉 给 您 带来 不便"},
]
CALL_B = [  # an English-speaking customer and a phone number spoken digit by digit
    {"speaker": "customer", "start": 0.5, "end": 4.0, "text": "Hello I need a refund for order ABC-778"},
    {"speaker": "agent", "start": 4.5, "end": 9.0, "text": "您 的 电话 是 幺 三 八 零 零 一 三 八 零 零 零 吗"},
    {"speaker": "customer", "start": 9.5, "end": 10.5, "text": "对 退款 200 元"},
]


def _call(s, linkedid: str, *, at: datetime, agent: str, hotline: str = "service", agents: list[str] | None = None,
          ) -> None:
    record_call(s, CallRecord(linkedid=linkedid, caller="13900001111", outcome="answered", agent=agent,
                                 agents=agents or [agent], hotline=hotline, started_at=at.timestamp(),
                                 ended_at=at.timestamp() + 60))


def _turns(s, linkedid: str, turns: list[dict[str, object]]) -> None:
    attach_transcript(s, linkedid, engine="vosk-turns", model="m", speaker="mixed",
                         text="\n".join(f"{t['speaker']}: {t['text']}" for t in turns),
                         words_json=json.dumps(turns, ensure_ascii=False), duration_s=15.0)


@pytest.fixture
def calls(db: Database) -> Database:
    with db.session() as s:
        _call(s, "A.1", at=T0, agent="agent1001")
        _turns(s, "A.1", CALL_A)
        _call(s, "B.1", at=T0 + timedelta(days=1), agent="agent1002", hotline="claims",
              agents=["agent1003", "agent1002"])
        _turns(s, "B.1", CALL_B)
    return db


def _find(db: Database, q: str, f: SearchFilters | None = None) -> list[tuple[str, str, float]]:
    with db.session() as s:
        return [(h.linkedid, h.speaker, h.start_s) for h in search_transcripts(s, q, f).hits]


def test_chinese_words_find_their_turns(calls: Database) -> None:
    assert _find(calls, "投诉") == [("A.1", "customer", 8.5)]
    assert _find(calls, "运单号") == [("A.1", "customer", 2.6)]  # segmented like the text: 运单 号 in a row
    assert _find(calls, "你们的快递员") == [("A.1", "customer", 8.5)]
    assert _find(calls, "退款") == [("B.1", "customer", 9.5)]
    assert _find(calls, "理赔") == []


def test_waybills_digits_and_english(calls: Database) -> None:
    assert _find(calls, "SF1234567890") == [("A.1", "customer", 2.6)]
    assert _find(calls, "sf1234567890") == [("A.1", "customer", 2.6)]  # case does not matter
    assert _find(calls, "SF1234*") == [("A.1", "customer", 2.6)]  # prefix of a waybill
    assert _find(calls, "refund") == [("B.1", "customer", 0.5)]
    assert _find(calls, "200") == [("B.1", "customer", 9.5)]
    assert _find(calls, "13800138000") == [("B.1", "agent", 4.5)]  # spoken 幺三八… digit by digit


def test_phrases_or_and_not(calls: Database) -> None:
    assert _find(calls, '"运单 号"') == [("A.1", "customer", 2.6)]
    assert _find(calls, '"号 运单"') == []  # a phrase keeps the word order
    assert _find(calls, "投诉 OR 退款") == [("B.1", "customer", 9.5), ("A.1", "customer", 8.5)]  # newest call first
    assert _find(calls, "快递 -投诉") == [("A.1", "customer", 2.6)]
    assert _find(calls, "快递 客服") == []  # AND within one turn


def test_filters(calls: Database) -> None:
    assert _find(calls, "您", SearchFilters(speaker="agent")) == [("B.1", "agent", 4.5), ("A.1", "agent", 0.4),
                                                                  ("A.1", "agent", 11.5)]
    assert _find(calls, "您", SearchFilters(speaker="customer")) == []
    assert {h[0] for h in _find(calls, "您", SearchFilters(hotline="claims"))} == {"B.1"}
    assert {h[0] for h in _find(calls, "您", SearchFilters(agent="agent1001"))} == {"A.1"}
    assert {h[0] for h in _find(calls, "您", SearchFilters(agent="agent1003"))} == {"B.1"}  # in the call's agents
    assert _find(calls, "您", SearchFilters(agent="agent9999")) == []
    day2 = T0 + timedelta(days=1)
    assert {h[0] for h in _find(calls, "您", SearchFilters(since=day2))} == {"B.1"}
    assert {h[0] for h in _find(calls, "您", SearchFilters(until=day2))} == {"A.1"}
    with pytest.raises(InvalidSearchQuery, match="after its start"):
        _find(calls, "您", SearchFilters(since=day2, until=T0))
    with pytest.raises(InvalidSearchQuery, match="time zone"):
        _find(calls, "您", SearchFilters(since=datetime(2026, 11, 2)))
    with pytest.raises(InvalidSearchQuery, match="speaker"):
        _find(calls, "您", SearchFilters(speaker="boss"))


def test_hit_carries_call_case_speaker_offset_and_an_escaped_snippet(calls: Database) -> None:
    with calls.session() as s:
        case = create_case(s, CaseInput(kind="complaint", subject="快递员态度", linkedid="A.1"), "agent1001")
        hit = search_transcripts(s, "态度").hits[0]
    assert (hit.linkedid, hit.speaker, hit.start_s, hit.end_s, hit.agent, hit.hotline) == (
        "A.1", "customer", 8.5, 11.0, "agent1001", "service")
    assert hit.started_at == T0
    assert [(c.id, c.number) for c in hit.cases] == [(case.id, case.number)]
    assert hit.snippet_html() == "我 要 投诉 你们 的 快递员 &lt;b&gt;<mark>态度</mark>&lt;/b&gt; 很 差"
    assert [p.text for p in hit.snippet if p.hit] == ["态度"]
    as_json = hit.to_json_dict()
    assert as_json["cases"] == [{"id": case.id, "number": case.number}] and "<b>" not in as_json["snippet_html"]


def test_long_turn_snippet_is_a_window_around_the_match(db: Database) -> None:
    long_text = " ".join(["好的"] * 80) + " 赔偿 " + " ".join(["明白"] * 80)
    with db.session() as s:
        _call(s, "L.1", at=T0, agent="agent1001")
        _turns(s, "L.1", [{"speaker": "customer", "start": 1.0, "end": 90.0, "text": long_text}])
        hit = search_transcripts(s, "赔偿").hits[0]
    parts = hit.snippet
    assert parts[0].text == "…" and parts[-1].text == "…"
    assert [p.text for p in parts if p.hit] == ["赔偿"]
    assert sum(len(p.text) for p in parts) < 100


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ('"运单', "not closed"),
        ("OR 投诉", "both sides"),
        ("投诉 OR", "both sides"),
        ("投诉 OR OR 退款", "both sides"),
        ("-投诉", "not only excluded"),
        ("投*诉", "only end a word"),
        ("a*", "at least 2"),
        ("，。！", "nothing to search for"),
        ("x" * 201, "longer than"),
        (" ".join(["词"] * 13), "at most 12"),
    ],
)
def test_bad_queries_say_why(query: str, reason: str) -> None:
    with pytest.raises(InvalidSearchQuery, match=reason):
        parse_query(query)


def test_fts_syntax_in_user_text_is_only_text(calls: Database) -> None:
    for q in ['NEAR(投诉 快递)', 'tokens:投诉', '投诉^', "投诉' OR 1=1 --", "a) & !(b", "\\'x", "投诉 ^ :* <->"]:
        try:
            _find(calls, q)  # never a database error: hits or a clear InvalidSearchQuery
        except InvalidSearchQuery as exc:
            assert str(exc)
    assert _find(calls, "NEAR(投诉") == []


def test_index_follows_insert_update_and_delete(db: Database) -> None:
    with db.session() as s:
        _call(s, "U.1", at=T0, agent="agent1001")
        attach_transcript(s, "U.1", engine="vosk", model="m", speaker="caller", text="我 要 赔偿",
                             words_json="[]", duration_s=3.0)
    assert _find(db, "赔偿") == [("U.1", "customer", 0.0)]
    with db.session() as s:
        t = s.scalars(select(Transcript)).one()
        t.text = "我 要 律师"
    assert _find(db, "赔偿") == [] and _find(db, "律师") == [("U.1", "customer", 0.0)]
    with db.session() as s:
        s.delete(s.scalars(select(Transcript)).one())
    assert _find(db, "律师") == []
    with db.session() as s:
        attach_transcript(s, "U.1", engine="vosk", model="m", speaker="agent", text="您好", words_json="[]",
                             duration_s=None)
        s.execute(delete(Call))  # SQL delete: foreign-key cascade, FTS5 triggers
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(TranscriptSegment)) == 0
    assert _find(db, "您好") == []


def test_word_timings_make_turns_and_the_turns_transcript_is_not_indexed_twice(db: Database) -> None:
    caller_words = [{"word": "我的", "start": 1.0, "end": 1.3}, {"word": "快递", "start": 1.3, "end": 1.8},
                    {"word": "丢", "start": 1.8, "end": 2.0}, {"word": "了", "start": 2.0, "end": 2.1},
                    {"word": "赔偿", "start": 5.0, "end": 5.6}]
    agent_words = [{"word": "您好", "start": 0.1, "end": 0.6}]
    turns = [{"speaker": "agent", "start": 0.1, "end": 0.6, "text": "您好"},
             {"speaker": "customer", "start": 1.0, "end": 2.1, "text": "我的 快递 丢 了"},
             {"speaker": "customer", "start": 5.0, "end": 5.6, "text": "赔偿"}]
    with db.session() as s:
        _call(s, "W.1", at=T0, agent="agent1001")
        attach_transcript(s, "W.1", engine="vosk", model="m", speaker="caller", text="我的 快递 丢 了 赔偿",
                             words_json=json.dumps(caller_words, ensure_ascii=False), duration_s=6.0)
        attach_transcript(s, "W.1", engine="vosk", model="m", speaker="agent", text="您好",
                             words_json=json.dumps(agent_words, ensure_ascii=False), duration_s=6.0)
    assert _find(db, "赔偿") == [("W.1", "customer", 5.0)]
    assert _find(db, "快递") == [("W.1", "customer", 1.0)]  # cut at the 2.9 s pause
    with db.session() as s:
        _turns(s, "W.1", turns)
        assert s.scalar(select(func.count()).select_from(TranscriptSegment)) == 3
    assert _find(db, "赔偿") == [("W.1", "customer", 5.0)]


def test_limit_offset_and_has_more(db: Database) -> None:
    with db.session() as s:
        for i in range(5):
            _call(s, f"P.{i}", at=T0 + timedelta(minutes=i), agent="agent1001")
            _turns(s, f"P.{i}", [{"speaker": "customer", "start": 1.0, "end": 2.0, "text": "查询 快递"}])
        first = search_transcripts(s, "快递", limit=2)
        last = search_transcripts(s, "快递", limit=2, offset=4)
        with pytest.raises(InvalidSearchQuery, match="limit"):
            search_transcripts(s, "快递", limit=0)
    assert [h.linkedid for h in first.hits] == ["P.4", "P.3"] and first.has_more
    assert [h.linkedid for h in last.hits] == ["P.0"] and not last.has_more


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_backfills_transcripts_stored_before_it(
    backend: str, tmp_path: Path, pg_schemas: PgSchemas
) -> None:
    db = new_database(backend, "backfill", tmp_path, pg_schemas)
    try:
        db.migrate("0003")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO calls (id, linkedid, caller, caller_norm, caller_name, dialed, digits, "
                              "outcome, agents, rang, reconciled, created_at, updated_at) VALUES (1, 'OLD.1', '', '', "
                              "'', '', '', 'answered', '[]', '[]', false, :t, :t)"), {"t": T0})
            conn.execute(text("INSERT INTO transcripts (call_id, engine, model, speaker, text, words, created_at) "
                              "VALUES (1, 'vosk-turns', 'm', 'mixed', '', :w, :t)"),
                         {"w": json.dumps(CALL_A, ensure_ascii=False), "t": T0})
        db.migrate()
        assert _find(db, "投诉") == [("OLD.1", "customer", 8.5)]
        assert _find(db, "SF1234567890") == [("OLD.1", "customer", 2.6)]
    finally:
        db.dispose()


def test_segmenter_is_jieba_and_loads_once() -> None:
    from cases import segment

    stats = segment.warm_up()
    assert segment.warm_up() is stats and stats.load_s > 0
    assert segment.query_tokens("运单号SF1234567890") == ["运单", "号", "sf1234567890"]
    assert segment.query_tokens("请问 运单 号") == segment.query_tokens("请问运单号")
    assert "13800" in segment.index_tokens("幺 三 八 零 零").split()
    assert search.fts5_expression(parse_query('运单号 "快递" -丢 SF12*')) == (
        '((("运单" + "号")) AND ("快递") AND ("sf12" *)) NOT "丢"')


QUERY_ALPHABET = list("投诉运单号快递员 \"'-*():^&|!<>\\%_.#+,，。OR") + ["OR", "NEAR", "AND", "NOT", "SF12", "1380"]
QUERY_ALPHABET += ["\x00", "\t", "\u200b", "é", "Ａ", "١٢"]


def test_any_query_gives_hits_or_a_clear_error(calls: Database) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.sampled_from(QUERY_ALPHABET), max_size=12).map("".join))
    def check(query: str) -> None:
        try:
            hits = _find(calls, query)
        except InvalidSearchQuery as exc:
            assert str(exc)
        else:
            assert all(h[0] in ("A.1", "B.1") for h in hits)

    check()
