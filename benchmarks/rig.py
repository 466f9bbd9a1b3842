"""What the console benchmarks (screen_pop.py, wallboard.py) share: a seeded database, the PBX
simulator behind a real AMI TCP server, the console on a real threaded HTTP server, agents and
supervisors logged in over HTTP, and their Socket.IO clients.

The clients are python-socketio `AsyncClient`s, many per process on one asyncio loop (as many
browsers are many machines, not 200 Python processes on the server's two cores): each is its own
Socket.IO connection with its own login session, but the benchmark no longer spends the server's
CPU on ~3 client threads per agent.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from flask import Flask, request
from flask_socketio import SocketIO, join_room
from sqlalchemy import select
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_console.app import create_app, dispatcher  # noqa: E402
from agent_console.config import ConsoleConfig  # noqa: E402
from agent_console.dispatcher import Dispatcher  # noqa: E402
from cases import demo_seed, passwords  # noqa: E402
from cases.db import Database  # noqa: E402
from cases.models.accounts import User  # noqa: E402
from telephony.connection import AmiEndpoint  # noqa: E402
from telephony.events import EventBus  # noqa: E402
from telephony.pbxlink import CombinedLive, PbxControl, PbxLink, make_links  # noqa: E402
from telephony.simulator.pbx import SimulatedPbx  # noqa: E402
from telephony.simulator.people import LOAD_CALLERS, make_agents  # noqa: E402
from telephony.simulator.scenario import CallScript  # noqa: E402
from telephony.simulator.server import AmiServer  # noqa: E402

PASSWORD = "bench-password"
Fields = list[tuple[str, str]]
# (user, event name, receive time, what it carried: the linkedid of a pop, the JSON text of anything else)
Arrival = tuple[str, str, float, str]
Frame = tuple[str, str, str, float]


def pct(xs: Iterable[float], p: float) -> float:
    """The p-th percentile of seconds, in ms (nearest rank)."""
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] * 1000 if s else float("nan")


def load_avg() -> str:
    one, five, fifteen = (float(x) for x in Path("/proc/loadavg").read_text().split()[:3])
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def serve(app: Flask) -> tuple[str, Any]:
    """`app` on a threaded Werkzeug server on a free loopback port (what `hotline serve` runs)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def seed_users(db: Database, agents: int, supervisors: Iterable[str] = ()) -> None:
    """The demo data, the simulator's agents and the given supervisors, all with PASSWORD (one
    argon2 hash for all: setup in seconds)."""
    with db.session() as s:
        demo_seed.seed_demo(s)
        shared = passwords.hash_password(PASSWORD)
        seeded = {u.username: u for u in s.scalars(select(User)).all()}
        for a in make_agents(agents):
            if a.peer in seeded:  # the demo's agent1001-1003
                seeded[a.peer].password_hash = shared
            else:
                s.add(User(username=a.peer, display_name=a.member_name, role="agent", password_hash=shared))
        for name in supervisors:
            s.add(User(username=name, display_name=name, role="supervisor", password_hash=shared))


def login(base: str, user: str) -> str:
    """Log `user` in through the login form; the session's Cookie header."""
    http = requests.Session()
    page = http.get(f"{base}/login", timeout=60).text
    token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    r = http.post(f"{base}/login", data={"username": user, "password": PASSWORD, "csrf_token": token},
                  allow_redirects=False, timeout=60)
    if r.status_code != 302:
        raise SystemExit(f"login of {user} failed: {r.status_code}")
    return "; ".join(f"{k}={v}" for k, v in http.cookies.items())


def login_all(base: str, users: list[str]) -> list[str]:
    """Cookie headers of `users`, logged in a few at a time (argon2 verification is the slow part)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda u: login(base, u), users))


# --- the clients -------------------------------------------------------------------------------


def full_summary(name: str, data: Any) -> str:
    """What an arrival keeps: the linkedid of a pop, the JSON text of anything else."""
    return str(data.get("linkedid")) if name == "screen_pop" else json.dumps(data, ensure_ascii=False)


def compact_summary(name: str, data: Any) -> str:
    """For long runs: a pop's "linkedid rang_at" (rang_at: when the listener read its AgentCalled);
    a wallboard's live calls as "linkedid linkedid ..." (the rows it adds or carries)."""
    if name == "screen_pop":
        return f"{data.get('linkedid')} {data.get('rang_at')}"
    rows = data.get("live_calls", {})
    rows = rows.get("upsert", []) if isinstance(rows, dict) else rows
    return " ".join(str(r.get("linkedid")) for r in rows)


