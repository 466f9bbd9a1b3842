"""Request size limits (#16, finding 8): a body over `max_request_bytes` is refused with 413 before a
byte of it is read and before the login is checked (the 30 MiB multipart a stranger could make the
console parse); only the evidence upload routes take more (`evidence_max_bytes` + framing); a case's
text over its field limit is a clear 400 and nothing is stored; the limits come from the settings."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from agent_console.app import create_app, dispatcher
from agent_console.config import ConsoleConfig
from cases.case_records import DESCRIPTION_MAX_LEN
from cases.db import Database
from cases.models.audit import AuditEntry
from cases.models.case import Case
from hotline_cli.config import ConfigError, load_settings
from hotline_cli.site import console_config
from telephony.events import EventBus

if TYPE_CHECKING:
    from conftest import Console

MIB = 1024 * 1024


class CountingStream(io.RawIOBase):
    """A request body of `size` bytes that counts what the server reads of it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pos = 0
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client measures the body by seeking: not a read
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.pos = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence] + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), self.size - self.pos))
        buffer[:n] = b"a" * n
        self.pos += n
        self.read_bytes += n
        return n


def _counts(db: Database) -> tuple[int, int]:
    with db.reading() as s:
        return (int(s.scalar(select(func.count()).select_from(Case)) or 0),
                int(s.scalar(select(func.count()).select_from(AuditEntry)) or 0))


def _post_stream(client: Any, url: str, size: int, content_type: str) -> tuple[int, CountingStream]:
    stream = CountingStream(size)
    resp = client.post(url, input_stream=stream, content_length=size, content_type=content_type)
    return resp.status_code, stream


@pytest.mark.parametrize("url", ["/claims/1/add_evidence", "/branch/claims/1/evidence", "/api/cases", "/login",
                                 "/complaints"])
def test_a_30_mib_body_is_refused_unread_before_the_login(console: Console, url: str) -> None:
    anon = console.raw_client()  # no session, no CSRF token: the size is checked before either
    status, stream = _post_stream(anon, url, 30 * MIB, "multipart/form-data; boundary=x")
    assert status == 413
    assert stream.read_bytes == 0
    # logged in, the same
    agent = console.login("agent1001")
    status, stream = _post_stream(agent, url, 30 * MIB, "multipart/form-data; boundary=x")
    assert status == 413 and stream.read_bytes == 0


def test_the_413_says_why_in_the_page_language_and_in_json(console: Console) -> None:
    agent = console.login("agent1001")
    resp = agent.post("/api/cases", data=json.dumps({"kind": "inquiry", "subject": "x" * (2 * MIB)}),
                      content_type="application/json")
    assert resp.status_code == 413
    body = resp.get_json()
    assert body["message"] == "提交的内容过大，未被处理" and str(MIB) in body["detail"]
    resp = agent.post("/api/cases?lang=en", data=json.dumps({"kind": "inquiry", "subject": "x" * (2 * MIB)}),
                      content_type="application/json")
    assert resp.get_json()["message"] == "What was sent is too large; it was not processed"
    page = console.login("supervisor").post("/claims", data={"subject": "x" * (2 * MIB)})
    assert page.status_code == 413 and "提交的内容过大" in page.get_data(as_text=True)


def test_a_3_mb_case_description_is_refused_and_nothing_is_stored(console: Console) -> None:
    agent = console.login("agent1001")
    before = _counts(console.db)
    resp = agent.post("/api/cases", json={"kind": "complaint", "subject": "投诉", "description": "长" * MIB})
    assert resp.status_code == 413
    assert _counts(console.db) == before


