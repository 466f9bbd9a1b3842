"""A bounded fuzz run over every HTTP route of the console and every Socket.IO event, for every role and
for no login: ids out of range (10**30, 2**63), negative, not numbers; dates malformed or out of range;
JSON of the wrong types; huge strings; form fields of every desk with hostile values.

What must hold for every input: no 500 (an unhandled exception) and, where the request was refused
(4xx/5xx), nothing stored changed (every table's row count, the audit trail's last entry, the cases'
text). The inputs are a fixed list plus a seeded random sample, so a run is repeatable; the counts are
printed (`pytest -s`). Real SQLite database, real app; the console serves without TESTING so an exception
becomes the 500 a browser would see (recorded with its traceback through Flask's signal)."""

from __future__ import annotations

import io
import json
import random
import re
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, got_request_exception
from flask.testing import FlaskClient
from sqlalchemy import func, inspect, select, text

from agent_console.app import create_app, dispatcher
from agent_console.config import ConsoleConfig
from cases.accounts import create_user
from cases.db import Database
from cases.demo_data import DEMO_PASSWORD
from cases.workflow import CHANGE_REQUEST, CLAIM, COMPLAINT, INCIDENT
from telephony.events import EventBus
from telephony.live import LiveSnapshot
from transcripts.live_events import LiveBus

SEED = 16_8
USERS = {None: None, "agent": "agent1001", "supervisor": "supervisor", "claims": "claims1",
         "inspector": "inspector1", "admin": "admin1", "branch": "branch1"}

HUGE = "界" * 100_000
IDS = ["0", "1", "-1", str(10**30), "9" * 5000, str(2**63), str(2**63 - 1), str(2**31), "abc", "1e3", "0x10",
       "1.5", "%00", "٣"]  # an Arabic-Indic digit: matches \d
STRINGS = ["no.such", "x" * 5000, "..%2F..%2Fetc%2Fpasswd", "' OR '1'='1", "中文", "%00", "a b", "-1", str(10**30)]
DATES = ["2024-13-45", "0000-00-00", "99999-01-01", "9999-12-31", "0001-01-01", "2024-02-30", "yesterday", "",
         "2024-01-01T25:61", "2024-01-01T00:00+99:00", "9999-12-31T23:59+14:00", "0001-01-01T00:00-12:00",
         "1" * 400, "-1", str(10**30), "\x00", "2024-W01", "２０２４-０１-０１", "0001-01-01T00:00+14:00",
         "9999-12-31T23:59-12:00", "1899-12-31T23:59+00:00", "3000-01-01", "0001-01-01"]
NUMBERS = ["-1", "0", "1e999", "NaN", "Infinity", "-Infinity", str(10**30), "1" * 500, "abc", "", " ", "1,2,3",
           "¥-5", "9" * 40 + ".99", "0x10", "1_000"]
DATE_FIELDS = {"deadline", "inspected_at", "due_at", "done_at", "settled_at", "follow_up_due", "occurred_at"}
MONEY_FIELDS = {"claimed", "amount", "payout", "quoted", "tariff", "share_0", "finding_id"}
QUERY_KEYS = ["from", "until", "since", "offset", "stage", "tz", "name", "lang", "done", "q", "again", "hotline",
              "agent", "speaker", "next", "fmt"]
FORM_FIELDS = [
    "subject", "claimed", "channel", "accident_cause", "branch", "major", "description", "waybill", "amount",
    "offered_by", "note", "insurer", "policy_no", "insurer_claim_no", "status", "payout", "party_0", "share_0",
    "name_0", "kind", "passed", "inspected_at", "person", "quoted", "tariff", "due_at", "done_at", "finding_id",
    "deadline", "assignee", "reason", "rectification", "settled_by", "issue", "settled_at", "complaint_type",
    "cause", "responsible_department", "analysis", "department", "reply", "username", "password", "next",
]
JSON_FIELDS = ["kind", "subject", "description", "department", "waybill", "linkedid", "customer_id", "status",
               "note", "follow_up_due", "wrap_up_code", "field", "new_value", "reason", "state", "agent", "mode",
               "queue", "key"]
