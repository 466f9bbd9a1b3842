"""`GET /metrics`: Prometheus text from the real console app, fed by real domain events; who may read it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from agent_console import metrics
from agent_console.app import create_app, dispatcher
from agent_console.config import ConsoleConfig
from cases.accounts import create_user
from cases.db import Database
from cases.demo_data import DEMO_PASSWORD
from hotline_cli.process_metrics import record_metrics
from telephony.events import AgentRinging, CallEnded, CallStarted, EventBus
from telephony.live import LiveSnapshot
from telephony.records import CallRecord

TOKEN = "metrics-token-for-the-test"


class EmptyLive:
    def live_call_ids(self) -> list[str]:
        return []

    def snapshot(self, now: float | None = None) -> LiveSnapshot:
        return LiveSnapshot(time.time(), (), (), 0)


@pytest.fixture
def sources() -> metrics.MetricSources:
    return metrics.MetricSources()


@pytest.fixture
def app_bus(seeded_sqlite_db: Database,
            sources: metrics.MetricSources) -> Iterator[tuple[FlaskClient, EventBus, Database]]:
    db = seeded_sqlite_db
    with db.session() as s:
        create_user(s, "admin1", DEMO_PASSWORD, "admin", "Admin")
    bus = EventBus()
    app, _ = create_app(ConsoleConfig(secret_key="k", metrics_token=TOKEN), db, bus, EmptyLive(),
                        metric_sources=sources)
    app.config["TESTING"] = True
    yield app.test_client(), bus, db
    dispatcher(app).stop()


def sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def scrape(client: FlaskClient) -> str:
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.content_type.startswith("text/plain; version=0.0.4")
    return resp.get_data(as_text=True)


def test_metrics_count_calls_waits_pops_ami_events_and_the_backlog(
        app_bus: tuple[FlaskClient, EventBus, Database], sources: metrics.MetricSources) -> None:
    client, bus, _ = app_bus

    class Link:  # what record_metrics reads of a PbxLink: its name, event counter, connected flag
        class endpoint:  # noqa: N801
            name = "pbx-test"

        class client:  # noqa: N801
            class stats:  # noqa: N801
                events = 4321

            class connected:  # noqa: N801
                @staticmethod
                def is_set() -> bool:
                    return True

    record_metrics(bus, [Link()], sources)  # type: ignore[list-item]
    sources.backlog = lambda: (7, 2)
    sources.store_backlog = lambda: 3
    before = scrape(client)
    now = time.time()
    bus.publish(CallEnded(CallRecord("m.1", hotline="claims", outcome="answered", wait_s=12.5), now))
    bus.publish(CallEnded(CallRecord("m.2", hotline="claims", outcome="abandoned_in_queue", wait_s=70.0), now))
    bus.publish(CallStarted("m.3", "49305551001", "张伟", "4008001", "service", now))
    bus.publish(AgentRinging("m.3", "agent1001", "service", "49305551001", now))
    deadline = time.time() + 5
    while sample(scrape(client), "hotline_pops_total") == sample(before, "hotline_pops_total") \
            and time.time() < deadline:
        time.sleep(0.05)
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("hotline_calls_total", outcome="answered", hotline="claims") == 1
    assert delta("hotline_calls_total", outcome="abandoned_in_queue", hotline="claims") == 1
    assert delta("hotline_queue_wait_seconds_count", hotline="claims") == 2
    assert delta("hotline_queue_wait_seconds_bucket", hotline="claims", le="20.0") == 1
    assert delta("hotline_pops_total") == 1
    assert delta("hotline_pop_latency_seconds_count") == 1
    # the pop's hops in this console: its wait on the event queue, its assembly, its emit (one each)
    for hop in ("queue", "build", "emit"):
        assert delta("hotline_pop_hop_seconds_count", hop=hop) == 1, hop
    assert delta("hotline_pop_hop_seconds_count", hop="redis") == 0  # no Redis between bus and console here
    assert sample(after, "hotline_ami_events_total", pbx="pbx-test") == 4321
    assert sample(after, "hotline_ami_connected", pbx="pbx-test") == 1
    assert sample(after, "hotline_transcription_backlog") == 7
    assert sample(after, "hotline_transcription_failed") == 2
    assert sample(after, "hotline_store_backlog") == 3


def test_transcription_lag_is_the_time_from_the_call_end() -> None:
    before = sample(metrics.exposition().decode(), "hotline_transcription_lag_seconds_bucket", le="60.0")
    metrics.transcription_stored(ended_at=1000.0, now=1045.0)
    after = metrics.exposition().decode()
    assert sample(after, "hotline_transcription_lag_seconds_bucket", le="60.0") - before == 1


def login(client: FlaskClient, user: str, ip: str) -> None:
    page = client.get("/login", environ_base={"REMOTE_ADDR": ip}).get_data(as_text=True)
    token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    resp = client.post("/login", data={"username": user, "password": DEMO_PASSWORD, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": ip})
    assert resp.status_code == 302


@pytest.mark.parametrize(("ip", "headers", "user", "allowed"), [
    ("127.0.0.1", {}, None, True),  # Prometheus on the same machine
    ("::1", {}, None, True),
    ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, None, False),  # through nginx: not local
    ("127.0.0.1", {"X-Real-IP": "203.0.113.9"}, None, False),
    ("10.0.0.9", {}, None, False),
    ("10.0.0.9", {"Authorization": f"Bearer {TOKEN}"}, None, True),
    ("10.0.0.9", {"Authorization": "Bearer wrong"}, None, False),
    ("10.0.0.9", {}, "agent1001", False),
    ("10.0.0.9", {}, "supervisor", False),
    ("10.0.0.9", {}, "admin1", True),
])
def test_who_may_read_the_metrics(app_bus: tuple[FlaskClient, EventBus, Database], ip: str,
                                  headers: dict[str, str], user: str | None, allowed: bool) -> None:
    client, _, _ = app_bus
    if user is not None:
        login(client, user, ip)
    resp = client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": ip})
    assert resp.status_code == (200 if allowed else 403), (ip, headers, user, resp.status_code)
    if allowed:
        assert "hotline_pops_total" in resp.get_data(as_text=True)
