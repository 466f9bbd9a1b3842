"""`hotline users add|role --department`: department staff (仓管, 结算, 市场区域 ...) on a real SQLite database."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

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


def test_department_staff_are_added_and_moved(config: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(config, "add", "sun", "--role", "branch", "--department", "warehouse", "--name", "孙丽",
                "--password-stdin", stdin="good-password\n", monkeypatch=monkeypatch) == 0
    assert capsys.readouterr().out.startswith("added sun\tbranch:warehouse\tactive\t孙丽")
    assert _run(config, "add", "mk", "--role", "branch", "--department", "market_area", "--branch", "上海市场区域",
                "--password-stdin", stdin="good-password\n", monkeypatch=monkeypatch) == 0
    assert _run(config, "add", "zz", "--role", "branch", "--branch", "郑州分公司", "--password-stdin",
                stdin="good-password\n", monkeypatch=monkeypatch) == 0
    capsys.readouterr()
    for argv, message in [
        (("add", "m2", "--role", "branch", "--department", "market_area", "--password-stdin"), "needs the market area"),
        (("add", "a2", "--role", "agent", "--department", "warehouse", "--password-stdin"), "only department staff"),
        (("role", "zz", "--role", "branch", "--department", "market_area", "--branch", ""), "needs the market area"),
    ]:
        assert _run(config, *argv, stdin="good-password\n", monkeypatch=monkeypatch) == 2, argv
        assert message in capsys.readouterr().err.splitlines()[-1], argv
    with pytest.raises(SystemExit) as exited:  # argparse: not a department
        _run(config, "add", "x", "--role", "branch", "--department", "canteen", "--password-stdin",
             stdin="good-password\n", monkeypatch=monkeypatch)
    assert exited.value.code == 2 and "invalid choice: 'canteen'" in capsys.readouterr().err
    assert _run(config, "role", "sun", "--role", "branch", "--department", "settlement", monkeypatch=monkeypatch) == 0
    assert capsys.readouterr().out.strip() == "sun\tbranch:settlement\tactive\t孙丽"
    assert _run(config, "list", monkeypatch=monkeypatch) == 0
    assert capsys.readouterr().out.splitlines() == [
        "mk\tbranch:market_area (上海市场区域)\tactive\tmk",
        "sun\tbranch:settlement\tactive\t孙丽",
        "zz\tbranch (郑州分公司)\tactive\tzz",
    ]