JSON_VALUES: list[Any] = [None, True, 0, -1, 10**30, 2**63, 1.5, float("1e308"), "", "x", HUGE, [], {}, ["a"],
                          {"a": 1}, "2024-13-45", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-12:00", "\x00",
                          "inquiry", "referred", "ready", "paused", "listen", "service"]


class EmptyLive:
    def snapshot(self, now: float | None = None) -> LiveSnapshot:
        return LiveSnapshot(time.time(), (), (), 0)


@dataclass
class Tally:
    tried: int = 0
    errors: list[str] = field(default_factory=list)  # "METHOD url role: exception"
    changed: list[str] = field(default_factory=list)  # refused, yet something stored changed
    statuses: dict[int, int] = field(default_factory=dict)


@dataclass
class Site:
    app: Flask
    socketio: Any
    db: Database
    clients: dict[str | None, FlaskClient]
    tokens: dict[str | None, str]
    claim_id: int
    complaint_id: int
    inspection_id: int
    finding_id: int


def _token(client: FlaskClient) -> str:
    page = client.get("/login").get_data(as_text=True)
    found = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


@pytest.fixture
def site(seeded_sqlite_db: Database, tmp_path: Path) -> Iterator[Site]:
    db = seeded_sqlite_db
    with db.session() as s:
        for role in ("claims", "inspector", "admin", "branch"):
            create_user(s, USERS[role] or "", DEMO_PASSWORD, role, role,
                                 branch="郑州分公司" if role == "branch" else "")
    recordings = tmp_path / "rec"
    recordings.mkdir()
    config = ConsoleConfig(secret_key="fuzz", demo=True, recordings_dir=recordings, evidence_dir=tmp_path / "ev",
                           evidence_max_bytes=64 * 1024, report_wait_s=0.0, reminder_interval_s=0.0)
    app, socketio = create_app(config, db, EventBus(), EmptyLive(), live_bus=LiveBus())  # type: ignore[arg-type]
    app.config["TESTING"] = False  # an exception is the 500 a browser sees (and recorded below)
    clients: dict[str | None, FlaskClient] = {}
    tokens: dict[str | None, str] = {}
    for role, user in USERS.items():
        client = app.test_client()
        tokens[role] = _token(client)
        if user is not None:
            resp = client.post("/login", data={"username": user, "password": DEMO_PASSWORD,
                                               "csrf_token": tokens[role]})
            assert resp.status_code == 302, (user, resp.status_code)
            with client.session_transaction() as sess:
                tokens[role] = sess["csrf"] = "f" * 40  # as a page would make it
        clients[role] = client
    claims, inspector, agent = clients["claims"], clients["inspector"], clients["agent"]
    resp = claims.post("/claims", data={"subject": "破损", "branch": "郑州分公司", "channel": "hotline",
                                        "accident_cause": "handling_damage", "claimed": "300",
                                        "csrf_token": tokens["claims"]})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    claim_id = int(resp.headers["Location"].split("/claims/")[1].split("?")[0])
    resp = agent.post("/complaints", data={"subject": "态度", "complaint_type": "attitude", "branch": "郑州分公司",
                                           "csrf_token": tokens["agent"]})
    assert resp.status_code == 303
    complaint_id = int(resp.headers["Location"].split("/complaints/")[1].split("?")[0])
    resp = inspector.post("/inspections", data={"kind": "freight_rate", "branch": "郑州分公司",
                                                "person": "王强", "quoted": "120", "tariff": "100",
                                                "inspected_at": "2026-11-30T10:00", "csrf_token": tokens["inspector"]})
    assert resp.status_code == 303
    inspection_id = int(resp.headers["Location"].split("/inspections/")[1].split("?")[0])
    resp = inspector.post(f"/inspections/{inspection_id}/add_finding",
                          data={"description": "整改", "deadline": "2030-01-01T10:00",
                                "csrf_token": tokens["inspector"]})
    assert resp.status_code == 303
    for url, form in (("/incidents", PAGE_FORMS["/incidents"] | {"case_number": ""}),  # incident 1, sanction 1
                      ("/sanctions", PAGE_FORMS["/sanctions"] | {"source": "incident"})):
        resp = inspector.post(url, data=form | {"csrf_token": tokens["inspector"]})
        assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    with db.reading() as s:
        from cases.models.workflows import InspectionFinding

        finding_id = int(s.scalar(select(func.max(InspectionFinding.id))) or 0)
    yield Site(app, socketio, db, clients, tokens, claim_id, complaint_id, inspection_id, finding_id)
    dispatcher(app).stop()


