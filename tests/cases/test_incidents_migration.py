"""Migration 0015: incidents (突发事件) get their table; sanctions keep their rows and their inspection, gain
the other sources (complaint, claim, incident: at most one in all) and the collection of a penalty (已收缴)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from cases.db import Database

OLD_SANCTION = ("INSERT INTO sanctions (inspection_id, kind, branch, person, amount_fen, reason, decided_by,"
                " decided_at) VALUES (1, 'penalty', '郑州分公司', '王强', 20000, '运价不符', 'inspector1',"
                " '2026-11-30 01:00:00+00')")
INSPECTION = ("INSERT INTO inspections (id, kind, branch, person, inspector, inspected_at, passed, note, created_at)"
              " VALUES (1, 'staff_appearance', '郑州分公司', '王强', 'inspector1', '2026-11-30 01:00:00+00', false, '',"
              " '2026-11-30 01:00:00+00')")
INCIDENT = ("INSERT INTO incidents (id, kind, stage, occurred_at, branch, place, description, people, result,"
            " reported_by, recorded_by, recorded_at, updated_at) VALUES (1, 'fire', 'reported',"
            " '2026-11-30 01:00:00+00', '郑州分公司', '仓库', '仓库起火', '', '', '司机', 'inspector1',"
            " '2026-11-30 01:00:00+00', '2026-11-30 01:00:00+00')")






def test_upgrade_keeps_sanctions_and_enforces_one_source_and_collection(empty_db: Database) -> None:
    empty_db.migrate("0014")
    with empty_db.engine.begin() as conn:
        conn.execute(text(INSPECTION))
        conn.execute(text(OLD_SANCTION))
    empty_db.migrate("0015")
    with empty_db.engine.begin() as conn:
        row = conn.execute(text("SELECT inspection_id, complaint_id, claim_id, incident_id, collected_at, collected_by,"
                                " amount_fen FROM sanctions")).one()
        assert tuple(row) == (1, None, None, None, None, None, 20000)
        conn.execute(text(INCIDENT))
        for bad in (
            "UPDATE sanctions SET incident_id = 1",  # a second source beside the inspection
            "UPDATE sanctions SET collected_at = '2026-12-01 01:00:00+00'",  # collected by nobody
            "UPDATE sanctions SET amount_fen = -1",  # the old checks survive the table rebuild (SQLite)
            "UPDATE sanctions SET kind = 'reward', collected_at = '2026-12-01 01:00:00+00', collected_by = 'x'",
            "UPDATE sanctions SET incident_id = 99, inspection_id = NULL",  # no such incident
            "UPDATE incidents SET stage = 'lost'",
        ):
            with pytest.raises(IntegrityError), conn.begin_nested():
                conn.execute(text(bad))
        conn.execute(text("UPDATE sanctions SET collected_at = '2026-12-01 01:00:00+00', collected_by = 'inspector1'"))
        conn.execute(text("UPDATE sanctions SET inspection_id = NULL, incident_id = 1"))
    with empty_db.engine.begin() as conn:
        conn.execute(text("DELETE FROM incidents"))  # the sanction stays, its source gone (SET NULL)
        assert conn.execute(text("SELECT incident_id, collected_by FROM sanctions")).one() == (None, "inspector1")


def test_downgrade_drops_incidents_and_keeps_the_sanctions(empty_db: Database) -> None:
    empty_db.migrate()
    with empty_db.engine.begin() as conn:
        conn.execute(text(INSPECTION))
        conn.execute(text(OLD_SANCTION))
        conn.execute(text(INCIDENT))
    empty_db.downgrade("0014")
    with empty_db.engine.connect() as conn:
        assert conn.execute(text("SELECT inspection_id, amount_fen FROM sanctions")).one() == (1, 20000)
        assert "collected_at" not in conn.execute(text("SELECT * FROM sanctions")).keys()
        assert conn.execute(text("SELECT count(*) FROM inspections")).scalar_one() == 1
    empty_db.migrate()
    with empty_db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar_one() == 0
        assert conn.execute(text("SELECT collected_at FROM sanctions")).scalar_one() is None
