"""Helpers behind tests/cases/conftest.py: throwaway PostgreSQL schemas and fresh databases."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from cases.db import Database
from cases.errors import DatabaseUnavailable

PG_URL = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="pg", marks=pytest.mark.postgres),
]


def _pg_admin() -> Database:
    try:
        return Database(PG_URL)
    except DatabaseUnavailable as exc:
        pytest.fail(
            f"PostgreSQL is required for these tests and is unreachable ({exc}). "
            "Start it or point HOTLINE_TEST_PG_URL at a server.",
            pytrace=False,
        )


class PgSchemas:
    """Creates throwaway schemas and hands out URLs whose search_path points at them."""

    def __init__(self) -> None:
        self.admin: Database | None = None
        self.created: list[str] = []

    def new_url(self, label: str) -> str:
        if self.admin is None:
            self.admin = _pg_admin()
        schema = f"hl_{label}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with self.admin.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        self.created.append(schema)
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self.admin is None:
            return
        with self.admin.engine.begin() as conn:
            for schema in self.created:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        self.admin.dispose()


def new_database(backend: str, label: str, tmp: Path, pg_schemas: PgSchemas) -> Database:
    if backend == "sqlite":
        return Database(f"sqlite:///{tmp / f'{label}-{uuid.uuid4().hex[:8]}.db'}")
    return Database(pg_schemas.new_url(label))