_FINGERPRINT_SQL: dict[int, str] = {}  # per database: its tables do not change during a test


def _fingerprint(db: Database) -> tuple[Any, ...]:
    """Every table's row count, the newest audit entry, and the cases' text: one query."""
    sql = _FINGERPRINT_SQL.get(id(db))
    if sql is None:
        tables = sorted(inspect(db.engine).get_table_names())
        counts = ", ".join(f'(SELECT count(*) FROM "{t}")' for t in tables if not t.startswith("alembic"))
        sql = _FINGERPRINT_SQL[id(db)] = (f"SELECT {counts}, (SELECT max(id) FROM audit_log), "
                                          "(SELECT sum(length(description)) FROM cases)")
    with db.reading() as s:
        row = s.execute(text(sql)).one()
    return tuple(row)


def _route_urls(site: Site, rule: str) -> tuple[list[str], list[str]]:
    """The rule with its placeholders filled: with the site's real ids (one URL per action), and with a
    hostile value in one placeholder at a time."""
    real = {"case_id": "1", "claim_id": str(site.claim_id), "complaint_id": str(site.complaint_id),
            "inspection_id": str(site.inspection_id), "finding_id": str(site.finding_id), "evidence_id": "1",
            "linkedid": "no.such", "waybill": "800012345678", "name": "complaints-weekly", "fmt": "json",
            "job_id": "no.such", "request_id": "1", "callback_id": "1", "incident_id": "1", "sanction_id": "1"}
    names = re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", rule)

    def fill(values: dict[str, str]) -> str:
        out = rule
        for n in names:
            out = re.sub(rf"<(?:[a-z]+:)?{n}>", values[n], out)
        return out

    good: list[str] = []
    if "action" in names:
        actions = CLAIM.actions() if rule.startswith("/claims") else COMPLAINT.actions() \
            if rule.startswith("/complaints") else CHANGE_REQUEST.actions() \
            if rule.startswith(("/changes", "/api/change-requests")) else INCIDENT.actions() \
            if rule.startswith("/incidents") else tuple(INSPECTION_FORMS)
        good += [fill(real | {"action": a}) for a in actions]
        real["action"] = actions[0]
    else:
        good.append(fill(real))
    hostile = [fill(real | {n: v}) for n in names for v in (IDS if n.endswith("_id") else STRINGS)]
    return good, hostile


