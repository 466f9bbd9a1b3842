"""Screen pop latency through the real path: PBX simulator → AMI (TCP) → tracker → console →
Socket.IO → N python-socketio clients logged in as agents. Latency = pop arrival at the client −
the moment the simulator hands the AgentCalled frame to its AMI sessions. Reference in the same run:
one plain Flask-SocketIO emit to one client. Prints p50/p99 and the ratio.

The agents' clients run in `--client-procs` processes of their own (as browsers do on other
machines); `--client-procs 0` runs them inside the server's process, where their ~600 threads
compete with the server for the one GIL (how this benchmark ran before).

    .venv/bin/python benchmarks/screen_pop.py [--agents 200] [--rate 10] [--seconds 10] [--client-procs 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
import socketio
from flask import Flask
from flask_socketio import SocketIO
from sqlalchemy import select
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_console.app import create_app, dispatcher  # noqa: E402
from agent_console.config import ConsoleConfig  # noqa: E402
from cases import services  # noqa: E402
from cases.db import Database  # noqa: E402
from cases.models import User  # noqa: E402
from telephony.connection import AmiEndpoint  # noqa: E402
from telephony.events import EventBus  # noqa: E402
from telephony.pbxlink import CombinedLive, PbxControl, make_links  # noqa: E402
from telephony.simulator.pbx import SimulatedPbx, make_agents  # noqa: E402
from telephony.simulator.server import AmiServer  # noqa: E402

PASSWORD = "bench-password"


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000 if xs else float("nan")


def serve(app: Flask) -> tuple[str, object]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def client_for(base: str, user: str, on_pop: object) -> socketio.Client:
    http = requests.Session()
    page = http.get(f"{base}/login").text
    token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    r = http.post(f"{base}/login", data={"username": user, "password": PASSWORD, "csrf_token": token},
                  allow_redirects=False)
    assert r.status_code == 302, (user, r.status_code)
    sio = socketio.Client(http_session=http)
    sio.on("screen_pop", on_pop)  # type: ignore[arg-type]
    for attempt in range(3):  # a loaded machine may time a handshake out
        try:
            sio.connect(base, transports=["websocket"], wait_timeout=20)
            return sio
        except socketio.exceptions.ConnectionError:
            if attempt == 2:
                raise
            time.sleep(1)
    return sio


def connect_agents(base: str, peers: list[str], on_pop_for: Any) -> list[socketio.Client]:
    """Log the agents in (in parallel: argon2 verification is the slow part) and connect them."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda peer: client_for(base, peer, on_pop_for(peer)), peers))


def client_worker(base: str, peers: list[str], ready: Any, stop: Any, out: Any) -> None:
    """A process of agent clients: connects, says ready, records pop arrival times until told to stop."""
    arrived: dict[str, float] = {}

    def on_pop_for(peer: str) -> Any:
        def on_pop(pop: dict[str, object]) -> None:
            arrived[f"{pop['linkedid']}|{peer}"] = time.time()
        return on_pop

    try:
        clients = connect_agents(base, peers, on_pop_for)
    except Exception as exc:  # say so instead of leaving the benchmark waiting
        ready.put(0)
        out.put({})
        print(f"client process failed: {exc!r}", file=sys.stderr)
        return
    ready.put(len(clients))
    stop.wait()
    out.put(dict(arrived))
    for c in clients:
        c.disconnect()


