"""Hostile input on the console, on SQLite and on PostgreSQL: script in case notes, subjects,
transcripts, search queries and upload names comes back escaped; SQL in notes, search queries and
the login is stored or searched as text and never runs; paths that climb out of the recordings or
evidence folder or name other files are refused; uploads of other types, with content that is not
what they claim, or over the size limit are refused and store nothing."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import inspect

from agent_console.app import create_app, dispatcher
from agent_console.config import ConsoleConfig
from cases import claims
from cases.call_records import record_call
from cases.case_records import get_case
from cases.db import Database
from cases.demo_data import DEMO_PASSWORD
from cases.demo_seed import seed_demo
from cases.transcript_records import attach_transcript
from cases.views import CaseInput
from telephony.events import EventBus
from telephony.live import LiveSnapshot
from telephony.records import CallRecord

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SQLI = "'); DROP TABLE calls; --"
SQLI_OR = "' OR '1'='1' --"


class EmptyLive:
    def live_call_ids(self) -> list[str]:
        return []

    def snapshot(self, now: float | None = None) -> LiveSnapshot:
        return LiveSnapshot(time.time(), (), (), 0)


EVIDENCE_MAX = 64 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 200


@dataclass
class Site:
    app: object
    db: Database
    recordings: Path

    @property
    def evidence(self) -> Path:
        return self.recordings.parent / "evidence"

    def login(self, user: str, password: str = DEMO_PASSWORD) -> tuple[FlaskClient, str]:
        client = self.app.test_client()  # type: ignore[attr-defined]
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        resp = client.post("/login", data={"username": user, "password": password, "csrf_token": token})
        assert resp.status_code == 302, resp.status_code
        page = client.get("/cases").get_data(as_text=True)
        return client, page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    if request.param == "sqlite":
        db = request.getfixturevalue("seeded_sqlite_db")
    else:
        db = Database(request.getfixturevalue("pg_url"))
        db.migrate()
        with db.session() as s:
            seed_demo(s)
    recordings = tmp_path / "rec"
    recordings.mkdir()
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    app, _ = create_app(ConsoleConfig(secret_key="k", demo=True, recordings_dir=recordings, evidence_dir=evidence,
                                      evidence_max_bytes=EVIDENCE_MAX), db, EventBus(), EmptyLive())
    app.config["TESTING"] = True
    yield Site(app, db, recordings)
    dispatcher(app).stop()
    db.dispose()


def tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names())


def test_script_in_notes_and_subjects_is_escaped_and_sql_is_stored_as_text(site: Site) -> None:
    before = tables(site.db)
    client, token = site.login("agent1001")
    created = client.post("/api/cases", json={"kind": "inquiry", "subject": XSS}, headers={"X-CSRF-Token": token})
    assert created.status_code == 201
    case_id = created.get_json()["id"]
    for note in (XSS, SQLI, SQLI_OR):
        r = client.post(f"/api/cases/{case_id}/update", json={"note": note}, headers={"X-CSRF-Token": token})
        assert r.status_code == 200
    for page in (client.get(f"/cases/{case_id}").get_data(as_text=True), client.get("/cases").get_data(as_text=True)):
        assert '<script>alert("x")' not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(" in page  # shown as the text it is
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "DROP TABLE calls; --" in page and "&#39; OR &#39;1&#39;=&#39;1&#39; --" in page
    assert tables(site.db) == before  # nothing ran
    with site.db.session() as s:
        assert get_case(s, case_id).subject == XSS  # stored exactly


def test_login_with_sql_in_the_username_or_password_is_just_a_failed_login(site: Site) -> None:
    client = site.app.test_client()  # type: ignore[attr-defined]
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    for user, password in ((SQLI_OR, "x"), ("agent1001", SQLI_OR), (f"agent1001{SQLI}", SQLI)):
        r = client.post("/login", data={"username": user, "password": password, "csrf_token": token})
        assert r.status_code == 401
        assert '<script>' not in r.get_data(as_text=True)


def test_search_with_script_and_sql_is_escaped_and_scoped(site: Site) -> None:
    now = time.time()
    with site.db.session() as s:
        for lid, agent in (("h.1", "agent1001"), ("h.2", "agent1002")):
            record_call(s, CallRecord(lid, caller="49305551001", hotline="service", outcome="answered",
                                               agent=agent, agents=[agent], started_at=now - 60,
                                               answered_at=now - 50, ended_at=now - 10))
            attach_transcript(s, lid, engine="vosk", model="m", speaker="caller",
                                       text=f"投诉 快递员 {XSS} {SQLI}", words_json="[]", duration_s=5.0)
    before = tables(site.db)
    sup, _ = site.login("supervisor")
    page = sup.get("/search", query_string={"q": "投诉"}).get_data(as_text=True)
    assert "h.1" in page or "h.2" in page  # found
    assert '<script>alert("x")' not in page and "<img src=x" not in page
    echoed = sup.get("/search", query_string={"q": XSS})
    assert echoed.status_code in (200, 400)
    assert '<script>alert("x")' not in echoed.get_data(as_text=True)
    for q in (SQLI, SQLI_OR, "投诉' OR 1=1 --", "x\\' UNION SELECT password_hash FROM users --"):
        for path in ("/search", "/api/search"):
            r = sup.get(path, query_string={"q": q})
            assert r.status_code in (200, 400), (q, path, r.status_code)  # a query, or its syntax error
            assert "scrypt$" not in r.get_data(as_text=True) and "argon2" not in r.get_data(as_text=True)
    agent, _ = site.login("agent1001")
    hits = agent.get("/api/search", query_string={"q": f"投诉 {SQLI_OR}"})
    if hits.status_code == 200:  # an agent's own calls only, whatever the query says
        assert {h["linkedid"] for h in hits.get_json()["hits"]} <= {"h.1"}
    hits = agent.get("/api/search", query_string={"q": "投诉", "agent": "agent1002' OR '1'='1"})
    assert hits.status_code == 200 and {h["linkedid"] for h in hits.get_json()["hits"]} == {"h.1"}
    assert tables(site.db) == before


def test_paths_out_of_the_recordings_folder_are_refused(site: Site, tmp_path: Path) -> None:
    secret = tmp_path / "outside.wav"
    secret.write_bytes(b"RIFF-not-for-you")
    (site.recordings / "ok.wav").write_bytes(b"RIFF....WAVE")
    now = time.time()
    with site.db.session() as s:
        for lid, rec in (("p.1", str(secret)), ("p.2", "../outside.wav"), ("p.3", "ok.wav"),
                         ("p.4", "/etc/passwd"), ("p.5", str(site.recordings / ".." / "outside.wav"))):
            record_call(s, CallRecord(lid, caller="1", hotline="service", outcome="answered",
                                               agent="agent1001", agents=["agent1001"], recording=rec,
                                               started_at=now - 60, answered_at=now - 50, ended_at=now - 10))
    client, _ = site.login("supervisor")
    assert client.get("/recordings/p.3").status_code == 200  # inside the folder: served
    for lid in ("p.1", "p.2", "p.4", "p.5"):
        r = client.get(f"/recordings/{lid}")
        assert r.status_code == 404 and b"RIFF-not-for-you" not in r.data and b"root:" not in r.data
    for url in ("/recordings/..%2F..%2F..%2Fetc%2Fpasswd", "/recordings/../../etc/passwd",
                "/shipments/..%2F..%2Fetc%2Fpasswd", "/shipments/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                "/static/..%2F..%2Fhotline_cli%2Fconfig.py", "/static/../app.py"):
        r = client.get(url)
        assert r.status_code == 404, (url, r.status_code)
        assert b"root:" not in r.data and b"import" not in r.data


def test_uploads_refuse_wrong_types_oversize_and_climbing_names(site: Site, tmp_path: Path) -> None:
    with site.db.session() as s:
        claim = claims.open_claim(s, CaseInput(kind="claim", subject="upload"), channel="hotline",
                                  accident_cause="handling_damage", claimed="100", by="supervisor")
        claims.start_investigation(s, claim.id, by="supervisor")
    client, token = site.login("supervisor")

    def upload(name: str, data: bytes, ctype: str) -> int:
        r = client.post(f"/claims/{claim.id}/add_evidence", headers={"X-CSRF-Token": token},
                        data={"file": (io.BytesIO(data), name, ctype)}, content_type="multipart/form-data")
        return int(r.status_code)

    refused = [
        ("evil.html", b"<script>alert(1)</script>", "text/html"),  # type not accepted
        ("photo.png", b"<script>alert(1)</script>", "image/png"),  # says PNG, is not
        ("photo.exe", PNG, "image/png"),  # PNG bytes, wrong extension
        ("big.png", PNG + b"\0" * EVIDENCE_MAX, "image/png"),  # over the size limit
        ("empty.png", b"", "image/png"),
    ]
    for name, data, ctype in refused:
        assert upload(name, data, ctype) in (400, 409, 413, 422), name
    with site.db.session() as s:
        assert claims.get_claim(s, claim.id).evidence == ()
    # a name that climbs out and carries script: stored under a generated name inside the folder,
    # shown as text
    assert upload('../../../etc/<img src=x onerror=alert(1)>.png', PNG, "image/png") == 303
    with site.db.session() as s:
        (ev,) = claims.get_claim(s, claim.id).evidence
    stored = Path(ev.stored_path).resolve()
    assert stored.is_relative_to(site.evidence.resolve()) and stored.read_bytes() == PNG
    assert "/" not in ev.filename and ".." not in ev.filename  # only the last part of the name is kept
    assert not (tmp_path.parent / "etc").exists()
    page = client.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert "<img src=x onerror" not in page
    served = client.get(f"/claims/{claim.id}/evidence/{ev.id}")
    assert served.status_code == 200 and served.data == PNG and served.mimetype == "image/png"
    assert client.get(f"/claims/{claim.id}/evidence/{ev.id + 1}").status_code == 404
