"""IVR actions are registered by name (ivr.actions) with one handler each (ivr.flow): the menu files may
use every registered action and no other; an action's own prompts must be in the prompt texts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ivr.actions import ACTIONS
from ivr.config import DATA_DIR, MenuFileError, load_menu, load_prompts
from ivr.flow import HANDLERS


def test_every_registered_action_has_one_handler() -> None:
    assert set(HANDLERS) == set(ACTIONS)
    assert HANDLERS["complaint"] is HANDLERS["new_claim"]  # one handler may serve several actions


def test_a_menu_using_an_action_whose_prompt_is_missing_is_refused(tmp_path: Path) -> None:
    for f in DATA_DIR.glob("*.toml"):
        shutil.copy(f, tmp_path / f.name)
    prompts = tmp_path / "prompts.toml"
    text = prompts.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("phone-confirm = ")]
    prompts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(MenuFileError, match=r"action change_phone \(key 3\) plays prompt 'phone-confirm'"):
        load_menu(tmp_path / "service.toml", load_prompts(prompts))
    load_menu(tmp_path / "claims.toml", load_prompts(prompts))  # no change_phone there