def _niced(nice: int, target: Callable[..., None], *args: Any) -> None:
    """Run `target(*args)` at `nice` (a process of the load: its threads, made later, inherit it)."""
    if nice:
        os.nice(nice)
    target(*args)


def _client_process(base: str, users: list[tuple[str, str]], events: list[str], ready: Any, stop: Any,
                    out: Any, summary: Callable[[str, Any], str] = full_summary, stream_to: str = "",
                    stream_s: float = 2.0) -> None:
    """One process of AsyncClients on one loop: (user, cookie) each; records every `events` arrival
    (`summary` of it) and puts ("end", arrivals) on `out` once stopped. With `stream_to` (a file)
    the arrivals are appended there every `stream_s` seconds instead, a tab-separated line each (a
    file never blocks this loop as a pipe the reader has not emptied would), and "end" carries none."""
    import socketio

    arrivals: list[Arrival] = []

    async def run() -> None:
        clients: list[socketio.AsyncClient] = []

        def recorder(user: str, name: str) -> Callable[[Any], None]:
            def got(data: Any) -> None:
                arrivals.append((user, name, time.time(), summary(name, data)))
            return got

        async def connect(user: str, cookie: str) -> socketio.AsyncClient:
            sio = socketio.AsyncClient(reconnection=False)
            for name in events:
                sio.on(name, recorder(user, name))
            for attempt in range(3):  # a loaded machine may time a handshake out
                try:
                    await sio.connect(base, transports=["websocket"], headers={"Cookie": cookie} if cookie else {},
                                      auth={"user": user}, wait_timeout=30)
                    return sio
                except socketio.exceptions.ConnectionError:
                    if attempt == 2:
                        raise
                    await asyncio.sleep(1)
            return sio

        sem = asyncio.Semaphore(10)

        async def limited(user: str, cookie: str) -> socketio.AsyncClient:
            async with sem:
                return await connect(user, cookie)

        try:
            clients = list(await asyncio.gather(*(limited(u, c) for u, c in users)))
        except Exception as exc:  # say so instead of leaving the benchmark waiting
            print(f"client process failed: {exc!r}", file=sys.stderr)
            ready.put(0)
            out.put(("end", []))
            return
        ready.put(len(clients))
        written = time.monotonic()
        sink = open(stream_to, "a", encoding="utf-8") if stream_to else None  # noqa: SIM115 (closed below)

        def write_out() -> None:
            assert sink is not None
            part = arrivals[:]
            del arrivals[:len(part)]
            sink.write("".join(f"{u}\t{n}\t{at!r}\t{what}\n" for u, n, at, what in part))
            sink.flush()

        while not stop.is_set():
            await asyncio.sleep(0.1)
            if sink is not None and time.monotonic() - written >= stream_s:
                written = time.monotonic()
                write_out()
        if sink is not None:
            write_out()
            sink.close()
        out.put(("end", list(arrivals)))
        await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)

    asyncio.run(run())


