"""Fixtures: the real console app on a real SQLite database (seeded with the demo data) and a real
EventBus. Only the LiveView is a stand-in: a holder of real telephony.live snapshots."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIO, SocketIOTestClient
from waits import wait_until

from agent_console.app import create_app, dispatcher
from agent_console.config import ConsoleConfig
from cases.db import Database
from cases.demo_data import DEMO_PASSWORD
from cases.demo_seed import seed_demo
from telephony.events import EventBus
from telephony.live import AgentSnapshot, LiveSnapshot, QueueSnapshot, WaitingCaller
from transcripts.live_events import LiveBus


@dataclass
class FakeLiveView:
    """Implements telephony.live.LiveView with a snapshot the test sets."""

    current: LiveSnapshot = field(default_factory=lambda: LiveSnapshot(at=0.0, queues=(), agents=(), live_calls=0))
    calls: int = 0

    def snapshot(self, now: float | None = None) -> LiveSnapshot:
        self.calls += 1
        return self.current


def sample_snapshot(at: float = 1_764_500_000.0, waiting: int = 1) -> LiveSnapshot:
    callers = tuple(
        WaitingCaller(
            linkedid=f"wait-{n}",
            caller=f"4930555101{n}",
            caller_name="",
            hotline="service",
            position=n + 1,
            since=at - 30 + n,
        )
        for n in range(waiting)
    )
    return LiveSnapshot(
        at=at,
        queues=(
            QueueSnapshot(
                queue="service",
                waiting=callers,
                longest_wait_s=30.0 if waiting else 0.0,
                answered=7,
                abandoned=2,
            ),
            QueueSnapshot(queue="claims", waiting=(), longest_wait_s=0.0, answered=1, abandoned=0),
        ),
        agents=(
            AgentSnapshot(
                agent="agent1001",
                name="安娜",
                status="busy",
                paused=False,
                pause_reason="",
                linkedid="1764500000.1",
                since=at - 60,
            ),
            AgentSnapshot(
                agent="agent1002",
                name="本",
                status="idle",
                paused=True,
                pause_reason="午休",
                linkedid=None,
                since=at - 300,
            ),
        ),
        live_calls=2,
    )


class CsrfClient(FlaskClient):
    """A test client that sends the session's CSRF token with every POST, as the pages do."""

    def open(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        method = kwargs.get("method", "GET")
        if len(args) > 0 and not isinstance(args[0], str):
            method = getattr(args[0], "method", method)
        if method.upper() not in ("GET", "HEAD", "OPTIONS"):
            with self.session_transaction() as sess:
                token = sess.get("csrf")
                if not token:
                    token = sess["csrf"] = "t" * 40
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRF-Token", token)
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)


@dataclass
class Console:
    app: Flask
    socketio: SocketIO
    db: Database
    bus: EventBus
    live: FakeLiveView
    config: ConsoleConfig
    live_bus: LiveBus | None = None  # live transcript lines and alerts (transcripts.live_events)

    sample_snapshot = staticmethod(sample_snapshot)

    def client(self) -> FlaskClient:
        """Sends the CSRF token like the pages do (see raw_client for one that does not)."""
        self.app.test_client_class = CsrfClient
        return self.app.test_client()

    def raw_client(self) -> FlaskClient:
        self.app.test_client_class = FlaskClient
        return self.app.test_client()

    def login(self, username: str, password: str = DEMO_PASSWORD) -> FlaskClient:
        client = self.client()
        resp = client.post("/login", data={"username": username, "password": password})
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return client

    def socket(self, http: FlaskClient) -> SocketIOTestClient:
        return self.socketio.test_client(self.app, flask_test_client=http)

    def settle(self) -> None:
        assert dispatcher(self.app).wait_idle(5.0), "console dispatcher did not drain its queue"

    @staticmethod
    def received(sock: SocketIOTestClient, name: str) -> list[Any]:
        """The payloads of every `name` event the socket got since the last call (drains the socket)."""
        return [msg["args"][0] for msg in sock.get_received() if msg["name"] == name]

    def wait_for(
        self,
        sock: SocketIOTestClient,
        name: str,
        timeout: float = 3.0,
        where: Callable[[Any], bool] = lambda _: True,
    ) -> Any:
        """Block until `name` arrives (and satisfies `where`); other events are dropped."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for payload in self.received(sock, name):
                if where(payload):
                    return payload
            time.sleep(0.01)
        raise AssertionError(f"no {name!r} event within {timeout} s")


def _seeded(url: str) -> Iterator[Database]:
    database = Database(url)
    database.migrate()
    with database.session() as s:
        seed_demo(s)
    yield database
    database.dispose()


@pytest.fixture
def db(seeded_sqlite_db: Database) -> Database:
    return seeded_sqlite_db


@pytest.fixture(params=["sqlite", "postgresql"])
def db_both(request: pytest.FixtureRequest) -> Iterator[Database]:
    """The console's database on SQLite and on the real PostgreSQL: a module overrides `db` with it."""
    if request.param == "sqlite":
        yield request.getfixturevalue("seeded_sqlite_db")
    else:
        yield from _seeded(request.getfixturevalue("pg_url"))


