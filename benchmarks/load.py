"""Load and soak through processes by role: the PBX simulator (in this process, real AMI over TCP)
keeps `--concurrent` answered service-hotline calls in the system at once (queued + talking; a new
call starts whenever one ends, at most `--rate` per second while ramping up) for 200 agent phones;
one listener, two web processes (PostgreSQL schema of its own, a private redis-server); 200 agents
and 20 supervisors as python-socketio clients spread over both web processes. The issue's target:

    .venv/bin/python benchmarks/load.py --minutes 10 --concurrent 300 --agents 200 --supervisors 20

Every `--every` seconds it prints: calls offered, calls in the system (the simulator's count and the
listener's live picture), calls stored, the listener's store backlog, transcription jobs queued,
pops received, pop latency p50/p95/p99 over the interval (AgentCalled leaving the simulator → the
pop at the agent's client, as benchmarks/screen_pop.py measures), wallboard update latency p50/p95
(the call's first event, Newchannel, leaving the simulator → the call on a supervisor's board, for
every supervisor), and the RSS of each
process. At the end: calls offered / recorded / duplicates, peak and mean calls in the system, the
store backlog over time, pop and wallboard latency over the whole run, pops built per web process
(each builds only its own agents'), and each process's RSS at start / middle / end (flat?).

    .venv/bin/python benchmarks/load.py [--minutes 10] [--concurrent 300] [--agents 200]
                                        [--supervisors 20] [--rate 30] [--talk 18] [--every 10]

No worker runs: the simulated load calls carry no audio (transcription is measured by
benchmarks/transcribe.py), so their jobs only queue; the figure is printed as such.
"""

from __future__ import annotations

