"""Migration 0013: existing claims keep their rows and get a stage clock from their own timestamps; claims in
the old stage insurer_claimed go back to parties_notified with their insurer columns; automatic 重大事故 flags
become suggestions waiting for a supervisor; the new stages and major statuses are checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from cases.db import Database
from cases.models.workflows import Claim

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def _at(db: Database, days: float) -> datetime:
    value = T0 + timedelta(days=days)
    return value.replace(tzinfo=None) if db.dialect == "sqlite" else value


def _insert(db: Database, n: int, stage: str, major: bool = False, **times: float) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO cases (id, number, kind, status, subject, description, priority, created_by, created_at, "
            "updated_at) VALUES (:id, :number, 'claim', 'open', 's', '', 'normal', 'a1', :at, :at)"),
            {"id": n, "number": f"C2026110200{n:02d}", "at": _at(db, 0)})
        cols = ", ".join(times)
        conn.execute(text(
            "INSERT INTO claims (id, case_id, stage, channel, accident_cause, branch, claimed_fen, major, "
            "escalated_to, insurer, policy_no, insurer_claim_no, insurer_status, reported_at, updated_at"
            f"{', ' + cols if cols else ''}) VALUES (:id, :id, :stage, 'hotline', 'loss', '', 100, :major, :head, "
            f"'平安', 'P', 'C', :ins, :reported, :reported{''.join(', :' + c for c in times)})"),
            {"id": n, "stage": stage, "major": major, "head": "supervisor" if major else None,
             "ins": "filed" if stage == "insurer_claimed" else None, "reported": _at(db, 0),
             **{c: _at(db, d) for c, d in times.items()}})


def test_upgrade_to_0013_gives_existing_claims_a_clock(empty_db: Database) -> None:
    db = empty_db
    db.migrate("0012")
    _insert(db, 1, "reported")
    _insert(db, 2, "investigating")
    _insert(db, 3, "liability_fixed", liability_fixed_at=2)
    _insert(db, 4, "negotiating", liability_fixed_at=2)
    _insert(db, 5, "insurer_claimed", major=True, liability_fixed_at=2, agreed_at=4, notified_at=5)
    _insert(db, 6, "closed", liability_fixed_at=2, agreed_at=4, notified_at=5, paid_at=6, closed_at=7)
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO claim_offers (claim_id, offered_by, amount_fen, note, recorded_by, at) "
                          "VALUES (4, 'company', 100, '', 'c1', :at), (4, 'customer', 120, '', 'c1', :later)"),
                     {"at": _at(db, 3), "later": _at(db, 3.5)})
        conn.execute(text("INSERT INTO audit_log (who, what, entity, entity_id, at, detail) "
                          "VALUES ('c1', 'claim.start_investigation', 'claim', '2', :at, '{}')"), {"at": _at(db, 1)})
    db.migrate("0013")
    with db.session() as s:
        rows = {c.id: c for c in s.query(Claim).all()}
    assert {i: (c.stage, c.stage_since) for i, c in rows.items()} == {
        1: ("reported", T0), 2: ("investigating", T0 + timedelta(days=1)),
        3: ("liability_fixed", T0 + timedelta(days=2)), 4: ("negotiating", T0 + timedelta(days=3)),
        5: ("parties_notified", T0 + timedelta(days=5)), 6: ("closed", T0 + timedelta(days=7))}
    assert (rows[5].insurer_status, rows[5].insurer_claim_no) == ("filed", "C")
    assert (rows[5].major, rows[5].major_status, rows[5].escalated_to) == (False, "suggested", None)
    assert (rows[1].major_status, rows[1].end_reason, rows[1].major_note) == (None, "", "")
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE claims SET stage = 'refused', end_reason = 'x' WHERE id = 1"))
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(text("UPDATE claims SET stage = 'insurer_claimed' WHERE id = 2"))
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(text("UPDATE claims SET major_status = 'maybe' WHERE id = 2"))