def _console(db: Database, tmp_path: Path, **changes: Any) -> Console:
    recordings = tmp_path / "recordings"
    recordings.mkdir(exist_ok=True)
    # report jobs: a request waits for its job as long as a loaded machine may need (the states on
    # the way are tested with report_wait_s=0 in test_reports_page.py)
    config = ConsoleConfig(secret_key="test-secret", demo=True, recordings_dir=recordings, wallboard_interval_s=0.05,
                           evidence_dir=tmp_path / "evidence", evidence_max_bytes=64 * 1024, report_wait_s=120.0)
    config = dataclasses.replace(config, **changes)
    bus = EventBus()
    live = FakeLiveView()
    live_bus = LiveBus()
    app, socketio = create_app(config, db, bus, live, live_bus=live_bus)
    app.config["TESTING"] = True
    return Console(app=app, socketio=socketio, db=db, bus=bus, live=live, config=config, live_bus=live_bus)


@pytest.fixture
def console(db: Database, tmp_path: Path) -> Iterator[Console]:
    made = _console(db, tmp_path)
    yield made
    dispatcher(made.app).stop()


@pytest.fixture
def make_console(db: Database, tmp_path: Path) -> Iterator[Callable[..., Console]]:
    """`make_console(field=value, ...)`: the `console` fixture's app with some ConsoleConfig fields changed."""
    made: list[Console] = []

    def make(**changes: Any) -> Console:
        made.append(_console(db, tmp_path, **changes))
        return made[-1]

    yield make
    for c in made:
        dispatcher(c.app).stop()


@pytest.fixture
def base_url(console: Console) -> Iterator[str]:
    """The console served over real HTTP on loopback, for the browser (tests/browser_support.py)."""
    from browser_support import serve

    with serve(console.app) as url:
        yield url


# --- the console on the PBX simulator: real AMI over TCP, real tracker, real PbxControl -------------


@dataclass
class LivePbx:
    console: Console
    pbx: Any  # telephony.simulator.pbx.SimulatedPbx
    server: Any  # telephony.simulator.server.AmiServer

    def actions(self, name: str) -> int:
        return int(self.server.actions[name])


@pytest.fixture
def live_pbx(db: Database, tmp_path: Path) -> Iterator[LivePbx]:
    from telephony.connection import AmiEndpoint
    from telephony.pbxlink import CombinedLive, PbxControl, make_links
    from telephony.simulator.pbx import SimulatedPbx
    from telephony.simulator.server import AmiServer

    pbx = SimulatedPbx(recordings_dir=str(tmp_path), time_scale=4.0, seed=11, wrap_up_s=0.5)
    server = AmiServer(("127.0.0.1", 0), pbx)
    pbx.start()
    server.serve_in_thread()
    bus = EventBus()
    links = make_links([AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline", "sim")], bus)
    live = CombinedLive([link.tracker for link in links])
    for link in links:
        link.client.start()
    wait_until(lambda: all(link.client.connected.is_set() for link in links), what="AMI login")
    config = ConsoleConfig(secret_key="test-secret", demo=True, recordings_dir=tmp_path, wallboard_interval_s=0.05,
                           wrap_up_s=1.5, supervisor_phones={"supervisor": "SIP/sup9000"})
    app, socketio = create_app(config, db, bus, live, control=PbxControl(links))
    app.config["TESTING"] = True
    console = Console(app=app, socketio=socketio, db=db, bus=bus, live=live, config=config)  # type: ignore[arg-type]
    try:
        yield LivePbx(console, pbx, server)
    finally:
        dispatcher(app).stop()
        for link in links:
            link.client.stop()
        server.shutdown_all()
        pbx.stop()
