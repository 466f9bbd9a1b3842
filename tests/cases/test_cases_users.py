"""Users: argon2id hashes (older scrypt hashes verify and are upgraded at login), authentication."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from cases.accounts import authenticate, create_user
from cases.db import Database
from cases.errors import InvalidUserInput, UserExists
from cases.models.accounts import User
from cases.passwords import password_needs_rehash, scrypt_hash, verify_password

PASSWORD = "correct horse 电池"


@pytest.fixture
def anna(db: Database) -> int:
    with db.session() as s:
        return create_user(s, "agent1001", PASSWORD, "agent", "安娜").id


def test_right_password_authenticates(db: Database, anna: int) -> None:
    with db.session() as s:
        user = authenticate(s, "agent1001", PASSWORD)
    assert user is not None
    assert (user.id, user.username, user.display_name, user.role, user.active) == (
        anna,
        "agent1001",
        "安娜",
        "agent",
        True,
    )


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("agent1001", "wrong password"),
        ("agent1001", ""),
        ("agent1001", PASSWORD.upper()),
        ("agent1001", PASSWORD + " "),
        ("agent1002", PASSWORD),  # no such user
        ("", PASSWORD),
    ],
)
def test_wrong_credentials_do_not_authenticate(db: Database, anna: int, username: str, password: str) -> None:
    with db.session() as s:
        assert authenticate(s, username, password) is None


def test_inactive_user_cannot_log_in(db: Database, anna: int) -> None:
    with db.session() as s:
        s.get_one(User, anna).active = False
    with db.session() as s:
        assert authenticate(s, "agent1001", PASSWORD) is None


def test_stored_hash_is_salted_argon2id_not_the_password(db: Database, anna: int) -> None:
    with db.session() as s:
        create_user(s, "agent1002", PASSWORD, "agent", "本")
        hashes = {name: h for name, h in s.execute(select(User.username, User.password_hash)).all()}
    first, second = hashes["agent1001"], hashes["agent1002"]
    assert PASSWORD not in first and PASSWORD.encode().hex() not in first
    _, scheme, version, params, salt, digest = first.split("$")
    assert (scheme, version) == ("argon2id", "v=19")
    # OWASP's 19 MiB profile (issue #16, finding 3: argon2-cffi's defaults took 64 MiB per check)
    assert dict(kv.split("=") for kv in params.split(",")) == {"m": "19456", "t": "2", "p": "1"}
    assert len(salt) >= 20 and len(digest) >= 40
    assert first != second  # random salt: same password, different hashes
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password("nope", first)
    assert not verify_password(PASSWORD, "garbage")
    assert not verify_password(PASSWORD, "$argon2id$v=19$garbage")
    assert not verify_password(PASSWORD, "md5$1$1$1$AAAA$AAAA")
    assert not password_needs_rehash(first)


def _store_scrypt_hash(db: Database, user_id: int, password: str) -> str:
    legacy = scrypt_hash(password)
    with db.session() as s:
        s.get_one(User, user_id).password_hash = legacy
    return legacy


def test_existing_scrypt_hash_verifies_and_is_rehashed_to_argon2_at_login(db: Database, anna: int) -> None:
    legacy = _store_scrypt_hash(db, anna, PASSWORD)
    assert legacy.startswith("scrypt$") and password_needs_rehash(legacy)
    with db.session() as s:
        user = authenticate(s, "agent1001", PASSWORD)
    assert user is not None and user.id == anna
    with db.session() as s:
        stored = s.get_one(User, anna).password_hash
    assert stored.startswith("$argon2id$") and not password_needs_rehash(stored)
    assert verify_password(PASSWORD, stored) and not verify_password("wrong password", stored)
    with db.session() as s:  # and the user logs in with the new hash as before
        assert authenticate(s, "agent1001", PASSWORD) is not None
        assert authenticate(s, "agent1001", "wrong password") is None


def test_wrong_password_against_a_scrypt_hash_changes_nothing(db: Database, anna: int) -> None:
    legacy = _store_scrypt_hash(db, anna, PASSWORD)
    with db.session() as s:
        assert authenticate(s, "agent1001", "wrong password") is None
    with db.session() as s:
        assert s.get_one(User, anna).password_hash == legacy


def test_argon2_hash_with_older_parameters_is_upgraded_at_login(db: Database, anna: int) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with db.session() as s:
        s.get_one(User, anna).password_hash = weak
    assert password_needs_rehash(weak)
    with db.session() as s:
        assert authenticate(s, "agent1001", PASSWORD) is not None
    with db.session() as s:
        stored = s.get_one(User, anna).password_hash
    assert stored != weak and not password_needs_rehash(stored)


def test_duplicate_username_is_refused(db: Database, anna: int) -> None:
    with db.session() as s, pytest.raises(UserExists, match="agent1001"):
        create_user(s, "agent1001", "another password", "supervisor", "重复")


@pytest.mark.parametrize(
    ("username", "password", "role", "message"),
    [
        ("has space", "long enough", "agent", "username"),
        ("", "long enough", "agent", "username"),
        ("agent9", "short", "agent", "at least 8"),
        ("agent9", "long enough", "boss", "unknown role 'boss'"),
    ],
)
def test_invalid_users_are_refused(db: Database, username: str, password: str, role: str, message: str) -> None:
    with db.session() as s:
        with pytest.raises(InvalidUserInput, match=message):
            create_user(s, username, password, role, "x")
        assert s.scalars(select(User)).all() == []
