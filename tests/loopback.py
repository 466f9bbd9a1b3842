"""Loopback ports for the servers a test starts itself: each pytest-xdist worker takes its ports from a
range of its own, below the kernel's ephemeral range, so two workers never pick the same port and no
outgoing connection takes one between the pick and the server's bind."""

from __future__ import annotations

import itertools
import os
import socket

SPAN = 2000  # ports per worker: 20000-21999 for gw0 (and a run without workers), 22000-23999 for gw1, ...
# HOTLINE_TEST_PORT_FIRST moves a whole run (e.g. 10000: a second checkout's suite beside this one's)
FIRST = int(os.environ.get("HOTLINE_TEST_PORT_FIRST", "20000"))
WORKERS = 6  # ranges up to 31999, under Linux's default ephemeral range (32768-60999)


def worker_index() -> int:
    """0 for pytest-xdist's gw0 and for a run without workers, 1 for gw1, ..."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name.removeprefix("gw")) % WORKERS if name.removeprefix("gw").isdigit() else 0


_next = itertools.count()


def free_port() -> int:
    """A port of this worker's range that nothing listens on or is bound to now."""
    base = FIRST + SPAN * worker_index()
    for _ in range(SPAN):
        port = base + next(_next) % SPAN
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {base}-{base + SPAN - 1}")


def redis_url() -> str:
    """The Redis server of this test process: a private redis-server per pytest-xdist worker (started in
    tests/conftest.py, so pub/sub channels and fixed keys of parallel tests never meet), else
    HOTLINE_TEST_REDIS_URL or the machine's Redis on 127.0.0.1:6379."""
    return os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_block(size: int) -> int:
    """The first of `size` consecutive ports of this worker's range, free for UDP now and never handed out by
    `free_port` after (e.g. a PBX's RTP ports: sipp's ports must not fall among them)."""
    base = FIRST + SPAN * worker_index()
    for _ in range(2 * (SPAN // size) + 2):
        offset = next(_next) % SPAN
        offset += offset % 2  # RTP ports start even
        if offset + size > SPAN:  # no room before the range's end: go on from its start
            for _ in range(SPAN - offset - 1):
                next(_next)
            continue
        for _ in range(size):
            next(_next)  # the block is this caller's: free_port goes on after it
        first = base + offset
        if all(_udp_free(p) for p in range(first, first + size)):
            return first
    raise RuntimeError(f"no {size} free consecutive ports in {base}-{base + SPAN - 1}")


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
