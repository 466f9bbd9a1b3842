"""The database locked or away is a 503 with Retry-After and one log line, never a 500 (#16, finding 8):
SQLite held under an exclusive lock by another connection (pages that write, pages that only read, the
JSON API), and PostgreSQL that refuses connections."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine

from cases import db as cases_db
from cases.db import Database

if TYPE_CHECKING:
    from conftest import Console

# (method, url, role): pages and API calls that read or write the database
ROUTES = [
    ("GET", "/cases", "agent1001"),  # a write-capable session (BEGIN IMMEDIATE)
    ("GET", "/cases/1", "agent1001"),
    ("GET", "/claims", "supervisor"),  # a read-only session: the lock is met at its first SELECT
    ("GET", "/complaints", "agent1001"),
    ("GET", "/api/callbacks", "agent1001"),
    ("POST", "/api/cases", "agent1001"),
]


@contextmanager
def exclusive_lock(console: Console) -> Iterator[None]:
    """Another connection holds SQLite's exclusive lock: nobody else may read or write meanwhile. (In WAL
    mode every open connection keeps a shared lock on the file: the console's pooled ones are closed first.)"""
    console.db.engine.dispose()
    other = sqlite3.connect(str(console.db.url.database), isolation_level=None, timeout=10)
    try:
        other.execute("PRAGMA locking_mode=EXCLUSIVE")
        other.execute("BEGIN EXCLUSIVE")
        other.execute("CREATE TABLE IF NOT EXISTS _lock_probe (x)")  # a write: the lock is taken now
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


@pytest.fixture
def db(seeded_sqlite_db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The console (built on this) waits 200 ms for a lock instead of 5 s."""
    monkeypatch.setattr(cases_db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    seeded_sqlite_db.engine.dispose()  # its connections were made with the old setting
    return seeded_sqlite_db


@pytest.mark.parametrize(("method", "url", "user"), ROUTES)
def test_a_locked_sqlite_database_is_503_with_retry_after(console: Console, method: str, url: str,
                                                          user: str, caplog: pytest.LogCaptureFixture) -> None:
    client = console.login(user)
    with caplog.at_level(logging.ERROR, logger="agent_console"), exclusive_lock(console):
        resp = client.open(url, method=method, json={"kind": "inquiry", "subject": "锁"} if method == "POST" else None)
    assert resp.status_code == 503, resp.get_data(as_text=True)[:500]
    assert resp.headers.get("Retry-After") == "5"
    if url.startswith("/api/"):
        assert resp.get_json()["message"] == "数据库暂时不可用，请稍后重试"
    else:
        assert "数据库暂时不可用" in resp.get_data(as_text=True)
    assert any("database" in r.getMessage() and "locked" in r.getMessage() for r in caplog.records), \
        [r.getMessage() for r in caplog.records]
    # the lock gone, the same request works
    resp = client.open(url, method=method, json={"kind": "inquiry", "subject": "锁"} if method == "POST" else None)
    assert resp.status_code in (200, 201)


def test_postgresql_down_is_503(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    client = console.login("agent1001")
    down = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    monkeypatch.setattr(console.db, "engine", down)
    monkeypatch.setattr(console.db, "_sessions", cases_db.sessionmaker(bind=down))
    for url in ("/cases", "/complaints?lang=en"):
        resp = client.get(url)
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    assert "The database is unavailable" in client.get("/complaints?lang=en").get_data(as_text=True)
    resp = client.post("/api/cases/1/update", json={"note": "x"})
    assert resp.status_code == 503