def test_case_text_over_its_field_limit_is_a_clear_400_and_nothing_is_stored(console: Console) -> None:
    agent = console.login("agent1001")
    before = _counts(console.db)
    resp = agent.post("/api/cases", json={"kind": "complaint", "subject": "投诉",
                                          "description": "长" * (DESCRIPTION_MAX_LEN + 1)})
    assert resp.status_code == 400
    assert "description is too long" in resp.get_json()["detail"]
    resp = agent.post("/api/cases", json={"kind": "complaint", "subject": "长" * 201})
    assert resp.status_code == 400 and "subject is too long" in resp.get_json()["detail"]
    assert _counts(console.db) == before
    resp = agent.post("/api/cases", json={"kind": "complaint", "subject": "投诉",
                                          "description": "长" * DESCRIPTION_MAX_LEN})
    assert resp.status_code == 201
    # the same limit on the complaints and claims desks (they open their case through cases.services)
    claims = console.login("supervisor")  # the claims desk is the supervisors' too
    before = _counts(console.db)
    form = {"subject": "破损", "branch": "郑州分公司", "channel": "hotline", "accident_cause": "handling_damage",
            "claimed": "300", "description": "长" * (DESCRIPTION_MAX_LEN + 1)}
    assert claims.post("/claims", data=form).status_code == 400
    assert _counts(console.db) == before


def test_only_the_evidence_routes_take_more_than_max_request_bytes(seeded_sqlite_db: Database,
                                                                   tmp_path: Path) -> None:
    config = ConsoleConfig(secret_key="k", demo=True, evidence_dir=tmp_path / "ev", evidence_max_bytes=256 * 1024,
                           max_request_bytes=16 * 1024)
    app, _ = create_app(config, seeded_sqlite_db, EventBus(), _Live())  # type: ignore[arg-type]
    try:
        client = app.test_client()
        with client.session_transaction() as sess:
            sess["csrf"] = "t" * 40
        png = b"\x89PNG\r\n\x1a\n" + b"\0" * (100 * 1024)  # 100 KiB: over 16 KiB, under the evidence limit
        upload = {"file": (io.BytesIO(png), "photo.png", "image/png")}
        # no login: the size passes, so the login is what refuses it (a redirect, not a 413)
        resp = client.post("/claims/1/add_evidence", data=upload, content_type="multipart/form-data",
                           headers={"X-CSRF-Token": "t" * 40})
        assert resp.status_code == 302
        resp = client.post("/claims/1/start_investigation", data={"note": "x" * 20 * 1024},
                           headers={"X-CSRF-Token": "t" * 40})
        assert resp.status_code == 413  # the same claim's other steps: the ordinary limit
        status, stream = _post_stream(client, "/claims/1/add_evidence", 256 * 1024 + 65 * 1024,
                                      "multipart/form-data; boundary=x")
        assert status == 413 and stream.read_bytes == 0
    finally:
        dispatcher(app).stop()


class _Live:
    def snapshot(self, now: float | None = None) -> Any:
        from telephony.live import LiveSnapshot

        return LiveSnapshot(0.0, (), (), 0)


def test_the_limits_come_from_the_settings(tmp_path: Path) -> None:
    cfg = tmp_path / "hotline.toml"
    cfg.write_text('secret_key = "k"\nmax_request_bytes = 65536\nevidence_max_bytes = 1048576\n'
                   "report_jobs_per_user = 2\n", encoding="utf-8")
    config = console_config(load_settings(cfg, environ={}), demo=False)
    assert (config.max_request_bytes, config.evidence_max_bytes, config.report_jobs_per_user) == (65536, MIB, 2)
    env = {"HOTLINE_MAX_REQUEST_BYTES": "2048", "HOTLINE_REPORT_JOBS_PER_USER": "5", "HOTLINE_SECRET_KEY": "k"}
    config = console_config(load_settings(None, environ=env), demo=False)
    assert (config.max_request_bytes, config.report_jobs_per_user) == (2048, 5)
    defaults = console_config(load_settings(None, environ={"HOTLINE_SECRET_KEY": "k"}), demo=False)
    assert (defaults.max_request_bytes, defaults.evidence_max_bytes, defaults.report_jobs_per_user) == (
        MIB, 20 * MIB, 3)
    for bad in ("max_request_bytes = 10", "report_jobs_per_user = 0", "evidence_max_bytes = 0"):
        cfg.write_text(f'secret_key = "k"\n{bad}\n', encoding="utf-8")
        with pytest.raises(ConfigError, match=bad.split()[0]):
            load_settings(cfg, environ={})
