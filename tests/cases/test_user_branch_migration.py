"""Migration 0007: users keep their rows, gain `branch`, and the role branch becomes valid."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from cases.db import Database


def test_upgrade_to_0007_keeps_users_and_allows_branch_staff(empty_db: Database) -> None:
    empty_db.migrate("0006")
    with empty_db.engine.begin() as conn:
        conn.execute(text("INSERT INTO users (username, display_name, role, password_hash, active, created_at)"
                          " VALUES ('old', 'Old', 'agent', 'x', true, '2026-11-30 01:00:00+00')"))
        with pytest.raises(IntegrityError):
            with conn.begin_nested():
                conn.execute(text("INSERT INTO users (username, display_name, role, password_hash, active, "
                                  "created_at) VALUES ('b', 'B', 'branch', 'x', true, '2026-11-30 01:00:00+00')"))
    empty_db.migrate("0007")
    with empty_db.engine.connect() as conn:
        assert conn.execute(text("SELECT username, branch FROM users")).all() == [("old", "")]
    with empty_db.engine.begin() as conn:  # raw SQL: the models are those of the newest revision
        conn.execute(text("INSERT INTO users (username, display_name, role, branch, password_hash, active, "
                          "created_at) VALUES ('zz1', '赵敏', 'branch', '郑州分公司', 'x', true, "
                          "'2026-11-30 01:00:00+00')"))
        assert conn.execute(text("SELECT branch FROM users WHERE username = 'zz1'")).scalar() == "郑州分公司"
    with empty_db.engine.begin() as conn, pytest.raises(IntegrityError):
        conn.execute(text("UPDATE users SET role = 'boss' WHERE username = 'zz1'"))
