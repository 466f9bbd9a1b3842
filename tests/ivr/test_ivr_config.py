"""Menu and prompt files: validated on load with errors naming file and key; a broken file keeps
the previous menu serving."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.config import DATA_DIR, MenuFileError, MenuStore, load_menu, load_prompts


def _copy(tmp_path: Path) -> Path:
    for f in DATA_DIR.glob("*.toml"):
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    st = path.stat()
    os.utime(path, (st.st_atime, st.st_mtime + 5))  # a new mtime even within the same clock tick


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('key = "2"', 'key = "1"', r"options\[1\]\.key: duplicate key 1"),
        ('action = "complaint"', 'action = "teleport"', r"options\[1\]\.action: unknown action 'teleport'"),
        ('queue = "complaints"', 'queue = "nowhere"', r"options\[1\]\.queue: unknown queue 'nowhere'"),
        ('greeting = "service-welcome"', 'greeting = "no-such"', r"greeting: unknown prompt 'no-such'"),
        ("min_length = 12", "min_length = 13", r"collect\.waybill\.min_length: 13 is more than max_length 12"),
        ('open = "08:00"', 'open = "8 o\'clock"', r"hours\.open: .* is not HH:MM"),
        ("retries = 3", 'retries = "3"', r"retries: must be int, got str"),
        ("retries = 3", "retries = 3\ncolour = 1", r"colour: unknown key"),
        ('hotline = "service"', 'hotline = "service', r"not valid TOML"),
        ("[collect.phone]", "[collect.fax]", r"collect\.fax: unknown collection"),
    ],
)
def test_broken_menu_file_names_file_and_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    menus = _copy(tmp_path)
    _edit(menus / "service.toml", old, new)
    with pytest.raises(MenuFileError, match=message) as err:
        load_menu(menus / "service.toml", load_prompts(menus / "prompts.toml"))
    assert str(menus / "service.toml") in str(err.value)


def test_action_without_its_section_is_refused(tmp_path: Path) -> None:
    menus = _copy(tmp_path)
    text = (menus / "claims.toml").read_text(encoding="utf-8")
    start = text.index("[collect.claim]")
    (menus / "claims.toml").write_text(text[:start] + text[text.index("[recording]"):], encoding="utf-8")
    with pytest.raises(MenuFileError, match=r"claim_status \(key 2\) needs a \[collect.claim\] section"):
        load_menu(menus / "claims.toml", load_prompts(menus / "prompts.toml"))


def test_broken_file_keeps_the_old_menu_serving(tmp_path: Path) -> None:
    menus = _copy(tmp_path)
    store = MenuStore(menus)
    old = store.get("service")
    assert old is not None and old.option("3") is not None
    _edit(menus / "service.toml", 'action = "tracking"', 'action = "bogus"')
    assert store.get("service") is old
    assert "unknown action 'bogus'" in store.errors[str(menus / "service.toml")]
    _edit(menus / "service.toml", 'action = "bogus"', 'action = "tracking"')
    _edit(menus / "service.toml", 'label_en = "Agent"', 'label_en = "Operator"')
    fixed = store.get("service")
    assert fixed is not old and fixed is not None and fixed.option("0").label_en == "Operator"  # type: ignore[union-attr]
    assert store.errors == {}


def test_a_broken_menu_at_start_is_an_error(tmp_path: Path) -> None:
    menus = _copy(tmp_path)
    _edit(menus / "claims.toml", 'agent_queue = "claims"', 'agent_queue = "x"')
    with pytest.raises(MenuFileError, match="agent_queue: unknown queue 'x'"):
        MenuStore(menus)


def test_prompt_files_need_every_prompt_in_every_language(tmp_path: Path) -> None:
    menus = _copy(tmp_path)
    _edit(menus / "prompts.toml", 'goodbye = "Thank you for calling. Goodbye."', "")
    with pytest.raises(MenuFileError, match="prompt 'goodbye' is not in every language"):
        load_prompts(menus / "prompts.toml")


def test_hours_and_holidays() -> None:
    store = MenuStore()
    hours = store.get("claims").hours  # type: ignore[union-attr]
    assert hours is not None
    assert hours.is_open(datetime(2026, 11, 30, 2, 0, tzinfo=UTC))  # Mon 10:00 CST
    assert not hours.is_open(datetime(2026, 11, 30, 10, 0, tzinfo=UTC))  # Mon 18:00 CST: closes at 18:00
    assert not hours.is_open(datetime(2026, 11, 29, 2, 0, tzinfo=UTC))  # Sunday
    assert not hours.is_open(datetime(2026, 10, 1, 2, 0, tzinfo=UTC))  # National Day, a Thursday

