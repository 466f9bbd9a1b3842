"""The supervisors' wallboard shows the last `hotline probe` result per hotline (read from the
database the probe writes to) and raises an alert when it failed or is out of date."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from agent_console.app import create_app, dispatcher
from agent_console.config import ConsoleConfig
from agent_console.wallboard import WallboardSettings, wallboard_payload
from cases.db import Database
from cases.probes import ProbeInput, ProbeView, record_probe
from cases.prompt_faults import record_prompt_fault
from telephony.events import EventBus
from telephony.live import LiveSnapshot

if TYPE_CHECKING:
    from conftest import Console, FakeLiveView


def _store(db: Database, hotline: str, up: bool, ago_s: float = 5.0) -> ProbeView:
    with db.session() as s:
        return record_probe(s, ProbeInput(
            hotline=hotline, number="4008001" if hotline == "service" else "4008002", pbx="10.0.0.5:5060", up=up,
            stage="done" if up else "prompt", reason="" if up else "no sound within 8 s of the answer",
            started_at=datetime.now(UTC) - timedelta(seconds=ago_s), duration_s=3.1, register_s=0.01,
            setup_s=0.12, first_audio_s=0.3 if up else None))


def test_a_failed_probe_is_on_the_wallboard_with_an_alert(console: Console) -> None:
    _store(console.db, "claims", True)
    _store(console.db, "service", False)
    assert dispatcher(console.app).refresh_health()
    sock = console.socket(console.login("supervisor"))
    board = console.wait_for(sock, "wallboard")
    assert [(p["hotline"], p["up"], p["stale"]) for p in board["probes"]] == [("claims", True, False),
                                                                            ("service", False, False)]
    service = board["probes"][1]
    assert (service["stage"], service["reason"], service["setup_s"]) == ("prompt", "no sound within 8 s of the answer",
                                                                         0.12)
    alerts = {a["id"]: a for a in board["alerts"]}
    assert set(alerts) == {"probe_down:service"}
    assert alerts["probe_down:service"]["reason"] == "no sound within 8 s of the answer"


def test_a_new_probe_result_is_pushed_and_clears_the_alert(console: Console) -> None:
    _store(console.db, "service", False)
    d = dispatcher(console.app)
    d.refresh_health()
    sup = console.socket(console.login("supervisor"))
    agent = console.socket(console.login("agent1001"))
    first = console.wait_for(sup, "wallboard")
    assert [a["id"] for a in first["alerts"]] == ["probe_down:service"]
    assert not d.refresh_health()  # nothing new: no push
    _store(console.db, "service", True)
    assert d.refresh_health()
    delta = console.wait_for(sup, "wallboard_delta")
    assert delta["version"] == first["version"] + 1
    [row] = delta["probes"]["upsert"]
    assert (row["hotline"], row["up"], row["stage"]) == ("service", True, "done")
    assert delta["alerts"]["remove"] == ["probe_down:service"]
    console.settle()
    assert console.received(agent, "wallboard_delta") == []


def test_an_old_probe_result_raises_a_stale_alert() -> None:
    now = time.time()
    fresh = ProbeView(1, "claims", "4008002", "pbx", True, "done", "", datetime.fromtimestamp(now - 60, UTC), 3.0,
                      None, 0.1, 0.2, None, None)
    old = ProbeView(2, "service", "4008001", "pbx", True, "done", "", datetime.fromtimestamp(now - 1000, UTC), 3.0,
                    None, 0.1, 0.2, None, None)
    board = wallboard_payload(LiveSnapshot(now, (), (), 0), [], probes=(old, fresh),
                              settings=WallboardSettings(20.0, 0.8, 60.0, probe_stale_s=900.0))
    assert [(p["hotline"], p["stale"]) for p in board["probes"]] == [("claims", False), ("service", True)]
    assert [(a["id"], a["kind"]) for a in board["alerts"]] == [("probe_stale:service", "probe_stale")]
    later = wallboard_payload(LiveSnapshot(now, (), (), 0), [], probes=(old, fresh),
                              settings=WallboardSettings(20.0, 0.8, 60.0, probe_stale_s=2000.0))
    assert later["alerts"] == []


def test_the_console_polls_the_database_for_probe_results(db: Database, tmp_path: Path,
                                                          console: Console) -> None:
    live: FakeLiveView = console.live
    config = ConsoleConfig(secret_key="test-secret", demo=True, recordings_dir=tmp_path, wallboard_interval_s=0.05,
                           probe_poll_s=0.1)
    app, socketio = create_app(config, db, EventBus(), live)
    app.config["TESTING"] = True
    try:
        app.test_client_class = type(console.client())
        http = app.test_client()
        assert http.post("/login", data={"username": "supervisor", "password": "hotline-demo"}).status_code == 302
        sock = socketio.test_client(app, flask_test_client=http)
        board = console.wait_for(sock, "wallboard")
        assert board["probes"] == []
        _store(db, "claims", False)  # as `hotline probe` in another process would
        delta = console.wait_for(sock, "wallboard_delta", timeout=5.0, where=lambda d: "probes" in d)
        assert [(p["hotline"], p["up"]) for p in delta["probes"]["upsert"]] == [("claims", False)]
        assert "probe_down:claims" in [a["id"] for a in delta["alerts"]["upsert"]]
    finally:
        dispatcher(app).stop()


def test_a_prompt_the_pbx_cannot_play_is_on_the_wallboard_and_on_status(console: Console) -> None:
    """The IVR (another process) stores each prompt Asterisk could not play; supervisors see an alert with the
    prompt and how often, /status lists it, and another miss is pushed as a change."""
    now = datetime.now(UTC)
    with console.db.session() as s:
        record_prompt_fault(s, "hotline/zh/service-menu", "service", now - timedelta(minutes=3))
    d = dispatcher(console.app)
    assert d.refresh_health()
    sup = console.socket(console.login("supervisor"))
    board = console.wait_for(sup, "wallboard")
    [fault] = board["prompt_faults"]
    assert (fault["prompt"], fault["hotline"], fault["count"]) == ("hotline/zh/service-menu", "service", 1)
    alerts = {a["id"]: a for a in board["alerts"]}
    assert alerts["prompt_missing:hotline/zh/service-menu"]["count"] == 1
    status = console.client().get("/status").get_json()
    assert status["ok"] is True  # the IVR goes on without it: told, not a failed health check
    assert [(f["prompt"], f["count"]) for f in status["ivr_missing_prompts"]] == [("hotline/zh/service-menu", 1)]
    assert not d.refresh_health()
    with console.db.session() as s:
        record_prompt_fault(s, "hotline/zh/service-menu", "service", now)
    assert d.refresh_health()
    delta = console.wait_for(sup, "wallboard_delta")
    [alert] = delta["alerts"]["upsert"]
    assert (alert["id"], alert["count"]) == ("prompt_missing:hotline/zh/service-menu", 2)
    assert [f["count"] for f in delta["prompt_faults"]["upsert"]] == [2]
