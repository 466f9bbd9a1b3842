"""Every HTTP route and every Socket.IO event, for every role and for no login; CSRF; session
cookie flags (login limits and sessions: test_security_login.py); an agent never sees another
agent's pops. Server-pushed `reminder` and `reminder_cleared` go only to the case's assignee and
supervisors (tests/agent_console/test_reminders.py). Calls (`CALL_RULES`): who may link another agent's
call or an unknown one, and who reads another agent's call on a case page and hears its recording (the
cases: tests/agent_console/test_call_access.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from cases.accounts import create_user
from cases.call_records import get_call, record_call
from cases.case_records import list_cases
from cases.demo_data import DEMO_PASSWORD
from cases.transcript_records import attach_transcript
from telephony.events import AgentRinging, CallStarted

if TYPE_CHECKING:
    from conftest import Console

ROLES = ("agent", "supervisor", "claims", "inspector", "admin", "branch")
USERS = {"agent": "agent1001", "supervisor": "supervisor", "claims": "claims1", "inspector": "inspector1",
         "admin": "admin1", "branch": "branch1"}
AGENTS = {"agent", "supervisor", "admin"}
SUPERVISORS = {"supervisor", "admin"}
EVERYONE = set(ROLES) - {"branch"}  # the centre's staff; branch staff see only their branch's work
WRITERS = {"agent", "supervisor", "claims", "admin"}
SEARCHERS = {"agent", "supervisor", "inspector", "admin"}  # agents: their own calls only (test_search.py)
CLAIMS_DESK = {"claims", "supervisor", "admin"}
INSPECTION_DESK = {"inspector", "supervisor", "admin"}
BRANCH = {"branch"}
COMPLAINTS_DESK = {"agent", "supervisor", "inspector", "admin"}  # 监察主管3: inspectors take complaints too
ASSIGNERS = {"supervisor", "admin"}  # give an agent a call (then it may link it and see its transcripts)
ALL_CALLS = EVERYONE - {"agent"}  # every call's recording and transcripts; link any stored or live call

# (method, url, roles allowed); None = no login needed. Every route of the app must be listed.
MATRIX: list[tuple[str, str, set[str] | None]] = [
    ("GET", "/", None),
    ("GET", "/login", None),
    ("POST", "/login", None),
    ("POST", "/logout", None),
    ("GET", "/status", None),
    ("GET", "/metrics", None),  # loopback, bearer token or admin: tests/test_metrics.py
    ("GET", "/agent", AGENTS),
    ("GET", "/supervisor", SUPERVISORS),
    ("GET", "/cases", EVERYONE),
    ("GET", "/cases/1", EVERYONE),
    ("POST", "/cases/1/calls/no.such/assign", ASSIGNERS),
    ("GET", "/recordings/no.such", EVERYONE),
    ("POST", "/api/cases", WRITERS),
    ("POST", "/api/cases/1/update", WRITERS),
    ("POST", "/api/cases/1/change-request", WRITERS),
    ("GET", "/api/pops/no.such", AGENTS),
    ("GET", "/api/agent/state", AGENTS),
    ("POST", "/api/agent/state", AGENTS),
    ("POST", "/api/agent/wrap-up/extend", AGENTS),
    ("GET", "/api/callbacks", AGENTS),
    ("POST", "/api/callbacks/1/accept", AGENTS),
    ("GET", "/api/wallboard", SUPERVISORS),
    ("POST", "/api/supervisor/spy", SUPERVISORS),
    ("POST", "/api/supervisor/reroute", SUPERVISORS),
    ("GET", "/search", SEARCHERS),
    ("GET", "/api/search", SEARCHERS),
    ("GET", "/shipments/no.such", EVERYONE),
    # the claims, inspection and branch consoles (agent_console/casework.py)
    ("GET", "/claims", CLAIMS_DESK),
    ("POST", "/claims", CLAIMS_DESK),
    ("GET", "/claims/1", CLAIMS_DESK),
    ("GET", "/claims/overdue", CLAIMS_DESK),
    ("POST", "/claims/1/close", CLAIMS_DESK),
    ("GET", "/claims/1/evidence/1", CLAIMS_DESK | BRANCH),
    ("GET", "/inspections", INSPECTION_DESK),
    ("POST", "/inspections", INSPECTION_DESK),
    ("GET", "/inspections/1", INSPECTION_DESK),
    ("POST", "/inspections/1/close", INSPECTION_DESK),
    ("GET", "/incidents", INSPECTION_DESK),  # incidents (突发事件) and rewards/penalties (奖罚) from any source
    ("POST", "/incidents", INSPECTION_DESK),
    ("GET", "/incidents/1", INSPECTION_DESK),
    ("POST", "/incidents/1/close", INSPECTION_DESK),
    ("GET", "/sanctions", INSPECTION_DESK),
    ("POST", "/sanctions", INSPECTION_DESK),
    ("POST", "/sanctions/1/collect", INSPECTION_DESK),
    ("GET", "/branch", BRANCH),
    ("POST", "/branch/complaints/1/answer", BRANCH),
    ("POST", "/branch/findings/1/rectify", BRANCH),
    ("POST", "/branch/claims/1/evidence", BRANCH),
    ("POST", "/branch/self-settled", BRANCH),
    ("GET", "/reports", EVERYONE),
    ("GET", "/complaints", COMPLAINTS_DESK),
    ("POST", "/complaints", COMPLAINTS_DESK),
    ("GET", "/complaints/1", COMPLAINTS_DESK),
    ("POST", "/complaints/1/close", COMPLAINTS_DESK),
    ("GET", "/reports/no.such/pdf", EVERYONE),
    ("POST", "/reports/no.such/analysis", SUPERVISORS | {"claims", "inspector"}),  # analysis: per report below
    ("GET", "/api/report-jobs/no.such", EVERYONE),
    ("GET", "/api/reminders", EVERYONE),  # own cases' reminders; supervisors: all
    ("POST", "/api/reminders/ack", WRITERS),  # own cases' reminders; supervisors: any (test_reminders.py)
    # consignee changes: supervisors decide (agents are told so: test_changes_desk.py), agents call back
    ("GET", "/changes", SUPERVISORS),
    ("POST", "/changes/1/close", SUPERVISORS),
    ("POST", "/api/change-requests/1/close", SUPERVISORS),
    ("GET", "/api/change-callbacks", AGENTS),
    ("POST", "/api/change-callbacks/1/done", AGENTS),
]


@pytest.fixture
def users(console: Console) -> Console:
    with console.db.session() as s:
        for role in ("claims", "inspector", "admin", "branch"):
            branch = "郑州分公司" if role == "branch" else ""
            create_user(s, USERS[role], DEMO_PASSWORD, role, role, branch=branch)
    return console


def _rule_path(rule: str) -> str:
    for placeholder in ("<int:case_id>", "<int:claim_id>", "<int:evidence_id>", "<int:inspection_id>",
                        "<int:complaint_id>", "<int:finding_id>", "<int:request_id>", "<int:callback_id>",
                        "<int:incident_id>", "<int:sanction_id>"):
        rule = rule.replace(placeholder, "1")
    return rule.replace("<linkedid>", "no.such").replace("<waybill>", "no.such").replace("<action>", "close").replace(
        "<name>", "no.such").replace("<fmt>", "pdf").replace("<job_id>", "no.such")


def test_every_route_is_in_the_matrix(console: Console) -> None:
    routes = {(m, _rule_path(r.rule)) for r in console.app.url_map.iter_rules() if r.endpoint != "static"
              for m in r.methods or () if m in ("GET", "POST")}
    assert routes == {(m, u) for m, u, _ in MATRIX}


@pytest.mark.parametrize(("method", "url", "roles"), [m for m in MATRIX if m[2] is not None])
def test_route_for_every_role_and_no_login(users: Console, method: str, url: str, roles: set[str]) -> None:
    anon = users.client()
    resp = anon.open(url, method=method, json={})
    if url.startswith("/api/"):
        assert resp.status_code == 401, (method, url)
    else:
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], (method, url)
    for role in ROLES:
        resp = users.login(USERS[role]).open(url, method=method, json={})
        if role in roles:
            assert resp.status_code not in (401, 403), (role, method, url, resp.status_code)
        else:
            assert resp.status_code == 403, (role, method, url, resp.status_code)


# per role, for a call agent1003 took (recording, transcript) and linked to a case by a supervisor:
# (link it to a new case, link an unknown linkedid, its transcript on the case page, its recording)
CALL_RULES: dict[str, tuple[int, int, bool | None, int]] = {
    "agent": (403, 404, False, 403),  # agent1001, not on the call: refused, nothing stored, withheld
    "supervisor": (201, 404, True, 200),
    "claims": (201, 404, True, 200),
    "inspector": (403, 403, True, 200),  # reads every call, writes no cases
    "admin": (201, 404, True, 200),
    "branch": (403, 403, None, 403),  # no case page at all
}


@pytest.mark.parametrize("role", ROLES)
def test_calls_of_other_agents_for_every_role(users: Console, role: str) -> None:
    from telephony.records import CallRecord

    (users.config.recordings_dir / "taken.1003.wav").write_bytes(b"RIFF....WAVEfmt ")  # type: ignore[operator]
    with users.db.session() as s:
        record_call(s, CallRecord(linkedid="taken.1003", caller="49305551001", hotline="service",
                                           outcome="answered", agent="agent1003", agents=["agent1003"],
                                           rang=["agent1003"], recording="taken.1003.wav"))
        attach_transcript(s, "taken.1003", engine="vosk", model="t", speaker="caller", text="只给1003听的话",
                                   words_json="[]", duration_s=1.0)
    case_id = users.login("supervisor").post("/api/cases", json={"kind": "inquiry", "subject": "x",
                                                                 "linkedid": "taken.1003"}).get_json()["id"]
    link, unknown, reads, hears = CALL_RULES[role]
    client = users.login(USERS[role])
    assert client.post("/api/cases", json={"kind": "inquiry", "subject": "y",
                                           "linkedid": "taken.1003"}).status_code == link
    assert client.post("/api/cases", json={"kind": "inquiry", "subject": "z",
                                           "linkedid": "no.such.call"}).status_code == unknown
    with users.db.session() as s:
        assert get_call(s, "no.such.call") is None
    page = client.get(f"/cases/{case_id}")
    if reads is None:
        assert page.status_code == 403
    else:
        assert ("只给1003听的话" in page.get_data(as_text=True)) is reads, role
        assert ('href="/recordings/taken.1003"' in page.get_data(as_text=True)) is reads, role
    assert client.get("/recordings/taken.1003").status_code == hears
    assert set(CALL_RULES) == set(ROLES) and {r for r, rule in CALL_RULES.items() if rule[2]} == ALL_CALLS


@pytest.mark.parametrize("role", ROLES)
def test_socket_events_for_every_role(users: Console, role: str) -> None:
    sock = users.socket(users.login(USERS[role]))
    assert sock.is_connected()
    names = {m["name"] for m in sock.get_received()}
    board = sock.emit("wallboard_request", callback=True)
    state = sock.emit("agent_state", {}, callback=True)
    if role in SUPERVISORS:
        assert "wallboard" in names and "queues" in board
    else:
        assert "wallboard" not in names and board == {"error": "forbidden"}
    if role in AGENTS:
        assert "agent_state" in names and state["agent"] == USERS[role]
    else:
        assert "agent_state" not in names and state == {"error": "forbidden"}


def test_socket_refused_without_login(console: Console) -> None:
    assert not console.socket(console.client()).is_connected()


def test_an_agent_receives_only_its_own_pops(console: Console) -> None:
    mine, other, sup = (console.socket(console.login(u)) for u in ("agent1001", "agent1002", "supervisor"))
    for s in (mine, other, sup):
        s.get_received()
    console.bus.publish(CallStarted("own.1", "49305551001", "张伟", "4008001", "service", 1.0))
    console.bus.publish(AgentRinging("own.1", "agent1001", "service", "49305551001", 2.0))
    console.settle()
    assert [m["args"][0]["linkedid"] for m in mine.get_received() if m["name"] == "screen_pop"] == ["own.1"]
    for s in (other, sup):
        assert [m for m in s.get_received() if m["name"] in ("screen_pop", "agent_delta")] == []
    assert console.login("agent1002").get("/api/pops/own.1").status_code == 404
    assert console.login("agent1001").get("/api/pops/own.1").get_json()["customer"]["name"] == "张伟"


def test_posts_without_the_csrf_token_are_refused_and_store_nothing(console: Console) -> None:
    raw = console.raw_client()
    assert raw.post("/login", data={"username": "agent1001", "password": DEMO_PASSWORD}).status_code == 400
    agent = console.login("agent1001")
    with console.db.session() as s:
        before = len(list_cases(s, limit=1000))
    body = {"kind": "inquiry", "subject": "x"}
    resp = agent.post("/api/cases", json=body, headers={"X-CSRF-Token": "wrong"})
    assert resp.status_code == 400 and "CSRF" in resp.get_json()["message"]
    assert agent.post("/api/cases", json=body).status_code == 201  # with the right token
    with console.db.session() as s:
        assert len(list_cases(s, limit=1000)) == before + 1
    # the pages carry the token: in a meta tag and in the login and logout forms
    page = agent.get("/agent").get_data(as_text=True)
    assert 'name="csrf-token"' in page and 'name="csrf_token"' in page


def test_session_cookie_is_httponly_and_samesite(console: Console) -> None:
    client = console.client()
    resp = client.post("/login", data={"username": "agent1001", "password": DEMO_PASSWORD})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_live_transcripts_reach_only_the_agent_on_the_call_and_supervisors(users: Console) -> None:
    """`live_transcript` and `live_call_ended` go to the agent on the call and to supervisors;
    `live_alert` to supervisors only; another agent and the other roles get none of them, also not
    the finals replayed to a page that connects during the call."""
    from telephony.events import CallEnded
    from telephony.records import CallRecord
    from transcripts.live_events import LiveAlert, LiveLine

    assert users.live_bus is not None
    socks = {role: users.socket(users.login(USERS[role])) for role in ROLES}
    other = users.socket(users.login("agent1002"))
    for s in [*socks.values(), other]:
        s.get_received()
    users.live_bus.publish(LiveLine("live.1", "agent1001", "customer", "s1", 1, False, "택배가", 0.5, 1.0))
    users.live_bus.publish(LiveLine("live.1", "agent1001", "customer", "s1", 2, True, "택배가 아직", 1.2, 2.0))
    users.live_bus.publish(LiveAlert("live.1", "agent1001", "customer", "escalation", "投诉", "我要投诉", 2.5))
    users.settle()
    msgs = {role: s.get_received() for role, s in socks.items()}
    got = {role: [m["args"][0] for m in ms if m["name"] == "live_transcript"] for role, ms in msgs.items()}
    alerts = {role: [m["args"][0] for m in ms if m["name"] == "live_alert"] for role, ms in msgs.items()}
    assert [(x["seq"], x["final"], x["text"]) for x in got["agent"]] == [(1, False, "택배가"), (2, True, "택배가 아직")]
    assert got["agent"][0]["speaker"] == "customer" and got["agent"][0]["linkedid"] == "live.1"
    for role in ROLES:
        if role in SUPERVISORS:
            assert len(got[role]) == 2 and [a["phrase"] for a in alerts[role]] == ["投诉"], role
        elif role != "agent":
            assert got[role] == [] and alerts[role] == [], role
    assert alerts["agent"] == []  # the alert is for supervisors
    assert [m for m in other.get_received() if m["name"].startswith("live_")] == []

    # a page that connects during the call gets the finals so far, if it may see them
    late = {u: users.socket(users.login(u)) for u in ("agent1001", "agent1002", "supervisor")}
    replayed = {u: users.received(s, "live_transcript") for u, s in late.items()}
    assert [x["text"] for x in replayed["agent1001"]] == ["택배가 아직"]
    assert [x["text"] for x in replayed["supervisor"]] == ["택배가 아직"]
    assert replayed["agent1002"] == []

    users.bus.publish(CallEnded(CallRecord(linkedid="live.1", caller="1", agent="agent1001", agents=["agent1001"],
                                           outcome="answered"), 3.0))
    users.settle()
    ended = {role: users.received(s, "live_call_ended") for role, s in socks.items()}
    assert ended["agent"] == [{"linkedid": "live.1"}] and ended["supervisor"] == [{"linkedid": "live.1"}]
    assert ended["claims"] == [] and ended["inspector"] == []
    assert [m for m in other.get_received() if m["name"].startswith("live_")] == []

    # the last words, recognised after the hang-up, still reach the agent and supervisors only
    users.live_bus.publish(LiveLine("live.1", "agent1001", "agent", "s2", 1, True, "네 감사합니다", 3.0, 3.5))
    users.settle()
    late = {role: users.received(s, "live_transcript") for role, s in socks.items()}
    assert [x["text"] for x in late["agent"]] == ["네 감사합니다"] and len(late["supervisor"]) == 1
    assert late["claims"] == [] and late["inspector"] == []
    assert [m for m in other.get_received() if m["name"].startswith("live_")] == []
    # and an ended call is not replayed to a page that connects afterwards
    assert users.received(users.socket(users.login("supervisor")), "live_transcript") == []


def test_a_call_that_ends_before_its_first_live_line_still_ends_on_the_pages(users: Console) -> None:
    """On a loaded machine recognition can run so far behind that an answered call hangs up before
    its first live line: `live_call_ended` still goes to the agent on the call and to supervisors
    (only), and the lines that come afterwards reach the same people and are not kept for replay."""
    from telephony.events import CallEnded
    from telephony.records import CallRecord
    from transcripts.live_events import LiveLine

    assert users.live_bus is not None
    socks = {role: users.socket(users.login(USERS[role])) for role in ROLES}
    other = users.socket(users.login("agent1002"))
    for s in [*socks.values(), other]:
        s.get_received()
    users.bus.publish(CallEnded(CallRecord(linkedid="late.1", caller="1", agent="agent1001", agents=["agent1001"],
                                           outcome="answered"), 3.0))
    users.settle()
    ended = {role: users.received(s, "live_call_ended") for role, s in socks.items()}
    for role in ROLES:
        want = [{"linkedid": "late.1"}] if role == "agent" or role in SUPERVISORS else []
        assert ended[role] == want, role
    users.live_bus.publish(LiveLine("late.1", "agent1001", "customer", "s1", 1, True, "택배가", 1.2, 4.0))
    users.settle()
    late = {role: users.received(s, "live_transcript") for role, s in socks.items()}
    assert [x["text"] for x in late["agent"]] == ["택배가"]
    for role in ROLES:
        if role in SUPERVISORS:
            assert len(late[role]) == 1, role
        elif role != "agent":
            assert late[role] == [], role
    assert [m for m in other.get_received() if m["name"].startswith("live_")] == []
    assert users.received(users.socket(users.login("supervisor")), "live_transcript") == []
