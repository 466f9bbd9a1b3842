"""Load and soak through processes by role: the PBX simulator (in this process, real AMI over TCP)
plays a steady stream of answered service-hotline calls (~300 at once) to 200 agent phones; one
listener, two web processes (PostgreSQL schema of its own, a private redis-server); 200 agents and
20 supervisors as python-socketio clients spread over both web processes.

Every `--every` seconds it prints: calls made, live calls (the listener's picture), calls stored,
the listener's store backlog, transcription jobs queued, pops received, pop latency p50/p99 over
the interval (AgentCalled leaving the simulator → the pop at the agent's client), wallboard
updates at the supervisors, and the RSS of each process. At the end: calls recorded vs made, pop
latency over the whole run, and each process's RSS first vs last (flat?).

    .venv/bin/python benchmarks/load.py [--minutes 10] [--agents 200] [--supervisors 20]
                                        [--rate 10] [--talk 18] [--every 10]

No worker runs: the simulated load calls carry no audio (transcription is measured by
benchmarks/transcribe.py), so their jobs only queue; the figure is printed as such.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis
import requests
import socketio
from sqlalchemy import create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cases import services  # noqa: E402
from cases.db import Database  # noqa: E402
from cases.demo_data import DEMO_PASSWORD  # noqa: E402
from cases.models import User  # noqa: E402
from telephony.simulator.pbx import SimulatedPbx, make_agents  # noqa: E402
from telephony.simulator.server import AmiServer  # noqa: E402

PG = os.environ.get("HOTLINE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "bench-password"
EXE = [sys.executable, "-m", "hotline_cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000 if xs else float("nan")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def wait_http(url: str, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} never answered")


class Client:
    def __init__(self, base: str, user: str, password: str, stats: Stats) -> None:
        self.user = user
        http = requests.Session()
        page = http.get(f"{base}/login", timeout=30).text
        token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        r = http.post(f"{base}/login", data={"username": user, "password": password, "csrf_token": token},
                      allow_redirects=False, timeout=30)
        if r.status_code != 302:
            raise SystemExit(f"login of {user} failed: {r.status_code}")
        self.sio = socketio.Client(http_session=http, reconnection=True)
        self.sio.on("screen_pop", lambda pop: stats.pop(f"{pop['linkedid']}|{user}"))
        self.sio.on("wallboard_delta", lambda _d: stats.board())
        self.sio.on("wallboard", lambda _d: stats.board())
        self.sio.connect(base, transports=["websocket"], wait_timeout=30)


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: dict[str, float] = {}
        self.arrived: dict[str, float] = {}
        self.boards = 0

    def agent_called(self, key: str, at: float) -> None:
        with self.lock:
            self.sent.setdefault(key, at)

    def pop(self, key: str) -> None:
        now = time.time()
        with self.lock:
            self.arrived.setdefault(key, now)

    def board(self) -> None:
        with self.lock:
            self.boards += 1

    def latencies(self, since: float, until: float) -> list[float]:
        with self.lock:
            return [t - self.sent[k] for k, t in self.arrived.items() if k in self.sent and since <= t < until]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--supervisors", type=int, default=20)
    ap.add_argument("--rate", type=float, default=10.0, help="new calls per second")
    ap.add_argument("--talk", type=float, default=18.0, help="talk seconds per call")
    ap.add_argument("--every", type=float, default=10.0, help="seconds between printed lines")
    args = ap.parse_args()

    def stop_on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # the finally below stops every process this run started

    signal.signal(signal.SIGTERM, stop_on_term)
    tmp = Path(tempfile.mkdtemp(prefix="hotline-load-"))
    schema = f"load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG)
    with admin.begin() as c:
        c.execute(text(f"CREATE SCHEMA {schema}"))
    db_url = f"{PG}?options=-csearch_path%3D{schema}"
    procs: dict[str, subprocess.Popen[str]] = {}
    clients: list[Client] = []
    pbx = None
    server = None
    try:
        db = Database(db_url)
        db.migrate()
        agents = make_agents(args.agents)
        with db.session() as s:
            services.seed_demo(s)
            # one password hash (argon2id, deliberately slow) shared by the bench users
            services.create_user(s, "sup00", PASSWORD, "supervisor", "Supervisor 0")
            pw_hash = s.scalars(select(User.password_hash).where(User.username == "sup00")).one()
            s.add_all([User(username=a.peer, display_name=a.member_name, role="agent", password_hash=pw_hash)
                       for a in agents[3:]])  # the first three are the demo's agent1001-1003 (demo password)
            s.add_all([User(username=f"sup{i:02d}", display_name=f"Supervisor {i}", role="supervisor",
                            password_hash=pw_hash) for i in range(1, args.supervisors)])
        redis_port, ami_port = free_port(), free_port()
        procs["redis"] = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                                           "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, text=True)
        stats = Stats()
        pbx = SimulatedPbx(recordings_dir=str(tmp / "rec"), agents=agents, seed=7, wrap_up_s=0.5)

        def on_batch(batch: list[list[tuple[str, str]]]) -> None:
            now = time.time()
            for fields in batch:
                if fields and fields[0] == ("Event", "AgentCalled"):
                    d = dict(fields)
                    stats.agent_called(f"{d.get('Linkedid')}|{d.get('Interface', '').split('/')[-1]}", now)

        server = AmiServer(("127.0.0.1", ami_port), pbx)
        pbx.add_listener(on_batch)
        pbx.start()
        server.serve_in_thread()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env |= {"HOTLINE_DATABASE_URL": db_url, "HOTLINE_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                "HOTLINE_AMI_PORT": str(ami_port), "HOTLINE_SECRET_KEY": "load", "HOTLINE_RECORDINGS_DIR":
                str(tmp / "rec"), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        metrics_port = free_port()
        web_ports = [free_port(), free_port()]

        def start(name: str, *cmd: str) -> None:
            log = (tmp / f"{name}.log").open("w")
            procs[name] = subprocess.Popen([*EXE, *cmd], cwd=tmp, env=env | {"HOTLINE_DATA_DIR": str(tmp / name)},
                                           stdout=log, stderr=subprocess.STDOUT, text=True)

        start("listener", "serve", "--role", "listener", "--metrics-port", str(metrics_port))
        for i, port in enumerate(web_ports):
            start(f"web{i + 1}", "serve", "--role", "web", "--port", str(port))
        bases = [f"http://127.0.0.1:{p}" for p in web_ports]
        for b in bases:
            wait_http(f"{b}/login")
        users = [(a.peer, DEMO_PASSWORD if a.peer in ("agent1001", "agent1002", "agent1003") else PASSWORD)
                 for a in agents] + [(f"sup{i:02d}", PASSWORD) for i in range(args.supervisors)]
        t0 = time.time()
        with ThreadPoolExecutor(8) as pool:  # logins verify argon2 hashes: several at once
            clients.extend(pool.map(lambda iu: Client(bases[iu[0] % 2], iu[1][0], iu[1][1], stats),
                                    enumerate(users)))
        print(f"{len(clients)} clients connected in {time.time() - t0:.0f} s "
              f"({args.agents} agents, {args.supervisors} supervisors over 2 web processes); "
              f"{args.rate} calls/s, talk {args.talk} s, {args.minutes} min; logs in {tmp}", flush=True)
        rds = redis.Redis(port=redis_port)
        made: list[str] = []
        stop = threading.Event()

        def caller() -> None:
            next_at = time.time()
            while not stop.is_set():
                try:
                    made.append(pbx.start_load_call(talk_s=args.talk).linkedid)
                except Exception as exc:  # the simulator refused a call: count it as not made
                    print(f"call not started: {exc}", flush=True)
                next_at += 1 / args.rate
                stop.wait(max(0.0, next_at - time.time()))

        threading.Thread(target=caller, daemon=True).start()
        names = ["listener", "web1", "web2", "redis"]
        rss: dict[str, list[float]] = {n: [] for n in [*names, "bench"]}
        print(f"{'t':>5} {'made':>6} {'live':>5} {'stored':>6} {'store-q':>7} {'tr-jobs':>7} {'pops':>6} "
              f"{'p50ms':>6} {'p99ms':>6} {'boards':>7}  RSS MB " + " ".join(f"{n:>8}" for n in rss), flush=True)
        start_at = time.time()
        end = start_at + args.minutes * 60
        last = start_at
        engine = create_engine(db_url)
        while time.time() < end:
            time.sleep(max(0.0, min(args.every, end - time.time())))
            now = time.time()
            live = -1
            try:
                import json

                raw = rds.get("hotline:live")
                live = json.loads(raw)["live_calls"] if raw else 0
            except (redis.RedisError, ValueError, KeyError):
                pass
            with engine.connect() as c:
                stored = c.execute(text("SELECT count(*) FROM calls WHERE outcome <> 'pending'")).scalar_one()
            try:
                m = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
                store_q = next((ln.split()[-1] for ln in m.splitlines() if ln.startswith("hotline_store_backlog")),
                               "?")
                tr_jobs = next((ln.split()[-1] for ln in m.splitlines()
                                if ln.startswith("hotline_transcription_backlog")), "?")
            except requests.RequestException:
                store_q = tr_jobs = "?"
            lat = stats.latencies(last, now)
            for n in names:
                rss[n].append(rss_mb(procs[n].pid))
            rss["bench"].append(rss_mb(os.getpid()))
            print(f"{now - start_at:5.0f} {len(made):6d} {live:5d} {stored:6d} {store_q:>7} {tr_jobs:>7} "
                  f"{len(lat):6d} {pct(lat, 50):6.1f} {pct(lat, 99):6.1f} {stats.boards:7d}          "
                  + " ".join(f"{v[-1]:8.0f}" for v in rss.values()), flush=True)
            last = now
        stop.set()
        drain_until = time.time() + args.talk + 60  # calls in progress end
        expected = set(made)
        recorded = 0
        while time.time() < drain_until:
            with engine.connect() as c:
                rows = c.execute(text("SELECT linkedid, outcome FROM calls")).all()
            recorded = sum(1 for lid, outcome in rows if lid in expected and outcome != "pending")
            if recorded >= len(expected):
                break
            time.sleep(2)
        with engine.connect() as c:
            dup = c.execute(text("SELECT count(*) - count(DISTINCT linkedid) FROM calls")).scalar_one()
        engine.dispose()
        lat = stats.latencies(0, time.time())
        print(f"\ncalls made {len(made)}, recorded {recorded} ({recorded / max(1, len(made)):.1%}), duplicates {dup}")
        print(f"pops {len(lat)} of {len(stats.sent)} rings: p50 {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms, "
              f"max {max(lat) * 1000 if lat else float('nan'):.0f} ms; wallboard updates at supervisors "
              f"{stats.boards}")
        for n, v in rss.items():
            if len(v) >= 2:
                half = len(v) // 2
                print(f"RSS {n:8s} first {v[0]:7.0f} MB  mid {v[half]:7.0f} MB  last {v[-1]:7.0f} MB  "
                      f"growth second half {v[-1] - v[half]:+6.0f} MB")
        return 0
    finally:
        for c in clients:
            try:
                c.sio.disconnect()
            except Exception:  # a client already gone
                pass
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        if server is not None:
            server.shutdown_all()
        if pbx is not None:
            pbx.stop()
        with admin.begin() as c:
            c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
