"""Shipments: CSV import throughput and the TMS lookup next to the embedded table.

    .venv/bin/python benchmarks/shipments.py [--rows 20000] [--lookups 500]

1. `import_csv` of N generated rows (three history events each) into a fresh SQLite file and a fresh
   PostgreSQL schema: first import (all new) and a second import of the same file (all updates),
   rows per second. Reference in the same run: parsing and checking alone (`parse_csv`), no database.
2. Lookups of known waybills: the embedded table vs `HttpShipmentSource` against a loopback HTTP
   server that answers the JSON contract (tests/fake_tms.py), p50 and p99 in ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cases.db import Database  # noqa: E402
from cases.shipment_sources import EMBEDDED, HttpShipmentSource, HttpSourceSettings  # noqa: E402
from cases.shipments import decode, import_csv, parse_csv  # noqa: E402
from tests.fake_tms import TMS_SHIPMENT, serve_tms  # noqa: E402

PG_URL = os.environ.get("HOTLINE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
HEADER = "waybill,shipper_phone,consignee_name,consignee_phone,origin,destination,status,history\n"


def make_csv(rows: int) -> bytes:
    lines = [HEADER]
    for i in range(rows):
        wb = f"9{i:011d}"
        history = ("2026-11-28 09:00 | 上海营业部 | 已揽收\n2026-11-28 21:30 | 上海-郑州干线 | 运输中\n"
                   "2026-11-29 08:10 | 郑州分拨中心 | 到达分拨中心")
        lines.append(f'{wb},1380013{i % 10000:04d},收货人{i},1390013{i % 10000:04d},上海,郑州,,"{history}"\n')
    return "".join(lines).encode("utf-8")


def time_import(db: Database, data: bytes) -> tuple[float, float]:
    out = []
    for _ in range(2):
        t0 = time.perf_counter()
        with db.session() as s:
            import_csv(s, data, by="bench")
        out.append(time.perf_counter() - t0)
    return out[0], out[1]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--lookups", type=int, default=500)
    args = parser.parse_args()
    data = make_csv(args.rows)
    t0 = time.perf_counter()
    parse_csv(decode(data)[0])
    parse_s = time.perf_counter() - t0
    print(f"{args.rows} rows, {len(data) / 1e6:.1f} MB; parse and check only: {args.rows / parse_s:,.0f} rows/s")

    with tempfile.TemporaryDirectory() as tmp:
        sqlite = Database(f"sqlite:///{tmp}/bench.db")
        sqlite.migrate()
        first, second = time_import(sqlite, data)
        print(f"SQLite      import new {args.rows / first:,.0f} rows/s ({first:.1f} s), "
              f"again (updates) {args.rows / second:,.0f} rows/s ({second:.1f} s)")

        admin = Database(PG_URL)
        schema = f"bench_ship_{uuid.uuid4().hex[:8]}"
        with admin.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
            pg = Database(url.render_as_string(hide_password=False))
            pg.migrate()
            first, second = time_import(pg, data)
            print(f"PostgreSQL  import new {args.rows / first:,.0f} rows/s ({first:.1f} s), "
                  f"again (updates) {args.rows / second:,.0f} rows/s ({second:.1f} s)")
            pg.dispose()
        finally:
            with admin.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

        waybills = [f"9{i:011d}" for i in range(0, args.rows, max(1, args.rows // args.lookups))][: args.lookups]
        embedded: list[float] = []
        with sqlite.reading() as s:
            for wb in waybills:
                t0 = time.perf_counter()
                EMBEDDED.lookup(s, wb)
                embedded.append((time.perf_counter() - t0) * 1000)
        remote: list[float] = []
        with serve_tms() as (state, base):
            for wb in waybills:
                state.json(wb, {**TMS_SHIPMENT, "waybill": wb})
            source = HttpShipmentSource(HttpSourceSettings(base, 2.0))
            with sqlite.reading() as s:
                for wb in waybills:
                    t0 = time.perf_counter()
                    source.lookup(s, wb)
                    remote.append((time.perf_counter() - t0) * 1000)
        sqlite.dispose()
    print(f"lookup x{len(waybills)}: embedded table p50 {statistics.median(embedded):.2f} ms, "
          f"p99 {pct(embedded, 99):.2f} ms; HTTP TMS on loopback p50 {statistics.median(remote):.2f} ms, "
          f"p99 {pct(remote, 99):.2f} ms ({statistics.median(remote) / statistics.median(embedded):.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
