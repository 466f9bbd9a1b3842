"""Migration 0014 on SQLite and PostgreSQL: existing branch users get the department "branch", existing
referrals to a branch or market area keep reaching it (their unit is the branch typed on the complaint,
which the branch desk routed by before), an old "rectified" complaint now waits for the centre's
verification; downgrading folds the new stages back and keeps every row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from cases import complaints, follow_ups
from cases.accounts import create_user
from cases.db import Database
from cases.referrals import department_referrals
from cases.views import CaseInput


def _stages(db: Database) -> dict[str, str]:
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT c.subject, p.stage FROM complaints p JOIN cases c ON c.id = p.case_id"))
        return {subject: stage for subject, stage in rows}


def test_0014_down_and_up_keeps_users_and_referrals(empty_db: Database) -> None:
    empty_db.migrate()
    due = datetime.now(UTC) + timedelta(days=1)
    with empty_db.session() as s:
        create_user(s, "zz", "password-123", "branch", "赵敏", branch="郑州分公司")
        create_user(s, "a1", "password-123", "agent", "安娜")
        ids = {}
        for subject in ("referred", "rectified", "verified", "followed_up"):
            c = complaints.open_complaint(s, CaseInput(kind="complaint", subject=subject), complaint_type="delay",
                                          branch="郑州分公司", by="a1")
            complaints.analyse(s, c.id, cause="handling", responsible_department="branch", by="a1")
            complaints.refer(s, c.id, department="branch", deadline=due, by="a1")
            ids[subject] = c.id
            if subject == "referred":
                continue
            complaints.confirm_rectification(s, c.id, rectification="已整改", by="zz")
            if subject == "rectified":
                continue
            complaints.verify(s, c.id, by="a1")
            if subject == "followed_up":
                complaints.tell_customer(s, c.id, reply="已告知", by="a1")
                follow_ups.record_follow_up(s, c.id, outcome="satisfied", by="a1")

    empty_db.downgrade("0013")
    assert _stages(empty_db) == {"referred": "referred", "rectified": "rectified", "verified": "rectified",
                                 "followed_up": "customer_told"}
    names = inspect(empty_db.engine)
    assert "department" not in {c["name"] for c in names.get_columns("users")}
    assert "referred_unit" not in {c["name"] for c in names.get_columns("complaints")}
    assert "complaint_follow_ups" not in names.get_table_names()
    with empty_db.engine.begin() as conn, pytest.raises(IntegrityError):
        conn.execute(text("UPDATE complaints SET stage = 'verified'"))

    empty_db.migrate()
    with empty_db.engine.connect() as conn:
        users = dict(conn.execute(text("SELECT username, department FROM users")).all())
        units = set(conn.execute(text("SELECT referred_unit, responsible_unit FROM complaints")).all())
    assert users == {"zz": "branch", "a1": None}
    assert units == {("郑州分公司", "郑州分公司")}
    with empty_db.session() as s:
        queue = department_referrals(s, "branch", "郑州分公司")
        assert [v.id for v in queue.waiting] == [ids["referred"]]
        assert {v.id for v in queue.answered} == {ids["rectified"], ids["verified"]}  # waiting for verification
        assert complaints.verify(s, ids["verified"], by="a1").stage.value == "verified"
        old_told = complaints.get_complaint(s, ids["followed_up"])
        assert old_told.allowed_actions == ("follow_up", "follow_up_attempt")  # closing needs the call now
    with empty_db.engine.begin() as conn, pytest.raises(IntegrityError):
        conn.execute(text("UPDATE users SET department = 'canteen' WHERE username = 'zz'"))
