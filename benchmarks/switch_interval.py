"""Screen-pop lookups while another thread of the process computes, at several switch intervals.

    PYTHONPATH=. .venv/bin/python benchmarks/switch_interval.py [--lookups 300] [--busy 1] [--intervals 5 1 0.5]

A pop's lookup (`PopBuilder.lookup`: the caller, the shipment, history, open cases; several database
round trips on a seeded SQLite file) hands the interpreter back at every database call and must get it
again after. While another thread of the same process runs Python (in the listener the call store, in
a web process Socket.IO and the wallboard relay; here `--busy` threads running a pure-Python loop), a
thread asking for the interpreter waits up to the switch interval (`sys.setswitchinterval`; Python's
default 5 ms, Hotline's setting `switch_interval_ms`, default 0.5 ms) each time. For each interval, in the
same run and alternating: lookup latency p50/p99/max (one every 10 ms) and the busy threads' progress
(loop iterations per second: what the shorter interval costs the computing thread). Reference in the
same run: the same lookups with no busy thread.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_console.pop import PopBuilder  # noqa: E402
from cases.db import Database  # noqa: E402
from cases.demo_data import DEMO_PHONES, DEMO_WAYBILLS  # noqa: E402
from cases.demo_seed import seed_demo  # noqa: E402


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def measure(builder: PopBuilder, interval_ms: float, busy: int, lookups: int) -> tuple[list[float], float]:
    sys.setswitchinterval(interval_ms / 1000)
    stop = threading.Event()
    done = [0] * busy

    def spin(k: int) -> None:
        x = 0
        while not stop.is_set():
            for i in range(1000):
                x += i * i
            done[k] += 1000

    threads = [threading.Thread(target=spin, args=(k,), daemon=True) for k in range(busy)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    lat = []
    for i in range(lookups):
        start = time.perf_counter()
        builder.lookup(DEMO_PHONES[i % len(DEMO_PHONES)], DEMO_WAYBILLS[i % len(DEMO_WAYBILLS)], f"bench.{i}")
        lat.append((time.perf_counter() - start) * 1000)
        time.sleep(0.01)
    elapsed = time.perf_counter() - t0
    stop.set()
    for t in threads:
        t.join()
    return lat, sum(done) / elapsed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lookups", type=int, default=300)
    ap.add_argument("--busy", type=int, default=1, help="threads running Python meanwhile")
    ap.add_argument("--intervals", type=float, nargs="+", default=[5.0, 1.0, 0.5], help="milliseconds")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.migrate()
        with db.session() as s:
            seed_demo(s)
        builder = PopBuilder(db)
        ref, _ = measure(builder, 5.0, 0, args.lookups)
        print(f"reference, no busy thread: lookup p50 {pct(ref, 0.5):.2f} ms, p99 {pct(ref, 0.99):.2f} ms "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        for r in range(args.rounds):
            for ms in args.intervals:
                lat, rate = measure(builder, ms, args.busy, args.lookups)
                print(f"round {r + 1}, switch interval {ms:g} ms, {args.busy} busy thread(s): lookup p50 "
                      f"{pct(lat, 0.5):.2f} ms, p99 {pct(lat, 0.99):.2f} ms, max {max(lat):.2f} ms; busy threads "
                      f"{rate / 1e6:.1f} M iterations/s  (load average {os.getloadavg()[0]:.1f})", flush=True)
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
