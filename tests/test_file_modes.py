"""What Hotline creates for itself is private to its account (#16, finding 8): the SQLite database file
0600 and its folder 0700 (SQLite's -wal and -shm files 0600 too), data_dir and the session key in it,
the recordings folder, claim evidence folders and files — under the usual umask 022, which left them
readable by every account. What already exists keeps its mode; a shared database file is logged."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from cases import claims as cl
from cases.accounts import create_user
from cases.db import Database
from cases.private_files import private_dir
from cases.views import CaseInput
from hotline_cli.config import Settings
from hotline_cli.startup import open_database, secret_key

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_sqlite_database_its_folder_and_its_wal_are_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "data" / "hotline.db"
    db = Database(f"sqlite:///{path}")
    try:
        db.migrate()
        with db.session() as s:
            create_user(s, "agent1", "a-long-password", "agent", "a")
        assert mode(path) == 0o600
        assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700
        for extra in ("-wal", "-shm"):
            side = path.with_name(path.name + extra)
            assert side.exists() and mode(side) == 0o600, extra
    finally:
        db.dispose()


def test_an_existing_database_keeps_its_mode_and_a_shared_one_is_logged(tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    with caplog.at_level(logging.WARNING, logger="cases"):
        Database(f"sqlite:///{path}").dispose()
    assert mode(path) == 0o644
    assert any("readable by other accounts" in r.getMessage() for r in caplog.records)


def test_data_dir_and_the_session_key_are_private(tmp_path: Path) -> None:
    settings = replace(Settings(), data_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path}/db/h.db")
    key = secret_key(settings)
    assert len(key) == 64 and secret_key(settings) == key
    assert mode(tmp_path / "var") == 0o700 and mode(tmp_path / "var" / "secret_key") == 0o600
    open_database(settings).dispose()
    assert mode(tmp_path / "db") == 0o700 and mode(tmp_path / "db" / "h.db") == 0o600


def test_recordings_folder_made_private_an_existing_one_left_alone(tmp_path: Path) -> None:
    made = private_dir(tmp_path / "var" / "recordings")  # what `hotline serve` / `demo` do with recordings_dir
    assert mode(made) == 0o700 and mode(made.parent) == 0o700
    shared = tmp_path / "asterisk-monitor"
    shared.mkdir(mode=0o750)
    os.chmod(shared, 0o750)
    private_dir(shared)
    assert mode(shared) == 0o750


def test_claim_evidence_folders_and_files_are_private(seeded_sqlite_db: Database, tmp_path: Path) -> None:
    root = tmp_path / "data" / "evidence"
    store = cl.EvidenceStore(root=root, max_bytes=1024 * 1024)
    with seeded_sqlite_db.session() as s:
        claim = cl.open_claim(s, CaseInput(kind="claim", subject="破损"), channel="hotline",
                              accident_cause="handling_damage", claimed="100", branch="郑州分公司", by="claims")
        cl.start_investigation(s, claim.id, by="claims")
        cl.add_evidence(s, claim.id, filename="photo.png", data=PNG, content_type="image/png", store=store,
                        by="claims")
    folder = root / str(claim.id)
    files = list(folder.iterdir())
    assert mode(root.parent) == 0o700 and mode(root) == 0o700 and mode(folder) == 0o700
    assert files and all(mode(f) == 0o600 for f in files)
