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


# The slowest tests (seconds each in a 4-worker run; `scripts/test` prints the 25 slowest), slowest first. They
# start first, one per worker: pytest-xdist's worksteal hands each worker a contiguous share of the collection,
# so a slow test at the end of a share made the whole run wait for it.
SLOW_FIRST = (
    "tests/telephony/test_resync.py::test_twenty_cuts_during_a_thousand_calls",
    "tests/test_faults.py::test_postgresql_restart_mid_traffic",
    "tests/agent_console/test_fuzz_http.py::test_fuzz_every_route_and_socket_event_gives_no_500",
    "tests/telephony/test_fuzz.py::test_mutated_frames_never_break_the_stream",
    "tests/test_roles.py::test_listener_two_web_processes_and_a_worker",
    "tests/test_faults.py::test_kill_9_of_the_worker_with_transcriptions_pending",
    "tests/test_live_role.py::test_live_process_transcribes_and_the_web_process_shows_it",
    "tests/test_faults.py::test_kill_9_of_a_web_process_mid_traffic",
    "tests/transcripts/test_live_tap.py::test_simulated_call_is_tapped_per_speaker_and_transcribed_like_vosk",
    "tests/test_roles_fanout.py::test_one_wallboard_for_all_web_processes_and_pops_where_the_agent_is",
    "tests/agent_console/test_claims_browser.py::test_a_claim_from_report_to_payment_in_chromium",
    "tests/test_faults.py::test_kill_9_of_the_listener_mid_traffic",
    "tests/test_faults.py::test_ami_cut_mid_traffic",
    "tests/e2e/test_demo.py::test_demo_pop_case_wallboard_and_transcript",
    "tests/transcripts/test_transcripts_engine.py::test_file_recognisers_are_kept_and_a_kept_one_gives_vosks_own_words",
    "tests/e2e/test_live_transcript.py::test_live_partials_on_the_agents_pane_during_a_demo_call",
    "tests/test_faults.py::test_redis_restart_mid_traffic",
    "tests/test_live_status.py::test_live_process_status_and_metrics",
    "tests/test_backup.py::test_round_trip_sqlite_to_postgresql_and_back",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist: the SLOW_FIRST tests dealt round-robin to the heads of the workers' initial shares
    (worksteal gives node i `remaining // (n - i)` tests, in collection order); the rest keep their order."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers < 2:
        return

    def rank(item: pytest.Item) -> int:
        return next((k for k, prefix in enumerate(SLOW_FIRST) if item.nodeid.startswith(prefix)), -1)

    slow = sorted((it for it in items if rank(it) >= 0), key=rank)
    rest = [it for it in items if rank(it) < 0]
    shares: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for j, item in enumerate(slow):
        shares[j % workers].append(item)
    remaining = len(items)
    for i, share in enumerate(shares):
        size = remaining // (workers - i)
        remaining -= size
        take = max(0, size - len(share))
        share.extend(rest[:take])
        del rest[:take]
    items[:] = [it for share in shares for it in share] + rest
