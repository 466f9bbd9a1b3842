"""cases.db: migrations, sessions, connection errors, SQLite settings, UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from casesdb_support import PgSchemas
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, StatementError

from cases.db import MIGRATIONS_DIR, Database
from cases.errors import DatabaseUnavailable
from cases.models.base import Base
from cases.models.call_analysis import include_name
from cases.models.case import Case
from cases.models.customers import Customer, CustomerPhone

EXPECTED_TABLES = {
    "incidents",
    "incident_measures",
    "customers",
    "customer_phones",
    "shipments",
    "shipment_events",
    "calls",
    "cases",
    "case_calls",
    "case_counters",
    "transcripts",
    "users",
    "audit_log",
    "transcript_segments",
    "call_checks",
    "call_check_findings",
    "call_entities",
}


def _head() -> str:
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None
    return head


def test_migrate_creates_schema_on_empty_database(empty_db: Database) -> None:
    assert set(inspect(empty_db.engine).get_table_names()) == set()
    assert empty_db.current_revision() is None

    empty_db.migrate()

    tables = set(inspect(empty_db.engine).get_table_names())
    assert EXPECTED_TABLES <= tables
    assert "alembic_version" in tables
    assert empty_db.current_revision() == _head()
    call_columns = {c["name"] for c in inspect(empty_db.engine).get_columns("calls")}
    assert {
        "linkedid", "caller", "caller_name", "dialed", "hotline", "digits", "queue", "outcome", "agent",
        "agents", "rang", "hangup_by", "wait_s", "talk_s", "recording", "started_at", "answered_at",
        "ended_at", "waybill", "reconciled", "customer_id", "ivr_path",
    } <= call_columns  # fmt: skip


def test_migrate_twice_is_a_no_op(empty_db: Database) -> None:
    empty_db.migrate()
    with empty_db.session() as s:
        s.add(Customer(name="张伟", kind="shipper", note=""))
    empty_db.migrate()
    assert empty_db.current_revision() == _head()
    with empty_db.session() as s:
        assert s.scalars(select(Customer.name)).all() == ["张伟"]


def test_models_match_migrations(migrated_db: Database) -> None:
    with migrated_db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
        assert compare_metadata(ctx, Base.metadata) == []


def test_migrations_ship_inside_the_package() -> None:
    assert MIGRATIONS_DIR.parent == Path(__file__).resolve().parents[2] / "cases"
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "versions" / "__init__.py").is_file()  # found by setuptools packages.find


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "mysql+nosuchdriver://u@h/db",
        "oracle://scott@localhost/db",
        "sqlite:////proc/hotline-no-such-dir/x.db",
    ],
)
def test_bad_url_raises_database_unavailable(url: str) -> None:
    with pytest.raises(DatabaseUnavailable) as err:
        Database(url)
    assert "\n" not in str(err.value)


def test_unreachable_postgres_raises_one_line_error() -> None:
    with pytest.raises(DatabaseUnavailable) as err:
        Database("postgresql+psycopg://postgres:secret@127.0.0.1:1/test?connect_timeout=2")
    message = str(err.value)
    assert "\n" not in message
    assert "unavailable" in message
    assert "secret" not in message


@pytest.mark.postgres
def test_plain_postgresql_url_uses_psycopg(pg_schemas: PgSchemas) -> None:
    plain = make_url(pg_schemas.new_url("plain")).set(drivername="postgresql")
    other = Database(plain.render_as_string(hide_password=False))
    try:
        assert other.engine.dialect.driver == "psycopg"
        other.migrate()
        assert other.current_revision() == _head()
    finally:
        other.dispose()


def test_sqlite_settings(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'sub' / 'dir' / 'h.db'}")
    try:
        assert (tmp_path / "sub" / "dir" / "h.db").exists()
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    finally:
        db.dispose()


def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(IntegrityError):
        with db.session() as s:
            s.add(CustomerPhone(customer_id=12345, phone="13800138000", label=""))
    with db.session() as s:
        assert s.scalars(select(CustomerPhone)).all() == []


def test_check_constraints_reject_unknown_values(db: Database) -> None:
    with pytest.raises(IntegrityError):
        with db.session() as s:
            s.add(Customer(name="x", kind="alien", note=""))
    with pytest.raises(IntegrityError):
        with db.session() as s:
            s.add(
                Case(
                    number="C1",
                    kind="complaint",
                    status="referred",  # referred without a department
                    subject="s",
                    description="",
                    priority="normal",
                    created_by="a",
                )
            )


def test_session_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    with db.session() as s:
        s.add(Customer(name="kept", kind="shipper", note=""))
    with pytest.raises(RuntimeError):
        with db.session() as s:
            s.add(Customer(name="dropped", kind="shipper", note=""))
            s.flush()
            raise RuntimeError("boom")
    with db.session() as s:
        assert s.scalars(select(Customer.name)).all() == ["kept"]


def test_timestamps_round_trip_as_aware_utc(db: Database) -> None:
    beijing = timezone(timedelta(hours=8))
    at = datetime(2026, 11, 30, 18, 30, 15, 123456, tzinfo=beijing)
    with db.session() as s:
        s.add(Customer(name="tz", kind="other", note="", created_at=at))
    with db.session() as s:
        stored = s.scalars(select(Customer.created_at)).one()
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    assert stored == at
    assert stored == datetime(2026, 11, 30, 10, 30, 15, 123456, tzinfo=UTC)


def test_naive_timestamps_are_refused(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        with db.session() as s:
            s.add(Customer(name="naive", kind="other", note="", created_at=datetime(2026, 1, 1)))
            s.flush()


def test_upgrade_from_0001_keeps_data_and_makes_hotline_nullable(empty_db: Database) -> None:
    empty_db.migrate("0001")
    assert empty_db.current_revision() == "0001"
    with empty_db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO calls (id, linkedid, caller, caller_norm, caller_name, dialed, hotline, digits,"
                " outcome, agents, rang, reconciled, created_at, updated_at) VALUES (1, 'old.1', '', '', '', '',"
                " '', '', 'internal', '[]', '[]', false, '2026-11-30 01:00:00+00', '2026-11-30 01:00:00+00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO transcripts (call_id, engine, model, speaker, text, words, created_at)"
                " VALUES (1, 'vosk', 'm', 'mixed', '你好', '[]', '2026-11-30 01:00:00+00')"
            )
        )
    empty_db.migrate()
    assert empty_db.current_revision() == _head()
    with empty_db.engine.connect() as conn:
        assert conn.execute(text("SELECT hotline FROM calls WHERE id = 1")).scalar_one() is None
        # the SQLite table rebuild must not have cascaded into the transcripts
        assert conn.execute(text("SELECT text FROM transcripts")).scalars().all() == ["你好"]
    hotline = next(c for c in inspect(empty_db.engine).get_columns("calls") if c["name"] == "hotline")
    assert hotline["nullable"] is True
    with empty_db.engine.connect() as conn:
        if empty_db.dialect == "sqlite":
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


def test_open_migrated_refuses_an_old_schema_and_disposes_after_the_block(tmp_path: Path) -> None:
    from cases.db import open_migrated
    from cases.errors import SchemaNotCurrent

    url = f"sqlite:///{tmp_path / 'h.db'}"
    with pytest.raises(SchemaNotCurrent, match=r"is not at schema .*: run `hotline db` first"):
        open_migrated(url)
    Database(url).migrate()
    with open_migrated(url) as db:
        with db.session() as s:
            assert s.execute(text("SELECT 1")).scalar_one() == 1
        assert db.engine.pool.checkedin() == 1  # the connection is pooled while the block runs
    assert db.engine.pool.checkedin() == 0  # and closed when it ends
