"""Transcript search latency: the full-text index (SQLite FTS5 / PostgreSQL GIN over jieba tokens) against
a plain LIKE scan of the same turns, in the same run, on N transcript turns (default 20 000).

    .venv/bin/python benchmarks/search.py [--turns 20000] [--repeat 30] [--backend sqlite|pg|both]

Prints jieba's load time and memory, the time to index, then per backend the p50/p99 of each query
(search_transcripts with limit 50, newest call first, as the console asks) and of the LIKE scan.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from cases import segment  # noqa: E402
from cases.db import Database  # noqa: E402
from cases.models.calls import Call, Transcript  # noqa: E402
from cases.search import like_scan, search_transcripts  # noqa: E402

PG = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
AGENT_LINES = [
    "您好 路港物流 请问 有 什么 可以 帮 您", "请 您 提供 一下 运单 号", "好的 我 帮 您 查询 一下",
    "非常 抱歉 给 您 带来 不便", "我们 会 尽快 安排 派送", "请问 还有 其他 问题 吗", "感谢 您 的 来电 再见",
    "您 的 快递 已经 到达 分拨 中心", "理赔 需要 您 提供 照片 和 发票", "我 已经 为 您 登记 了 工单",
]
CUSTOMER_LINES = [
    "我 的 快递 三 天 了 还 没 到", "运单 号 是 {waybill}", "我 要 投诉 你们 的 快递员",
    "包裹 破损 了 怎么 办", "能 不能 改 一下 收货 地址", "电话 是 {phone}", "什么 时候 能 送到",
    "我 要 赔偿 {amount} 元", "hello my parcel is late", "快递员 态度 很 差 我 要 找 你们 领导",
    "好的 谢谢", "签收 了 但是 少 了 一 件",
]
# frequent words of the templates, rare words of the filler vocabulary, a waybill, a prefix, a word never said
QUERIES = ["投诉", "快递员 态度", '"运单 号"', "破损 OR 少", "parcel", "{rare1}", "{rare2} {rare3}", "{waybill}",
           "8000*", "律师函"]


def vocabulary(n: int = 5000) -> list[str]:
    """The n most frequent words of two or more characters in jieba's own dictionary (filler speech)."""
    import jieba

    words = []
    with open(Path(jieba.__file__).parent / "dict.txt", encoding="utf-8") as fh:
        for line in fh:
            word, freq = line.split()[:2]
            if len(word) >= 2 and word not in ("律师", "律师函"):
                words.append((int(freq), word))
    return [w for _, w in sorted(words, reverse=True)[:n]]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def fill(db: Database, turns: int, rng: random.Random, vocab: list[str]) -> tuple[float, str]:
    """Calls of 10 turns each (a template line and 2-6 filler words); returns the seconds spent and one
    waybill that occurs."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    waybill_seen = ""
    started = time.perf_counter()
    per_call = 10
    with db.session() as s:
        for c in range(turns // per_call):
            at = t0 + timedelta(minutes=7 * c)
            call = Call(linkedid=f"bench.{c}", caller=f"139{rng.randrange(10**8):08d}", outcome="answered",
                        agent=f"agent{1001 + c % 40}", agents=[f"agent{1001 + c % 40}"], rang=[],
                        hotline=rng.choice(("service", "claims")), started_at=at, ended_at=at + timedelta(minutes=3))
            items = []
            for i in range(per_call):
                speaker = "agent" if i % 2 == 0 else "customer"
                line = rng.choice(AGENT_LINES if speaker == "agent" else CUSTOMER_LINES)
                waybill = f"8000{rng.randrange(10**8):08d}"
                line = line.format(waybill=waybill, phone=f"138{rng.randrange(10**8):08d}",
                                   amount=rng.randrange(50, 2000))
                line += " " + " ".join(rng.choice(vocab) for _ in range(rng.randrange(2, 7)))
                if waybill in line:
                    waybill_seen = waybill
                items.append({"speaker": speaker, "start": i * 6.0, "end": i * 6.0 + 5.0, "text": line})
            call.transcripts.append(Transcript(engine="vosk-turns", model="bench", speaker="mixed", text="",
                                               words=items, duration_s=60.0))
            s.add(call)
            if c % 200 == 199:
                s.flush()
    return time.perf_counter() - started, waybill_seen


def like_needle(query: str) -> str:
    """What a LIKE scan would look for: the query's first term, spaces as Vosk writes them."""
    term = query.split(" OR ")[0].strip('"').rstrip("*")
    return term if query.startswith('"') else term.split()[0]


