"""The screen pop reads the menus the IVR runs: an admin's edit of a menu file (a key's label, its
action) changes the pop's labels and suggested case kind, as it changes what the IVR does."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from agent_console.calls import CallInfo
from agent_console.pop import build_screen_pop, ivr_choices, suggested_kind
from ivr.config import DATA_DIR, MenuStore
from telephony.events import AgentRinging

CALLER = "49305551001"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    st = path.stat()
    os.utime(path, (st.st_atime, st.st_mtime + 5))  # a new mtime even within the same clock tick


def test_an_edited_menu_changes_the_pops_labels_and_suggested_kind(tmp_path: Path) -> None:
    for f in DATA_DIR.glob("*.toml"):
        shutil.copy(f, tmp_path / f.name)
    store = MenuStore(tmp_path)
    ringing = AgentRinging("m.1", "agent1001", "service", CALLER, 1.0)
    info = CallInfo(linkedid="m.1", caller=CALLER, hotline="service", digits="3")
    before = build_screen_pop(ringing, info, None, menus=store)
    assert [(c.digit, c.label_zh, c.label_en) for c in before.ivr_choices] == [
        ("3", "更改收货人电话", "Change consignee phone")]
    assert before.suggested_kind == "inquiry"

    # key 3 becomes a complaint, with its own label: the IVR records a complaint, the pop says so
    _edit(tmp_path / "service.toml", 'action = "change_phone"', 'action = "complaint"')
    _edit(tmp_path / "service.toml", 'label_zh = "更改收货人电话"', 'label_zh = "物流服务投诉"')
    _edit(tmp_path / "service.toml", 'label_en = "Change consignee phone"', 'label_en = "Service complaint"')
    menu = store.get("service")
    assert menu is not None and menu.option("3") is not None and menu.option("3").action == "complaint"  # type: ignore[union-attr]
    after = build_screen_pop(ringing, info, None, menus=store)
    assert [(c.digit, c.label_zh, c.label_en) for c in after.ivr_choices] == [
        ("3", "物流服务投诉", "Service complaint")]
    assert after.suggested_kind == "complaint"

    # a key's action sets the kind, whatever the queue; the queue's kind for a plain transfer to an agent
    _edit(tmp_path / "service.toml", 'action = "tracking"', 'action = "new_claim"')
    assert suggested_kind("service", "1", store) == "claim"
    assert [c.label_zh for c in ivr_choices("service", "1", store)] == ["运单查询"]
    _edit(tmp_path / "service.toml", 'queue = "complaints"', 'queue = "claims"')
    assert suggested_kind("service", "2", store) == "complaint"
    _edit(tmp_path / "service.toml", 'key = "0"\naction = "agent"\nqueue = "service"',
          'key = "0"\naction = "agent"\nqueue = "complaints"')
    assert suggested_kind("service", "0", store) == "complaint"
    assert suggested_kind("service", "", store) == "inquiry"  # no key: the hotline's agent queue
