"""Scale-out by role, on loopback with the real PostgreSQL and a Redis of the test's own: one listener
computes the one wallboard and publishes it; two web processes relay it to their supervisors (who all
see the same board, probe alerts included) and build screen pops only for the agents connected to
them. A web process that starts late, or misses a delta, gets the whole board."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import socketio
from loopback import free_port
from waits import start_redis, stop_processes, wait_until

from agent_console.wallboard import apply_wallboard_delta
from cases.db import Database
from cases.probes import ProbeInput, record_probe
from hotline_cli.redisbus import WALLBOARD_CHANNEL, WALLBOARD_KEY, WallboardSubscriber
from tests.test_roles import EXE, login, simulate, wait_http


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server of the test's own: the channels of the roles are the same names on every Redis."""
    port = free_port()
    proc = start_redis(port, tmp_path)
    url = f"redis://127.0.0.1:{port}/0"
    yield url
    proc.terminate()
    proc.wait(timeout=10)


class Supervisor:
    """A supervisor page: the whole board on connect, then the relayed deltas applied in order."""

    def __init__(self, base: str) -> None:
        self.lock = threading.Lock()
        self.board: dict[str, Any] | None = None
        self.gaps = 0
        self.sio = socketio.Client(http_session=login(base, "supervisor"))
        self.sio.on("wallboard", self._whole)
        self.sio.on("wallboard_delta", self._delta)
        self.sio.connect(base, transports=["websocket"])

    def _whole(self, board: dict[str, Any]) -> None:
        with self.lock:
            self.board = board

    def _delta(self, delta: dict[str, Any]) -> None:
        with self.lock:
            if self.board is None or delta["version"] != self.board["version"] + 1:
                self.gaps += 1
                return
            self.board = apply_wallboard_delta(self.board, delta)

    def current(self) -> dict[str, Any] | None:
        with self.lock:
            return self.board

    def requested(self) -> dict[str, Any]:
        board: dict[str, Any] = self.sio.call("wallboard_request", timeout=10)
        return board


def wait(check: Any, timeout: float = 60.0, what: str = "condition") -> Any:
    return wait_until(check, timeout, what, every=0.1)


def test_one_wallboard_for_all_web_processes_and_pops_where_the_agent_is(tmp_path: Path, pg_url: str,
                                                                          redis_url: str) -> None:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    ami_port = free_port()
    procs: list[subprocess.Popen[str]] = []
    socks: list[socketio.Client] = []

    def start(name: str, *args: str) -> subprocess.Popen[str]:
        log = (tmp_path / f"{name}.log").open("w")
        p = subprocess.Popen([*EXE, *args], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True,
                             env={**base_env, "HOTLINE_DATABASE_URL": pg_url, "HOTLINE_REDIS_URL": redis_url,
                                  "HOTLINE_DATA_DIR": str(tmp_path / name), "HOTLINE_AMI_PORT": str(ami_port),
                                  "HOTLINE_RECORDINGS_DIR": str(tmp_path / "rec"),
                                  "HOTLINE_SECRET_KEY": "fanout-test"})
        procs.append(p)
        return p

    def web(name: str) -> str:
        port = free_port()
        p = start(name, "serve", "--role", "web", "--port", str(port))
        wait_http(f"http://127.0.0.1:{port}/login", p)
        return f"http://127.0.0.1:{port}"

    try:
        seed = subprocess.run([*EXE, "db", "--seed-demo"], cwd=tmp_path, capture_output=True, text=True,
                              env={**base_env, "HOTLINE_DATABASE_URL": pg_url}, timeout=120)
        assert seed.returncode == 0, seed.stderr
        db = Database(pg_url)
        try:  # a failed probe of the service hotline: its alert must reach every supervisor
            with db.session() as s:
                record_probe(s, ProbeInput(hotline="service", number="4008001", pbx="10.0.0.5:5060", up=False,
                                           stage="prompt", reason="no sound within 8 s of the answer",
                                           started_at=datetime.now(UTC) - timedelta(seconds=5), duration_s=3.1,
                                           register_s=0.01, setup_s=0.12, first_audio_s=None))
        finally:
            db.dispose()
        start("simulator", "simulator", "--listen", f"127.0.0.1:{ami_port}", "--interval", "0", "--speed", "5")
        start("listener", "serve", "--role", "listener")
        web1, web2 = web("web1"), web("web2")
        sup1, sup2 = Supervisor(web1), Supervisor(web2)
        socks += [sup1.sio, sup2.sio]
        pops: dict[str, list[dict[str, Any]]] = {"agent1001": [], "agent1002": []}
        for base, agent in ((web1, "agent1001"), (web2, "agent1002")):
            sio = socketio.Client(http_session=login(base, agent))
            sio.on("screen_pop", lambda data, agent=agent: pops[agent].append(data))
            sio.connect(base, transports=["websocket"])
            socks.append(sio)
        wait(lambda: "resync: " in (tmp_path / "listener.log").read_text(), what="listener resync")
        lid1 = simulate(ami_port, Scenario="service_answered", Agents="agent1001", CallerID="49305551001",
                        CallerName="张伟", TalkSeconds="3")
        lid2 = simulate(ami_port, Scenario="service_answered", Agents="agent1002", CallerID="49305551002",
                        CallerName="李娜", TalkSeconds="3")
        lid3 = simulate(ami_port, Scenario="service_answered", Agents="agent1003", CallerID="49305551003",
                        CallerName="王芳", TalkSeconds="3")  # agent1003's page is nowhere
        wait(lambda: pops["agent1001"] and pops["agent1002"], what="both pops")
        assert [p["linkedid"] for p in pops["agent1001"]] == [lid1]
        assert [p["linkedid"] for p in pops["agent1002"]] == [lid2]
        assert pops["agent1001"][0]["customer"]["name"] == "张伟"
        # every call shows on both supervisors' boards (computed once, in the listener) ...
        wait(lambda: all({lid1, lid2, lid3} <= {r["linkedid"] for r in (s.current() or {}).get("recent_calls", [])}
                         for s in (sup1, sup2)), what="the three calls ended on both wallboards")
        # ... the same board, version for version, once things are quiet
        def same() -> bool:
            b1, b2 = sup1.current(), sup2.current()
            return b1 is not None and b1 == b2 and b1 == sup1.requested() == sup2.requested()

        wait(same, what="the same wallboard on both web processes")
        board = sup1.current()
        assert board is not None and board["version"] > 1
        assert sup1.gaps == sup2.gaps == 0  # every delta followed the version before it
        assert "probe_down:service" in {a["id"] for a in board["alerts"]}
        # each web process built only its own agent's pop: none for agent1003
        s1 = requests.get(f"{web1}/status", timeout=10).json()
        s2 = requests.get(f"{web2}/status", timeout=10).json()
        assert (s1["pops_built"], s2["pops_built"]) == (1, 1)

        def versions() -> set[int]:  # the end of a wrap-up may change the board meanwhile: at one moment
            return {requests.get(f"{b}/status", timeout=10).json()["wallboard"]["version"] for b in (web1, web2)} | {
                sup1.requested()["version"]}

        wait(lambda: len(versions()) == 1, what="the same wallboard version in both /status")
        # a web process started now gets the whole board, same version as the others
        web3 = web("web3")
        sup3 = Supervisor(web3)
        socks.append(sup3.sio)
        wait(sup3.current, what="the wallboard on the late web process")
        wait(lambda: sup3.current() == sup1.requested(), what="the late web process's board equal to the others'")
        assert requests.get(f"{web3}/status", timeout=10).json()["pops_built"] == 0
    finally:
        for sio in socks:
            sio.disconnect()
        stop_processes(procs)
    for name in ("listener", "web1", "web2", "web3"):
        out = (tmp_path / f"{name}.log").read_text()
        assert "Traceback" not in out, (name, out[-3000:])


