"""The `hotline` command's contracts and its one-line errors for bad input."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from loopback import free_port

from hotline_cli.config import ConfigError, load_settings
from telephony.connection import AmiEndpoint, check_login

EXE = [sys.executable, "-m", "hotline_cli.main"]


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    return subprocess.run([*EXE, *args], capture_output=True, text=True, cwd=cwd, env={**base, **(env or {})},
                          timeout=timeout)


def one_line_error(res: subprocess.CompletedProcess[str], command: str) -> str:
    assert res.returncode != 0, res.stdout
    assert "Traceback" not in res.stderr, res.stderr
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.startswith(f"hotline {command}: error:")]
    assert len(lines) == 1, res.stderr
    return lines[0]


def start_simulator(cwd: Path, secret: str, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    """`hotline simulator` on a free port, once user hotline can log in with `secret`."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    proc = subprocess.Popen([*EXE, "simulator", "--listen", f"127.0.0.1:{port}", "--interval", "0", *args],
                            cwd=cwd, env=base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            check_login(AmiEndpoint("127.0.0.1", port, "hotline", secret))
            break
        except Exception:
            time.sleep(0.2)
    return proc, port


@pytest.fixture()
def simulator(tmp_path: Path):  # type: ignore[no-untyped-def]
    proc, port = start_simulator(tmp_path, "s3cret", "--secret", "s3cret")
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def test_ami_check_ok_wrong_secret_and_unreachable(simulator: int) -> None:
    ok = run("ami-check", "--ami", f"127.0.0.1:{simulator}", "--secret", "s3cret")
    assert ok.returncode == 0 and "logged in as hotline" in ok.stdout
    bad = run("ami-check", "--ami", f"127.0.0.1:{simulator}", "--secret", "nope")
    assert "refused login" in one_line_error(bad, "ami-check")
    dead = free_port()
    assert f"127.0.0.1:{dead}" in one_line_error(run("ami-check", "--ami", f"127.0.0.1:{dead}"), "ami-check")


def test_demo_refuses_a_busy_port_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        res = run("demo", "--ami-port", str(busy), "--port", str(free_port()), "--interval", "0", cwd=tmp_path)
    assert "cannot listen" in one_line_error(res, "demo")


def test_demo_reports_a_database_it_cannot_use(tmp_path: Path) -> None:
    res = run("db", cwd=tmp_path, env={"HOTLINE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    assert "127.0.0.1" in one_line_error(res, "db")


def test_db_migrates_and_seeds_idempotently(tmp_path: Path) -> None:
    for _ in range(2):
        res = run("db", "--seed-demo", cwd=tmp_path)
        assert res.returncode == 0, res.stderr
    assert (tmp_path / "var" / "hotline.db").exists()


def test_settings_file_and_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "hotline.toml"
    cfg.write_text('database_url = "sqlite:///x.db"\nhttp_port = 8100\n[ami]\nhost = "10.0.0.5"\nport = 5039\n')
    s = load_settings(cfg, environ={"HOTLINE_AMI_SECRET": "topsecret", "HOTLINE_HTTP_PORT": "8200"})
    assert (s.database_url, s.http_port, s.ami.host, s.ami.port, s.ami.secret) == (
        "sqlite:///x.db", 8200, "10.0.0.5", 5039, "topsecret")
    cfg.write_text("http_port = 'eighty'\n")
    with pytest.raises(ConfigError, match="http_port"):
        load_settings(cfg, environ={})
    cfg.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="unknown key 'colour'"):
        load_settings(cfg, environ={})
    cfg.write_text("[ami\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(cfg, environ={})
    with pytest.raises(ConfigError, match="HOTLINE_AMI_PORT"):
        load_settings(None, environ={"HOTLINE_AMI_PORT": "99999"})
    bad = run("--config", str(tmp_path / "missing.toml"), "replay", "x.ami")
    assert "does not exist" in one_line_error(bad, "replay")


def test_logging_follows_stderr_and_never_writes_to_a_closed_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import logging

    from hotline_cli.main import setup_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        first = io.StringIO()
        monkeypatch.setattr("sys.stderr", first)
        setup_logging(False)
        logging.getLogger("hotline.t").info("into the first stream")
        first.close()  # e.g. a test's captured stderr, while a server thread still logs
        second = io.StringIO()
        monkeypatch.setattr("sys.stderr", second)
        logging.getLogger("hotline.t").info("into the second stream")
        assert "into the second stream" in second.getvalue()
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


@pytest.mark.parametrize("argv, command", [
    (["report", "calls", "--out", "{tmp}/calls.json"], "report"),
    (["shipments", "export", "--out", "{tmp}/shipments.csv"], "shipments"),
    (["shipments", "import", "{tmp}/shipments.csv"], "shipments"),
    (["transcripts", "search", "投诉"], "transcripts"),
    (["transcripts", "reindex"], "transcripts"),
    (["users", "list"], "users"),
    (["users", "disable", "agent1001"], "users"),
])
def test_database_commands_refuse_an_unmigrated_database(argv: list[str], command: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from alembic.script import ScriptDirectory

    from cases.db import MIGRATIONS_DIR, Database
    from hotline_cli.main import main

    config = tmp_path / "hotline.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path / "empty.db"}"\n', encoding="utf-8")
    (tmp_path / "shipments.csv").write_text("waybill\n", encoding="utf-8")
    assert main(["--config", str(config), *(a.format(tmp=tmp_path) for a in argv)]) == 2
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    err = capsys.readouterr().err
    [line] = [ln for ln in err.splitlines() if ln.startswith("hotline ")] or [err]
    assert line.startswith(f"hotline {command}: error: "), err
    assert "Traceback" not in err, err
    assert line.endswith(f"empty.db is not at schema {head}: run `hotline db` first"), line
    assert not (tmp_path / "calls.json").exists()
    db = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    assert db.current_revision() is None  # nothing was migrated or written
    db.dispose()


def test_ami_check_names_what_a_user_lacks_and_has_beyond(tmp_path: Path, old_manager_conf: Path) -> None:
    """The simulator answers as a site's manager.conf says (--manager-conf); ami-check reads the write rights
    from ListCommands and the read rights from the same file, and exits 1 on what is lacking."""
    conf = old_manager_conf
    proc, port = start_simulator(tmp_path, "hotline", "--manager-conf", str(conf))
    try:
        res = run("ami-check", "--ami", f"127.0.0.1:{port}", "--secret", "hotline", "--manager-conf", str(conf))
        assert res.returncode == 1, res.stdout + res.stderr
        assert "missing read rights: dtmf" in res.stdout
        assert "more than Hotline needs: write command, system" in res.stdout
        assert "write rights: every action Hotline sends is allowed" in res.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    (tmp_path / "bad.conf").write_text("read = all\n", encoding="utf-8")
    bad = run("simulator", "--listen", f"127.0.0.1:{free_port()}", "--manager-conf", str(tmp_path / "bad.conf"))
    assert "bad.conf: line 1" in one_line_error(bad, "simulator")
    missing = run("ami-check", "--ami", f"127.0.0.1:{port}", "--manager-conf", str(tmp_path / "none.conf"))
    assert "none.conf" in one_line_error(missing, "ami-check")
