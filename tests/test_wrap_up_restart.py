"""A restart never strands an agent: `hotline serve` (one process) killed while an agent is paused for
wrap-up; the next one finds the pause on its first resync (QueueStatus) and ends it when its wrap-up
time is up (seen on a real Asterisk: the agent stayed paused for good)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from loopback import free_port
from waits import stop_processes, wait_until

from tests.test_roles import EXE, pause_reasons, simulate, wait_http


def test_a_server_killed_during_a_wrap_up_leaves_no_agent_paused(tmp_path: Path) -> None:
    ami_port, http_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")} | {
        "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'hotline.db'}", "HOTLINE_DATA_DIR": str(tmp_path / "data"),
        "HOTLINE_AMI_PORT": str(ami_port), "HOTLINE_HTTP_PORT": str(http_port),
        "HOTLINE_RECORDINGS_DIR": str(tmp_path / "rec")}
    procs: list[subprocess.Popen[str]] = []

    def start(name: str, *args: str, **more: str) -> subprocess.Popen[str]:
        log = (tmp_path / f"{name}.log").open("w")
        p = subprocess.Popen([*EXE, *args], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True,
                             env=env | more)
        procs.append(p)
        return p

    def log_of(name: str) -> str:
        return (tmp_path / f"{name}.log").read_text()

    try:
        start("simulator", "simulator", "--listen", f"127.0.0.1:{ami_port}", "--interval", "0", "--speed", "5")
        first = start("serve1", "serve", HOTLINE_WRAP_UP_S="300")
        wait_http(f"http://127.0.0.1:{http_port}/login", first)
        wait_until(lambda: "resync: " in log_of("serve1"), 60, "the first server's resync")
        simulate(ami_port, Scenario="service_answered", Agents="agent1003", CallerID="49305551003", TalkSeconds="1")
        wait_until(lambda: "wrap-up" in pause_reasons(ami_port, "SIP/agent1003"), 60, "the wrap-up pause",
                   every=0.3)
        first.kill()  # mid wrap-up: nothing will unpause the agent now
        first.wait(10)
        assert "wrap-up" in pause_reasons(ami_port, "SIP/agent1003")
        second = start("serve2", "serve", HOTLINE_WRAP_UP_S="2")
        wait_until(lambda: "resync: " in log_of("serve2"), 60, "the second server's resync")
        wait_until(lambda: not pause_reasons(ami_port, "SIP/agent1003"), 60, "agent1003 ready again", every=0.3)
        assert "wrap-up of agent1003 taken up" in log_of("serve2") and second.poll() is None
    finally:
        stop_processes(procs)
    assert "Traceback" not in log_of("serve2"), log_of("serve2")[-3000:]
