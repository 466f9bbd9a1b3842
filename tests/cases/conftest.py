"""Fixtures for the cases tests: every database test runs on SQLite (temp file) and PostgreSQL.

PostgreSQL: `HOTLINE_TEST_PG_URL` (default postgresql+psycopg://postgres@127.0.0.1:5432/test). Each
test session works in its own fresh schema (search_path), dropped at the end, so runs are repeatable
and concurrent runs do not collide. An unreachable server makes the PostgreSQL tests FAIL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from casesdb_support import BACKENDS, PgSchemas, new_database
from sqlalchemy import text

from cases.db import Database
from cases.models.base import Base


@pytest.fixture(scope="session")
def pg_schemas() -> Iterator[PgSchemas]:
    schemas = PgSchemas()
    yield schemas
    schemas.drop_all()


@pytest.fixture(params=BACKENDS)
def empty_db(request: pytest.FixtureRequest, tmp_path: Path, pg_schemas: PgSchemas) -> Iterator[Database]:
    """A brand-new, unmigrated database (fresh SQLite file or fresh PostgreSQL schema)."""
    db = new_database(request.param, "empty", tmp_path, pg_schemas)
    yield db
    db.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_schemas: PgSchemas
) -> Iterator[Database]:
    db = new_database(request.param, "tests", tmp_path_factory.mktemp("cases-db"), pg_schemas)
    db.migrate()
    yield db
    db.dispose()


@pytest.fixture
def db(migrated_db: Database) -> Database:
    """The session's migrated database, emptied before each test."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with migrated_db.engine.begin() as conn:
        if migrated_db.dialect == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))
    return migrated_db
