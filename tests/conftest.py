"""Shared test fixtures: where the real Asterisk captures live, real Chromium, PostgreSQL schemas; and,
under pytest-xdist, a private redis-server per worker (tests/loopback.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback import free_port
from sqlalchemy import create_engine, text
from waits import start_redis, stop_processes

PG = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

REPO = Path(__file__).resolve().parent.parent
# the manager.conf user `hotline asterisk-config` generated before (secret "hotline")
OLD_MANAGER_CONF = Path(__file__).resolve().parent / "fixtures" / "manager-conf" / "old-generated.conf"
WORKER_REDIS = pytest.StashKey[subprocess.Popen[bytes]]()


def pytest_configure(config: pytest.Config) -> None:
    """A pytest-xdist worker gets a redis-server of its own: the role processes' fixed channels and keys
    (hotline:events, hotline:live, ...) of two tests running at once would otherwise meet."""
    if os.environ.get("PYTEST_XDIST_WORKER") and "HOTLINE_TEST_REDIS_URL" not in os.environ:
        port = free_port()
        config.stash[WORKER_REDIS] = start_redis(port)  # --save "": it writes nothing
        os.environ["HOTLINE_TEST_REDIS_URL"] = f"redis://127.0.0.1:{port}/0"


def pytest_unconfigure(config: pytest.Config) -> None:
    proc = config.stash.get(WORKER_REDIS, None)
    if proc is not None:
        stop_processes([proc])


def _traces_dir() -> Path:
    env = os.environ.get("HOTLINE_TRACES")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "asterisk-traces", REPO / "tests" / "fixtures" / "asterisk-traces"]
    for cand in candidates:
        if (cand / "README.md").exists():
            return cand
    raise RuntimeError(
        "the real Asterisk captures were not found: set HOTLINE_TRACES to the asterisk-traces folder "
        f"(looked in {', '.join(str(c) for c in candidates)})"
    )


@pytest.fixture(scope="session")
def traces() -> Path:
    return _traces_dir()


@pytest.fixture()
def chromium() -> Iterator[Any]:
    """Real Chromium (playwright.sync_api.Browser) for one test, closed after it (tests/browser_support.py)."""
    from browser_support import launch

    with launch() as browser:
        yield browser


@pytest.fixture()
def pg_url() -> Iterator[str]:
    """A PostgreSQL schema of the test's own on the real server (127.0.0.1:5432), dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG)
    try:
        with admin.begin() as c:
            c.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:
        admin.dispose()
        raise RuntimeError(f"PostgreSQL at {PG} is needed by this test: {exc}") from None
    yield f"{PG}?options=-csearch_path%3D{schema}"
    with admin.begin() as c:
        c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with the demo data, made once per test process: seeding costs ~1.4 CPU-s
    (argon2 hashes of the demo accounts), and hundreds of tests start from it."""
    from cases.db import Database
    from cases.demo_seed import seed_demo

    path = tmp_path_factory.mktemp("seeded") / "cases.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    with database.session() as s:
        seed_demo(s)
    database.dispose()  # closed: its write-ahead log folded into the file
    return path


@pytest.fixture
def seeded_sqlite_db(seeded_sqlite: Path, tmp_path: Path) -> Iterator[Any]:
    """A test's own copy of the seeded database (cases.db.Database; `migrate` finds it at head)."""
    from cases.db import Database

    target = tmp_path / "cases.db"
    shutil.copyfile(seeded_sqlite, target)
    database = Database(f"sqlite:///{target}")
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def old_manager_conf() -> Path:
    """The manager.conf user `hotline asterisk-config` generated before: no `dtmf`, `command` write, Newexten
    filtered out (tests/fixtures/manager-conf/old-generated.conf, secret "hotline")."""
    return OLD_MANAGER_CONF