import argparse
import os
import random
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
from typing import Any

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


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
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
        self.sio.on("wallboard_delta", lambda d: stats.board(user, d, d.get("live_calls", {}).get("upsert", [])))
        self.sio.on("wallboard", lambda b: stats.board(user, b, b.get("live_calls", [])))
        self.sio.connect(base, transports=["websocket"], wait_timeout=30)


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: dict[str, float] = {}
        self.arrived: dict[str, float] = {}
        self.boards = 0
        self.started: dict[str, float] = {}  # linkedid -> when the call was started
        self.on_board: list[tuple[float, float]] = []  # (arrival, call start → on a supervisor's board)
        self.board_age: list[tuple[float, float]] = []  # (arrival, board computed → at the supervisor)
        self._seen: set[str] = set()  # "linkedid|supervisor"

    def agent_called(self, key: str, at: float) -> None:
        with self.lock:
            self.sent.setdefault(key, at)

    def pop(self, key: str) -> None:
        now = time.time()
        with self.lock:
            self.arrived.setdefault(key, now)

    def call_started(self, linkedid: str, at: float) -> None:
        with self.lock:
            self.started.setdefault(linkedid, at)

    def board(self, user: str, board: dict[str, Any], live_rows: list[dict[str, Any]]) -> None:
        now = time.time()
        with self.lock:
            self.boards += 1
            if "at" in board:
                self.board_age.append((now, now - float(board["at"])))
            for row in live_rows:
                key = f"{row['linkedid']}|{user}"
                started = self.started.get(row["linkedid"])
                if started is not None and key not in self._seen:
                    self._seen.add(key)
                    self.on_board.append((now, now - started))

    def board_latencies(self, since: float, until: float) -> tuple[list[float], list[float]]:
        with self.lock:
            return ([v for t, v in self.on_board if since <= t < until],
                    [v for t, v in self.board_age if since <= t < until])

    def latencies(self, since: float, until: float) -> list[float]:
        with self.lock:
            return [t - self.sent[k] for k, t in self.arrived.items() if k in self.sent and since <= t < until]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--supervisors", type=int, default=20)
    ap.add_argument("--concurrent", type=int, default=300, help="calls kept in the system (queued + talking)")
    ap.add_argument("--rate", type=float, default=30.0, help="at most this many new calls per second")
    ap.add_argument("--talk", type=float, default=18.0, help="mean talk seconds per call (±30 %%)")
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
                elif fields and fields[0] == ("Event", "Newchannel"):  # the call's first event leaving
                    stats.call_started(dict(fields).get("Linkedid", ""), now)

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
              f"{args.concurrent} calls in the system (at most {args.rate} new/s), talk {args.talk} s, "
              f"{args.minutes} min; logs in {tmp}", flush=True)
        rds = redis.Redis(port=redis_port)
        made: list[str] = []
        stop = threading.Event()

        in_system: list[int] = []  # the simulator's calls in the system, once a second

        talks = random.Random(7)

        def caller() -> None:
            """Keep `--concurrent` calls in the system: a new one whenever one ended (at most --rate/s)."""
            next_at = time.time()
            next_sample = next_at
            while not stop.is_set():
                now = time.time()
                if now >= next_sample:
                    in_system.append(len(pbx.calls))
                    next_sample += 1.0
                if len(pbx.calls) < args.concurrent:
                    try:
                        # talk times spread ±30 %: the first 300 calls do not all end at once
                        script = pbx.start_load_call(talk_s=talks.uniform(0.7, 1.3) * args.talk)
                        made.append(script.linkedid)
                    except Exception as exc:  # the simulator refused a call: count it as not made
                        print(f"call not started: {exc}", flush=True)
                    next_at = max(next_at + 1 / args.rate, time.time() - 1.0)
                else:
                    next_at = time.time() + 0.05
                stop.wait(max(0.0, min(next_at, next_sample) - time.time()))

        names = ["listener", "web1", "web2", "redis"]
        rss: dict[str, list[float]] = {n: [] for n in [*names, "bench"]}
        for n in names:
            rss[n].append(rss_mb(procs[n].pid))  # at start, before any call
        rss["bench"].append(rss_mb(os.getpid()))
        store_backlog: list[tuple[float, str]] = []
        pids = {n: procs[n].pid for n in names} | {"bench": os.getpid()}
        cpu_start = {n: cpu_s(pid) for n, pid in pids.items()}
        threading.Thread(target=caller, daemon=True).start()
        print(f"{'t':>5} {'offered':>7} {'in-sys':>6} {'live':>5} {'stored':>6} {'store-q':>7} {'tr-jobs':>7} "
              f"{'pops':>6} {'p50ms':>6} {'p95ms':>6} {'p99ms':>6} {'wb-p50':>6} {'wb-p95':>6} {'boards':>7}  RSS MB "
              + " ".join(f"{n:>8}" for n in rss), flush=True)
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
            on_board, _ = stats.board_latencies(last, now)
            store_backlog.append((now - start_at, store_q))
            for n in names:
                rss[n].append(rss_mb(procs[n].pid))
            rss["bench"].append(rss_mb(os.getpid()))
            print(f"{now - start_at:5.0f} {len(made):7d} {in_system[-1] if in_system else 0:6d} {live:5d} "
                  f"{stored:6d} {store_q:>7} {tr_jobs:>7} {len(lat):6d} {pct(lat, 50):6.1f} {pct(lat, 95):6.1f} "
                  f"{pct(lat, 99):6.1f} {pct(on_board, 50):6.0f} {pct(on_board, 95):6.0f} {stats.boards:7d}          "
                  + " ".join(f"{v[-1]:8.0f}" for v in rss.values()), flush=True)
            last = now
        stop.set()
        cpu_used = {n: cpu_s(pid) - cpu_start[n] for n, pid in pids.items()}
        wall = time.time() - start_at
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
        on_board, board_age = stats.board_latencies(0, time.time())
        print(f"\ncalls offered {len(made)}, recorded {recorded} ({recorded / max(1, len(made)):.1%}), "
              f"duplicates {dup}")
        steady = in_system[len(in_system) // 10:] or in_system  # without the first tenth (the ramp-up)
        print(f"calls in the system (queued + talking, the simulator's count each second): peak {max(in_system)}, "
              f"mean {sum(steady) / max(1, len(steady)):.0f} after the ramp-up (target {args.concurrent})")
        print("listener store backlog (calls waiting to be written) over time: "
              + ", ".join(f"{t:.0f}s {q}" for t, q in store_backlog))
        print(f"pops {len(lat)} of {len(stats.sent)} rings: p50 {pct(lat, 50):.1f} ms, p95 {pct(lat, 95):.1f} ms, "
              f"p99 {pct(lat, 99):.1f} ms, max {max(lat) * 1000 if lat else float('nan'):.0f} ms")
        print(f"wallboard: {stats.boards} updates at {args.supervisors} supervisors; a call's Newchannel leaving "
              f"the simulator → the call on a supervisor's board p50 {pct(on_board, 50):.0f} ms, "
              f"p95 {pct(on_board, 95):.0f} ms, "
              f"p99 {pct(on_board, 99):.0f} ms ({len(on_board)} call×supervisor); board computed → at the "
              f"supervisor p50 {pct(board_age, 50):.0f} ms, p95 {pct(board_age, 95):.0f} ms")
        for i, b in enumerate(bases):
            try:
                st = requests.get(f"{b}/status", timeout=10).json()
                print(f"web{i + 1}: pops built {st.get('pops_built')} (its {len(users[i::2])} clients' agents only), "
                      f"wallboard {st.get('wallboard')}")
            except (requests.RequestException, ValueError) as exc:
                print(f"web{i + 1}: /status unreadable: {exc}")
        print(f"CPU during the load ({wall:.0f} s; share of one core): "
              + ", ".join(f"{n} {c:.0f} s ({c / wall:.0%})" for n, c in cpu_used.items())
              + f"; machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        if cpu_used["bench"] / wall > 0.85:
            print("  the bench process itself was near one full core: its latency figures include its own queueing")
        for n, v in rss.items():
            if len(v) >= 3:
                half = len(v) // 2
                print(f"RSS {n:8s} start {v[0]:7.0f} MB  after 1st interval {v[1]:7.0f} MB  mid {v[half]:7.0f} MB  "
                      f"end {v[-1]:7.0f} MB  growth second half {v[-1] - v[half]:+6.0f} MB")
        return 0
    finally:
        for client in clients:
            try:
                client.sio.disconnect()
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
