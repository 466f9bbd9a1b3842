"""`hotline users …` on a real SQLite database: accounts an administrator keeps outside demo mode."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cases.accounts import authenticate
from cases.db import Database
from hotline_cli.main import main


@pytest.fixture
def config(tmp_path: Path) -> Path:
    db = Database(f"sqlite:///{tmp_path / 'h.db'}")
    db.migrate()
    db.dispose()
    path = tmp_path / "hotline.toml"
    path.write_text(f'database_url = "sqlite:///{tmp_path / "h.db"}"\n', encoding="utf-8")
    return path


def _run(config: Path, *argv: str, stdin: str = "", monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["--config", str(config), "users", *argv])


def _login(config: Path, username: str, password: str) -> bool:
    db = Database(f"sqlite:///{config.parent / 'h.db'}")
    try:
        with db.session() as s:
            return authenticate(s, username, password) is not None
    finally:
        db.dispose()


def test_add_list_passwd_disable_enable(config: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(config, "add", "wang.fang", "--role", "claims", "--name", "王芳", "--password-stdin",
                stdin="s3cret-pass\n", monkeypatch=monkeypatch) == 0
    assert capsys.readouterr().out.startswith("added wang.fang\tclaims\tactive\t王芳")
    assert _run(config, "add", "zz", "--role", "branch", "--branch", "郑州分公司", "--password-stdin",
                stdin="branch-pass\n", monkeypatch=monkeypatch) == 0
    capsys.readouterr()
    assert _login(config, "wang.fang", "s3cret-pass") and not _login(config, "wang.fang", "wrong-pass")

    assert _run(config, "list", monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["wang.fang\tclaims\tactive\t王芳", "zz\tbranch (郑州分公司)\tactive\tzz"]
    assert "s3cret" not in out

    assert _run(config, "passwd", "wang.fang", "--password-stdin", stdin="another-pass\n",
                monkeypatch=monkeypatch) == 0
    assert not _login(config, "wang.fang", "s3cret-pass") and _login(config, "wang.fang", "another-pass")

    assert _run(config, "disable", "wang.fang", monkeypatch=monkeypatch) == 0
    assert "disabled" in capsys.readouterr().out
    assert not _login(config, "wang.fang", "another-pass")
    assert _run(config, "enable", "wang.fang", monkeypatch=monkeypatch) == 0
    assert _login(config, "wang.fang", "another-pass")


def test_bad_input_is_a_one_line_error_and_changes_nothing(config: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(config, "add", "li", "--role", "agent", "--password-stdin", stdin="good-password\n",
                monkeypatch=monkeypatch) == 0
    capsys.readouterr()
    cases = [
        (("add", "li", "--role", "agent", "--password-stdin"), "good-password\n", "user 'li' already exists"),
        (("add", "bad name", "--role", "agent", "--password-stdin"), "good-password\n", "is not valid"),
        (("add", "short", "--role", "agent", "--password-stdin"), "abc\n", "at least 8 characters"),
        (("add", "nb", "--role", "branch", "--password-stdin"), "good-password\n", "needs the branch"),
        (("passwd", "li", "--password-stdin"), "abc\n", "at least 8 characters"),
        (("passwd", "nobody", "--password-stdin"), "good-password\n", "no user 'nobody'"),
        (("disable", "nobody"), "", "no user 'nobody'"),
        # no terminal and no --password-stdin: refused rather than reading a password from a pipe
        (("add", "piped", "--role", "agent"), "good-password\n", "use --password-stdin"),
    ]
    for argv, stdin, message in cases:
        assert _run(config, *argv, stdin=stdin, monkeypatch=monkeypatch) == 2, argv
        last = capsys.readouterr().err.splitlines()[-1]  # (log lines may come before it)
        assert last.startswith("hotline users: error: ") and message in last, (argv, last)
    assert _run(config, "list", monkeypatch=monkeypatch) == 0
    assert capsys.readouterr().out.splitlines() == ["li\tagent\tactive\tli"]
    assert _login(config, "li", "good-password")


def test_an_unmigrated_database_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.toml"
    other.write_text(f'database_url = "sqlite:///{tmp_path / "empty.db"}"\n', encoding="utf-8")
    assert _run(other, "list", monkeypatch=monkeypatch) == 2
    assert "run `hotline db` first" in capsys.readouterr().err