FUTURE = "2030-01-01T10:00"
CLAIM_FORMS: dict[str, dict[str, str]] = {
    "offer": {"offered_by": "company", "amount": "500", "note": "x"}, "agree_amount": {"amount": "500"},
    "pay": {"amount": "500"}, "fix_liability": {"party_0": "branch", "share_0": "100", "name_0": "x"},
    "file_insurer_claim": {"insurer": "x", "policy_no": "P1", "insurer_claim_no": "C1"},
    "update_insurer_claim": {"status": "approved", "payout": "10"},
}
INSPECTION_FORMS: dict[str, dict[str, str]] = {
    "add_finding": {"description": "x", "deadline": FUTURE, "assignee": "x"},
    "verify": {"finding_id": "1"}, "reopen": {"finding_id": "1", "note": "x", "deadline": FUTURE},
    "sanction": {"kind": "penalty", "branch": "郑州分公司", "person": "x", "amount": "1", "reason": "x"},
}
COMPLAINT_FORMS: dict[str, dict[str, str]] = {
    "analyse": {"cause": "attitude", "responsible_department": "branch", "analysis": "x"},
    "refer": {"department": "branch", "deadline": FUTURE, "note": "x"},
    "confirm_rectification": {"rectification": "x"}, "tell_customer": {"reply": "x"},
    "verify": {"note": "x"}, "send_back": {"note": "x", "deadline": FUTURE},
    "follow_up": {"outcome": "unreachable", "note": "x"}, "follow_up_attempt": {"outcome": "satisfied", "note": "x"},
}
PAGE_FORMS: dict[str, dict[str, str]] = {
    "/claims": {"subject": "x", "branch": "郑州分公司", "channel": "hotline", "accident_cause": "handling_damage",
                "claimed": "300", "waybill": "800012345678", "description": "x"},
    "/inspections": {"kind": "freight_rate", "branch": "郑州分公司", "person": "x", "quoted": "120", "tariff": "100",
                     "inspected_at": "2026-11-30T10:00", "due_at": FUTURE, "done_at": FUTURE, "passed": "yes"},
    "/complaints": {"subject": "x", "complaint_type": "attitude", "branch": "郑州分公司", "waybill": "x"},
    "/branch/self-settled": {"settled_by": "driver", "issue": "damage", "amount": "1", "settled_at": FUTURE,
                             "person": "x", "waybill": "x", "note": "x"},
    "/incidents": {"kind": "fire", "occurred_at": "2026-11-30T10:00", "branch": "郑州分公司", "place": "x",
                   "description": "x", "people": "x", "reported_by": "x", "case_number": "x"},
    "/sanctions": {"source": "complaint", "source_ref": "1", "kind": "penalty", "amount": "1", "branch": "郑州分公司",
                   "person": "x", "reason": "x", "next": "/sanctions"},
}
JSON_BASES: dict[str, dict[str, Any]] = {
    "/api/cases": {"kind": "inquiry", "subject": "x", "customer_id": 1, "linkedid": "x", "waybill": "800012345678"},
    "/update": {"note": "x", "status": "in_progress", "follow_up_due": FUTURE, "wrap_up_code": "resolved"},
    "/change-request": {"field": "consignee_phone", "new_value": "13912345678", "reason": "x"},
    "/api/agent/state": {"state": "paused", "reason": "break"},
    "/api/supervisor/spy": {"agent": "agent1001", "mode": "listen"},
    "/api/supervisor/reroute": {"linkedid": "x", "queue": "service"},
    "/api/reminders/ack": {"key": "x"},
}


def _base_form(url: str) -> dict[str, str]:
    path = url.split("?")[0]
    action = path.rsplit("/", 1)[-1]
    if path in PAGE_FORMS:
        return dict(PAGE_FORMS[path])
    if path.startswith("/claims/"):
        return dict(CLAIM_FORMS.get(action, {}))
    if path.startswith("/inspections/"):
        return dict(INSPECTION_FORMS.get(action, {}))
    if path.startswith("/complaints/"):
        return dict(COMPLAINT_FORMS.get(action, {}))
    if path.startswith("/incidents/"):
        return {"measure": "x", "result": "x"}
    if path.startswith("/branch/"):
        return {"rectification": "x"}
    return {"x": "y"}


def _base_json(url: str) -> dict[str, Any]:
    return next((dict(v) for k, v in JSON_BASES.items() if url.endswith(k)), {"x": "y"})


def _queries(rng: random.Random, count: int) -> list[str]:
    out = [f"{k}={v}" for k in QUERY_KEYS for v in rng.sample(DATES + NUMBERS + STRINGS, 2)]
    for _ in range(count):
        keys = rng.sample(QUERY_KEYS, rng.randint(2, 4))
        out.append("&".join(f"{k}={rng.choice(DATES + NUMBERS + STRINGS)}" for k in keys))
    return out


