"""`hotline backup` / `hotline restore`: a round trip loses nothing, across SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from cases.call_records import get_call, record_call
from cases.db import Database
from cases.demo_seed import seed_demo
from cases.transcript_records import attach_transcript, transcripts_for_call
from telephony.records import CallRecord

EXE = [sys.executable, "-m", "hotline_cli.main"]




def run(cwd: Path, *args: str, db: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env |= {"HOTLINE_DATABASE_URL": db, "HOTLINE_RECORDINGS_DIR": str(cwd / "rec"), "HOTLINE_DATA_DIR": str(cwd)}
    return subprocess.run([*EXE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_round_trip_sqlite_to_postgresql_and_back(tmp_path: Path, pg_url: str) -> None:
    src_dir, pg_dir, back_dir = tmp_path / "src", tmp_path / "pg", tmp_path / "back"
    for d in (src_dir, pg_dir, back_dir):
        d.mkdir()
    src_url = f"sqlite:///{src_dir / 'h.db'}"
    db = Database(src_url)
    db.migrate()
    with db.session() as s:
        seed_demo(s)
        record_call(s, CallRecord(linkedid="1796026732.0", caller="49305551001", dialed="4008001", hotline="service",
                                  digits="1", queue="service", outcome="answered", agent="agent1001",
                                  agents=["agent1001"], recording="/var/spool/asterisk/monitor/a.wav",
                                  started_at=1796026732.5, answered_at=1796026735.0, ended_at=1796026742.9))
        attach_transcript(s, "1796026732.0", engine="vosk", model="m", speaker="caller", text="배송 조회",
                          words_json='[{"word": "배송", "start": 0.1}]', duration_s=2.5)
        expected = (s.scalar(text("select count(*) from users")), s.scalar(text("select count(*) from shipments")))
    db.dispose()
    (src_dir / "rec").mkdir()
    (src_dir / "rec" / "a.wav").write_bytes(b"RIFF" + bytes(range(256)) * 4)

    res = run(src_dir, "backup", str(tmp_path / "b1.tar.gz"), db=src_url)
    assert res.returncode == 0, res.stderr
    res = run(pg_dir, "restore", str(tmp_path / "b1.tar.gz"), db=pg_url)
    assert res.returncode == 0, res.stderr
    # restoring twice would overwrite: refused, nothing changed
    again = run(pg_dir, "restore", str(tmp_path / "b1.tar.gz"), db=pg_url)
    assert again.returncode == 2 and "already holds data" in again.stderr and "Traceback" not in again.stderr
    res = run(pg_dir, "backup", str(tmp_path / "b2.tar.gz"), db=pg_url)
    assert res.returncode == 0, res.stderr
    back_url = f"sqlite:///{back_dir / 'h.db'}"
    res = run(back_dir, "restore", str(tmp_path / "b2.tar.gz"), db=back_url)
    assert res.returncode == 0, res.stderr

    for url in (pg_url, back_url):
        db = Database(url)
        with db.session() as s:
            call = get_call(s, "1796026732.0")
            assert call is not None and call.agent == "agent1001" and call.talk_s is None
            [t] = transcripts_for_call(s, "1796026732.0")
            assert t.text == "배송 조회" and t.duration_s == 2.5
        with db.engine.connect() as c:
            users = c.execute(text("select count(*) from users")).scalar_one()
            shipments = c.execute(text("select count(*) from shipments")).scalar_one()
        db.dispose()
        assert (users, shipments) == expected and users and shipments
    assert (back_dir / "rec" / "a.wav").read_bytes() == (src_dir / "rec" / "a.wav").read_bytes()
    # new rows after a PostgreSQL restore get fresh ids (sequences were moved past the restored ones)
    db = Database(pg_url)
    with db.session() as s:
        record_call(s, CallRecord(linkedid="1796026999.7", caller="1", outcome="answered"))
    db.dispose()


def test_bad_archives_get_clear_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tarball")
    for name, expect in (("missing.tar.gz", "no such file"), ("junk.tar.gz", "not a Hotline backup")):
        res = run(tmp_path, "restore", str(tmp_path / name), db=url)
        assert res.returncode == 2 and expect in res.stderr and "Traceback" not in res.stderr
