"""Password hashing: argon2id for new passwords; older scrypt hashes still verify (and are re-hashed
at the next good login, `cases.accounts.check_login`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

log = logging.getLogger(__name__)

# New passwords: argon2id with OWASP's 19 MiB profile (m=19456 KiB, t=2, p=1) rather than argon2-cffi's
# defaults (RFC 9106's low-memory profile, m=64 MiB, t=3, p=4). One check then holds ARGON2_MEMORY_KIB of
# memory for ~40 ms of one core (2-core test machine; the defaults took ~150 ms and 64 MiB), and the
# console runs at most `login_concurrency` checks at once (agent_console.password_checks), so wrong
# logins can add at most login_concurrency x 19 MiB to a web process (issue #16, finding 3;
# benchmarks/login_memory.py). Hashes made with other parameters, or before argon2
# ('scrypt$n$r$p$salt$hash'), still verify and are re-hashed with these at the next good login.
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1
_ARGON2 = PasswordHasher(time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM)

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 32
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=_SCRYPT_MAXMEM)


def hash_password(password: str) -> str:
    """An argon2id hash ('$argon2id$v=19$m=…,t=…,p=…$salt$hash') with a random salt."""
    return _ARGON2.hash(password)


def scrypt_hash(password: str) -> str:
    """The former scheme, 'scrypt$n$r$p$salt$hash' (base64), kept to verify (and test) older hashes."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(digest_b64, validate=True)
        actual = _scrypt(password, salt, int(n), int(r), int(p), len(expected))
    except (ValueError, TypeError):
        log.warning("unreadable password hash")
        return False
    return hmac.compare_digest(actual, expected)


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of `password` against an argon2 hash or an older scrypt hash."""
    if stored.startswith("$argon2"):
        try:
            return _ARGON2.verify(stored, password)
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError):
            log.warning("unreadable password hash")
            return False
    return _verify_scrypt(password, stored)


def password_needs_rehash(stored: str) -> bool:
    """True for hashes not made by today's `hash_password` (scrypt, or argon2 with older parameters)."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _ARGON2.check_needs_rehash(stored)
    except InvalidHashError:
        return True


DUMMY_HASH = _ARGON2.hash("not a password of anyone")