@dataclass
class Fleet:
    """Socket.IO clients in `procs` processes of their own; `arrivals()` once done."""

    procs: list[Any] = field(default_factory=list)
    connected: int = 0
    _ctx: Any = None
    _stop: Any = None
    _out: Any = None
    _streams: dict[str, int] = field(default_factory=dict)  # file -> bytes read

    @classmethod
    def connect(cls, base: str | list[str], users: list[tuple[str, str]], events: list[str], procs: int = 1,
                summary: Callable[[str, Any], str] = full_summary, stream_dir: str = "", nice: int = 0) -> Fleet:
        """`base`: the console, or one per user (several web processes). `summary`: what each arrival
        keeps (a module-level function, tab- and newline-free); `stream_dir`: the clients hand their
        arrivals over every 2 s through files there (`poll()`)."""
        bases = [base] * len(users) if isinstance(base, str) else base
        groups: dict[str, list[tuple[str, str]]] = {}
        for b, u in zip(bases, users, strict=True):
            groups.setdefault(b, []).append(u)
        ctx = mp.get_context("spawn")
        fleet = cls(_ctx=ctx, _stop=ctx.Event(), _out=ctx.Queue())
        ready = ctx.Queue()
        per = max(1, min(procs, len(users)) // len(groups))
        for b, members in groups.items():
            for i in range(min(per, len(members))):
                stream = str(Path(stream_dir) / f"clients-{len(fleet.procs)}.tsv") if stream_dir else ""
                if stream:
                    fleet._streams[stream] = 0
                p = ctx.Process(target=_niced, args=(nice, _client_process, b, members[i::per], events, ready,
                                                     fleet._stop, fleet._out, summary, stream), daemon=True)
                p.start()
                fleet.procs.append(p)
        fleet.connected = sum(ready.get(timeout=600) for _ in fleet.procs)
        if fleet.connected < len(users):
            fleet.close()
            raise SystemExit(f"only {fleet.connected} of {len(users)} clients connected")
        return fleet

    def poll(self) -> list[Arrival]:
        """What the clients wrote to their files since the last poll (`stream_dir`)."""
        got: list[Arrival] = []
        for path, offset in self._streams.items():
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    data = f.read()
            except FileNotFoundError:
                continue
            done = data.rfind(b"\n") + 1  # whole lines only: the rest is still being written
            self._streams[path] = offset + done
            for line in data[:done].decode("utf-8").splitlines():
                user, name, at, what = line.split("\t", 3)
                got.append((user, name, float(at), what))
        return got

    def arrivals(self) -> list[Arrival]:
        """Stop the clients and collect what they received (streamed: what `poll()` has not had)."""
        self._stop.set()
        got: list[Arrival] = []
        for _ in self.procs:
            _, part = self._out.get(timeout=120)
            got.extend(part)
        got.extend(self.poll())
        self.close()
        return got

    def close(self) -> None:
        self._stop.set()
        for p in self.procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()


def first_arrivals(arrivals: list[Arrival], event: str) -> dict[str, float]:
    """'linkedid|user' -> first arrival of `event` (a pop) at that user's client."""
    first: dict[str, float] = {}
    for user, name, at, what in arrivals:
        if name == event:
            key = f"{what}|{user}"
            first[key] = min(at, first.get(key, at))
    return first


# --- the system under test ---------------------------------------------------------------------


SILENT_RECORDING_S = 0.5


def write_silent_recording(script: CallScript) -> None:
    """An answered simulated call's MixMonitor file: half a second of silence (8 kHz, 16-bit mono),
    so that its transcription job finds a recording and finishes instead of waiting for one."""
    import wave

    if not script.recording or script.answered_by is None:
        return
    with wave.open(script.recording, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\0\0" * int(8000 * SILENT_RECORDING_S))


def _pbx_process(agents: int, seed: int, watch: tuple[str, ...], conn: Any, time_scale: float = 10.0,
                 wrap_up_s: float = 0.2, load_callers: int = LOAD_CALLERS, recordings_dir: str | None = None) -> None:
    """The PBX simulator and its AMI server in a process of their own, as Asterisk is: its call
    scripting and frame writing never hold the console's GIL. Records when each frame whose Event is
    in `watch` is handed to the AMI sessions; obeys ("calls", rate, seconds), ("keep", concurrent,
    rate, talk_s) (in the background until "halt": answers the linkedids made), ("counts",),
    ("frames"[, from]), ("stop",). Load calls come from `load_callers` numbers. With `recordings_dir`,
    answered calls are recorded there (`write_silent_recording`); otherwise no file is written."""
    tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-pbx-"))
    pbx = SimulatedPbx(recordings_dir=recordings_dir or str(tmp), agents=make_agents(agents), time_scale=time_scale,
                       seed=seed, wrap_up_s=wrap_up_s, load_callers=load_callers)
    if recordings_dir is not None:
        pbx.on_script(write_silent_recording)
    keeper = _Keeper(pbx)
    frames: list[Frame] = []

    def on_batch(batch: list[Fields]) -> None:
        now = time.time()
        for fields in batch:
            if fields and fields[0][0] == "Event" and fields[0][1] in watch:
                d = dict(fields)
                frames.append((d["Event"], d.get("Linkedid", ""), d.get("Interface", "").split("/")[-1], now))

    pbx.add_listener(on_batch)  # before the AMI sessions' listeners: the time the bytes are handed over
    ami = AmiServer(("127.0.0.1", 0), pbx)
    pbx.start()
    ami.serve_in_thread()
    conn.send(ami.port)
    while True:
        cmd = conn.recv()
        if cmd[0] == "calls":
            conn.send(_calls(pbx, cmd[1], cmd[2]))
        elif cmd[0] == "keep":
            threading.Thread(target=keeper.run, args=cmd[1:], daemon=True).start()
            conn.send(None)
        elif cmd[0] == "halt":  # no new calls; those in progress go on
            keeper.stop.set()
            conn.send(list(keeper.made))
        elif cmd[0] == "counts":
            conn.send((len(keeper.made), list(keeper.in_system), keeper.refused))
        elif cmd[0] == "frames":
            conn.send(frames[cmd[1] if len(cmd) > 1 else 0:])
        else:
            keeper.stop.set()
            ami.shutdown_all()
            pbx.stop()
            conn.send(None)
            return


def _calls(pbx: SimulatedPbx, rate: float, seconds: float) -> int:
    start = time.monotonic()
    calls = n = 0
    while (due := start + n / rate) < start + seconds:
        time.sleep(max(0.0, due - time.monotonic()))
        n += 1
        try:
            pbx.start_load_call(talk_s=3.0)
            calls += 1
        except Exception as exc:  # e.g. no agent free: the run goes on
            print(f"call not started: {exc!r}", file=sys.stderr)
    return calls


class _Keeper:
    """Keeps `concurrent` calls in the system (queued + talking): a new one whenever one ended, at
    most `rate` per second; talk times spread ±30 % around `talk_s` (the first calls do not all end
    at once). Samples the calls in the system once a second."""

    def __init__(self, pbx: SimulatedPbx) -> None:
        self.pbx = pbx
        self.made: list[str] = []
        self.in_system: list[int] = []
        self.refused = 0
        self.stop = threading.Event()

    def run(self, concurrent: int, rate: float, talk_s: float) -> None:
        import random

        talks = random.Random(7)
        next_at = next_sample = time.time()
        while not self.stop.is_set():
            now = time.time()
            if now >= next_sample:
                self.in_system.append(len(self.pbx.calls))
                next_sample += 1.0
            if len(self.pbx.calls) < concurrent:
                try:
                    self.made.append(self.pbx.start_load_call(talk_s=talks.uniform(0.7, 1.3) * talk_s).linkedid)
                except Exception as exc:  # the simulator refused a call: counted as not made
                    self.refused += 1
                    print(f"call not started: {exc!r}", file=sys.stderr)
                next_at = max(next_at + 1 / rate, time.time() - 1.0)
            else:
                next_at = time.time() + 0.05
            self.stop.wait(max(0.0, min(next_at, next_sample) - time.time()))


@dataclass
class PbxProcess:
    """The simulator and its AMI server in a process of their own (or a thread of this one)."""

    proc: Any
    conn: Any
    port: int

    @classmethod
    def start(cls, agents: int, *, seed: int, watch: tuple[str, ...] = (), in_process: bool = False,
              time_scale: float = 10.0, wrap_up_s: float = 0.2, load_callers: int = LOAD_CALLERS,
              recordings_dir: str | None = None, nice: int = 0) -> PbxProcess:
        """`nice`: the simulator's process runs at that nice value (not with `in_process`)."""
        if nice and in_process:
            raise ValueError("nice is for a simulator in a process of its own")
        ctx = mp.get_context("spawn")
        conn, child = ctx.Pipe()
        proc: Any = (threading.Thread if in_process else ctx.Process)(
            target=_niced, args=(nice, _pbx_process, agents, seed, watch, child, time_scale, wrap_up_s, load_callers,
                                 recordings_dir), daemon=True)
        proc.start()
        return cls(proc, conn, conn.recv())

    def ask(self, *cmd: Any) -> Any:
        self.conn.send(cmd)
        return self.conn.recv()

    def stop(self) -> None:
        self.ask("stop")
        self.proc.join(timeout=30)


@dataclass
class Rig:
    """Simulator (own process), AMI link, bus and console of one benchmark run."""

    db: Database
    pbx: Any  # the simulator process
    pbx_conn: Any
    bus: EventBus
    links: list[PbxLink]
    app: Flask
    socketio: SocketIO
    base: str
    web: Any

    @classmethod
    def start(cls, agents: int, *, seed: int, supervisors: Iterable[str] = (), watch: tuple[str, ...] = (),
              on_bus: Callable[[Any], None] | None = None, pbx_in_process: bool = False) -> Rig:
        """`watch`: AMI events whose hand-over the simulator times (`frames()`); `on_bus(event)`:
        every domain event, before the console sees it. `pbx_in_process`: the simulator in a thread
        of this process instead (how these benchmarks ran before: it competes for the console's GIL)."""
        import logging
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
        db = Database(f"sqlite:///{tmp / 'b.db'}")
        db.migrate()
        seed_users(db, agents, supervisors)
        sim = PbxProcess.start(agents, seed=seed, watch=watch, in_process=pbx_in_process)
        pbx, conn, port = sim.proc, sim.conn, sim.port
        bus = EventBus()
        if on_bus is not None:
            bus.subscribe(on_bus)
        links = make_links([AmiEndpoint("127.0.0.1", port, "hotline", "hotline", "sim")], bus)
        for link in links:
            link.client.start()
        app, sock = create_app(ConsoleConfig(secret_key="bench", wrap_up_s=0), db, bus,
                               CombinedLive([lk.tracker for lk in links]), control=PbxControl(links))
        base, web = serve(app)
        return cls(db, pbx, conn, bus, links, app, sock, base, web)

    @property
    def dispatcher(self) -> Dispatcher:
        return dispatcher(self.app)

    @staticmethod
    def agents(n: int) -> list[str]:
        return [a.peer for a in make_agents(n)]

    def calls(self, rate: float, seconds: float) -> int:
        """Load calls at `rate` per second (on a fixed schedule) for `seconds`; how many started."""
        self.pbx_conn.send(("calls", rate, seconds))
        n: int = self.pbx_conn.recv()
        return n

    def frames(self) -> list[Frame]:
        """(event, linkedid, peer of its Interface, time handed to the AMI sessions) of the watched events."""
        self.pbx_conn.send(("frames",))
        got: list[Frame] = self.pbx_conn.recv()
        return got

    def stop(self) -> None:
        self.dispatcher.stop()
        for link in self.links:
            link.client.stop()
        self.pbx_conn.send(("stop",))
        self.pbx_conn.recv()
        self.pbx.join(timeout=30)
        self.web.shutdown()


# --- the reference ---------------------------------------------------------------------------------


def reference_emits(clients: int, samples: int, rate: float, procs: int = 1) -> list[float]:
    """A bare Flask-SocketIO app (threading, the same server) with `clients` connected the same way:
    latency of one emit to one of them (each to the next client), `samples` at `rate` per second."""
    app = Flask(__name__)
    sock = SocketIO(app, async_mode="threading")

    def joined(auth: Any = None) -> None:
        join_room(str((auth or {}).get("user")), sid=request.sid)  # type: ignore[attr-defined]

    sock.on_event("connect", joined)

    base, server = serve(app)
    users = [f"ref{i}" for i in range(clients)]
    fleet = Fleet.connect(base, [(u, "") for u in users], ["screen_pop"], procs)
    time.sleep(0.5)
    sent: dict[str, float] = {}
    start = time.monotonic()
    for i in range(samples):
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        user = users[i % clients]
        sent[f"{i}|{user}"] = time.time()
        sock.emit("screen_pop", {"linkedid": str(i)}, to=user)
    time.sleep(1.0)
    got = first_arrivals(fleet.arrivals(), "screen_pop")
    server.shutdown()
    return [got[k] - sent[k] for k in got if k in sent]
