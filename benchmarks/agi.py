"""200 concurrent FastAGI sessions against the IVR server on loopback.

Each session is a caller of the service hotline who presses 1, types a known waybill (found in a
real SQLite database), hears the status and last scan, then presses 0 for an agent: ~14 commands,
with a think time before every key so that all sessions are open at the same time. Prints the
sessions completed, the peak of sessions open in the server, and the command latency (our reply →
the server's next command) p50/p99, also for a trivial handler measured in the same run as the
reference (protocol + threads only, no menu logic, no database).

    .venv/bin/python benchmarks/agi.py [--sessions 200] [--think 0.5]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cases.db import Database  # noqa: E402
from cases.shipment_records import create_shipment  # noqa: E402
from cases.views import ShipmentEventInput, ShipmentInput  # noqa: E402
from ivr.agi import AgiSession  # noqa: E402
from ivr.agi_client import AgiCaller, AgiCallResult  # noqa: E402
from ivr.config import MenuStore  # noqa: E402
from ivr.flow import IvrFlow  # noqa: E402
from ivr.server import AgiServer  # noqa: E402

WAYBILL = "800012349999"


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def run(server: AgiServer, n: int, inputs: list[str], think: float) -> tuple[list[AgiCallResult], int, float]:
    results: list[AgiCallResult] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    peak = 0
    start = threading.Barrier(n + 1)

    def one(i: int) -> None:
        start.wait()
        try:
            r = AgiCaller("127.0.0.1", server.port, "service", inputs=inputs, uniqueid=f"1796040000.{i}",
                          think_s=think, timeout=60).run()
            with lock:
                results.append(r)
        except BaseException as exc:  # noqa: BLE001 - counted and reported
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    start.wait()
    while any(t.is_alive() for t in threads):
        peak = max(peak, server.stats().active)
        time.sleep(0.02)
    elapsed = time.perf_counter() - t0
    if errors:
        print(f"  {len(errors)} sessions failed, first: {errors[0]!r}")
    return results, peak, elapsed


def report(label: str, results: list[AgiCallResult], peak: int, elapsed: float, n: int) -> float:
    gaps = [g * 1000 for r in results for g in r.gaps]
    print(f"{label}: {len(results)}/{n} sessions completed, peak {peak} open at once, {elapsed:.1f} s; "
          f"{len(gaps)} commands, latency p50 {statistics.median(gaps):.2f} ms, p99 {pct(gaps, 99):.2f} ms, "
          f"max {max(gaps):.2f} ms")
    return pct(gaps, 99)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--think", type=float, default=0.5, help="caller's seconds before each key")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    n = args.sessions
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        db.migrate()
        with db.session() as s:
            at = datetime.now(UTC) - timedelta(hours=3)
            create_shipment(s, ShipmentInput(waybill=WAYBILL, origin="上海", destination="北京",
                                             events=(ShipmentEventInput(at=at, status="运输中"),)))

        def trivial(sess: AgiSession) -> None:  # same command count, no logic
            for _ in range(3):
                sess.get_data("hotline/zh/service-menu", 5000, 1)
                for _ in range(3):
                    sess.stream_file("hotline/zh/goodbye")
            sess.set_variable("IVR_NEXT", "queue")

        with AgiServer({"service": trivial}, port=0, max_sessions=n + 10) as ref:
            res, peak, el = run(ref, n, ["1", "2", "3"], args.think)
            ref_p99 = report("reference (trivial handler)", res, peak, el, n)

        flow = IvrFlow(MenuStore(), db, clock=lambda: datetime(2026, 11, 30, 2, 0, tzinfo=UTC))
        with AgiServer(flow.handlers(), port=0, max_sessions=n + 10) as server:
            res, peak, el = run(server, n, ["1", WAYBILL + "#", "0"], args.think)
            ivr_p99 = report("IVR (tracking + agent, SQLite)", res, peak, el, n)
            ok = sum(1 for r in res if r.variables.get("IVR_NEXT") == "queue" and r.variables.get("WAYBILL") == WAYBILL)
            print(f"IVR sessions ending in the queue with WAYBILL set: {ok}/{n}; p99 ratio IVR/reference "
                  f"{ivr_p99 / ref_p99:.1f}x; server stats: {server.stats()}")
        db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
