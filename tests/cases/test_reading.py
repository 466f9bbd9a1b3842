"""`Database.reading()`: a read-only session that never waits behind SQLite's write lock."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import select

from cases.accounts import create_user
from cases.db import Database
from cases.models.accounts import User


def test_reading_does_not_wait_for_a_writer_and_writes_nothing(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'h.db'}")
    db.migrate()
    with db.session() as s:
        create_user(s, "agent1001", "pw-12345678", "agent", "安娜")
    holding = threading.Event()
    release = threading.Event()

    def writer() -> None:
        with db.session() as s:  # BEGIN IMMEDIATE: holds the write lock until the block ends
            s.execute(select(User))
            holding.set()
            release.wait(60)

    t = threading.Thread(target=writer)
    t.start()
    assert holding.wait(5)
    with db.reading() as s:
        names = s.scalars(select(User.username)).all()
        s.add(User(username="ghost", display_name="x", role="agent", password_hash="x", active=True))
    writer_still_holding = t.is_alive()  # the read finished while the write lock was held
    release.set()
    t.join()
    assert names == ["agent1001"] and writer_still_holding
    with db.session() as s:
        assert s.scalars(select(User.username)).all() == ["agent1001"]  # the read session wrote nothing
    db.dispose()
