"""Hard failures mid-traffic, processes by role on loopback (PostgreSQL, a private Redis, the PBX
simulator): kill -9 of the listener, of a web process and of the worker, a Redis restart, a
PostgreSQL restart (a private server started by the test), an AMI cut (a TCP proxy between the
listener and the PBX that resets and refuses). Afterwards every call is recorded once, no
acknowledged case change is lost, pending transcriptions complete and consoles reconnect to the
listener's picture; each test prints what survived."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import socketio
from loopback import free_port
from rq.registry import StartedJobRegistry
from sqlalchemy import text as sqltext
from waits import start_redis, stop_processes

from cases.call_records import get_call
from cases.db import Database
from cases.demo_data import DEMO_PASSWORD
from cases.transcript_records import transcripts_for_call
from hotline_cli import jobqueue
from telephony.connection import AmiConnection, AmiEndpoint

EXE = [sys.executable, "-m", "hotline_cli.main"]
pytestmark = pytest.mark.slow


class Cluster:
    def __init__(self, tmp: Path, pg_url: str, *, voice: bool = False, ami_port: int | None = None,
                 listener_ami_port: int | None = None) -> None:
        self.tmp = tmp
        self.pg_url = pg_url
        self.ami_port = ami_port or free_port()
        self.redis_port = free_port()
        self.procs: dict[str, subprocess.Popen[Any]] = {}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        self.env |= {"HOTLINE_DATABASE_URL": pg_url, "HOTLINE_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                     "HOTLINE_AMI_PORT": str(self.ami_port), "HOTLINE_RECORDINGS_DIR": str(tmp / "rec"),
                     "HOTLINE_SECRET_KEY": "one-key-for-every-web-process",
                     "HOTLINE_VOICE_CACHE": str(tmp / "voice"), "HOTLINE_JOB_RETRY_S": "3,10,30"}
        self.start_redis()
        seed = subprocess.run([*EXE, "db", "--seed-demo"], cwd=tmp, capture_output=True, text=True, env=self.env,
                              timeout=120)
        assert seed.returncode == 0, seed.stderr
        sim = ["simulator", "--listen", f"127.0.0.1:{self.ami_port}", "--interval", "0", "--speed", "4",
               "--agents", "12", "--recordings", str(tmp / "rec")]
        self.start("simulator", *sim, *(["--voice"] if voice else []))
        self.listener_env = {"HOTLINE_AMI_PORT": str(listener_ami_port)} if listener_ami_port else {}
        self.start("listener", "serve", "--role", "listener")
        self.wait_log("listener", "Hotline listener:")

    def wait_log(self, name: str, text: str, timeout: float = 120) -> None:
        path = self.tmp / f"{name}.log"
        deadline = time.time() + timeout
        while time.time() < deadline:
            if path.exists() and text in path.read_text():
                if name.startswith("listener"):  # logged in to the simulator and resynced (a condition:
                    # on a loaded machine that can take seconds after the start line)
                    while "resync: " not in path.read_text():
                        assert time.time() < deadline, f"{name} never resynced: {path.read_text()[-2000:]}"
                        time.sleep(0.1)
                else:
                    time.sleep(1.0)
                return
            time.sleep(0.2)
        raise AssertionError(f"{name} never said {text!r}: {path.read_text()[-2000:] if path.exists() else ''}")

    def start_redis(self) -> None:
        self.procs["redis"] = start_redis(self.redis_port)

    def start(self, name: str, *args: str) -> None:
        log = (self.tmp / f"{name}.log").open("a")
        env = self.env | {"HOTLINE_DATA_DIR": str(self.tmp / name.split("#")[0])}
        if name.startswith("listener"):
            env |= self.listener_env
        self.procs[name] = subprocess.Popen([*EXE, *args], cwd=self.tmp, stdout=log, stderr=subprocess.STDOUT,
                                            text=True, env=env)

    def kill9(self, name: str) -> None:
        p = self.procs.pop(name)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)

    def call(self, **fields: str) -> str:
        deadline = time.time() + 20
        while True:
            conn = AmiConnection(AmiEndpoint("127.0.0.1", self.ami_port, "hotline", "hotline"), lambda m: None)
            try:
                conn.connect_and_login()
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        t = threading.Thread(target=lambda: [conn.read_once() for _ in range(20)], daemon=True)
        t.start()
        try:
            return conn.send_action("SimulateCall", fields, timeout=10).response["Linkedid"]
        finally:
            conn.close()

    def stored(self, linkedids: list[str]) -> dict[str, str]:
        db = Database(self.pg_url)
        try:
            with db.session() as s:
                return {lid: c.outcome for lid in linkedids if (c := get_call(s, lid)) is not None}
        finally:
            db.dispose()

    def answered(self, linkedids: list[str]) -> int:
        """How many of these calls the listener has stored as answered by an agent (talking or ended)."""
        db = Database(self.pg_url)
        try:
            with db.session() as s:
                return sum(1 for lid in linkedids if (c := get_call(s, lid)) is not None and c.answered_at is not None)
        finally:
            db.dispose()

    def live_on_pbx(self) -> set[str]:
        """Linkedids of the calls the simulator still has channels of (CoreShowChannels)."""
        conn = AmiConnection(AmiEndpoint("127.0.0.1", self.ami_port, "hotline", "hotline"), lambda m: None)
        conn.connect_and_login()

        def read() -> None:
            while not conn.closed and conn.read_once():
                pass

        threading.Thread(target=read, daemon=True).start()
        try:
            res = conn.send_action("CoreShowChannels", is_list=True, timeout=10)
            return {m["Linkedid"] for m in res.events if m.event == "CoreShowChannel"}
        finally:
            conn.close()

    def rows(self, linkedids: list[str]) -> int:
        """Rows in the calls table for these calls: each call recorded once means len(linkedids)."""
        db = Database(self.pg_url)
        try:
            with db.session() as s:
                return int(s.execute(sqltext("SELECT count(*) FROM calls WHERE linkedid = ANY(:ids)"),
                                     {"ids": linkedids}).scalar_one())
        finally:
            db.dispose()

    def transcribed(self, linkedids: list[str]) -> int:
        db = Database(self.pg_url)
        try:
            with db.session() as s:
                return sum(1 for lid in linkedids if any(t.engine == "vosk" for t in transcripts_for_call(s, lid)))
        finally:
            db.dispose()

    def web(self, name: str, port: int) -> str:
        self.start(name, "serve", "--role", "web", "--port", str(port))
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if requests.get(f"{base}/login", timeout=2).status_code == 200:
                    return base
            except requests.RequestException:
                time.sleep(0.3)
        raise AssertionError(f"{name} never answered: {(self.tmp / f'{name}.log').read_text()[-2000:]}")

    def close(self) -> None:
        stop_processes(self.procs.values())




def wait_until(cond: object, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.3)
    return False


def test_kill_9_of_the_listener_mid_traffic(tmp_path: Path, pg_url: str) -> None:
    cl = Cluster(tmp_path, pg_url)
    try:
        before = [cl.call(Scenario="service_answered", TalkSeconds="16") for _ in range(3)]
        assert wait_until(lambda: cl.answered(before) == 3, 60), cl.stored(before)  # all three are talking
        cl.kill9("listener")  # the calls end while nobody listens
        assert wait_until(lambda: not set(before) & cl.live_on_pbx(), 60)
        (tmp_path / "listener.log").rename(tmp_path / "listener-killed.log")
        cl.start("listener", "serve", "--role", "listener")
        cl.wait_log("listener", "Hotline listener:")
        after = [cl.call(Scenario="service_answered", TalkSeconds="4") for _ in range(3)]
        everything = before + after
        assert wait_until(lambda: list(cl.stored(everything).values()).count("answered") == 6, 60), \
            cl.stored(everything)
        stored = cl.stored(everything)
        print(f"\nkill -9 listener: {len(stored)}/6 calls recorded; outcomes {stored}")
        # those the dead listener saw answered ended unseen: closed by the next one, still answered
        assert all(outcome == "answered" for outcome in stored.values())
        assert "closed as reconciled" in (tmp_path / "listener.log").read_text()
    finally:
        cl.close()


def test_redis_restart_mid_traffic(tmp_path: Path, pg_url: str) -> None:
    cl = Cluster(tmp_path, pg_url)
    try:
        lids = [cl.call(Scenario="service_answered", TalkSeconds="4")]
        cl.procs["redis"].send_signal(signal.SIGKILL)
        cl.procs["redis"].wait(timeout=10)
        lids.append(cl.call(Scenario="service_answered", TalkSeconds="4"))  # while Redis is down
        time.sleep(1)
        cl.start_redis()
        lids.append(cl.call(Scenario="claims_ringall_agent_hangs_up", TalkSeconds="4"))
        assert wait_until(lambda: list(cl.stored(lids).values()).count("answered") == 3, 60), cl.stored(lids)
        stored = cl.stored(lids)
        print(f"\nRedis restart: {len(stored)}/3 calls recorded, outcomes {sorted(stored.values())}")
        assert sorted(stored.values()) == ["answered"] * 3
    finally:
        cl.close()
    log = (tmp_path / "listener.log").read_text()
    assert "Traceback" not in log


def test_kill_9_of_the_worker_with_transcriptions_pending(tmp_path: Path, pg_url: str) -> None:
    cl = Cluster(tmp_path, pg_url, voice=True)
    try:
        cl.start("worker", "serve", "--role", "worker")
        cl.wait_log("worker", "Hotline worker:")
        lids = [cl.call(Scenario="service_answered", TalkSeconds="4") for _ in range(3)]
        assert wait_until(lambda: list(cl.stored(lids).values()).count("answered") >= 1, 60)
        # the worker is transcribing: kill it mid-job (RQ's started registry holds the job)
        rq = redis.Redis(port=cl.redis_port)
        running = StartedJobRegistry(queue=jobqueue.job_queue("hotline-transcription", rq),
                                     job_class=jobqueue.HotlineJob)
        assert wait_until(lambda: running.count > 0, 60)
        cl.kill9("worker")
        time.sleep(3)  # calls keep ending while no worker listens
        cl.start("worker#2", "serve", "--role", "worker")

        def transcribed() -> int:
            db = Database(cl.pg_url)
            try:
                with db.session() as s:
                    return sum(1 for lid in lids if any(t.engine == "vosk" for t in transcripts_for_call(s, lid)))
            finally:
                db.dispose()

        assert wait_until(lambda: transcribed() == 3, 180), transcribed()
        q = jobqueue.job_queue("hotline-transcription", rq)
        left = (q.count, running.count, q.scheduled_job_registry.count, q.failed_job_registry.count)
        print(f"\nkill -9 worker: {transcribed()}/3 calls transcribed after the restart; "
              f"jobs queued/running/retrying/failed afterwards: {left}")
        assert left == (0, 0, 0, 0)
        assert "handed back to the queue" in (tmp_path / "worker#2.log").read_text()  # the killed worker's job
    finally:
        cl.close()


# --- a console client that reconnects by itself ----------------------------------------------------


class Agent:
    """An agent logged in to one web process: Socket.IO (reconnecting) and the JSON API."""

    def __init__(self, base: str, user: str) -> None:
        self.base = base
        self.user = user
        self.http = requests.Session()
        page = self.http.get(f"{base}/login", timeout=10).text
        token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        r = self.http.post(f"{base}/login", data={"username": user, "password": DEMO_PASSWORD,
                                                   "csrf_token": token}, allow_redirects=False, timeout=10)
        assert r.status_code == 302, (user, r.status_code)
        page = self.http.get(f"{base}/cases", timeout=10).text  # the session's token after login
        self.token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        self.pops: list[str] = []
        self.states: list[dict[str, object]] = []
        self.connects = 0
        self.sio = socketio.Client(http_session=self.http, reconnection=True, reconnection_delay=0.5,
                                   reconnection_delay_max=1.0)
        self.sio.on("screen_pop", lambda data: self.pops.append(str(data["linkedid"])))
        self.sio.on("agent_state", lambda data: self.states.append(data))
        self.sio.on("connect", self._connected)
        self.sio.connect(base, transports=["websocket"])

    def _connected(self) -> None:
        self.connects += 1

    def post(self, path: str, body: dict[str, object], base: str | None = None) -> requests.Response:
        return self.http.post(f"{base or self.base}{path}", json=body, headers={"X-CSRF-Token": self.token},
                              timeout=5)

    def close(self) -> None:
        self.sio.disconnect()


def test_kill_9_of_a_web_process_mid_traffic(tmp_path: Path, pg_url: str) -> None:
    cl = Cluster(tmp_path, pg_url)
    agents: list[Agent] = []
    try:
        port1, port2 = free_port(), free_port()
        web1, web2 = cl.web("web1", port1), cl.web("web2", port2)
        a1, a3, a2 = Agent(web1, "agent1001"), Agent(web1, "agent1003"), Agent(web2, "agent1002")
        agents += [a1, a3, a2]
        case = a1.post("/api/cases", {"kind": "inquiry", "subject": "web kill"})
        assert case.status_code == 201, case.text
        case_id = case.json()["id"]
        acked: list[str] = []
        refused = 0
        stop_notes = threading.Event()

        def notes() -> None:  # case changes on web1 all through the kill
            nonlocal refused
            i = 0
            while not stop_notes.is_set():
                note = f"note-{i}"
                try:
                    r = a1.post(f"/api/cases/{case_id}/update", {"note": note})
                    if r.status_code == 200:
                        acked.append(note)
                    else:
                        refused += 1
                except requests.RequestException:
                    refused += 1
                i += 1
                time.sleep(0.2)

        noter = threading.Thread(target=notes, daemon=True)
        noter.start()
        talking = cl.call(Scenario="service_answered", Agents="agent1001", TalkSeconds="100")
        assert wait_until(lambda: talking in a1.pops, 30), a1.pops
        lids = [talking]
        cl.kill9("web1")  # agent1001 is talking; agent1003 idle; both consoles lose their process
        for _ in range(3):  # calls go on: agent1002's console on web2 pops them
            lids.append(cl.call(Scenario="service_answered", Agents="agent1002", TalkSeconds="4"))
            time.sleep(0.5)
        cl.web("web1", port1)  # the same address again (nginx would send the clients to web2 meanwhile)
        assert wait_until(lambda: a1.connects >= 2 and a3.connects >= 2, 60), (a1.connects, a3.connects)
        after = cl.call(Scenario="service_answered", Agents="agent1003", TalkSeconds="4")
        lids.append(after)
        assert wait_until(lambda: after in a3.pops, 30), a3.pops
        stop_notes.set()
        noter.join(timeout=10)
        assert wait_until(lambda: list(cl.stored(lids).values()).count("answered") == len(lids) - 1, 60), \
            cl.stored(lids)
        # the reconnected console of the agent in a call shows it busy (from the listener's picture)
        last_state = a1.states[-1]
        assert last_state["status"] == "busy", last_state
        page = a2.http.get(f"{web2}/cases/{case_id}", timeout=10).text  # read through the other process
        lost = [n for n in acked if n not in page]
        stored = cl.stored(lids)
        print(f"\nkill -9 web: {len(stored)}/{len(lids)} calls recorded ({cl.rows(lids)} rows); pops on web2 "
              f"during the outage {sum(1 for lid in lids[1:4] if lid in a2.pops)}/3; consoles reconnected "
              f"(agent1001 {a1.connects - 1}×, state {last_state['status']}); pop after reconnect: "
              f"{after in a3.pops}; case notes acknowledged {len(acked)}, refused while down {refused}, "
              f"acknowledged but lost {len(lost)}")
        assert all(lid in a2.pops for lid in lids[1:4])
        assert cl.rows(lids) == len(lids)
        assert lost == [] and len(acked) >= 3
    finally:
        for a in agents:
            a.close()
        cl.close()


# --- PostgreSQL restart on a private server ---------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL server of the test's own (Debian's binaries, initdb in a temp dir, a free port):
    restarting it disturbs nobody else's tests."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        assert bins, "PostgreSQL server binaries (Debian postgresql) are needed"
        self.bin = Path(bins[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        if os.geteuid() == 0:  # initdb refuses root: the server runs as postgres
            shutil.chown(self.dir, "postgres")
        self.dir.chmod(0o755)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, (cmd, r.stdout[-2000:], r.stderr[-2000:])

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except AssertionError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def test_postgresql_restart_mid_traffic(tmp_path: Path) -> None:
    pg = PrivatePostgres()
    cl = None
    agent: Agent | None = None
    try:
        cl = Cluster(tmp_path, pg.url, voice=True)
        cl.start("worker", "serve", "--role", "worker")
        web = cl.web("web1", free_port())
        agent = Agent(web, "agent1001")
        case_id = agent.post("/api/cases", {"kind": "inquiry", "subject": "pg restart"}).json()["id"]
        acked, refused = [], 0
        lids = [cl.call(Scenario="service_answered", TalkSeconds="12") for _ in range(2)]
        assert wait_until(lambda: cl.answered(lids) == 2, 60), cl.stored(lids)  # talking
        assert agent.post(f"/api/cases/{case_id}/update", {"note": "before"}).status_code == 200
        acked.append("before")
        pg.stop("fast")  # the two calls end while PostgreSQL is down
        down_at = time.time()
        lids += [cl.call(Scenario="service_answered", TalkSeconds="4") for _ in range(2)]  # whole calls, DB down
        r = agent.post(f"/api/cases/{case_id}/update", {"note": "while down"})
        if r.status_code == 200:
            acked.append("while down")
        else:
            refused += 1
        time.sleep(max(0.0, 8 - (time.time() - down_at)))
        pg.start()
        lids += [cl.call(Scenario="service_answered", TalkSeconds="4") for _ in range(2)]
        r = agent.post(f"/api/cases/{case_id}/update", {"note": "after"})
        assert r.status_code == 200, r.text  # the web process uses the restarted server at once
        acked.append("after")
        assert wait_until(lambda: list(cl.stored(lids).values()).count("answered") == 6, 90), cl.stored(lids)
        assert wait_until(lambda: cl.transcribed(lids) == 6, 240), cl.transcribed(lids)
        page = agent.http.get(f"{web}/cases/{case_id}", timeout=10).text
        lost = [n for n in acked if n not in page]
        print(f"\nPostgreSQL restart (down ~8 s): {len(cl.stored(lids))}/6 calls recorded ({cl.rows(lids)} rows), "
              f"{cl.transcribed(lids)}/6 transcribed; case notes acknowledged {len(acked)}, refused while down "
              f"{refused}, lost {len(lost)}")
        assert cl.rows(lids) == 6 and lost == []
        assert "database back after" in (tmp_path / "listener.log").read_text()
    finally:
        if agent is not None:
            agent.close()
        if cl is not None:
            cl.close()
        pg.destroy()


# --- AMI cut ---------------------------------------------------------------------------------------


class AmiCut:
    """A TCP proxy between the listener and the PBX. `cut(seconds)` resets every connection and
    refuses new ones (reset at once) for that long: a network cut as the listener sees it."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.down_until = 0.0
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @staticmethod
    def _reset(sock: socket.socket) -> None:
        try:  # shutdown wakes the thread blocked in recv(); linger 0 makes the close a reset
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if time.time() < self.down_until:
                self._reset(client)
                continue
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            except OSError:
                self._reset(client)
                continue
            self.accepted += 1
            with self.lock:
                self.conns += [client, up]
            for a, b in ((client, up), (up, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        self._reset(dst)

    def cut(self, seconds: float) -> None:
        self.down_until = time.time() + seconds
        with self.lock:
            conns, self.conns = self.conns, []
        for c in conns:
            self._reset(c)

    def close(self) -> None:
        self.server.close()
        self.cut(0)


def test_ami_cut_mid_traffic(tmp_path: Path, pg_url: str) -> None:
    sim_port = free_port()
    proxy = AmiCut(sim_port)
    cl = None
    try:
        cl = Cluster(tmp_path, pg_url, ami_port=sim_port, listener_ami_port=proxy.port)
        before = [cl.call(Scenario="service_answered", TalkSeconds="16") for _ in range(3)]
        assert wait_until(lambda: cl.answered(before) == 3, 60), cl.stored(before)  # all three are talking
        proxy.cut(6.0)  # they end during the cut
        time.sleep(6.5)
        after = [cl.call(Scenario="service_answered", TalkSeconds="4") for _ in range(3)]
        lids = before + after
        assert wait_until(lambda: list(cl.stored(lids).values()).count("answered") == 6, 90), cl.stored(lids)
        log = (tmp_path / "listener.log").read_text()
        print(f"\nAMI cut 6 s: {len(cl.stored(lids))}/6 calls recorded ({cl.rows(lids)} rows), outcomes "
              f"{sorted(set(cl.stored(lids).values()))}; AMI connections {proxy.accepted}")
        assert cl.rows(lids) == 6 and proxy.accepted >= 2  # the listener dialled again after the cut
        assert "Traceback" not in log
    finally:
        if cl is not None:
            cl.close()
        proxy.close()
