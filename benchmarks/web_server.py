"""The console on gunicorn (what `hotline serve` runs now) against Werkzeug's development server (what it
ran before), in one run: screen pop and wallboard latency end to end, the same load on each.

For each server: the PBX simulator in a process of its own, the console (AMI link, bus, dispatcher) in a
process of its own served by that server (gunicorn: its master and one worker with threads, the site built in
the worker, as `hotline serve`), N agents and S supervisors as Socket.IO clients (WebSocket) in other
processes, calls at `--rate` per second for `--seconds`.
  screen pop      the simulator handing AgentCalled to its AMI sessions -> the pop at that agent's client
  wallboard       the simulator handing QueueCallerJoin -> the caller first shown queued on each supervisor's board
Ratio: gunicorn / werkzeug (below 1: gunicorn faster).

    .venv/bin/python benchmarks/web_server.py [--agents 200] [--supervisors 5] [--rate 10] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rig import Fleet, PbxProcess, Rig, load_avg, login_all, pct, seed_users  # noqa: E402
from wallboard import queued  # noqa: E402

SERVERS = ("werkzeug", "gunicorn")


def console_child(db_url: str, ami_port: int, server: str, port: int, threads: int) -> None:
    """The console process: AMI link to the simulator, bus, console; served by `server` until SIGTERM."""
    import logging

    from agent_console.app import create_app
    from agent_console.config import ConsoleConfig
    from cases.db import Database
    from hotline_cli.webserver import ConsoleSite, WebServerSettings, serve
    from telephony.connection import AmiEndpoint
    from telephony.events import EventBus
    from telephony.pbxlink import CombinedLive, PbxControl, make_links

    logging.basicConfig(level=logging.WARNING)
    sys.setswitchinterval(0.0005)  # as `hotline serve` (switch_interval_ms)

    def build() -> ConsoleSite:
        db = Database(db_url)
        bus = EventBus()
        links = make_links([AmiEndpoint("127.0.0.1", ami_port, "hotline", "hotline", "sim")], bus)
        for link in links:
            link.client.start()
        app, sock = create_app(ConsoleConfig(secret_key="bench", wrap_up_s=0), db, bus,
                               CombinedLive([lk.tracker for lk in links]), control=PbxControl(links))

        def close() -> None:
            for link in links:
                link.client.stop()
            db.dispose()

        return ConsoleSite(app, sock, close)

    serve(WebServerSettings(server, "127.0.0.1", port, threads), build, startup_errors=(), report=print)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes]) -> None:
    import requests

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the console exited with {proc.returncode}")
        try:
            requests.get(url, timeout=30)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit(f"{url} never answered")


def run_one(server: str, args: argparse.Namespace) -> dict[str, Any]:
    from cases.db import Database

    tmp = Path(tempfile.mkdtemp(prefix=f"hotline-web-{server}-"))
    db_url = f"sqlite:///{tmp / 'b.db'}"
    db = Database(db_url)
    db.migrate()
    bosses = [f"boss{i}" for i in range(args.supervisors)]
    seed_users(db, args.agents, bosses)
    db.dispose()
    sim = PbxProcess.start(args.agents, seed=5, watch=("AgentCalled", "QueueCallerJoin"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    child = subprocess.Popen([sys.executable, __file__, "--console-child", db_url, str(sim.port), server, str(port),
                              str(args.threads)])
    try:
        wait_http(f"{base}/login", child)
        time.sleep(2)  # the AMI link's login and resync
        agents = Rig.agents(args.agents)
        users = bosses + agents
        fleet = Fleet.connect(base, list(zip(users, login_all(base, users), strict=True)),
                              ["screen_pop", "wallboard", "wallboard_delta"], args.client_procs)
        calls = sim.ask("calls", args.rate, args.seconds)
        time.sleep(3)
        load = load_avg()
        arrivals = fleet.arrivals()
        frames = sim.ask("frames")
    finally:
        child.terminate()
        child.wait(timeout=60)
        sim.stop()
    rang = {f"{lid}|{peer}": at for name, lid, peer, at in frames if name == "AgentCalled"}
    joined = {lid: at for name, lid, _, at in frames if name == "QueueCallerJoin"}
    pops: dict[str, float] = {}
    for user, name, at, what in arrivals:
        if name == "screen_pop":
            key = f"{what}|{user}"
            pops[key] = min(at, pops.get(key, at))
    pop_lat = [pops[k] - rang[k] for k in pops if k in rang]
    board_lat: list[float] = []
    for boss in bosses:
        seen: dict[str, float] = {}
        for user, name, at, text in sorted(arrivals, key=lambda a: a[2]):
            if user == boss and name != "screen_pop":
                for lid in queued(json.loads(text)):
                    seen.setdefault(lid, at)
        board_lat += [seen[k] - joined[k] for k in seen if k in joined]
    return {"server": server, "calls": calls, "pops": pop_lat, "boards": board_lat, "rings": len(rang),
            "joins": len(joined), "load": load}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--supervisors", type=int, default=5)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=256, help="gunicorn's threads (web_threads)")
    ap.add_argument("--client-procs", type=int, default=1)
    ap.add_argument("--console-child", nargs=5, metavar=("DB", "AMI_PORT", "SERVER", "PORT", "THREADS"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.console_child:
        db_url, ami_port, server, port, threads = args.console_child
        console_child(db_url, int(ami_port), server, int(port), int(threads))
        return 0
    print(f"{args.agents} agents and {args.supervisors} supervisors on WebSocket; calls at {args.rate}/s for "
          f"{args.seconds} s per server; {os.cpu_count()} cores; {load_avg()}", flush=True)
    results = []
    for server in SERVERS:
        r = run_one(server, args)
        results.append(r)
        print(f"{server:9} calls {r['calls']}, pops {len(r['pops'])}/{r['rings']} rings, wallboard "
              f"{len(r['boards'])}/{args.supervisors * r['joins']}; {r['load']}", flush=True)
    print(f"\n{'':9} {'pop p50':>9} {'pop p99':>9} {'board p50':>10} {'board p99':>10}  (ms)")
    for r in results:
        print(f"{r['server']:9} {pct(r['pops'], 50):9.1f} {pct(r['pops'], 99):9.1f} {pct(r['boards'], 50):10.1f} "
              f"{pct(r['boards'], 99):10.1f}")
    old, new = results

    def ratio(key: str, p: float) -> float:
        return pct(new[key], p) / pct(old[key], p)

    print(f"{'ratio':9} {ratio('pops', 50):8.2f}x {ratio('pops', 99):8.2f}x {ratio('boards', 50):9.2f}x "
          f"{ratio('boards', 99):9.2f}x  (gunicorn / werkzeug)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
