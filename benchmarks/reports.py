"""Time each report on a PostgreSQL database filled with N generated cases and calls.

    .venv/bin/python benchmarks/reports.py                       # small: 20k cases, 100k calls
    .venv/bin/python benchmarks/reports.py --cases 1000000 --calls 5000000   # the issue's goal

Data goes into a fresh schema (dropped afterwards unless --keep) of $HOTLINE_BENCH_PG_URL (default the
test database). Rows are generated server-side with generate_series over one year; about a third of
the cases are complaints, a sixth claims. Each report runs for one month (and the weekly one for a
week) and is timed 3 times; the median is printed next to a reference: `SELECT count(*)` over the
same month's calls, measured in the same run. Indexes used (all created by the migrations, by name):
ix_calls_started_at, ix_complaints_recorded_at, ix_claims_reported_at, ix_inspections_inspected_at,
ix_sanctions_decided_at, ix_self_settled_settled_at.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import date
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cases import reports  # noqa: E402
from cases.db import Database  # noqa: E402

PG_URL = os.environ.get("HOTLINE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
YEAR_START = "2026-01-01 00:00:00+08"

FILL = [
    """INSERT INTO cases (id, number, kind, status, subject, description, priority, created_by, created_at, updated_at)
       SELECT g, 'B' || g, (ARRAY['inquiry','tracking','complaint','complaint','claim','change_request'])[1 + g % 6],
              'open', 'bench', '', 'normal', 'bench', ts, ts
       FROM (SELECT g, CAST(:start AS timestamptz) + g * CAST(:step_cases AS float) * interval '1 second' AS ts
             FROM generate_series(1, :cases) g) x""",
    """INSERT INTO complaints (case_id, stage, complaint_type, branch, cause, responsible_department, analysis,
              rectification, customer_reply, recorded_at, referral_deadline, updated_at)
       SELECT id, (ARRAY['recorded','analysed','referred','rectified','customer_told','closed'])[1 + id % 6],
              (ARRAY['delay','damage','loss','attitude','wrong_delivery','charges','other'])[1 + id % 7],
              'branch' || (id % 40), (ARRAY['transport_delay','handling','staff_attitude'])[1 + id % 3], 'branch',
              '', '', '', created_at, created_at + interval '1 day', created_at
       FROM cases WHERE kind = 'complaint'""",
    """INSERT INTO claims (case_id, stage, channel, accident_cause, branch, claimed_fen, agreed_fen, paid_fen, major,
              insurer, policy_no, insurer_claim_no, reported_at, updated_at)
       SELECT id, (ARRAY['reported','investigating','paid','closed'])[1 + id % 4], 'hotline',
              (ARRAY['handling_damage','packaging','traffic_accident','loss','water','shortage'])[1 + id % 6],
              'branch' || (id % 40), 10000 + id % 500000, CASE WHEN id % 4 >= 2 THEN 9000 END,
              CASE WHEN id % 4 >= 2 THEN 9000 END, id % 97 = 0, '', '', '', created_at, created_at
       FROM cases WHERE kind = 'claim'""",
    """INSERT INTO claim_liabilities (claim_id, party, name, share_bp, owed_fen)
       SELECT id, (ARRAY['branch','loader','trunk_vehicle'])[1 + id % 3], '', 10000, agreed_fen FROM claims""",
    """INSERT INTO inspections (kind, branch, person, inspector, inspected_at, passed, note, created_at)
       SELECT (ARRAY['freight_rate','service_standard','labour_discipline','cod_handin'])[1 + g % 4],
              'branch' || (g % 40), 'p' || (g % 300), 'insp', ts, g % 3 <> 0, '', ts
       FROM (SELECT g, CAST(:start AS timestamptz) + g * CAST(:step_small AS float) * interval '1 second' AS ts
             FROM generate_series(1, CAST(:cases AS int) / 20) g) x""",
    """INSERT INTO sanctions (inspection_id, kind, branch, person, amount_fen, reason, decided_by, decided_at)
       SELECT id, CASE WHEN passed THEN 'reward' ELSE 'penalty' END, branch, person, 10000, 'x', 'insp', inspected_at
       FROM inspections""",
    """INSERT INTO self_settled (settled_by, branch, person, issue, amount_fen, settled_at, note, recorded_by,
              recorded_at)
       SELECT (ARRAY['market','branch','driver','loader'])[1 + g % 4], 'branch' || (g % 40), '', 'delay', 5000, ts,
              '', 'b', ts
       FROM (SELECT g, CAST(:start AS timestamptz) + g * CAST(:step_small AS float) * interval '1 second' AS ts
             FROM generate_series(1, CAST(:cases AS int) / 20) g) x""",
    """INSERT INTO calls (linkedid, caller, caller_norm, caller_name, dialed, hotline, digits, queue, outcome, agent,
              agents, rang, wait_s, talk_s, started_at, reconciled, created_at, updated_at)
       SELECT 'b' || g, '', '', '', '', (ARRAY['service','service','service','claims'])[1 + g % 4], '',
              'q' || (g % 5), (ARRAY['answered','answered','answered','answered','abandoned_in_queue',
              'unanswered'])[1 + g % 6], 'agent' || (g % 60), '[]', '[]', (g % 90)::float, (g % 600)::float, ts,
              false, ts, ts
       FROM (SELECT g, CAST(:start AS timestamptz) + g * CAST(:step_calls AS float) * interval '1 second' AS ts
             FROM generate_series(1, :calls) g) x""",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=20_000)
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--keep", action="store_true", help="keep the schema (its name is printed)")
    args = ap.parse_args()
    schema = f"bench_reports_{uuid.uuid4().hex[:8]}"
    admin = Database(PG_URL)
    with admin.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    db = Database(url.render_as_string(hide_password=False))
    try:
        db.migrate()
        year = 365 * 86400
        steps = {
            "step_cases": year / args.cases,
            "step_small": year / max(1, args.cases // 20),
            "step_calls": year / args.calls,
        }
        t0 = time.perf_counter()
        with db.engine.begin() as conn:
            for sql in FILL:
                conn.execute(text(sql), {"start": YEAR_START, "cases": args.cases, "calls": args.calls, **steps})
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        print(
            f"generated {args.cases} cases and {args.calls} calls in {time.perf_counter() - t0:.1f} s (schema {schema})"
        )
        month = reports.make_period(date(2026, 6, 1), date(2026, 7, 1))
        week = reports.make_period(date(2026, 6, 8), date(2026, 6, 15))
        with db.session() as s:
            ref = []
            for _ in range(3):
                t1 = time.perf_counter()
                s.execute(
                    text("SELECT count(*) FROM calls WHERE started_at >= :a AND started_at < :b"),
                    {"a": month.start, "b": month.end},
                ).scalar_one()
                ref.append(time.perf_counter() - t1)
            ref_s = statistics.median(ref)
            print(f"reference count(*) of one month's calls: {ref_s * 1000:.0f} ms")
            for name, spec in reports.REPORTS.items():
                period = week if spec.span == "week" else month
                times = []
                for _ in range(3):
                    t1 = time.perf_counter()
                    spec.build(s, period)
                    times.append(time.perf_counter() - t1)
                med = statistics.median(times)
                print(f"{name:22s} {period.label:40s} median {med * 1000:7.0f} ms  ({med / ref_s:5.1f}x reference)")
    finally:
        db.dispose()
        if not args.keep:
            with admin.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
