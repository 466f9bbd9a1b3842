"""Waiting in tests: for a condition (polled), and for the processes a test started to end."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import redis


def wait_until(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition", every: float = 0.02) -> Any:
    """The first true value of `check()`, polled every `every` seconds; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what} not reached within {timeout} s")


def stop_processes(procs: Iterable[subprocess.Popen[Any]], timeout: float = 15.0) -> None:
    """Ask every process to end (SIGTERM, all at once), then wait for each; one still running after
    `timeout` is killed."""
    procs = list(procs)
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()


def start_redis(port: int, workdir: Path | None = None, timeout: float = 30.0,
                password: str | None = None) -> subprocess.Popen[bytes]:
    """A redis-server of the test's own on 127.0.0.1:`port` (nothing saved), once it answers PING
    (with `password`: one that wants it, `requirepass`)."""
    exe = shutil.which("redis-server")
    assert exe is not None, "redis-server is needed by this test"
    cmd = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    if password is not None:
        cmd += ["--requirepass", password]
    proc = subprocess.Popen([*cmd, *(["--dir", str(workdir)] if workdir else [])], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def up() -> bool:
        try:
            return bool(redis.Redis(port=port, password=password, socket_connect_timeout=1).ping())
        except redis.ConnectionError:
            return False

    wait_until(up, timeout, f"redis-server on port {port}", every=0.05)
    return proc
