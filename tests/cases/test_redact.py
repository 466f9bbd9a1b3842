"""cases.redact.masked: what of a URL or a setting may be logged (issue #16, finding 4); the processes'
logs themselves are checked in tests/test_secrets_not_logged.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from cases.db import Database
from cases.errors import DatabaseUnavailable
from cases.redact import masked
from hotline_cli.config import ConfigError, load_settings


@pytest.mark.parametrize(("shown", "expected"), [
    ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
    ("redis://hotline:pw@host", "redis://hotline:***@host"),
    ("rediss://:p%40ss@redis.example:6380/1", "rediss://:***@redis.example:6380/1"),
    ("postgresql+psycopg://user:pw@h/db", "postgresql+psycopg://user:***@h/db"),
    ("postgresql://u:pw@h/db?sslmode=require&password=pw2", "postgresql://u:***@h/db?sslmode=require&password=***"),
    ("postgresql://u:p@ss/w@h:5432/db", "postgresql://u:***@h:5432/db"),  # unescaped '@' and '/' in it
    ("https://tms.example/api?token=abc&x=1", "https://tms.example/api?token=***&x=1"),
    ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),  # nothing to hide
    ("sqlite:///var/hotline.db", "sqlite:///var/hotline.db"),
    ("sqlite:////srv/a@b/hotline.db", "sqlite:////srv/a@b/hotline.db"),
    ("hotline-transcription", "hotline-transcription"),
])
def test_urls_lose_their_passwords_and_keep_the_rest(shown: str, expected: str) -> None:
    assert masked(shown) == expected


def test_settings_named_as_secrets_are_hidden_whatever_they_hold() -> None:
    assert masked("Ami-Secret", "ami.secret") == masked("k", "secret_key") == masked("t", "metrics_token") == "***"
    assert masked("", "metrics_token") == ""  # an empty secret: nothing set, nothing to hide
    assert masked("4008001", "key_account_callers") == "4008001"  # "key" not the last word: no secret
    assert masked("redis://:pw@h", "redis_url") == "redis://:***@h"


def test_the_database_never_shows_its_password(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/cases.db")
    assert db.display_url == f"sqlite:///{tmp_path}/cases.db"
    db.dispose()
    with pytest.raises(DatabaseUnavailable) as bad:
        Database("postgresql+psycopg://u:Db-Pw-1@h:notaport/db")
    assert "Db-Pw-1" not in str(bad.value) and "u:***@h" in str(bad.value)


def test_a_bad_secret_setting_is_named_not_shown(tmp_path: Path) -> None:
    path = tmp_path / "hotline.toml"
    path.write_text('[shipments]\nsource = "http"\nbase_url = "https://tms"\ntoken = 123456789\n')
    with pytest.raises(ConfigError) as bad:
        load_settings(path, environ={})
    assert "123456789" not in str(bad.value) and "***" in str(bad.value)