def _json_bodies(url: str, rng: random.Random) -> list[Any]:
    """Not an object at all, then the route's good body with one field of every wrong kind."""
    base = _base_json(url)
    bodies: list[Any] = [None, [], "x", 1, 10**30, {}, {"": ""}, [{}] * 50, base | {"unknown": 1}]
    for key in [*base, *rng.sample(JSON_FIELDS, 2)]:
        bodies += [base | {key: v} for v in rng.sample(JSON_VALUES, 6)]
        if key in DATE_FIELDS:
            bodies += [base | {key: v} for v in DATES]
    return bodies


def _forms(url: str, rng: random.Random) -> list[dict[str, Any]]:
    """No fields, then the route's good form with one field hostile at a time."""
    base = _base_form(url)
    forms: list[dict[str, Any]] = [{}]
    hostile = DATES + NUMBERS + STRINGS + [HUGE[:20_000]]
    for key in [*base, *rng.sample(FORM_FIELDS, 2)]:
        forms += [base | {key: v} for v in rng.sample(hostile, 5)]
        if key in DATE_FIELDS:  # every malformed and out-of-range date on every date field
            forms += [base | {key: v} for v in DATES]
        elif key in MONEY_FIELDS:
            forms += [base | {key: v} for v in NUMBERS]
    return forms


