"""Wallboard push latency: a caller joins a queue at the simulated Asterisk (QueueCallerJoin bytes
handed to the AMI session) → the supervisors' consoles receive the wallboard update listing that
caller, under 10 calls/s with the agents connected (issue 5's goal: p99 <= 250 ms; updates are
coalesced to at most one per `wallboard_interval_s`, 0.2 s).

    .venv/bin/python benchmarks/wallboard.py [--agents 200] [--supervisors 5] [--rate 10] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rig import Fleet, Rig, load_avg, login_all, pct  # noqa: E402


def queued(board: dict[str, Any]) -> set[str]:
    """Linkedids a wallboard or wallboard_delta shows in a queue: waiting there, or a live call
    with its queue set (a caller answered within one coalescing interval is never listed waiting)."""
    def rows(section: str) -> list[dict[str, Any]]:
        got = board.get(section, [])
        return list(got.get("upsert", [])) if isinstance(got, dict) else list(got)
    lids = {w["linkedid"] for q in rows("queues") for w in q.get("waiting", [])}
    return lids | {c["linkedid"] for c in rows("live_calls") if c.get("queue")}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--supervisors", type=int, default=5)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--pbx-in-process", action="store_true",
                    help="the simulator in the console's process (as before: competes for its GIL)")
    ap.add_argument("--client-procs", type=int, default=1)
    args = ap.parse_args()
    bosses = [f"boss{i}" for i in range(args.supervisors)]
    rig = Rig.start(args.agents, seed=4, supervisors=bosses, watch=("QueueCallerJoin",),
                    pbx_in_process=args.pbx_in_process)
    users = bosses + rig.agents(args.agents)
    fleet = Fleet.connect(rig.base, list(zip(users, login_all(rig.base, users), strict=True)),
                          ["screen_pop", "wallboard", "wallboard_delta"], args.client_procs)
    print(f"{args.supervisors} supervisors and {args.agents} agents connected; calls at {args.rate}/s for "
          f"{args.seconds} s; {load_avg()}", flush=True)
    calls = rig.calls(args.rate, args.seconds)
    time.sleep(3)
    load_during = load_avg()
    arrivals = fleet.arrivals()
    joined = {lid: t for _, lid, _, t in rig.frames()}
    rig.stop()
    lat: list[float] = []
    for boss in bosses:  # each supervisor: when the caller first shows as queued on its board
        seen: dict[str, float] = {}
        for user, name, at, text in sorted(arrivals, key=lambda a: a[2]):
            if user == boss and name != "screen_pop":
                for lid in queued(json.loads(text)):
                    seen.setdefault(lid, at)
        lat += [seen[k] - joined[k] for k in seen if k in joined]
    print(f"calls {calls}, queue joins {len(joined)}, shown on the wallboards {len(lat)} "
          f"({args.supervisors} x {len(joined)} expected); {load_during}")
    print(f"queue change -> wallboard  p50 {pct(lat, 50):.1f} ms  p99 {pct(lat, 99):.1f} ms  "
          f"max {pct(lat, 100):.1f} ms (goal p99 <= 250 ms; updates are coalesced to at most one per 0.2 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