@dataclass(frozen=True, slots=True)
class QueryFigures:
    query: str
    hits: int
    like_hits: int
    fts_p50_ms: float
    fts_p99_ms: float
    like_p50_ms: float
    like_p99_ms: float


def measure(db: Database, queries: list[str], repeat: int) -> list[QueryFigures]:
    rows = []
    with db.reading() as s:
        for q in queries:
            fts, like = [], []
            hits = scan_hits = 0
            for _ in range(repeat):
                t = time.perf_counter()
                result = search_transcripts(s, q, limit=50)
                fts.append((time.perf_counter() - t) * 1000)
                hits = len(result.hits)
                t = time.perf_counter()
                scan_hits = len(like_scan(s, like_needle(q), limit=50))
                like.append((time.perf_counter() - t) * 1000)
            rows.append(QueryFigures(q, hits, scan_hits, round(statistics.median(fts), 2), round(pct(fts, 99), 2),
                                     round(statistics.median(like), 2), round(pct(like, 99), 2)))
    return rows


def run(backend: str, turns: int, repeat: int) -> None:
    schema = None
    if backend == "sqlite":
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='hotline-bench-')) / 'search.db'}"
    else:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with create_engine(PG).begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{PG}?options=-csearch_path%3D{schema}"
    db = Database(url)
    try:
        db.migrate()
        vocab = vocabulary()
        fill_s, waybill = fill(db, turns, random.Random(7), vocab)
        if backend == "pg":
            with db.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        rare = vocab[-3:]
        queries = [q.format(waybill=waybill, rare1=rare[0], rare2=rare[1], rare3=rare[2]) if "{" in q else q
                   for q in QUERIES]
        measure(db, queries[:2], 3)  # warm caches
        rows = measure(db, queries, repeat)
        print(f"\n== {backend}: {turns} turns indexed in {fill_s:.1f} s ({turns / fill_s:.0f} turns/s, "
              f"jieba + insert + index)")
        print("FTS: search_transcripts end to end (query segmentation, SQL, snippets, cases of the hits);"
              " LIKE: the same hit query with LIKE '%first term%' instead of the index, SQL only")
        print(f"{'query':<22}{'hits':>6}{'FTS p50':>10}{'p99':>9}{'LIKE p50':>10}{'p99':>9}{'LIKE/FTS':>10}")
        for r in rows:
            ratio = r.like_p50_ms / max(r.fts_p50_ms, 0.001)
            print(f"{r.query:<22}{r.hits:>6}{r.fts_p50_ms:>10}{r.fts_p99_ms:>9}"
                  f"{r.like_p50_ms:>10}{r.like_p99_ms:>9}{ratio:>9.1f}x")
        fts_median = statistics.median(r.fts_p50_ms for r in rows)
        like_median = statistics.median(r.like_p50_ms for r in rows)
        print(f"median over queries: FTS {fts_median:.2f} ms, LIKE {like_median:.2f} ms")
        print(json.dumps({"backend": backend, "turns": turns, "fill_s": round(fill_s, 2),
                          "queries": [asdict(r) for r in rows]}, ensure_ascii=False))
    finally:
        db.dispose()
        if schema:
            with create_engine(PG).begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--backend", choices=("sqlite", "pg", "both"), default="both")
    args = ap.parse_args()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stats = segment.warm_up()
    print(f"jieba: dictionary loaded in {stats.load_s:.2f} s, peak RSS +{stats.rss_growth_mb:.0f} MB "
          f"(process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB, was {rss0 / 1024:.0f} MB)")
    t = time.perf_counter()
    for line in AGENT_LINES + CUSTOMER_LINES:
        segment.index_tokens(line)
    print(f"jieba: {len(AGENT_LINES + CUSTOMER_LINES)} lines segmented in {(time.perf_counter() - t) * 1000:.1f} ms")
    for backend in (("sqlite", "pg") if args.backend == "both" else (args.backend,)):
        run(backend, args.turns, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
