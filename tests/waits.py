"""Waiting in tests: for a condition (polled), and for the processes a test started to end."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable
from typing import Any


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
