"""Full-text search over call transcripts (SQLite FTS5 or PostgreSQL tsvector), Chinese segmented by jieba.

The index: every stored transcript is cut into turns (`transcript_segments`: call, speaker, start and
end in seconds, text, jieba tokens). A transcript holding speaker turns (`turns_json`) gives one
segment per turn; a per-speaker transcript with word times is cut at pauses over 1 s (as
`transcripts.turns.build_turns` does); one without word times is one segment. A turn already indexed
for the call (the same speaker, start and words, e.g. from both the per-speaker transcripts and the
turns transcript of the same call) is indexed once. Segments are rewritten whenever a `Transcript` is
inserted, updated or deleted through the ORM (mapper events below); deleting a call or transcript in
SQL removes them by foreign-key cascade, and on SQLite triggers keep `transcript_fts` in step.

Query syntax (`parse_query`): words are ANDed; `"…"` is a phrase; `a OR b`; `-word` excludes;
`word*` matches words starting with it. A term is segmented like the text, so `运单号` matches the
words 运单 号 in a row. Anything else is an `InvalidSearchQuery` with a one-line reason.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    column,
    delete,
    event,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapper, Session

from cases import segment
from cases.errors import InvalidInput
from cases.models.call_analysis import FTS_COLUMN, FTS_TABLE, TranscriptSegment
from cases.models.calls import Call, Transcript
from cases.models.case import Case, case_calls

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
MAX_TERMS = 12
MAX_LIMIT = 200
SEGMENT_PAUSE_S = 1.0
SNIPPET_CHARS = 80
SPEAKER_OF_LABEL = {"caller": "customer", "customer": "customer", "agent": "agent"}
SPEAKERS = ("customer", "agent", "unknown")
_fts = table(FTS_TABLE, column("rowid"))
_QUERY_SYNTAX_ERROR = re.compile(r"fts5: syntax error|syntax error in tsquery", re.IGNORECASE)


class InvalidSearchQuery(InvalidInput):
    """A search query that cannot be understood (the message says why), or bad filters."""


# ---------------------------------------------------------------- query parsing


@dataclass(frozen=True, slots=True)
class Term:
    raw: str
    tokens: tuple[str, ...]  # jieba words, lower-cased
    prefix: bool = False  # word*: the last token is a prefix


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """AND of `groups` (each an OR of terms), minus any of `excluded`."""

    text: str
    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...] = ()

    def highlight_tokens(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for g in self.groups for term in g for t in term.tokens))


_LEXEME = re.compile(r'"([^"]*)"|(\S+)')


def _term(raw: str, *, phrase: bool) -> Term:
    prefix = False
    body = raw
    if not phrase and body.endswith("*"):
        body = body.rstrip("*")
        prefix = True
        if "*" in body:
            raise InvalidSearchQuery(f"'*' may only end a word: {raw}")
    if "*" in body and not phrase:
        raise InvalidSearchQuery(f"'*' may only end a word: {raw}")
    tokens = tuple(segment.query_tokens(body))
    if not tokens:
        raise InvalidSearchQuery(f"nothing to search for in {raw!r}")
    if prefix and len(tokens[-1]) < 2 and not re.search(r"[^\x00-\x7f]", tokens[-1]):
        raise InvalidSearchQuery(f"a prefix needs at least 2 characters: {raw}")
    return Term(raw=raw, tokens=tokens, prefix=prefix)


def parse_query(query: str) -> ParsedQuery:
    """Parse a search query (see the module doc); `InvalidSearchQuery` says what is wrong."""
    q = (query or "").strip()
    if not q:
        raise InvalidSearchQuery("the query is empty")
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidSearchQuery(f"the query is longer than {MAX_QUERY_CHARS} characters")
    if q.count('"') % 2:
        raise InvalidSearchQuery('a quote (") is not closed')
    items: list[tuple[str, str, bool]] = []  # (kind: term|or, text, phrase)
    for m in _LEXEME.finditer(q):
        if m.group(1) is not None:
            items.append(("term", m.group(1), True))
        elif m.group(2) == "OR":
            items.append(("or", "OR", False))
        else:
            items.append(("term", m.group(2), False))
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    pending_or = False
    for i, (kind, raw, phrase) in enumerate(items):
        if kind == "or":
            if pending_or or not groups or i == len(items) - 1 or items[i + 1][0] == "or":
                raise InvalidSearchQuery("OR needs a word on both sides")
            if items[i - 1][1].startswith("-") and not items[i - 1][2]:
                raise InvalidSearchQuery("OR cannot join an excluded word")
            pending_or = True
            continue
        negative = not phrase and raw.startswith("-") and len(raw) > 1
        if negative:
            if pending_or:
                raise InvalidSearchQuery("OR cannot join an excluded word")
            excluded.append(_term(raw[1:], phrase=False))
            continue
        term = _term(raw, phrase=phrase)
        if pending_or:
            groups[-1].append(term)
            pending_or = False
        else:
            groups.append([term])
    if not groups:
        raise InvalidSearchQuery("give at least one word to find (not only excluded ones)")
    if sum(len(g) for g in groups) + len(excluded) > MAX_TERMS:
        raise InvalidSearchQuery(f"at most {MAX_TERMS} words per query")
    return ParsedQuery(text=q, groups=tuple(tuple(g) for g in groups), excluded=tuple(excluded))


def _fts5_term(term: Term) -> str:
    quoted = [f'"{t.replace(chr(34), chr(34) * 2)}"' for t in term.tokens]
    if term.prefix:
        quoted[-1] += " *"
    return quoted[0] if len(quoted) == 1 else "(" + " + ".join(quoted) + ")"


def fts5_expression(q: ParsedQuery) -> str:
    """The FTS5 MATCH expression (every token quoted: user text is never FTS5 syntax)."""
    parts = ["(" + " OR ".join(_fts5_term(t) for t in g) + ")" for g in q.groups]
    expr = " AND ".join(parts)
    for t in q.excluded:
        expr = f"({expr}) NOT {_fts5_term(t)}"
    return expr


def _ts_lexeme(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def _ts_term(term: Term) -> str:
    lexemes = [_ts_lexeme(t) for t in term.tokens]
    if term.prefix:
        lexemes[-1] += ":*"
    return lexemes[0] if len(lexemes) == 1 else "(" + " <-> ".join(lexemes) + ")"


def tsquery_expression(q: ParsedQuery) -> str:
    """The PostgreSQL `to_tsquery('simple', …)` text (every token a quoted lexeme)."""
    expr = " & ".join("(" + " | ".join(_ts_term(t) for t in g) + ")" for g in q.groups)
    for t in q.excluded:
        expr += f" & !{_ts_term(t)}"
    return expr


# ---------------------------------------------------------------- the index


@dataclass(frozen=True, slots=True)
class SegmentInput:
    speaker: str
    start_s: float
    end_s: float
    text: str


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def segments_of(label: str, text_: str, words: Any, duration_s: float | None) -> list[SegmentInput]:
    """The turns of one stored transcript (see the module doc)."""
    speaker = SPEAKER_OF_LABEL.get(label, "unknown")
    items = words if isinstance(words, list) else []
    turns = [w for w in items if isinstance(w, dict) and isinstance(w.get("text"), str) and "speaker" in w]
    if turns:
        out = []
        for t in turns:
            t_start, t_end = _num(t.get("start")) or 0.0, _num(t.get("end"))
            spk = str(t.get("speaker"))
            if t["text"].strip():
                out.append(SegmentInput(spk if spk in SPEAKERS else "unknown", t_start,
                                        t_end if t_end is not None else t_start, t["text"].strip()))
        return out
    timed: list[tuple[str, float, float]] = []
    for w in items:
        start, end = (_num(w.get("start")), _num(w.get("end"))) if isinstance(w, dict) else (None, None)
        if not isinstance(w, dict) or not isinstance(w.get("word"), str) or start is None or end is None:
            timed = []
            break
        timed.append((w["word"], start, end))
    if timed:
        timed.sort(key=lambda w: (w[1], w[2]))
        runs: list[list[tuple[str, float, float]]] = [[timed[0]]]
        for w in timed[1:]:
            if w[1] - runs[-1][-1][2] > SEGMENT_PAUSE_S:
                runs.append([])
            runs[-1].append(w)
        return [SegmentInput(speaker, run[0][1], max(w[2] for w in run), " ".join(w[0] for w in run)) for run in runs]
    if text_.strip():
        return [SegmentInput(speaker, 0.0, float(duration_s or 0.0), text_.strip())]
    return []


def reindex_call(conn: Connection, call_id: int) -> int:
    """Rewrite the search segments of one call from its transcripts; the number written."""
    conn.execute(delete(TranscriptSegment).where(TranscriptSegment.call_id == call_id))
    rows = conn.execute(
        select(Transcript.id, Transcript.speaker, Transcript.text, Transcript.words, Transcript.duration_s)
        .where(Transcript.call_id == call_id).order_by(Transcript.id)
    ).all()
    parsed = [(r.id, segments_of(r.speaker, r.text, r.words, r.duration_s), isinstance(r.words, list) and any(
        isinstance(w, dict) and "speaker" in w for w in r.words)) for r in rows]
    parsed.sort(key=lambda p: (not p[2], p[0]))  # turns transcripts first: their speaker labels win
    seen: set[tuple[float, str]] = set()
    values: list[dict[str, Any]] = []
    for transcript_id, segs, _ in parsed:
        for seg in segs:
            key = (round(seg.start_s, 2), re.sub(r"\s+", "", seg.text))
            if key in seen:
                continue
            seen.add(key)
            values.append({"transcript_id": transcript_id, "call_id": call_id, "speaker": seg.speaker,
                           "start_s": seg.start_s, "end_s": seg.end_s, "text": seg.text,
                           "tokens": segment.index_tokens(seg.text)})
    if values:
        conn.execute(insert(TranscriptSegment), values)
    return len(values)


def reindex_all(conn: Connection, *, batch: int = 500) -> int:
    """Rewrite the segments of every call that has transcripts (the migration's backfill)."""
    total = 0
    last = 0
    while True:
        ids = conn.execute(select(Transcript.call_id).distinct().where(Transcript.call_id > last)
                           .order_by(Transcript.call_id).limit(batch)).scalars().all()
        if not ids:
            return total
        for call_id in ids:
            total += reindex_call(conn, call_id)
        last = ids[-1]


def _on_transcript_change(_mapper: Mapper[Any], conn: Connection, target: Transcript) -> None:
    reindex_call(conn, target.call_id)


for _event in ("after_insert", "after_update", "after_delete"):
    event.listen(Transcript, _event, _on_transcript_change)


# ---------------------------------------------------------------- searching


@dataclass(frozen=True, slots=True)
class SearchFilters:
    since: datetime | None = None  # call started at or after (aware)
    until: datetime | None = None  # call started before (aware)
    hotline: str | None = None  # service | claims
    agent: str | None = None  # calls this agent talked on (agent or one of agents)
    speaker: str | None = None  # customer | agent | unknown


@dataclass(frozen=True, slots=True)
class SnippetPart:
    text: str
    hit: bool


@dataclass(frozen=True, slots=True)
class CaseRef:
    id: int
    number: str


@dataclass(frozen=True, slots=True)
class SearchHit:
    segment_id: int
    linkedid: str
    started_at: datetime | None
    hotline: str | None
    agent: str | None
    caller: str
    speaker: str
    start_s: float
    end_s: float
    text: str
    snippet: tuple[SnippetPart, ...]
    cases: tuple[CaseRef, ...] = ()

    def snippet_html(self) -> str:
        """The snippet as HTML: every part escaped, the matched words in <mark>."""
        return "".join(f"<mark>{html.escape(p.text)}</mark>" if p.hit else html.escape(p.text) for p in self.snippet)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "linkedid": self.linkedid,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "hotline": self.hotline,
            "agent": self.agent,
            "caller": self.caller,
            "speaker": self.speaker,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "snippet": [{"text": p.text, "hit": p.hit} for p in self.snippet],
            "snippet_html": self.snippet_html(),
            "cases": [{"id": c.id, "number": c.number} for c in self.cases],
        }


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: ParsedQuery
    hits: tuple[SearchHit, ...]
    has_more: bool
    elapsed_ms: float
    offset: int = 0
    filters: SearchFilters = field(default_factory=SearchFilters)


