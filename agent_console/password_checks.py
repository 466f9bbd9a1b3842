"""At most `concurrent` password checks at once in a web process, on threads of their own (issue #16,
finding 3).

Each argon2 check holds `cases.passwords.ARGON2_MEMORY_KIB` of memory (and one core) while it runs;
without a bound, wrong logins sent at once made the web process grow by 64 MiB each. A login that
finds every slot taken waits up to `wait_s` for one, then is answered 503 with Retry-After
(`LoginBusy`) without its password being checked.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class LoginBusy(Exception):
    """Every password-check slot stayed taken for the whole wait."""


def default_concurrency() -> int:
    """The machine's CPU count: argon2 (one lane) keeps one core busy per check, so more checks at
    once than cores only add memory, not logins per second."""
    return max(1, os.cpu_count() or 1)


class PasswordChecks:
    """A pool of `concurrent` threads that run every password check. Running them on a few threads
    of their own, not on the request threads, matters as much as the count: glibc gives each thread
    that allocates a malloc arena of its own and, once a 19 MiB block was freed, keeps later ones of
    that size in the arenas instead of returning them, so checks spread over 50 request threads left
    the process ~300 MiB larger for good (benchmarks/login_memory.py); on `concurrent` threads at
    most `concurrent` such blocks are kept."""

    def __init__(self, concurrent: int, wait_s: float) -> None:
        if concurrent < 1 or wait_s < 0:
            raise ValueError("password checks need concurrent >= 1 and wait_s >= 0")
        self.concurrent = concurrent
        self.wait_s = wait_s
        self._slots = threading.BoundedSemaphore(concurrent)
        self._pool = ThreadPoolExecutor(max_workers=concurrent, thread_name_prefix="password-check")
        self._lock = threading.Lock()
        self._running = 0
        self.peak = 0  # the most checks that ran at once (for tests and benchmarks)
        self.refused = 0  # logins answered busy

    def run(self, check: Callable[[], T]) -> T:
        """`check()` on a free check thread, its result (or exception) back; LoginBusy if no thread
        frees up within `wait_s`."""
        if not self._slots.acquire(timeout=self.wait_s):
            with self._lock:
                self.refused += 1
            raise LoginBusy(f"{self.concurrent} password checks already running")
        try:
            return self._pool.submit(self._counted, check).result()
        finally:
            self._slots.release()

    def _counted(self, check: Callable[[], T]) -> T:
        with self._lock:
            self._running += 1
            self.peak = max(self.peak, self._running)
        try:
            return check()
        finally:
            with self._lock:
                self._running -= 1

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
