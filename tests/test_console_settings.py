"""Supervisor phones and pause reasons in the settings file: read, defaulted, and refused with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_console.config import DEFAULT_PAUSE_REASONS, WRAP_UP_REASON
from hotline_cli.config import ConfigError, load_settings
from hotline_cli.site import console_config

GOOD = """
secret_key = "k"
[supervisor_phones]
supervisor = "SIP/sup9000"
lead2 = "PJSIP/9002"

[[pause_reasons]]
code = "break"
zh = "小休"
en = "Short break"

[[pause_reasons]]
code = "coaching"
zh = "辅导"
en = "Coaching"
"""


def write(tmp_path: Path, text: str) -> Path:
    cfg = tmp_path / "hotline.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def test_supervisor_phones_and_pause_reasons_reach_the_console(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD), environ={})
    config = console_config(settings, demo=False)
    assert config.supervisor_phone("supervisor") == "SIP/sup9000"
    assert config.supervisor_phone("lead2") == "PJSIP/9002"
    assert config.supervisor_phone("other") == "SIP/other"  # not listed: SIP/<username>
    assert [(r.code, r.label_zh, r.label_en) for r in config.pause_reasons] == [
        ("break", "小休", "Short break"), ("coaching", "辅导", "Coaching"), ("wrap-up", "后处理", "Wrap-up")]
    assert config.pause_reason("coaching") is not None and config.pause_reason("meal") is None


def test_without_the_keys_the_defaults_apply(tmp_path: Path) -> None:
    config = console_config(load_settings(write(tmp_path, 'secret_key = "k"\n'), environ={}), demo=False)
    assert config.pause_reasons == DEFAULT_PAUSE_REASONS
    assert dict(config.supervisor_phones) == {}
    assert {r.code for r in config.pause_reasons} >= {"break", "meal", "training", "meeting", WRAP_UP_REASON}


def test_wrap_up_labels_may_be_configured(tmp_path: Path) -> None:
    text = '[[pause_reasons]]\ncode = "wrap-up"\nzh = "话后整理"\nen = "After-call work"\n'
    reasons = load_settings(write(tmp_path, text), environ={}).pause_reasons
    assert [(r.code, r.label_zh) for r in reasons] == [("wrap-up", "话后整理")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('supervisor_phones = "SIP/1"\n', "supervisor_phones must be a table"),
        ('[supervisor_phones]\nsupervisor = "sup9000"\n', r"supervisor_phones.supervisor: 'sup9000' is not a phone"),
        ("[supervisor_phones]\nsupervisor = 9000\n", "supervisor_phones.supervisor: 9000 is not a phone"),
        ('[supervisor_phones]\n"bad user" = "SIP/1"\n', "'bad user' is not a username"),
        ('[supervisor_phones]\nsupervisor = "SIP/1&SIP/2"\n', "is not a phone interface"),
        ('pause_reasons = ["break"]\n', "pause_reasons must be a non-empty array of tables"),
        ("pause_reasons = []\n", "pause_reasons must be a non-empty array of tables"),
        ('[[pause_reasons]]\ncode = "break"\nzh = "小休"\n', r"pause_reasons\[0\].en: None must be a label"),
        ('[[pause_reasons]]\ncode = "a b"\nzh = "x"\nen = "x"\n', r"pause_reasons\[0\].code: 'a b' is not a reason"),
        ('[[pause_reasons]]\nzh = "x"\nen = "x"\n', r"pause_reasons\[0\].code: None is not a reason code"),
        ('[[pause_reasons]]\ncode = "x"\nzh = " "\nen = "x"\n', r"pause_reasons\[0\].zh: ' ' must be a label"),
        ('[[pause_reasons]]\ncode = "x"\nzh = "x"\nen = "x"\ncolour = 1\n', r"pause_reasons\]\] keys: colour"),
        ('[[pause_reasons]]\ncode = "x"\nzh = "x"\nen = "x"\n[[pause_reasons]]\ncode = "x"\nzh = "y"\nen = "y"\n',
         "pause reason code 'x' appears twice"),
    ],
)
def test_bad_console_settings_are_refused_with_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text), environ={})


def test_bad_pause_reasons_stop_the_cli_with_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    cfg = write(tmp_path, '[[pause_reasons]]\ncode = "break"\nzh = "小休"\n')
    res = subprocess.run([sys.executable, "-m", "hotline_cli.main", "--config", str(cfg), "db"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "hotline db: error: settings file: pause_reasons[0].en: None must be a label of 1-40 characters"]
    assert not (tmp_path / "var").exists()  # nothing created


def test_reminder_lead_repeat_and_check_interval_reach_the_console(tmp_path: Path) -> None:
    text = 'secret_key = "k"\n[reminders]\nlead_minutes = 240\nrepeat_minutes = 30\ncheck_seconds = 60\n'
    config = console_config(load_settings(write(tmp_path, text), environ={}), demo=False)
    assert (config.reminder_lead_s, config.reminder_repeat_s, config.reminder_interval_s) == (14400, 1800, 60)
    default = console_config(load_settings(write(tmp_path, 'secret_key = "k"\n'), environ={}), demo=False)
    assert (default.reminder_lead_s, default.reminder_repeat_s, default.reminder_interval_s) == (7200, 0, 30)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("reminders = 5\n", r"reminders must be a table \(\[reminders\] lead_minutes = 120\)"),
        ("[reminders]\nlead = 5\n", r"unknown \[reminders\] keys: lead \(known: lead_minutes, repeat_minutes"),
        ("[reminders]\nlead_minutes = 0\n", r"reminders.lead_minutes: 0 is not a number from 1 to 43200 \(minutes"),
        ('[reminders]\nlead_minutes = "2h"\n', r"reminders.lead_minutes: '2h' is not a number from 1 to 43200"),
        ("[reminders]\nrepeat_minutes = -5\n", r"reminders.repeat_minutes: -5 is not a number from 0 to 1440"),
        ("[reminders]\nrepeat_minutes = true\n", r"reminders.repeat_minutes: True is not a number"),
        ("[reminders]\ncheck_seconds = 1\n", r"reminders.check_seconds: 1 is not a number from 5 to 3600"),
        ("[reminders]\nrepeat_minutes = 1\ncheck_seconds = 120\n",
         r"reminders.repeat_minutes: 1 minutes is shorter than check_seconds \(120 s\)"),
    ],
)
def test_bad_reminder_settings_are_refused_with_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text), environ={})


def test_pjsip_agents_and_supervisors(tmp_path: Path) -> None:
    """A PJSIP site (Asterisk 21 and later have no chan_sip): agent_interface names the queue member
    interface the console and the wrap-up keeper pause; supervisors not listed ring on the same technology."""
    default = console_config(load_settings(None, environ={}), demo=True)
    assert (default.interface_of("agent1001"), default.supervisor_phone("supervisor")) == ("SIP/agent1001",
                                                                                         "SIP/supervisor")
    settings = load_settings(None, environ={"HOTLINE_AGENT_INTERFACE": "PJSIP/{agent}"})
    config = console_config(settings, demo=True)
    assert config.interface_of("agent1001") == "PJSIP/agent1001"
    assert config.supervisor_phone("supervisor") == "PJSIP/supervisor"
    cfg = tmp_path / "hotline.toml"
    for bad in ('"PJSIP/agent1001"', '"{agent}"', '"PJSIP/{agent}{agent}"', '"PJSIP/{agent} x"', '"SIP/{user}"'):
        cfg.write_text(f"agent_interface = {bad}\n")
        with pytest.raises(ConfigError, match="agent_interface"):
            load_settings(cfg, environ={})