def snippet(text_: str, tokens: Sequence[str], *, width: int = SNIPPET_CHARS) -> tuple[SnippetPart, ...]:
    """A window of `text_` around the first match, with every occurrence of a token marked.

    Matching ignores case and the spaces Vosk puts between Chinese words."""
    compact_pos = [i for i, ch in enumerate(text_) if not ch.isspace()]
    compact = "".join(text_[i] for i in compact_pos).lower()
    marked = [False] * len(text_)
    for tok in sorted({t for t in tokens if t}, key=len, reverse=True):
        start = compact.find(tok)
        while start >= 0:
            end = start + len(tok)
            for i in range(compact_pos[start], compact_pos[end - 1] + 1):
                marked[i] = True
            start = compact.find(tok, end)
    first = marked.index(True) if True in marked else 0
    lo = max(0, first - width // 3)
    hi = min(len(text_), lo + width)
    lo = max(0, min(lo, hi - width))
    parts: list[SnippetPart] = []
    if lo > 0:
        parts.append(SnippetPart("…", False))
    i = lo
    while i < hi:
        j = i
        while j < hi and marked[j] == marked[i]:
            j += 1
        parts.append(SnippetPart(text_[i:j], marked[i]))
        i = j
    if hi < len(text_):
        parts.append(SnippetPart("…", False))
    return tuple(parts)


def _agent_condition(conn_dialect: str, agent: str) -> ColumnElement[bool]:
    if conn_dialect == "postgresql":
        in_list: ColumnElement[bool] = Call.agents.op("@>")(func.jsonb_build_array(agent))
    else:
        in_list = exists(select(literal_column("1")).select_from(func.json_each(Call.agents).table_valued("value"))
                         .where(literal_column("value") == agent))
    return or_(Call.agent == agent, in_list)


def _filters(dialect: str, f: SearchFilters) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    for name, value in (("since", f.since), ("until", f.until)):
        if value is not None and value.tzinfo is None:
            raise InvalidSearchQuery(f"{name} must carry a time zone")
    if f.since is not None and f.until is not None and f.until <= f.since:
        raise InvalidSearchQuery("the end of the date range must come after its start")
    if f.since is not None:
        conds.append(Call.started_at >= f.since)
    if f.until is not None:
        conds.append(Call.started_at < f.until)
    if f.hotline:
        conds.append(Call.hotline == f.hotline)
    if f.agent:
        conds.append(_agent_condition(dialect, f.agent))
    if f.speaker:
        if f.speaker not in SPEAKERS:
            raise InvalidSearchQuery(f"speaker must be one of {', '.join(SPEAKERS)}, not {f.speaker!r}")
        conds.append(TranscriptSegment.speaker == f.speaker)
    return conds


_HIT_SELECT = (  # statements are immutable: each search adds its own WHERE / ORDER BY / LIMIT
    select(TranscriptSegment.id, TranscriptSegment.call_id, TranscriptSegment.speaker, TranscriptSegment.start_s,
           TranscriptSegment.end_s, TranscriptSegment.text, Call.linkedid, Call.started_at, Call.hotline,
           Call.agent, Call.caller)
    .join(Call, Call.id == TranscriptSegment.call_id)
)


_HIT_ORDER = (Call.started_at.desc().nulls_last(), TranscriptSegment.call_id.desc(), TranscriptSegment.start_s,
              TranscriptSegment.id)


def _cases_of(s: Session, call_ids: Iterable[int]) -> dict[int, tuple[CaseRef, ...]]:
    ids = sorted(set(call_ids))
    if not ids:
        return {}
    out: dict[int, list[CaseRef]] = {}
    rows = s.execute(select(case_calls.c.call_id, Case.id, Case.number).join(Case, Case.id == case_calls.c.case_id)
                     .where(case_calls.c.call_id.in_(ids)).order_by(Case.id))
    for call_id, case_id, number in rows:
        out.setdefault(call_id, []).append(CaseRef(case_id, number))
    return {k: tuple(v) for k, v in out.items()}


def search_transcripts(
    s: Session, query: str | ParsedQuery, filters: SearchFilters | None = None, *, limit: int = 50, offset: int = 0
) -> SearchResult:
    """Turns matching `query`, newest call first (then by time in the call). `InvalidSearchQuery` for a
    query or filters that cannot be used."""
    started = time.perf_counter()
    q = query if isinstance(query, ParsedQuery) else parse_query(query)
    f = filters or SearchFilters()
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidSearchQuery(f"limit must be 1-{MAX_LIMIT}")
    if offset < 0 or offset > 100_000:
        raise InvalidSearchQuery("offset must be 0-100000")
    dialect = s.get_bind().dialect.name
    stmt = _HIT_SELECT
    if dialect == "sqlite":
        stmt = stmt.join(_fts, _fts.c.rowid == TranscriptSegment.id).where(
            text(f"{FTS_TABLE} MATCH :fts_query").bindparams(fts_query=fts5_expression(q)))
    elif dialect == "postgresql":
        stmt = stmt.where(literal_column(f"transcript_segments.{FTS_COLUMN}")
                          .op("@@")(func.to_tsquery(literal_column("'simple'"), tsquery_expression(q))))
    else:
        raise InvalidSearchQuery(f"full-text search is not available on {dialect}")
    conds = _filters(dialect, f)
    if conds:
        stmt = stmt.where(and_(*conds))
    stmt = stmt.order_by(*_HIT_ORDER).limit(limit + 1).offset(offset)
    try:
        rows = list(s.execute(stmt).all())
    except DBAPIError as exc:  # a query the quoting above should never let through: say so, not a 500
        if not _QUERY_SYNTAX_ERROR.search(str(exc.orig)):
            raise
        log.warning("search %r rejected by the database: %s", q.text, exc.orig)
        raise InvalidSearchQuery(f"the database cannot run this query: {str(exc.orig).splitlines()[0]}") from None
    has_more = len(rows) > limit
    rows = rows[:limit]
    cases = _cases_of(s, (r.call_id for r in rows))
    tokens = q.highlight_tokens()
    hits = tuple(
        SearchHit(
            segment_id=r.id, linkedid=r.linkedid, started_at=r.started_at, hotline=r.hotline, agent=r.agent,
            caller=r.caller, speaker=r.speaker, start_s=r.start_s, end_s=r.end_s, text=r.text,
            snippet=snippet(r.text, tokens), cases=cases.get(r.call_id, ()),
        )
        for r in rows
    )
    elapsed = round((time.perf_counter() - started) * 1000, 2)
    log.debug("search %r: %d hits in %.1f ms", q.text, len(hits), elapsed)
    return SearchResult(query=q, hits=hits, has_more=has_more, elapsed_ms=elapsed, offset=offset, filters=f)


def like_scan(s: Session, needle: str, *, limit: int = 50) -> list[int]:
    """The benchmark's reference: the same hit rows, found by a plain LIKE over the turns' text instead of the
    index (segment ids, in the same order)."""
    pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    stmt = _HIT_SELECT.where(TranscriptSegment.text.like(pattern, escape="\\")).order_by(*_HIT_ORDER).limit(limit)
    return [r.id for r in s.execute(stmt).all()]
