"""Engine, migrations and sessions for the cases database (SQLite or PostgreSQL via psycopg 3)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cases.errors import DatabaseUnavailable, SchemaNotCurrent
from cases.private_files import private_file, warn_if_shared
from cases.redact import masked

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
PG_CONNECT_TIMEOUT_S = 5
SQLITE_BUSY_TIMEOUT_MS = 5000
MIGRATION_LOCK_KEY = 0x686F746C696E65  # 'hotline'


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # SQLAlchemy's message may repeat the URL, password and all
        raise DatabaseUnavailable(f"bad database URL {masked(url)!r}: not of the form "
                                  "dialect+driver://user:password@host/database") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseUnavailable(
            f"unsupported database {parsed.drivername!r}: use sqlite:///path or postgresql+psycopg://..."
        )
    return parsed


def _sqlite_file(url: URL) -> Path | None:
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return Path(db)


def _on_sqlite_connect(wal: bool) -> Any:
    def setup(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (see _on_sqlite_begin):
        # with the module's legacy behaviour DDL would run outside any transaction.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        try:
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                cur.execute("PRAGMA journal_mode=WAL")
        finally:
            cur.close()

    return setup


def _on_sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front: concurrent writers then wait (busy_timeout) instead of
    # failing with "database is locked" when a read transaction tries to become a write one.
    # In WAL mode readers outside this process's transactions are never blocked.
    # A session opened with `reading()` only reads: a plain (deferred) BEGIN, so it never queues
    # behind a writer.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


READ_ONLY = "hotline_read_only"


class Database:
    """One database: `engine`, `migrate()` (Alembic upgrade head) and `session()`.

    Raises `DatabaseUnavailable` (one-line message) for a bad or unsupported URL and when the database
    cannot be reached. For SQLite files the parent directory is created if missing.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        parsed = _parse_url(url)
        self.url = parsed
        self.display_url = masked(parsed.render_as_string(hide_password=False))
        connect_args: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            connect_args["check_same_thread"] = False
            path = _sqlite_file(parsed)
            if path is not None:
                try:  # folder 0700, file 0600 when created here (SQLite's -wal/-shm take the file's mode)
                    if not private_file(path):
                        warn_if_shared(path)
                except OSError as exc:
                    raise DatabaseUnavailable(
                        f"cannot create directory for {self.display_url}: {_one_line(exc)}"
                    ) from None
        elif "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
        try:
            self.engine: Engine = create_engine(parsed, echo=echo, connect_args=connect_args)
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            raise DatabaseUnavailable(f"cannot use {self.display_url}: {_one_line(exc)}") from None
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _on_sqlite_connect(wal=_sqlite_file(parsed) is not None))
            event.listen(self.engine, "begin", _on_sqlite_begin)
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.check()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def check(self) -> None:
        """Connect and run `SELECT 1`; `DatabaseUnavailable` if that fails."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise DatabaseUnavailable(
                f"database {self.display_url} unavailable: {_one_line(exc.orig or exc)}"
            ) from None

    def alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        return cfg

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision` (default: the newest) with Alembic, in one transaction.

        On SQLite foreign keys are switched off meanwhile (table rebuilds of batch migrations would
        otherwise cascade deletes) and checked afterwards.
        """
        self._alembic(command.upgrade, revision)
        log.info("database %s migrated to %s", self.display_url, revision)

    def downgrade(self, revision: str) -> None:
        """Take the schema back to `revision` (each migration's own downgrade), as `migrate` goes up: one
        transaction, one migrator at a time, SQLite's foreign keys off meanwhile and checked after."""
        self._alembic(command.downgrade, revision)
        log.info("database %s downgraded to %s", self.display_url, revision)

    def _alembic(self, step: Callable[[Config, str], None], revision: str) -> None:
        cfg = self.alembic_config()
        sqlite = self.dialect == "sqlite"
        try:
            with self.engine.connect() as conn:
                if sqlite:
                    self._sqlite_pragma(conn, "PRAGMA foreign_keys=OFF")
                try:
                    with conn.begin():
                        if not sqlite:  # one migrator at a time (SQLite: BEGIN IMMEDIATE does that)
                            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                        cfg.attributes["connection"] = conn
                        step(cfg, revision)
                        if sqlite:
                            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                            if broken:
                                raise DatabaseUnavailable(
                                    f"migrating {self.display_url} left {len(broken)} broken foreign keys"
                                )
                finally:
                    if sqlite:
                        self._sqlite_pragma(conn, "PRAGMA foreign_keys=ON")
        except OperationalError as exc:
            raise DatabaseUnavailable(f"migrating {self.display_url} failed: {_one_line(exc.orig or exc)}") from None

    @staticmethod
    def _sqlite_pragma(conn: Connection, pragma: str) -> None:
        """Run a PRAGMA outside any transaction (foreign_keys is a no-op inside one)."""
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        cur = dbapi.cursor()
        try:
            cur.execute(pragma)
        finally:
            cur.close()

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block succeeds, rolled back on error."""
        s = self._sessions()
        try:
            try:
                s.connection()
            except OperationalError as exc:
                raise DatabaseUnavailable(
                    f"database {self.display_url} unavailable: {_one_line(exc.orig or exc)}"
                ) from None
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session: never takes SQLite's write lock (screen pops must not wait behind
        writes); anything written in it is rolled back."""
        s = self._sessions()
        try:
            try:
                s.connection(execution_options={READ_ONLY: True})
            except OperationalError as exc:
                raise DatabaseUnavailable(
                    f"database {self.display_url} unavailable: {_one_line(exc.orig or exc)}"
                ) from None
            yield s
        finally:
            s.rollback()
            s.close()

    def dispose(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        """`with open_migrated(url) as db:` disposes of the engine when the block ends, however it ends."""
        self.dispose()

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"


def open_migrated(url: str) -> Database:
    """The database at `url`, refused with `SchemaNotCurrent` unless it is at the newest schema (for
    commands that must not migrate by themselves). Use it as `with open_migrated(url) as db:` so the
    engine is disposed of after the command's work."""
    from alembic.script import ScriptDirectory

    db = Database(url)
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if db.current_revision() != head:
        db.dispose()
        raise SchemaNotCurrent(f"database {db.display_url} is not at schema {head}: run `hotline db` first")
    return db
