"""The interpreter's switch interval: a setting, applied by `hotline serve` and `hotline demo`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline_cli.config import ConfigError, load_settings
from hotline_cli.process import apply_switch_interval


@pytest.fixture
def keep_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


def test_the_default_is_half_a_millisecond_and_serve_applies_it(tmp_path: Path, keep_interval: None) -> None:
    settings = load_settings(None, environ={})
    assert settings.switch_interval_ms == 0.5
    sys.setswitchinterval(0.005)  # Python's own
    apply_switch_interval(settings)
    assert sys.getswitchinterval() == pytest.approx(0.0005)


def test_the_file_and_the_environment_set_it(tmp_path: Path, keep_interval: None) -> None:
    cfg = tmp_path / "hotline.toml"
    cfg.write_text("switch_interval_ms = 2.5\n")
    assert load_settings(cfg, environ={}).switch_interval_ms == 2.5
    settings = load_settings(cfg, environ={"HOTLINE_SWITCH_INTERVAL_MS": "0.2"})
    assert settings.switch_interval_ms == 0.2
    apply_switch_interval(settings)
    assert sys.getswitchinterval() == pytest.approx(0.0002)


@pytest.mark.parametrize("value", ["0", "0.05", "101", '"fast"', "true"])
def test_a_bad_value_is_refused_with_the_key_and_its_range(tmp_path: Path, value: str) -> None:
    cfg = tmp_path / "hotline.toml"
    cfg.write_text(f"switch_interval_ms = {value}\n")
    with pytest.raises(ConfigError, match="switch_interval_ms"):
        load_settings(cfg, environ={})
