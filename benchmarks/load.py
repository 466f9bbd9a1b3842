"""Load and soak through processes by role: the PBX simulator (a process of its own, real AMI over
TCP, as Asterisk is) keeps `--concurrent` answered service-hotline calls in the system at once
(queued + talking; a new call starts whenever one ends, at most `--rate` per second while ramping
up) for 200 agent phones, from `--callers` distinct numbers; one listener, two web processes and
`--workers` worker processes (PostgreSQL schema of its own, a private redis-server); 200 agents and
20 supervisors as python-socketio AsyncClients in `--client-procs` processes of their own (rig.Fleet),
each connected to its web process. The issue's target:

    .venv/bin/python benchmarks/load.py --minutes 10 --concurrent 300 --agents 200 --supervisors 20

Every `--every` seconds it prints: calls offered, calls in the system (the simulator's count and the
listener's live picture), calls stored, the listener's store backlog, transcription jobs queued,
pops received, pop latency p50/p95/p99 over the interval (AgentCalled leaving the simulator → the
pop at the agent's client, as benchmarks/screen_pop.py measures; one clock: one machine), its p99
split at the listener's AMI read (each pop carries `rang_at`, when the listener read AgentCalled),
wallboard update latency p50/p95 (the call's first event, Newchannel, leaving the simulator → the
call on a supervisor's board, for every supervisor), the load average and the RSS of each process.
At the end: calls offered / recorded / duplicates, peak and mean calls in the system, the store
backlog over time, pop latency over the whole run and where it went, hop by hop:

  sim → AMI read        the simulator's write to the listener's read (pop's rang_at − frame sent)
  listener              AMI read → the event on Redis (listener's hotline_pop_hop_seconds)
  redis                 published → read by a web process's subscriber (web's histogram)
  queue                 on the console's event queue (web's)
  build                 the pop looked up and assembled (web's)
  emit                  socketio.emit to the agent's room (web's)
  emit → client         the rest: the socket writers, the network, the client's loop (computed)

(the web hops from the processes' Prometheus histograms: p50/p99 interpolated within buckets),
wallboard latency, pops built per web process, CPU per process (bench, simulator and client
processes apart) and each process's RSS at start / middle / end (flat?).

    .venv/bin/python benchmarks/load.py [--minutes 10] [--concurrent 300] [--agents 200]
                                        [--supervisors 20] [--rate 30] [--talk 18] [--every 10]
                                        [--client-procs 4] [--callers 5000] [--workers 1]

The worker takes the transcription jobs the listener queues for the answered calls: each call's
recording is half a second of silence written by the simulator (speech recognition itself is
measured by benchmarks/transcribe.py), so a job costs its file check, a short Vosk decode and the
store; `tr-jobs` shows whether the workers keep up, and the end the job counts.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis
import requests
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rig import Arrival, Fleet, PbxProcess, compact_summary, load_avg, login_all, pct, seed_users  # noqa: E402

from cases.db import Database  # noqa: E402
from telephony.simulator.people import LOAD_CALLERS, make_agents  # noqa: E402

PG = os.environ.get("HOTLINE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
EXE = [sys.executable, "-m", "hotline_cli.main"]
HOP_METRIC = "hotline_pop_hop_seconds"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


# --- per-hop histograms from the processes' /metrics -------------------------------------------

Buckets = dict[str, dict[float, float]]  # hop -> upper bound -> cumulative count


def hop_buckets(url: str) -> Buckets:
    """hotline_pop_hop_seconds buckets of one process (empty if unreadable)."""
    got: Buckets = {}
    try:
        body = requests.get(url, timeout=5).text
    except requests.RequestException:
        return got
    for line in body.splitlines():
        if line.startswith(f"{HOP_METRIC}_bucket{{"):
            labels, value = line[len(HOP_METRIC) + 8:].rsplit("} ", 1)
            d = dict(kv.split("=", 1) for kv in labels.split(","))
            le = d["le"].strip('"')
            got.setdefault(d["hop"].strip('"'), {})[float("inf") if le == "+Inf" else float(le)] = float(value)
    return got


def add_buckets(*many: Buckets) -> Buckets:
    total: Buckets = {}
    for b in many:
        for hop, counts in b.items():
            for le, n in counts.items():
                total.setdefault(hop, {})[le] = total.get(hop, {}).get(le, 0.0) + n
    return total


def sub_buckets(a: Buckets, b: Buckets) -> Buckets:
    return {hop: {le: n - b.get(hop, {}).get(le, 0.0) for le, n in counts.items()} for hop, counts in a.items()}


def bucket_pct(counts: dict[float, float], p: float) -> float:
    """The p-th percentile in ms, interpolated linearly within its bucket (Prometheus' way)."""
    bounds = sorted(counts)
    total = counts[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return float("nan")
    rank, lower, below = p / 100 * total, 0.0, 0.0
    for le in bounds:
        if counts[le] >= rank:
            if le == float("inf"):
                return lower * 1000
            inside = counts[le] - below
            return (lower + (le - lower) * ((rank - below) / inside if inside else 1.0)) * 1000
        lower, below = le, counts[le]
    return lower * 1000


# --- the clients' arrivals ------------------------------------------------------------------------


class Arrivals:
    """Pops and wallboard rows as the clients saw them, matched to the simulator's frames."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}  # "linkedid|agent" -> AgentCalled handed to the AMI sessions
        self.started: dict[str, float] = {}  # linkedid -> its first Newchannel handed over
        self.pops: dict[str, tuple[float, float]] = {}  # "linkedid|agent" -> (arrival, rang_at)
        self.on_board: list[tuple[float, float]] = []  # (arrival, call start → on a supervisor's board)
        self._seen: set[str] = set()
        self.frames_read = 0
        self.boards = 0

    def frames(self, frames: list[tuple[str, str, str, float]]) -> None:
        self.frames_read += len(frames)
        for event, linkedid, peer, t in frames:
            if event == "AgentCalled":
                self.sent.setdefault(f"{linkedid}|{peer}", t)
            else:
                self.started.setdefault(linkedid, t)

    def arrived(self, arrivals: list[Arrival]) -> None:
        """Arrivals polled before the frames they follow were read (so every call's start is known)."""
        for user, name, at, what in arrivals:
            if name == "screen_pop":
                linkedid, _, rang = what.partition(" ")
                self.pops.setdefault(f"{linkedid}|{user}", (at, float(rang)))
            else:
                self.boards += 1
                for linkedid in what.split():
                    key = f"{linkedid}|{user}"
                    if key in self._seen:
                        continue
                    started = self.started.get(linkedid)
                    if started is not None:
                        self._seen.add(key)
                        self.on_board.append((at, at - started))

    def latencies(self, since: float, until: float) -> list[tuple[float, float]]:
        """(sim → client, sim → AMI read) of the pops that arrived in [since, until)."""
        return [(at - self.sent[k], rang - self.sent[k]) for k, (at, rang) in self.pops.items()
                if k in self.sent and since <= at < until]

    def board_latencies(self, since: float, until: float) -> list[float]:
        return [v for t, v in self.on_board if since <= t < until]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--supervisors", type=int, default=20)
    ap.add_argument("--concurrent", type=int, default=300, help="calls kept in the system (queued + talking)")
    ap.add_argument("--rate", type=float, default=30.0, help="at most this many new calls per second")
    ap.add_argument("--talk", type=float, default=18.0, help="mean talk seconds per call (±30 %%)")
    ap.add_argument("--every", type=float, default=10.0, help="seconds between printed lines")
    ap.add_argument("--client-procs", type=int, default=4, help="processes for the clients (split over the webs)")
    ap.add_argument("--callers", type=int, default=LOAD_CALLERS, help="distinct caller numbers of the calls")
    ap.add_argument("--workers", type=int, default=1, help="worker processes (transcription and report jobs)")
    ap.add_argument("--load-nice", type=int, default=10,
                    help="nice value of the simulator and the clients: on a site Asterisk and the agents' browsers "
                         "are other machines; here they share the cores with the system under test and take only "
                         "what it leaves (0: the same priority, as runs before 2026-11-30 evening). Their stamps stay "
                         "conservative: a simulator send or a client read that waits only adds to the latency")
    ap.add_argument("--worker-nice", type=int, default=10,
                    help="nice value of the workers, as their systemd unit in docs/operations.md sets (background "
                         "jobs take what the pops leave)")
    args = ap.parse_args()
    if args.callers < 1 or args.workers < 0:
        ap.error("--callers must be at least 1 and --workers at least 0")

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
    fleet: Fleet | None = None
    pbx: PbxProcess | None = None
    try:
        db = Database(db_url)
        db.migrate()
        supervisors = [f"sup{i:02d}" for i in range(args.supervisors)]
        seed_users(db, args.agents, supervisors)  # one argon2 hash shared by all: setup in seconds
        db.dispose()
        redis_port = free_port()
        procs["redis"] = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                                           "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, text=True)
        # real time (time_scale 1), the listener's wrap-up of 0.5 s as before
        recordings = tmp / "rec"
        recordings.mkdir()
        pbx = PbxProcess.start(args.agents, seed=7, watch=("AgentCalled", "Newchannel"), time_scale=1.0,
                               wrap_up_s=0.5, load_callers=args.callers, recordings_dir=str(recordings),
                               nice=args.load_nice)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env |= {"HOTLINE_DATABASE_URL": db_url, "HOTLINE_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                "HOTLINE_AMI_PORT": str(pbx.port), "HOTLINE_SECRET_KEY": "load", "HOTLINE_RECORDINGS_DIR":
                str(recordings), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        metrics_port = free_port()
        web_ports = [free_port(), free_port()]

        def start(name: str, *cmd: str, nice: int = 0) -> None:
            log = (tmp / f"{name}.log").open("w")
            procs[name] = subprocess.Popen([*EXE, *cmd], cwd=tmp, env=env | {"HOTLINE_DATA_DIR": str(tmp / name)},
                                           stdout=log, stderr=subprocess.STDOUT, text=True,
                                           preexec_fn=(lambda: os.nice(nice)) if nice else None)

        start("listener", "serve", "--role", "listener", "--metrics-port", str(metrics_port))
        for i, port in enumerate(web_ports):
            start(f"web{i + 1}", "serve", "--role", "web", "--port", str(port))
        workers = [f"worker{i + 1}" for i in range(args.workers)]
        for name in workers:
            start(name, "serve", "--role", "worker", nice=args.worker_nice)
        bases = [f"http://127.0.0.1:{p}" for p in web_ports]
        for b in bases:
            wait_http(f"{b}/login")
        metric_urls = [f"http://127.0.0.1:{metrics_port}/metrics", *(f"{b}/metrics" for b in bases)]
        users = [a.peer for a in make_agents(args.agents)] + supervisors
        t0 = time.time()
        cookies: dict[str, str] = {}
        for i, b in enumerate(bases):  # each user's session on the web process its client connects to
            mine = users[i::2]
            cookies |= dict(zip(mine, login_all(b, mine), strict=True))
        fleet = Fleet.connect([bases[i % 2] for i in range(len(users))], [(u, cookies[u]) for u in users],
                              ["screen_pop", "wallboard_delta", "wallboard"], args.client_procs,
                              summary=compact_summary, stream_dir=str(tmp), nice=args.load_nice)
        print(f"{fleet.connected} clients connected in {time.time() - t0:.0f} s "
              f"({args.agents} agents, {args.supervisors} supervisors over 2 web processes, clients in "
              f"{len(fleet.procs)} processes); {len(workers)} workers; calls from {args.callers} numbers; "
              f"{args.concurrent} calls in the system (at most {args.rate} new/s), "
              f"talk {args.talk} s, {args.minutes} min; simulator and clients at nice {args.load_nice}, workers at "
              f"nice {args.worker_nice}; logs in {tmp}; {load_avg()}", flush=True)
        rds = redis.Redis(port=redis_port)
        seen = Arrivals()

        def catch_up() -> None:
            arrived = fleet.poll() if fleet is not None else []
            assert pbx is not None
            seen.frames(pbx.ask("frames", seen.frames_read))  # after the poll: each arrival's frame is read
            seen.arrived(arrived)

        names = ["listener", "web1", "web2", *workers, "redis"]
        rss: dict[str, list[float]] = {n: [] for n in [*names, "sim", "clients", "bench"]}
        pids = {n: [procs[n].pid] for n in names} | {"sim": [pbx.proc.pid], "clients": [p.pid for p in fleet.procs],
                                                        "bench": [os.getpid()]}

        def sample_rss() -> None:
            for n, ps in pids.items():
                rss[n].append(sum(rss_mb(pid) for pid in ps))

        sample_rss()  # at start, before any call
        store_backlog: list[tuple[float, str]] = []
        cpu_start = {n: sum(cpu_s(pid) for pid in ps) for n, ps in pids.items()}
        hops_start = add_buckets(*(hop_buckets(u) for u in metric_urls))
        pbx.ask("keep", args.concurrent, args.rate, args.talk)
        print(f"{'t':>5} {'offered':>7} {'in-sys':>6} {'live':>5} {'stored':>6} {'store-q':>7} {'tr-jobs':>7} "
              f"{'pops':>6} {'p50ms':>6} {'p95ms':>6} {'p99ms':>6} {'p99sim':>6} {'wb-p50':>6} {'wb-p95':>6} "
              f"{'boards':>7} {'load1':>5}  RSS MB " + " ".join(f"{n:>8}" for n in rss), flush=True)
        start_at = time.time()
        end = start_at + args.minutes * 60
        last = start_at
        engine = create_engine(db_url)
        offered, in_system = 0, [0]
        while time.time() < end:
            time.sleep(max(0.0, min(args.every, end - time.time())))
            now = time.time()
            catch_up()
            offered, in_system, _ = pbx.ask("counts")
            live = -1
            try:
                raw = rds.get("hotline:live")
                live = json.loads(raw)["live_calls"] if raw else 0
            except (redis.RedisError, ValueError, KeyError):
                pass
            with engine.connect() as c:
                stored = c.execute(text("SELECT count(*) FROM calls WHERE outcome <> 'pending'")).scalar_one()
            try:
                m = requests.get(metric_urls[0], timeout=5).text
                store_q = next((ln.split()[-1] for ln in m.splitlines() if ln.startswith("hotline_store_backlog")),
                               "?")
                tr_jobs = next((ln.split()[-1] for ln in m.splitlines()
                                if ln.startswith("hotline_transcription_backlog")), "?")
            except requests.RequestException:
                store_q = tr_jobs = "?"
            pairs = seen.latencies(last, now)
            lat = [a for a, _ in pairs]
            on_board = seen.board_latencies(last, now)
            store_backlog.append((now - start_at, store_q))
            sample_rss()
            print(f"{now - start_at:5.0f} {offered:7d} {in_system[-1] if in_system else 0:6d} {live:5d} "
                  f"{stored:6d} {store_q:>7} {tr_jobs:>7} {len(lat):6d} {pct(lat, 50):6.1f} {pct(lat, 95):6.1f} "
                  f"{pct(lat, 99):6.1f} {pct([b for _, b in pairs], 99):6.1f} {pct(on_board, 50):6.0f} "
                  f"{pct(on_board, 95):6.0f} {seen.boards:7d} {os.getloadavg()[0]:5.1f}          "
                  + " ".join(f"{v[-1]:8.0f}" for v in rss.values()), flush=True)
            last = now
        cpu_used = {n: sum(cpu_s(pid) for pid in ps) - cpu_start[n] for n, ps in pids.items()}
        hops = sub_buckets(add_buckets(*(hop_buckets(u) for u in metric_urls)), hops_start)
        wall = time.time() - start_at
        load_during = load_avg()
        expected = set(pbx.ask("halt"))  # no new calls; those in progress end
        offered = len(expected)
        drain_until = time.time() + args.talk * 1.3 + 60
        recorded = 0
        while time.time() < drain_until:
            with engine.connect() as c:
                rows = c.execute(text("SELECT linkedid, outcome FROM calls")).all()
            recorded = sum(1 for lid, outcome in rows if lid in expected and outcome != "pending")
            if recorded >= offered:
                break
            time.sleep(2)
        with engine.connect() as c:
            dup = c.execute(text("SELECT count(*) - count(DISTINCT linkedid) FROM calls")).scalar_one()
        engine.dispose()
        seen.arrived(fleet.arrivals())
        fleet = None
        pairs = seen.latencies(0, time.time())
        lat = [a for a, _ in pairs]
        on_board = seen.board_latencies(0, time.time())
        print(f"\ncalls offered {offered}, recorded {recorded} ({recorded / max(1, offered):.1%}), "
              f"duplicates {dup}")
        steady = in_system[len(in_system) // 10:] or in_system  # without the first tenth (the ramp-up)
        print(f"calls in the system (queued + talking, the simulator's count each second): peak {max(in_system)}, "
              f"mean {sum(steady) / max(1, len(steady)):.0f} after the ramp-up (target {args.concurrent})")
        print("listener store backlog (calls waiting to be written) over time: "
              + ", ".join(f"{t:.0f}s {q}" for t, q in store_backlog))
        print(f"pops {len(lat)} of {len(seen.sent)} rings: AgentCalled leaving the simulator → pop at the client "
              f"p50 {pct(lat, 50):.1f} ms, p95 {pct(lat, 95):.1f} ms, p99 {pct(lat, 99):.1f} ms, "
              f"max {pct(lat, 100):.0f} ms (goal p99 <= 50 ms); {load_during}")
        print(f"where it went (hop: p50 / p99 ms; {', '.join(f'{h} {int(c[max(c)])}' for h, c in hops.items())} "
              f"timed by the processes):")
        print(f"  {'sim → AMI read':<22} {pct([b for _, b in pairs], 50):8.1f} {pct([b for _, b in pairs], 99):8.1f}"
              "   (pop's rang_at − frame sent; exact per pop)")
        for hop in ("listener", "redis", "queue", "build", "emit"):
            counts = hops.get(hop, {})
            print(f"  {hop:<22} {bucket_pct(counts, 50):8.1f} {bucket_pct(counts, 99):8.1f}   (histogram)")
        rest = [a - b for a, b in pairs]
        print(f"  {'AMI read → client':<22} {pct(rest, 50):8.1f} {pct(rest, 99):8.1f}   (client arrival − rang_at; "
              f"the listener, Redis, web and socket hops together)")
        print(f"wallboard: {seen.boards} updates at {args.supervisors} supervisors; a call's Newchannel leaving "
              f"the simulator → the call on a supervisor's board p50 {pct(on_board, 50):.0f} ms, "
              f"p95 {pct(on_board, 95):.0f} ms, p99 {pct(on_board, 99):.0f} ms ({len(on_board)} call×supervisor)")
        for i, b in enumerate(bases):
            try:
                st = requests.get(f"{b}/status", timeout=10).json()
                print(f"web{i + 1}: pops built {st.get('pops_built')} (its {len(users[i::2])} clients' agents only), "
                      f"wallboard {st.get('wallboard')}")
                if i == 0:
                    jobs = st.get("transcription_jobs") or {}
                    print(f"transcription jobs after the drain ({len(workers)} workers): queued {jobs.get('queued')}, "
                          f"running {jobs.get('running')}, retrying {jobs.get('retrying')}, failed {jobs.get('failed')}"
                          + (f" (e.g. {jobs['failed_jobs'][0].get('error')})" if jobs.get("failed_jobs") else ""))
            except (requests.RequestException, ValueError) as exc:
                print(f"web{i + 1}: /status unreadable: {exc}")
        print(f"CPU during the load ({wall:.0f} s; share of one core): "
              + ", ".join(f"{n} {c:.0f} s ({c / wall:.0%})" for n, c in cpu_used.items())
              + f"; {load_during} on {os.cpu_count()} cores")
        for n, v in rss.items():
            if len(v) >= 3:
                half = len(v) // 2
                print(f"RSS {n:8s} start {v[0]:7.0f} MB  after 1st interval {v[1]:7.0f} MB  mid {v[half]:7.0f} MB  "
                      f"end {v[-1]:7.0f} MB  growth second half {v[-1] - v[half]:+6.0f} MB")
        return 0
    finally:
        if fleet is not None:
            fleet.close()
        # Hotline's processes first, Redis last: stopping together, they logged Redis errors on the way out
        for group in ([p for n, p in procs.items() if n != "redis"], [p for n, p in procs.items() if n == "redis"]):
            for p in group:
                p.terminate()
            for p in group:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
        if pbx is not None:
            try:
                pbx.stop()
            except (OSError, EOFError):  # the simulator process is gone already
                pbx.proc.terminate()
        with admin.begin() as c:
            c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