SHARDS = 5  # the routes split in five tests, so pytest-xdist runs them side by side (one of three was 72 s)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_fuzz_every_route_and_socket_event_gives_no_500_and_refusals_store_nothing(site: Site, shard: int) -> None:
    """Shard `shard` of the routes (every third one); shard 0 also fuzzes the login form, the uploads and the
    Socket.IO events."""
    rng = random.Random(SEED + shard)
    tally = Tally()
    failures: list[str] = []

    def record(sender: Flask, exception: BaseException, **_: Any) -> None:
        failures.append("".join(traceback.format_exception_only(type(exception), exception)).strip()
                        + " at " + traceback.extract_tb(exception.__traceback__)[-1].filename.rsplit("/", 2)[-1]
                        + ":" + str(traceback.extract_tb(exception.__traceback__)[-1].lineno))

    got_request_exception.connect(record, site.app)
    rules = sorted((r.rule, sorted(m for m in (r.methods or ()) if m in ("GET", "POST")))
                   for r in site.app.url_map.iter_rules() if r.endpoint != "static")
    queries = _queries(rng, 20)
    fp = _fingerprint(site.db)
    started = time.monotonic()

    seen: dict[tuple[str | None, str, str], int] = {}

    def send(role: str | None, method: str, url: str, **kwargs: Any) -> None:
        nonlocal fp
        client = site.clients[role]
        headers = {"X-CSRF-Token": site.tokens[role]} if method == "POST" else {}
        failures.clear()
        resp = client.open(url, method=method, headers=headers, **kwargs)
        tally.tried += 1
        tally.statuses[resp.status_code] = tally.statuses.get(resp.status_code, 0) + 1
        seen.setdefault((role, method, url), resp.status_code)
        if resp.status_code >= 500 and resp.status_code != 503 or failures:
            sent = str(kwargs.get("data", ""))[:300]
            tally.errors.append(f"{method} {url[:120]} as {role}: {resp.status_code} {'; '.join(failures)} ({sent})")
        now = _fingerprint(site.db)
        if resp.status_code >= 400 and now != fp:
            tally.changed.append(f"{method} {url[:120]} as {role}: {resp.status_code}")
        fp = now

    for rule, methods in rules[shard::SHARDS]:
        if rule in ("/logout", "/login"):
            continue  # logging out or in would change whose session the next request runs in
        good, hostile = _route_urls(site, rule)
        for url in good + hostile:  # every role and no login, on every URL
            for role in USERS:
                for method in methods:
                    send(role, method, url)
        for url in good:  # the roles that may use it: hostile query strings, JSON bodies and forms
            roles = ("branch",) if url.startswith("/branch") else ("supervisor", "claims", "inspector", "agent")
            for role in roles:
                for method in methods:
                    if seen[(role, method, url)] == 403:
                        continue  # not the role's page: refused before anything is read
                    if method == "GET":
                        for q in rng.sample(queries, 8):
                            send(role, "GET", f"{url}?{q}")
                    elif url.startswith("/api/"):
                        for body in _json_bodies(url, rng):
                            send(role, "POST", url, data=json.dumps(body), content_type="application/json")
                    else:
                        for form in _forms(url, rng):
                            send(role, "POST", url, data=form)
    http_s = time.monotonic() - started
    if shard:
        print(f"\nfuzz shard {shard}: {tally.tried} HTTP inputs in {http_s:.1f} s; 500s/exceptions: "
              f"{len(tally.errors)}; refusals that changed data: {len(tally.changed)}")
        assert not tally.errors, "\n".join(dict.fromkeys(tally.errors))
        assert not tally.changed, "\n".join(tally.changed)
        assert tally.tried > 1000
        return
    # the login form itself: hostile fields, without logging anyone in
    anon = site.app.test_client()
    token = _token(anon)
    for form in _forms("/login", rng) + [{"username": HUGE, "password": HUGE}, {"username": "\x00", "password": "x"},
                         {"username": "agent1001", "password": "x", "next": "//evil.example"}]:
        resp = anon.post("/login", data=form | {"csrf_token": token})
        tally.tried += 1
        tally.statuses[resp.status_code] = tally.statuses.get(resp.status_code, 0) + 1
        if resp.status_code >= 500:
            tally.errors.append(f"POST /login {sorted(form)}: {resp.status_code}")
    # multipart uploads on the evidence routes: wrong field names, empty, huge names
    for url in (f"/claims/{site.claim_id}/add_evidence", f"/branch/claims/{site.claim_id}/evidence"):
        for role in ("claims", "branch"):
            for data in ({"file": (io.BytesIO(b"x"), "x" * 5000 + ".png")}, {"nofile": "1"},
                         {"file": (io.BytesIO(b""), "")}, {"file": (io.BytesIO(b"\x89PNG" * 10), "../../a.png")}):
                send(role, "POST", url, data=data, content_type="multipart/form-data")
    http_s = time.monotonic() - started

    # Socket.IO: every event the console handles, with arguments of every kind, for every role
    sock_tried = sock_errors = 0
    args_list: list[tuple[Any, ...]] = [(), (None,), (1,), ("x",), ([],), ({},), ({"x": HUGE},), (10**30,),
                                        ({}, {}, {}), ([1, 2], "y")]
    for role in USERS:
        for connect_auth in (None, 1, "x", {"token": HUGE}, [None]):
            sock = site.socketio.test_client(site.app, flask_test_client=site.clients[role], auth=connect_auth)
            sock_tried += 1
            if role is None:
                assert not sock.is_connected()
                continue
            assert sock.is_connected(), role
            for event in ("wallboard_request", "agent_state", "no_such_event", "connect", "message"):
                for args in args_list:
                    sock_tried += 1
                    try:
                        sock.emit(event, *args, callback=True)
                    except Exception as exc:
                        sock_errors += 1
                        tally.errors.append(f"socket {event} {str(args)[:60]} as {role}: {exc!r}")
            sock.disconnect()
    elapsed = time.monotonic() - started
    print(f"\nfuzz: {tally.tried} HTTP inputs in {http_s:.1f} s, {sock_tried} Socket.IO inputs; "
          f"500s/exceptions: {len(tally.errors)} (socket {sock_errors}); refusals that changed data: "
          f"{len(tally.changed)}; statuses {dict(sorted(tally.statuses.items()))}; {elapsed:.1f} s in all")
    assert not tally.errors, "\n".join(dict.fromkeys(tally.errors))
    assert not tally.changed, "\n".join(tally.changed)
    assert tally.tried > 1000
