"""Fixtures of the IVR tests: the real FastAGI captures (copied from asterisk-traces/agi so a clone
tests without ../shared) and a replayer that plays Asterisk's side of a captured session."""

from __future__ import annotations

import csv
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

AGI_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "agi"
SESSIONS = (
    "agi-01-service-basics",
    "agi-02-service-getdata",
    "agi-03-service-record",
    "agi-04-claims-args-agi-hangup",
    "agi-05-service-caller-hangs-up-in-get-data",
)


@dataclass(frozen=True)
class Step:
    direction: str  # "asterisk->server" | "server->asterisk" | "note"
    data: bytes
    note: str


def capture_steps(name: str) -> list[Step]:
    """The captured session as segments, sliced from the raw files by the transcript's byte counts."""
    frm = (AGI_FIXTURES / f"{name}.from-asterisk.raw").read_bytes()
    to = (AGI_FIXTURES / f"{name}.to-asterisk.raw").read_bytes()
    steps: list[Step] = []
    fi = ti = 0
    with (AGI_FIXTURES / f"{name}.transcript.tsv").open(newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            n = int(row["bytes"])
            if row["direction"] == "asterisk->server":
                steps.append(Step(row["direction"], frm[fi : fi + n], ""))
                fi += n
            elif row["direction"] == "server->asterisk":
                steps.append(Step(row["direction"], to[ti : ti + n], ""))
                ti += n
            else:
                steps.append(Step("note", b"", row["text"]))
    assert fi == len(frm) and ti == len(to), f"{name}: transcript does not cover the raw files"
    return steps


@dataclass
class ReplayResult:
    received: bytes  # everything our server sent
    expected: bytes  # the captured to-asterisk bytes
    half_closed: bool  # our server half-closed after its last command


def replay_against(port: int, name: str, timeout: float = 10.0) -> ReplayResult:
    """Play Asterisk's side of capture `name` against our server: send each captured segment from
    Asterisk when the capture did, read what our server sends where the capture had the lab server
    send, then expect our half-close and send Asterisk's final HANGUP."""
    steps = capture_steps(name)
    expected = (AGI_FIXTURES / f"{name}.to-asterisk.raw").read_bytes()
    received = bytearray()
    half_closed = False
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        for step in steps:
            if step.direction == "asterisk->server":
                if half_closed:
                    continue
                sock.sendall(step.data)
            elif step.direction == "server->asterisk":
                want = len(step.data)
                got = bytearray()
                while len(got) < want:
                    chunk = sock.recv(want - len(got))
                    if not chunk:
                        break
                    got += chunk
                received += got
                if len(got) < want:
                    half_closed = True
                    break
            elif "shutdown" in step.note:
                half_closed = sock.recv(1) == b""
                if half_closed:
                    # Asterisk's last words, as captured
                    tail = [s for s in steps[steps.index(step) + 1 :] if s.direction == "asterisk->server"]
                    for s in tail:
                        sock.sendall(s.data)
                break
    return ReplayResult(bytes(received), expected, half_closed)


@pytest.fixture
def agi_fixtures() -> Path:
    return AGI_FIXTURES
