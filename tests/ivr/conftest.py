"""Fixtures of the IVR tests: the real FastAGI captures (copied from asterisk-traces/agi so a clone
tests without ../shared) and a replayer that plays Asterisk's side of a captured session."""

from __future__ import annotations

import csv
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cases.case_records import create_case, get_case
from cases.changes import list_change_requests, reject_change
from cases.customers import create_customer
from cases.db import Database
from cases.shipment_records import create_shipment
from cases.views import CaseInput, CaseView, ShipmentEventInput, ShipmentInput
from ivr.config import DATA_DIR, MenuStore
from ivr.flow import IvrFlow, IvrOutcome
from ivr.server import AgiServer

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


# ---------------------------------------------------------------- IVR conversations

WAYBILL = "800012340001"
KEY_ACCOUNT_PHONE = "13800000001"
OPEN_AT = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 10:00 in China: both hotlines open
CLOSED_AT = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # Sunday 23:00 in China


@dataclass
class IvrWorld:
    db: Database
    claim: CaseView
    recordings: Path
    menus: Path


@pytest.fixture(scope="session")
def ivr_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IvrWorld]:
    """A migrated SQLite database with a key-account customer, one shipment in transit and one
    open claim; the shipped menus copied with their recording folder moved to a temp folder."""
    root = tmp_path_factory.mktemp("ivr")
    db = Database(f"sqlite:///{root / 'ivr.db'}")
    db.migrate()
    with db.session() as s:
        create_customer(s, "大客户 华东电子", "key_account", [KEY_ACCOUNT_PHONE])
        t0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
        create_shipment(s, ShipmentInput(
            waybill=WAYBILL, origin="上海", destination="北京", consignee_name="王先生", consignee_phone="13900000009",
            events=(ShipmentEventInput(at=t0, status="已揽收", place="上海营业部"),
                    ShipmentEventInput(at=t0 + timedelta(hours=9), status="运输中", place="上海-北京干线"))))
        claim = create_case(s, CaseInput(kind="claim", subject="货损", waybill=WAYBILL), "tester")
    recordings = root / "recordings"
    recordings.mkdir()
    menus = root / "menus"
    menus.mkdir()
    for f in DATA_DIR.glob("*.toml"):
        text = f.read_text(encoding="utf-8").replace("/var/spool/asterisk/ivr", str(recordings))
        (menus / f.name).write_text(text, encoding="utf-8")
    with db.session() as s:
        claim = get_case(s, claim.id)
    yield IvrWorld(db, claim, recordings, menus)
    db.dispose()


@dataclass
class IvrServer:
    server: AgiServer
    flow: IvrFlow
    outcomes: list[IvrOutcome]
    world: IvrWorld
    clock: list[datetime]

    @property
    def port(self) -> int:
        return self.server.port


@pytest.fixture
def ivr_server(ivr_world: IvrWorld) -> Iterator[IvrServer]:
    outcomes: list[IvrOutcome] = []
    clock = [OPEN_AT]
    flow = IvrFlow(MenuStore(ivr_world.menus), ivr_world.db, clock=lambda: clock[0], on_outcome=outcomes.append)
    server = AgiServer(flow.handlers(), port=0, default="service")
    with server:
        yield IvrServer(server, flow, outcomes, ivr_world, clock)
    # the world is shared: a change left waiting for approval would refuse the next test's (one at a time)
    with ivr_world.db.session() as s:
        for waiting in list_change_requests(s, stage="requested"):
            reject_change(s, waiting.id, note="test over", by="tester")