def test_a_web_process_that_misses_a_delta_takes_the_whole_board(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    sub = WallboardSubscriber(redis_url)
    got: list[tuple[str, dict[str, Any]]] = []
    sub.subscribe(lambda name, payload: got.append((name, payload)))
    try:
        assert sub.ready.wait(10)
        empty = sub.board()
        assert empty["version"] == 0 and empty["agents"] == []  # no listener yet: an empty board
        base = {"at": 1.0, "live_calls_count": 0, "queues": [], "agents": [], "live_calls": [], "alerts": [],
                "recent_calls": [], "probes": [], "settings": {}}

        def publish(epoch: str, version: int, board: dict[str, Any], delta: dict[str, Any]) -> None:
            r.set(WALLBOARD_KEY, json.dumps({"epoch": epoch, "version": version, "board": board}))
            r.publish(WALLBOARD_CHANNEL, json.dumps({"epoch": epoch, "version": version,
                                                     "delta": delta | {"version": version}}))

        row = {"id": "pbx:a", "kind": "pbx_down", "pbx": "a"}
        one = base | {"at": 2.0, "alerts": [row]}
        publish("e1", 1, one, {"at": 2.0, "live_calls_count": 0,
                               "alerts": {"upsert": [row], "remove": [], "order": ["pbx:a"]}})
        wait(lambda: len(got) == 1, 10, "the first update")
        assert got[0][0] == "wallboard" and got[0][1]["version"] == 1  # first seen: the whole board
        two = one | {"at": 3.0, "live_calls_count": 1}
        publish("e1", 2, two, {"at": 3.0, "live_calls_count": 1})
        wait(lambda: len(got) == 2, 10, "the delta")
        assert got[1][0] == "wallboard_delta" and sub.board() == two | {"version": 2}
        # version 3 never arrives; 4 does: the whole board is read again
        four = two | {"at": 5.0, "alerts": []}
        publish("e1", 4, four, {"at": 5.0, "live_calls_count": 1, "alerts": {"upsert": [], "remove": ["pbx:a"],
                                                                              "order": []}})
        wait(lambda: len(got) == 3, 10, "the resync")
        assert got[2] == ("wallboard", four | {"version": 4}) and sub.board() == four | {"version": 4}
        # a listener that started again (another epoch) counts from 1: taken whole, not ignored
        publish("e2", 1, base, {"at": 1.0, "live_calls_count": 0})
        wait(lambda: len(got) == 4, 10, "the new listener's board")
        assert got[3] == ("wallboard", base | {"version": 1})
        assert sub.resyncs == 3 and sub.deltas == 1
    finally:
        sub.stop()
