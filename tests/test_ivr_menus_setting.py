"""One menu folder for the whole site (#18, one truth for menus): the setting `ivr_menus` is what `hotline ivr
serve` / `asterisk-config` run without --menus and what the console's pops label keys from, so an admin's
folder reaches both; a broken folder stops the console with one clear error."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from agent_console.app import dispatcher
from cases.db import Database
from hotline_cli.config import Settings
from hotline_cli.site import console_site
from hotline_cli.startup import StartupError
from ivr.config import DATA_DIR
from telephony.events import EventBus
from telephony.pbxlink import CombinedLive
from tests.test_roles import EXE


def _site_menus(tmp_path: Path) -> Path:
    folder = tmp_path / "menus"
    folder.mkdir()
    for f in DATA_DIR.glob("*.toml"):
        shutil.copy(f, folder / f.name)
    text = (folder / "service.toml").read_text(encoding="utf-8")
    assert 'label_zh = "更改收货人电话"' in text
    (folder / "service.toml").write_text(text.replace('label_zh = "更改收货人电话"', 'label_zh = "更改收货人或电话"'),
                                         encoding="utf-8")
    return folder


def test_the_consoles_pops_read_the_configured_menu_folder(tmp_path: Path) -> None:
    folder = _site_menus(tmp_path)
    db = Database(f"sqlite:///{tmp_path / 'h.db'}")
    db.migrate()
    settings = dataclasses.replace(Settings(), data_dir=tmp_path / "data", recordings_dir=tmp_path / "rec",
                                   ivr_menus=str(folder), web_server="werkzeug")
    site = console_site(settings, db, EventBus(), CombinedLive([]), demo=False, close=db.dispose)
    menu = dispatcher(site.app)._pops.menus.get("service")
    assert menu is not None and menu.option("3") is not None
    assert menu.option("3").label_zh == "更改收货人或电话"  # type: ignore[union-attr]
    default = console_site(dataclasses.replace(settings, ivr_menus=""), db, EventBus(), CombinedLive([]),
                           demo=False, close=db.dispose)
    shipped = dispatcher(default.app)._pops.menus.get("service")
    assert shipped is not None and shipped.option("3").label_zh == "更改收货人电话"  # type: ignore[union-attr]
    db.dispose()


def test_a_broken_menu_folder_stops_the_console_with_one_error(tmp_path: Path) -> None:
    folder = _site_menus(tmp_path)
    (folder / "service.toml").write_text("[menu\n", encoding="utf-8")
    db = Database(f"sqlite:///{tmp_path / 'h.db'}")
    db.migrate()
    settings = dataclasses.replace(Settings(), data_dir=tmp_path / "data", recordings_dir=tmp_path / "rec",
                                   ivr_menus=str(folder))
    with pytest.raises(StartupError, match="ivr_menus"):
        console_site(settings, db, EventBus(), CombinedLive([]), demo=False, close=db.dispose)
    db.dispose()


def test_the_ivr_commands_run_the_configured_menu_folder(tmp_path: Path) -> None:
    folder = _site_menus(tmp_path)
    text = (folder / "service.toml").read_text(encoding="utf-8")
    (folder / "service.toml").write_text(text.replace('number = "4008001"', 'number = "4008009"', 1),
                                         encoding="utf-8")
    env = {"HOTLINE_IVR_MENUS": str(folder), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([*EXE, "asterisk-config", "--section", "extensions"], cwd=tmp_path, env=env, text=True,
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "4008009" in out.stdout and "4008001" not in out.stdout, out.stdout[:2000]
    shipped = subprocess.run([*EXE, "asterisk-config", "--section", "extensions"], cwd=tmp_path,
                             env={"PATH": "/usr/bin:/bin"}, text=True, capture_output=True, timeout=60)
    assert shipped.returncode == 0 and "4008001" in shipped.stdout and "4008009" not in shipped.stdout
