"""The shipped menu files: the one truth of the hotlines' menus (the IVR runs them, the console's pops
label a caller's keys from them; ivr/menus.py, a hard-coded copy, is gone)."""

from __future__ import annotations

from ivr.config import MenuStore


def test_service_menu_matches_the_dialplan() -> None:
    store = MenuStore()
    service, claims = store.get("service"), store.get("claims")
    assert service is not None and claims is not None
    assert service.number == "4008001"
    assert [(o.key, o.queue) for o in service.options] == [
        ("1", "service"), ("2", "complaints"), ("3", "service"), ("0", "service")]
    assert claims.number == "4008002" and claims.agent_queue == "claims"
