"""`hotline transcripts search QUERY [--since DAY] [--until DAY] [--hotline H] [--agent A] [--speaker S]
[--limit N] [--offset N] [--json]` and `hotline transcripts reindex`.

Days are local days in China Standard Time; `--until` is the last day (inclusive). Query syntax: words
are ANDed, "…" is a phrase, a OR b, -word excludes, word* is a prefix. Errors: one line, exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timedelta
from typing import Any

from cases.cli_args import EXIT_ERROR, day_arg
from cases.errors import CasesError


def _fail(message: str) -> int:
    print(f"hotline transcripts: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def register_search_cli(subparsers: Any) -> None:
    p = subparsers.add_parser("transcripts", help="search call transcripts, rebuild the search index",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="transcripts_command", required=True)
    s = sub.add_parser("search", help="full-text search over transcripts (Chinese, English, digits)")
    s.add_argument("query", help='e.g. 投诉 司机, 800012*, "态度 差"')
    s.add_argument("--since", type=day_arg, default=None, help="first day (China Standard Time), YYYY-MM-DD")
    s.add_argument("--until", type=day_arg, default=None, help="last day, inclusive")
    s.add_argument("--hotline", choices=("service", "claims"), default=None)
    s.add_argument("--agent", default=None, help="calls this agent talked on")
    s.add_argument("--speaker", choices=("customer", "agent", "unknown"), default=None)
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--offset", type=int, default=0)
    s.add_argument("--json", action="store_true", help="one JSON object per hit")
    s.set_defaults(func=cmd_search)
    r = sub.add_parser("reindex", help="rebuild the search index from the stored transcripts")
    r.set_defaults(func=cmd_reindex)


def cmd_search(args: argparse.Namespace) -> int:
    from cases.local_time import CHINA_TZ
    from cases.search import SearchFilters, search_transcripts

    def at(day: date | None, plus: int = 0) -> datetime | None:
        return datetime.combine(day + timedelta(days=plus), datetime.min.time(), CHINA_TZ) if day else None

    from cases.db import open_migrated

    try:
        filters = SearchFilters(since=at(args.since), until=at(args.until, 1), hotline=args.hotline,
                                agent=args.agent, speaker=args.speaker)
        with open_migrated(args.settings.database_url) as db, db.reading() as s:
            result = search_transcripts(s, args.query, filters, limit=args.limit, offset=args.offset)
    except CasesError as exc:
        return _fail(str(exc))
    for h in result.hits:
        if args.json:
            print(json.dumps(h.to_json_dict(), ensure_ascii=False))
            continue
        when = h.started_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if h.started_at else "-"
        snippet = "".join(f"[{p.text}]" if p.hit else p.text for p in h.snippet)
        cases = ",".join(c.number for c in h.cases) or "-"
        print(f"{when}  {h.linkedid}  {h.agent or '-'}  {h.speaker}@{int(h.start_s // 60)}:{int(h.start_s % 60):02d}"
              f"  {cases}  {snippet}")
    if not args.json:
        more = " (more: --offset)" if result.has_more else ""
        print(f"{len(result.hits)} hits in {result.elapsed_ms:.1f} ms{more}", file=sys.stderr)
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    from cases.db import open_migrated
    from cases.search import reindex_all

    try:
        with open_migrated(args.settings.database_url) as db, db.engine.begin() as conn:
            total = reindex_all(conn)
    except CasesError as exc:
        return _fail(str(exc))
    print(f"{total} transcript turns indexed")
    return 0
