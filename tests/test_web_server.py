"""The console's production web server (#16 finding 9): `hotline serve` runs it on gunicorn (one worker
process with threads, WebSocket kept), not on Werkzeug's development server; SIGTERM ends it promptly with a
console connected and stops the site's own parts; `kill -9` of the server leaves no worker behind; a taken port
is one clear line; `web_server = "werkzeug"` still runs the development server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
import socketio
from loopback import free_port
from waits import stop_processes, wait_until

from tests.test_roles import EXE, login, simulate, wait_http

pytestmark = pytest.mark.slow


def _env(tmp_path: Path, ami_port: int, http_port: int, **more: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")} | {
        "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'hotline.db'}", "HOTLINE_DATA_DIR": str(tmp_path / "data"),
        "HOTLINE_AMI_PORT": str(ami_port), "HOTLINE_HTTP_PORT": str(http_port),
        "HOTLINE_RECORDINGS_DIR": str(tmp_path / "rec")} | more


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Server:
    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.tmp = tmp_path
        self.ami_port, self.http_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.http_port}"
        env = _env(tmp_path, self.ami_port, self.http_port, **env)
        self.procs: list[subprocess.Popen[str]] = []
        self.log_path = tmp_path / "serve.log"
        subprocess.run([*EXE, "db", "--seed-demo"], cwd=tmp_path, env=env, check=True, capture_output=True,
                       timeout=120)
        sim_log = (tmp_path / "sim.log").open("w")
        self.procs.append(subprocess.Popen([*EXE, "simulator", "--listen", f"127.0.0.1:{self.ami_port}",
                                            "--interval", "0", "--speed", "5"], cwd=tmp_path, stdout=sim_log,
                                           stderr=subprocess.STDOUT, text=True, env=env))
        log = self.log_path.open("w")
        self.serve = subprocess.Popen([*EXE, "serve"], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True,
                                      env=env)
        self.procs.append(self.serve)
        wait_http(f"{self.base}/login", self.serve)

    def log(self) -> str:
        return self.log_path.read_text()

    def close(self) -> None:
        stop_processes(self.procs)


def test_serve_runs_the_console_on_gunicorn_and_stops_promptly(tmp_path: Path) -> None:
    srv = Server(tmp_path)
    try:
        page = requests.get(f"{srv.base}/login", timeout=10)
        assert page.status_code == 200
        assert page.headers.get("Server") == "gunicorn", page.headers  # Werkzeug's says Werkzeug/x Python/y
        workers = _children(srv.serve.pid)
        assert len(workers) == 1, workers  # one worker process serves the console (Flask-SocketIO: one per port)
        wait_until(lambda: "resync: " in srv.log(), 60, "the AMI link's resync")
        pops: list[dict[str, object]] = []
        http = login(srv.base, "agent1001")
        sio = socketio.Client(http_session=http)
        sio.on("screen_pop", lambda data: pops.append(data))
        sio.connect(srv.base, transports=["websocket"])  # WebSocket through gunicorn, not long-polling
        assert sio.transport() == "websocket"
        lid = simulate(srv.ami_port, Scenario="service_answered", Agents="agent1001", CallerID="49305551003",
                       TalkSeconds="1")
        wait_until(lambda: any(p.get("linkedid") == lid for p in pops), 30, "the screen pop over the WebSocket")
        started = time.monotonic()
        srv.serve.send_signal(signal.SIGTERM)  # with the console still connected
        code = srv.serve.wait(timeout=30)
        took = time.monotonic() - started
        assert code == 0, srv.log()[-3000:]
        assert not any(_alive(w) for w in workers), "the worker outlived the server"
        print(f"\nSIGTERM with a console connected: stopped in {took:.1f} s")
        assert took < 15, took  # within the worker's grace period: the WebSockets were closed, not waited for
        sio.disconnect()
        log = srv.log()
        assert "development server" not in log and "Traceback" not in log, log[-3000:]
    finally:
        srv.close()


def test_kill_9_of_the_server_takes_its_worker_along(tmp_path: Path) -> None:
    srv = Server(tmp_path)
    try:
        workers = _children(srv.serve.pid)
        assert len(workers) == 1, workers
        srv.serve.send_signal(signal.SIGKILL)
        srv.serve.wait(timeout=10)
        wait_until(lambda: not _alive(workers[0]), 5, "the worker's end", every=0.05)
        with pytest.raises(requests.ConnectionError):  # nothing answers on the console's port any more
            requests.get(f"{srv.base}/login", timeout=5)

        def port_free() -> bool:  # for the next server (the kernel may take a moment to release it)
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", srv.http_port))
                except OSError:
                    return False
                return True

        wait_until(port_free, 10, "the console's port free again", every=0.1)
    finally:
        srv.close()


def test_a_taken_console_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        res = subprocess.run([*EXE, "serve"], cwd=tmp_path, env=_env(tmp_path, free_port(), busy), text=True,
                             capture_output=True, timeout=60)
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("hotline serve: error:")]
    assert lines == [f"hotline serve: error: cannot serve the console on 127.0.0.1:{busy}: Address already in use"], \
        res.stderr
    assert "Traceback" not in res.stderr


def test_a_site_that_cannot_start_stops_the_server_with_its_reason(tmp_path: Path) -> None:
    """The site is built in gunicorn's worker: its start-up error is printed once and the master stops (exit 2)
    instead of starting the worker again and again."""
    res = subprocess.run([*EXE, "serve"], cwd=tmp_path, text=True, capture_output=True, timeout=90,
                         env=_env(tmp_path, free_port(), free_port(),
                                  HOTLINE_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("hotline serve: error:")]
    assert len(lines) == 1 and "127.0.0.1" in lines[0], res.stderr
    assert "Traceback" not in res.stderr and "exited with code" not in res.stderr, res.stderr


def test_the_development_server_stays_available(tmp_path: Path) -> None:
    srv = Server(tmp_path, HOTLINE_WEB_SERVER="werkzeug")
    try:
        page = requests.get(f"{srv.base}/login", timeout=10)
        assert page.status_code == 200 and page.headers.get("Server", "").startswith("Werkzeug"), page.headers
        assert _children(srv.serve.pid) == []
    finally:
        srv.close()


def test_an_unknown_web_server_is_refused(tmp_path: Path) -> None:
    res = subprocess.run([*EXE, "serve"], cwd=tmp_path, text=True, capture_output=True, timeout=60,
                         env=_env(tmp_path, free_port(), free_port(), HOTLINE_WEB_SERVER="uwsgi"))
    assert res.returncode != 0
    assert "web_server" in res.stderr and "'gunicorn'" in res.stderr, res.stderr
