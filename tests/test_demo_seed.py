"""A new demo database has work on every desk: last month's complaints, claims, inspections and
self-settled business, seeded once (real SQLite, the demo's own settings)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from cases import reports
from cases.local_time import CHINA_TZ
from cases.models.workflows import ChangeRequest, Claim, Complaint, Inspection, SelfSettled
from hotline_cli.config import load_settings
from hotline_cli.startup import open_database


def test_demo_database_gets_last_months_workflows_once(tmp_path: Path) -> None:
    settings = load_settings(None, {"HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
                                    "HOTLINE_DATA_DIR": str(tmp_path / "var")})
    db = open_database(settings, seed_demo=True)
    try:
        with db.reading() as s:
            counts = {m.__name__: s.scalar(select(func.count()).select_from(m))
                      for m in (Complaint, Claim, Inspection, SelfSettled)}
            first = s.scalar(select(func.min(Claim.reported_at)))
        assert all(n and n > 0 for n in counts.values()), counts
        assert first is not None
        this_month = datetime.now(CHINA_TZ).date().replace(day=1)
        assert first.astimezone(CHINA_TZ).date() < this_month  # last month's: nothing dated in the future
        assert any((tmp_path / "var" / "evidence").rglob("*")), "claim evidence files are stored"
        with db.reading() as s:  # the agents' work: agents-monthly and the change section are not empty
            last = first.astimezone(CHINA_TZ).date().replace(day=1)
            agents = reports.agents_report(s, reports.make_period(last, this_month))
            changed = s.scalars(select(ChangeRequest.stage)).all()
            majors = s.scalars(select(Claim.major_status).where(Claim.major)).all()
            ended = sorted(s.scalars(select(Claim.stage).where(Claim.stage.in_(("refused", "withdrawn")))).all())
        assert agents.checked > 0 and len(agents.by_agent) == 3 and agents.wrap_ups > 0
        assert {w.agent for w in agents.wrap_up_counts} == {"agent1001", "agent1002", "agent1003"}
        assert sorted(changed) == ["applied", "applied", "applied", "applied", "rejected", "requested"]
        assert majors == ["confirmed"] and ended == ["refused", "withdrawn"]
    finally:
        db.dispose()
    db = open_database(settings, seed_demo=True)  # a restart of the demo adds nothing
    try:
        with db.reading() as s:
            assert s.scalar(select(func.count()).select_from(Claim)) == counts["Claim"]
    finally:
        db.dispose()
