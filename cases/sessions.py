"""Server-side console sessions (table `console_sessions`, migration 0010).

The console's signed cookie carries only a random token; the database keeps its SHA-256 (`session_key`)
with the user and when the session was last used. A session is valid while its row exists, its user
is active and it has not been idle too long; logout ends one session, and a new password, a new
role or a disabled account end all of the user's (`cases.accounts.set_password`, `set_role`,
`set_active`). Like the rest of `cases`, these functions flush but never commit.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, delete, select, update
from sqlalchemy.orm import Session

from cases.models.accounts import ConsoleSession, User
from cases.models.base import utcnow
from cases.views import SessionView, UserView
from cases.vocab import Department, Role

log = logging.getLogger(__name__)

TOKEN_BYTES = 32


def _affected(result: Result[Any]) -> int:
    """Rows a DELETE or UPDATE touched (its result is a CursorResult)."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)


def session_key(token: str) -> str:
    """What is stored for a cookie's token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(s: Session, user_id: int, *, now: datetime | None = None) -> str:
    """A new session of the user; the token for the cookie (never stored, never logged)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    at = now or utcnow()
    s.add(ConsoleSession(id=session_key(token), user_id=user_id, created_at=at, last_seen_at=at))
    s.flush()
    return token


def find_session(s: Session, token: str) -> SessionView | None:
    """The session of this cookie token with its user as stored now; None if it was ended or the
    user is disabled. Reads only (the idle check is the caller's: it knows the timeout)."""
    if not token:
        return None
    row = s.execute(
        select(ConsoleSession.id, ConsoleSession.last_seen_at, User)
        .join(User, User.id == ConsoleSession.user_id)
        .where(ConsoleSession.id == session_key(token))
    ).one_or_none()
    if row is None or not row.User.active:
        return None
    user: User = row.User
    view = UserView(id=user.id, username=user.username, display_name=user.display_name, role=Role(user.role),
                    active=user.active, branch=user.branch,
                    department=Department(user.department) if user.department else None)
    return SessionView(key=row.id, user=view, last_seen_at=row.last_seen_at)


def touch_session(s: Session, key: str, *, now: datetime | None = None) -> None:
    """Mark the session used now (the idle timeout counts from here)."""
    s.execute(update(ConsoleSession).where(ConsoleSession.id == key).values(last_seen_at=now or utcnow()))


def end_session(s: Session, key: str) -> bool:
    """End one session (logout, idle); True if it was there."""
    return _affected(s.execute(delete(ConsoleSession).where(ConsoleSession.id == key))) > 0


def end_user_sessions(s: Session, user_id: int) -> int:
    """End every session of the user (new password, new role, disabled); how many were ended."""
    ended = _affected(s.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id)))
    if ended:
        log.info("%d console session(s) of user id %d ended", ended, user_id)
    return ended


def drop_idle_sessions(s: Session, idle_since: datetime) -> int:
    """Delete sessions unused since `idle_since` (they would be refused anyway); how many."""
    return _affected(s.execute(delete(ConsoleSession).where(ConsoleSession.last_seen_at < idle_since)))


def live_session_keys(s: Session, keys: Iterable[str], idle_since: datetime) -> set[str]:
    """Of these session keys, those still valid: row present, user active, used since `idle_since`."""
    wanted = list(set(keys))
    if not wanted:
        return set()
    found = s.scalars(
        select(ConsoleSession.id)
        .join(User, User.id == ConsoleSession.user_id)
        .where(ConsoleSession.id.in_(wanted), User.active.is_(True), ConsoleSession.last_seen_at >= idle_since)
    )
    return set(found)
