"""Routing latency: new hotline call seen in the holding step → Redirect answered by Asterisk, at
20 new calls per second (issue 4's goal: p99 <= 100 ms), against the simulated PBX over AMI.
Reference in the same run: the round trip of an AMI Ping on the same connection under the same load.
With `--wait-limit S` (default 2) every caller also waits past the complaints queue's limit and is
moved to the callback offer: wait limit passed → Redirect answered, per caller (each moved once).

    .venv/bin/python benchmarks/routing.py [--rate 20] [--seconds 10] [--wait-limit 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr.overflow import WaitLimitWatcher  # noqa: E402
from ivr.routing import HotlineRouter, RoutingRules  # noqa: E402
from telephony.connection import AmiEndpoint  # noqa: E402
from telephony.events import EventBus  # noqa: E402
from telephony.pbxlink import PbxControl, make_links  # noqa: E402
from telephony.simulator.pbx import SimulatedPbx  # noqa: E402
from telephony.simulator.server import AmiServer  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=20.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--wait-limit", type=float, default=2.0, help="complaints queue wait limit, s (0: none)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    pbx = SimulatedPbx(recordings_dir=tmp, seed=1, routing="ami", hold_s=3.0)
    pbx.start()
    server = AmiServer(("127.0.0.1", 0), pbx)
    server.serve_in_thread()
    bus = EventBus()
    links = make_links([AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline", "pbx1")], bus)
    control = PbxControl(links)
    router = HotlineRouter(lambda lid: control.actions(), RoutingRules())
    bus.subscribe(router.on_event)
    watcher = None
    if args.wait_limit > 0:
        watcher = WaitLimitWatcher(lambda lid: control.actions(), {"complaints": args.wait_limit})
        bus.subscribe(watcher.on_event)
    links[0].client.start()
    links[0].client.connected.wait(5)
    pings: list[float] = []
    stop = threading.Event()

    def pinger() -> None:
        while not stop.wait(0.05):
            t = time.perf_counter()
            control.actions().conn.send_action("Ping")  # type: ignore[attr-defined]
            pings.append(time.perf_counter() - t)

    threading.Thread(target=pinger, daemon=True).start()
    n = int(args.rate * args.seconds)
    t0 = time.monotonic()
    for i in range(n):  # callers that need no agent, so only the routing load counts
        time.sleep(max(0.0, t0 + i / args.rate - time.monotonic()))
        pbx.start_call("complaints_abandoned", abandon_after_s=5)
    deadline = time.time() + 30
    while (len(router.decisions) < n or (watcher is not None and len(watcher.moves) < n)) and time.time() < deadline:
        time.sleep(0.1)
    stop.set()
    lat = [d.latency_s * 1000 for d in router.decisions if d.action == "ivr"]
    ref = [p * 1000 for p in pings]
    print(f"{n} calls at {args.rate:g}/s: {len(lat)} routed, {pbx.redirects} released from holding, "
          f"{sum(1 for d in router.decisions if d.action == 'failed')} failed")
    print(f"seen -> Redirect answered: p50 {statistics.median(lat):.1f} ms, p99 {pct(lat, 99):.1f} ms "
          "(goal p99 <= 100 ms)")
    print(f"reference, AMI Ping round trip under the same load: p50 {statistics.median(ref):.1f} ms, "
          f"p99 {pct(ref, 99):.1f} ms; ratio of p99s {pct(lat, 99) / pct(ref, 99):.1f}")
    if watcher is not None:
        moved = [m.latency_s * 1000 for m in watcher.moves if m.ok]
        once = len({m.linkedid for m in watcher.moves}) == len(watcher.moves)
        print(f"wait limit {args.wait_limit:g} s (complaints): {len(moved)} of {n} callers moved to the callback "
              f"offer ({pbx.queue_redirects} Redirects out of a queue, each caller once: {once}); limit passed -> "
              f"Redirect answered: p50 {statistics.median(moved):.1f} ms, p99 {pct(moved, 99):.1f} ms")
        watcher.stop()
    router.stop()
    links[0].client.stop()
    server.shutdown_all()
    pbx.stop()


if __name__ == "__main__":
    main()
