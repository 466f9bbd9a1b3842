"""Screen pop latency through the real path: PBX simulator → AMI (TCP) → tracker → console →
Socket.IO → N python-socketio clients logged in as agents. Latency = pop arrival at the client −
the moment the simulator hands the AgentCalled frame to its AMI sessions. Reference in the same run:
one plain Flask-SocketIO emit to one client. Prints p50/p99 and the ratio.

    .venv/bin/python benchmarks/screen_pop.py [--agents 50] [--rate 10] [--seconds 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import socketio
from flask import Flask
from flask_socketio import SocketIO
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_console.app import create_app, dispatcher  # noqa: E402
from agent_console.config import ConsoleConfig  # noqa: E402
from cases import services  # noqa: E402
from cases.db import Database  # noqa: E402
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
    sio.connect(base, transports=["websocket"])
    return sio


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
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    db = Database(f"sqlite:///{tmp / 'b.db'}")
    db.migrate()
    with db.session() as s:
        services.seed_demo(s)
        for a in make_agents(args.agents)[3:]:
            services.create_user(s, a.peer, PASSWORD, "agent", a.member_name)
        for peer in ("agent1001", "agent1002", "agent1003"):
            services.create_user(s, peer + "b", PASSWORD, "agent", peer)  # not used; demo users keep theirs
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
    arrived: dict[str, float] = {}
    clients = []
    for a in make_agents(args.agents)[3:]:
        def on_pop(pop: dict[str, object], peer: str = a.peer) -> None:
            arrived[f"{pop['linkedid']}|{peer}"] = time.time()
        clients.append(client_for(base, a.peer, on_pop))
    print(f"{len(clients)} agent clients connected; calls at {args.rate}/s for {args.seconds} s", flush=True)
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
