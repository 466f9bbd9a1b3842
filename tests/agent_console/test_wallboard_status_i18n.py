"""Wallboard pushes to supervisors (and only them, rate-limited), /status, and the two languages."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from agent_console.i18n import EN, ZH_CN
from agent_console.wallboard import apply_wallboard_delta
from telephony.events import AgentStatus, CallQueued, CallVariable, IvrDigit

if TYPE_CHECKING:
    from conftest import Console

T0 = 1_764_500_000.0


def test_supervisor_gets_a_wallboard_on_connect(console: Console) -> None:
    console.live.current = console.sample_snapshot()
    sock = console.socket(console.login("supervisor"))
    board = console.wait_for(sock, "wallboard")
    assert [q["queue"] for q in board["queues"]] == ["claims", "service"]
    service = board["queues"][1]
    assert service["longest_wait_s"] == 30.0
    assert len(service["waiting"]) == 1
    assert (service["answered"], service["abandoned"]) == (7, 2)
    assert {k: board["agents"][1][k] for k in ("agent", "status", "paused", "pause_reason", "since", "state")} == {
        "agent": "agent1002", "status": "idle", "paused": True, "pause_reason": "午休", "since": T0 - 300,
        "state": "paused"}
    assert board["live_calls_count"] == 2
    assert isinstance(board["version"], int)
    assert board["recent_calls"] == []


def test_queue_and_agent_events_push_the_wallboard_to_supervisors_only(console: Console) -> None:
    sup = console.socket(console.login("supervisor"))
    agent = console.socket(console.login("agent1001"))
    console.wait_for(sup, "wallboard")  # the one sent on connect
    console.live.current = console.sample_snapshot(waiting=3)
    console.bus.publish(CallQueued("w.1", "service", 3, T0))
    delta = console.wait_for(sup, "wallboard_delta")
    [service] = [q for q in delta["queues"]["upsert"] if q["queue"] == "service"]
    assert len(service["waiting"]) == 3
    console.settle()
    assert console.received(agent, "wallboard_delta") == []


def test_no_wallboard_is_computed_while_no_supervisor_watches(console: Console) -> None:
    console.live.current = console.sample_snapshot(waiting=1)
    agent = console.socket(console.login("agent1001"))
    for n in range(5):
        console.bus.publish(CallQueued(f"n.{n}", "service", 1, T0 + n))
    console.settle()
    time.sleep(0.1)  # > wallboard_interval_s
    assert console.received(agent, "wallboard_delta") == []
    sup = console.socket(console.login("supervisor"))
    board = console.wait_for(sup, "wallboard")
    assert board["version"] == 0  # no board was made (each would have taken a version)
    assert len(board["queues"][1]["waiting"]) == 1  # made now, from the live picture
    console.live.current = console.sample_snapshot(waiting=3)
    console.bus.publish(CallQueued("n.9", "service", 3, T0 + 9))
    delta = console.wait_for(sup, "wallboard_delta")
    assert delta["version"] == 1
    whole = sup.emit("wallboard_request", callback=True)
    assert apply_wallboard_delta(board, delta) == whole
    assert len(whole["queues"][1]["waiting"]) == 3


def test_ivr_only_events_do_not_push_the_wallboard(console: Console) -> None:
    sup = console.socket(console.login("supervisor"))
    console.wait_for(sup, "wallboard")
    console.bus.publish(IvrDigit("w.2", "1", "1", T0))
    console.bus.publish(CallVariable("w.2", "WAYBILL", "800012345678", T0))
    console.settle()
    time.sleep(0.1)
    assert console.received(sup, "wallboard_delta") == []


def test_wallboard_is_rate_limited_but_the_last_change_arrives(console: Console) -> None:
    sup = console.socket(console.login("supervisor"))
    console.wait_for(sup, "wallboard")
    for n in range(50):
        console.live.current = console.sample_snapshot(waiting=n % 5)
        console.bus.publish(AgentStatus("agent1001", "service", "idle", False, "", T0 + n))
    console.live.current = console.sample_snapshot(waiting=4)
    console.bus.publish(AgentStatus("agent1001", "service", "busy", False, "", T0 + 60))
    console.settle()
    time.sleep(0.2)  # > wallboard_interval_s: the trailing push
    deltas = console.received(sup, "wallboard_delta")
    assert 1 <= len(deltas) < 10  # 51 events, interval 0.05 s
    assert [d["version"] for d in deltas] == list(range(deltas[0]["version"], deltas[0]["version"] + len(deltas)))
    whole = sup.emit("wallboard_request", callback=True)
    assert whole["version"] == deltas[-1]["version"]
    assert len(whole["queues"][1]["waiting"]) == 4


def test_wallboard_request_is_for_supervisors(console: Console) -> None:
    console.live.current = console.sample_snapshot()
    sup = console.socket(console.login("supervisor"))
    assert sup.emit("wallboard_request", callback=True)["live_calls_count"] == 2
    agent = console.socket(console.login("agent1001"))
    assert agent.emit("wallboard_request", callback=True) == {"error": "forbidden"}


def test_status_reports_db_and_live_calls(console: Console) -> None:
    console.live.current = console.sample_snapshot()
    resp = console.client().get("/status")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["ok"] is True
    assert body["db"]["reachable"] is True
    assert body["live_calls"] == 2


def test_status_takes_fields_from_a_provider(console: Console) -> None:
    console.app.extensions["hotline_console"].status_provider = lambda: {"pbx": {"connected": True}}
    body = console.client().get("/status").get_json()
    assert body["pbx"] == {"connected": True}
    assert body["ok"] is True


def test_status_is_503_when_the_database_is_gone(console: Console) -> None:
    from pathlib import Path

    path = Path(str(console.db.engine.url.database))
    console.db.engine.dispose()
    path.unlink()
    path.mkdir()  # a directory where the database file was: sqlite cannot open it
    resp = console.client().get("/status")
    assert resp.status_code == 503
    assert resp.get_json()["db"]["reachable"] is False


def test_chinese_is_the_default_and_english_can_be_chosen(console: Console) -> None:
    client = console.client()
    login = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in login
    assert "用户名" in login
    english = client.get("/login?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english
    assert "Username" in english
    assert "Username" in client.get("/login").get_data(as_text=True)  # remembered in the session
    resp = client.post("/login", data={"username": "agent1001", "password": "nope"})
    assert "Wrong username or password" in resp.get_data(as_text=True)
    client.post("/login", data={"username": "agent1001", "password": "hotline-demo"})
    agent_page = client.get("/agent").get_data(as_text=True)
    assert "Save case" in agent_page
    assert "Save case" not in client.get("/agent?lang=zh-CN").get_data(as_text=True)
    assert "保存案件" in client.get("/agent").get_data(as_text=True)


def test_both_languages_have_every_string() -> None:
    assert set(ZH_CN) == set(EN)
    assert all(ZH_CN.values()) and all(EN.values())


def test_every_key_the_templates_use_exists() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "agent_console"
    used: set[str] = set()
    for template in (root / "templates").glob("*.html"):
        used |= set(re.findall(r't\("([a-z_.]+)"\)', template.read_text(encoding="utf-8")))
    for script in (root / "static" / "js").glob("*.js"):
        used |= set(re.findall(r'\bt\("([a-z_.]+)"\)', script.read_text(encoding="utf-8")))
    assert used, "found no strings in the templates"
    assert sorted(used - set(ZH_CN)) == []
