from __future__ import annotations

import dataclasses

import pytest

from ivr.menus import CLAIMS, SERVICE, MenuError, menu_for, validate


def test_service_menu_matches_the_dialplan() -> None:
    assert SERVICE.number == "4008001"
    assert [(c.key, c.queue) for c in SERVICE.choices] == [
        ("1", "service"), ("2", "complaints"), ("3", "service"), ("0", "service")]
    assert CLAIMS.number == "4008002" and CLAIMS.timeout_queue == "claims"


def test_describe_labels_keys_and_stops_at_data() -> None:
    assert SERVICE.describe("91800012345678") == ["无效按键 9", "运单查询"]
    assert SERVICE.describe("2", "en") == ["Complaint"]
    assert CLAIMS.describe("") == ["未按键，转人工"]
    assert menu_for("claims") is CLAIMS and menu_for(None) is None


def test_validate_rejects_bad_menus() -> None:
    dup = dataclasses.replace(SERVICE, choices=SERVICE.choices + (SERVICE.choices[0],))
    with pytest.raises(MenuError, match="duplicate"):
        validate(dup)
    bad_queue = dataclasses.replace(CLAIMS, timeout_queue="nowhere")
    with pytest.raises(MenuError, match="unknown queue"):
        validate(bad_queue)
