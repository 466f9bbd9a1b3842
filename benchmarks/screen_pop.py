"""Screen pop latency through the real path: PBX simulator → AMI (TCP) → tracker → bus → console
dispatcher → Socket.IO → N python-socketio clients logged in as agents (issue 5's goal: p99 <= 50 ms
with 200 agents at 10 calls/s). Latency = pop arrival at the client − the moment the simulator hands
the AgentCalled frame to its AMI sessions.

Per hop (each pop's own timestamps; p50/p99 of each step):
  sim → AMI read     the frame written by the simulator's session, read by the console's AMI reader
  AMI read → bus     parsed, tracked, AgentRinging published
  bus → dequeue      waiting on the console's event queue for the dispatcher
  dequeue → emit     the pop assembled (caller context, shipment, history)
  emit               socketio.emit() to the agent's room (returns once queued for the socket)
  emit → client      the socket's writer, the network, the client's read
Reference in the same run: a bare Flask-SocketIO app on the same server with the same number of
clients, one emit to one of them at the same rate.

The agents' clients are AsyncClients in `--client-procs` processes (default 1: 200 connections on
one asyncio loop; see rig.py).

    .venv/bin/python benchmarks/screen_pop.py [--agents 200] [--rate 10] [--seconds 20] [--supervisors 0]
                                              [--client-procs 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rig import Fleet, Frame, Rig, first_arrivals, load_avg, login_all, pct, reference_emits  # noqa: E402

from telephony.events import AgentRinging  # noqa: E402

HOPS = ["sim", "ami", "bus", "dequeue", "emit0", "emit1", "client"]
HOP_NAMES = {
    ("sim", "ami"): "sim → AMI read",
    ("ami", "bus"): "AMI read → bus",
    ("bus", "dequeue"): "bus → dequeue",
    ("dequeue", "emit0"): "dequeue → emit",
    ("emit0", "emit1"): "emit",
    ("emit1", "client"): "emit → client",
}


class Marks:
    """Per pop ('linkedid|agent'): the time it passed each hop (first time only)."""

    def __init__(self) -> None:
        self.at: dict[str, dict[str, float]] = {}
        self.flushes: list[float] = []  # seconds each wallboard recompute took

    def mark(self, key: str, hop: str, t: float) -> None:
        self.at.setdefault(key, {}).setdefault(hop, t)

    def on_frames(self, frames: list[Frame]) -> None:
        for _, linkedid, peer, t in frames:
            self.mark(f"{linkedid}|{peer}", "sim", t)

    def on_bus(self, event: object) -> None:
        if isinstance(event, AgentRinging):
            key = f"{event.linkedid}|{event.agent}"
            self.mark(key, "ami", event.at)  # the tracker stamps events with the time AMI read them
            self.mark(key, "bus", time.time())

    def instrument(self, rig: Rig) -> None:
        """Stamp the dispatcher's dequeue and its emit of each pop (wrapping the instance's methods)."""
        d: Any = rig.dispatcher
        rooms = d.jobs.rooms
        handle, emit = d._handle, rooms.emit

        def timed_handle(event: Any) -> None:
            if isinstance(event, AgentRinging):
                self.mark(f"{event.linkedid}|{event.agent}", "dequeue", time.time())
            handle(event)

        def timed_emit(name: str, payload: dict[str, Any], room: Any) -> None:
            if name != "screen_pop" or not isinstance(room, str) or not room.startswith("agent:"):
                emit(name, payload, room)
                return
            key = f"{payload['linkedid']}|{room.removeprefix('agent:')}"
            self.mark(key, "emit0", time.time())
            emit(name, payload, room)
            self.mark(key, "emit1", time.time())

        d._handle, rooms.emit = timed_handle, timed_emit
        feed = getattr(d.jobs.wallboard, "feed", None)
        if feed is not None:  # the wallboard: recomputed on the same thread, holding the GIL meanwhile
            flush = feed.flush

            def timed_flush() -> Any:
                t0 = time.perf_counter()
                try:
                    return flush()
                finally:
                    self.flushes.append(time.perf_counter() - t0)

            feed.flush = timed_flush


def report_hops(marks: Marks, arrived: dict[str, float]) -> list[float]:
    for key, t in arrived.items():
        marks.mark(key, "client", t)
    complete = [m for m in marks.at.values() if all(h in m for h in HOPS)]
    total = [m["client"] - m["sim"] for m in complete]
    print(f"per hop over {len(complete)} pops          p50 ms   p99 ms   max ms   share of the p99-tail pops")
    tail = sorted(complete, key=lambda m: m["client"] - m["sim"])[-max(1, len(complete) // 100):]
    for (a, b), label in HOP_NAMES.items():
        xs = [m[b] - m[a] for m in complete]
        share = sum(m[b] - m[a] for m in tail) / max(1e-9, sum(m["client"] - m["sim"] for m in tail))
        print(f"  {label:<22} {pct(xs, 50):8.2f} {pct(xs, 99):8.2f} {max(xs) * 1000:8.2f}   {share:6.1%}")
    return total


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--supervisors", type=int, default=0, help="also connected: supervisors getting the wallboard")
    ap.add_argument("--pbx-in-process", action="store_true",
                    help="the simulator in the console's process (as before: competes for its GIL)")
    ap.add_argument("--client-procs", type=int, default=1, help="processes for the agents' AsyncClients")
    ap.add_argument("--no-reference", action="store_true")
    args = ap.parse_args()
    marks = Marks()
    bosses = [f"boss{i}" for i in range(args.supervisors)]
    rig = Rig.start(args.agents, seed=3, supervisors=bosses, watch=("AgentCalled",), on_bus=marks.on_bus,
                    pbx_in_process=args.pbx_in_process)
    marks.instrument(rig)
    users = rig.agents(args.agents) + bosses
    fleet = Fleet.connect(rig.base, list(zip(users, login_all(rig.base, users), strict=True)),
                          ["screen_pop", "wallboard_delta"], args.client_procs)
    print(f"{args.agents} agent and {args.supervisors} supervisor clients connected in {len(fleet.procs)} process(es); "
          f"calls at {args.rate}/s for {args.seconds} s; {load_avg()}", flush=True)
    calls = rig.calls(args.rate, args.seconds)
    time.sleep(3)
    load_during = load_avg()
    arrived = first_arrivals(fleet.arrivals(), "screen_pop")
    marks.on_frames(rig.frames())
    rig.stop()
    sent = {k: m["sim"] for k, m in marks.at.items() if "sim" in m}
    lat = [arrived[k] - sent[k] for k in arrived if k in sent]
    print(f"calls {calls}, pops matched {len(lat)}; {load_during}")
    report_hops(marks, arrived)
    if marks.flushes:
        print(f"wallboard recomputes {len(marks.flushes)}: p50 {pct(marks.flushes, 50):.2f} ms  "
              f"p99 {pct(marks.flushes, 99):.2f} ms  max {pct(marks.flushes, 100):.2f} ms (on the dispatcher's thread)")
    print(f"screen pop  p50 {pct(lat, 50):.2f} ms  p99 {pct(lat, 99):.2f} ms  max {pct(lat, 100):.2f} ms  "
          f"mean {statistics.mean(lat) * 1000:.2f} ms  (goal p99 <= 50 ms)")
    if not args.no_reference:
        ref = reference_emits(args.agents, int(args.rate * args.seconds), args.rate, args.client_procs)
        print(f"reference   p50 {pct(ref, 50):.2f} ms  p99 {pct(ref, 99):.2f} ms  (bare Flask-SocketIO emit to one "
              f"of {args.agents} clients, same server and clients; {load_avg()})")
        if ref:
            print(f"ratio       p50 {pct(lat, 50) / pct(ref, 50):.1f}x  p99 {pct(lat, 99) / pct(ref, 99):.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