def reference(samples: int) -> list[float]:
    app = Flask(__name__)
    sock = SocketIO(app, async_mode="threading")
    base, server = serve(app)
    got: list[float] = []
    sio = socketio.Client()
    sio.on("ping_ref", lambda data: got.append(time.time() - data["t"]))
    sio.connect(base, transports=["websocket"])
    time.sleep(0.3)
    for _ in range(samples):
        sock.emit("ping_ref", {"t": time.time()})
        time.sleep(0.05)
    time.sleep(0.3)
    sio.disconnect()
    server.shutdown()  # type: ignore[attr-defined]
    return got


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--connect", type=int, default=10_000, help="connect only this many agents (profiling)")
    ap.add_argument("--client-procs", type=int, default=2, help="processes for the agent clients; 0: in-process")
    args = ap.parse_args()
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    db = Database(f"sqlite:///{tmp / 'b.db'}")
    db.migrate()
    with db.session() as s:
        services.seed_demo(s)
        shared_hash = services.hash_password(PASSWORD)  # one argon2 hash for all: setup in seconds
        seeded = {u.username: u for u in s.scalars(select(User)).all()}
        for a in make_agents(args.agents):
            if a.peer in seeded:  # the demo's agent1001-1003: same password as the others here
                seeded[a.peer].password_hash = shared_hash
            else:
                s.add(User(username=a.peer, display_name=a.member_name, role="agent", password_hash=shared_hash))
    pbx = SimulatedPbx(recordings_dir=str(tmp), agents=make_agents(args.agents), time_scale=10.0, seed=3,
                       wrap_up_s=0.2)
    sent: dict[str, float] = {}

    def on_batch(batch: list[list[tuple[str, str]]]) -> None:
        now = time.time()
        for fields in batch:
            if fields and fields[0] == ("Event", "AgentCalled"):
                d = dict(fields)
                sent.setdefault(f"{d.get('Linkedid')}|{d.get('Interface', '').split('/')[-1]}", now)

    server = AmiServer(("127.0.0.1", 0), pbx)
    pbx.add_listener(on_batch)  # before the AMI session's listener: the time the bytes are handed over
    pbx.start()
    server.serve_in_thread()
    bus = EventBus()
    links = make_links([AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline", "sim")], bus)
    for link in links:
        link.client.start()
    app, _ = create_app(ConsoleConfig(secret_key="bench", wrap_up_s=0), db, bus,
                        CombinedLive([lk.tracker for lk in links]), control=PbxControl(links))
    base, web = serve(app)
    peers = [a.peer for a in make_agents(args.agents)][:args.connect]
    arrived: dict[str, float] = {}
    clients: list[socketio.Client] = []
    ctx = mp.get_context("spawn")
    stop, ready, out = ctx.Event(), ctx.Queue(), ctx.Queue()
    procs = []
    if args.client_procs <= 0:
        def on_pop_for(peer: str) -> Any:
            def on_pop(pop: dict[str, object]) -> None:
                arrived[f"{pop['linkedid']}|{peer}"] = time.time()
            return on_pop
        clients = connect_agents(base, peers, on_pop_for)
        connected = len(clients)
    else:
        for i in range(args.client_procs):
            proc = ctx.Process(target=client_worker, args=(base, peers[i::args.client_procs], ready, stop, out),
                               daemon=True)
            proc.start()
            procs.append(proc)
        connected = sum(ready.get(timeout=600) for _ in procs)
    where = "in this process" if not procs else f"in {len(procs)} client processes"
    print(f"{connected} agent clients connected ({where}); calls at {args.rate}/s for {args.seconds} s", flush=True)
    end = time.time() + args.seconds
    calls = 0
    while time.time() < end:
        try:
            pbx.start_load_call(talk_s=3.0)
            calls += 1
        except Exception:
            pass
        time.sleep(1 / args.rate)
    time.sleep(3)
    if procs:
        stop.set()
        for _ in procs:
            arrived.update(out.get(timeout=60))
        for proc in procs:
            proc.join(timeout=30)
    lat = [arrived[k] - sent[k] for k in arrived if k in sent]
    ref = reference(200)
    print(f"calls {calls}, pops matched {len(lat)}")
    print(f"screen pop  p50 {pct(lat, 50):.2f} ms  p99 {pct(lat, 99):.2f} ms  max {max(lat) * 1000:.2f} ms")
    print(f"reference   p50 {pct(ref, 50):.2f} ms  p99 {pct(ref, 99):.2f} ms (plain Flask-SocketIO emit, 1 client)")
    if ref:
        print(f"ratio p50 {pct(lat, 50) / pct(ref, 50):.1f}x  p99 {pct(lat, 99) / pct(ref, 99):.1f}x "
              f"(mean {statistics.mean(lat) * 1000:.2f} ms)")
    for c in clients:
        c.disconnect()
    dispatcher(app).stop()
    for link in links:
        link.client.stop()
    server.shutdown_all()
    pbx.stop()
    web.shutdown()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
