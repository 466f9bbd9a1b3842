"""The console's login sessions, kept on the server (issue #16, finding 6).

Flask's signed cookie carries only a random token (`session["sid"]`); `cases.sessions` keeps its
SHA-256 with the user. Every request and Socket.IO connect that asks who is logged in looks the token
up once (cached in `flask.g` for the rest of the request): a session that was ended (logout, a new
password, a new role, the account disabled) or idle longer than the idle timeout is logged out at
once, and the role and name are the ones stored now. The last use is written at most every
`touch_s` seconds, so most requests only read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import g, session

from cases import sessions as stored
from cases.db import Database
from cases.models.base import utcnow
from cases.views import SessionView

log = logging.getLogger(__name__)

SESSION_TOKEN = "sid"
_G_SESSION = "hotline_console_session"


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle_s: float  # a session unused this long is logged out

    @property
    def touch_s(self) -> float:
        """How stale the stored last use may get before a request writes it again."""
        return min(60.0, self.idle_s / 10)


def begin(db: Database, user_id: int, policy: SessionPolicy) -> str:
    """A new session for the user in the cookie (the caller cleared the old one); its key. Sessions
    idle past the timeout are deleted on the way."""
    with db.session() as s:
        stored.drop_idle_sessions(s, utcnow() - timedelta(seconds=policy.idle_s))
        token = stored.start_session(s, user_id)
    session[SESSION_TOKEN] = token
    g.pop(_G_SESSION, None)
    return stored.session_key(token)


def current(db: Database, policy: SessionPolicy) -> SessionView | None:
    """This request's valid session, looked up once per request; DatabaseUnavailable if the database
    cannot say (the request then counts as logged out)."""
    if _G_SESSION in g:
        found: SessionView | None = g.get(_G_SESSION)
        return found
    setattr(g, _G_SESSION, None)
    token = session.get(SESSION_TOKEN)
    if not isinstance(token, str) or not token:
        return None
    with db.reading() as s:
        found = stored.find_session(s, token)
    if found is None:
        return None
    now = utcnow()
    idle = (now - found.last_seen_at).total_seconds()
    if idle > policy.idle_s:
        with db.session() as s:
            stored.end_session(s, found.key)
        log.info("console session of %s ended: idle for %d s", found.user.username, idle)
        return None
    if idle >= policy.touch_s:
        with db.session() as s:
            stored.touch_session(s, found.key, now=now)
    setattr(g, _G_SESSION, found)
    return found


def current_key() -> str | None:
    """The key of the session in this request's cookie (valid or not)."""
    token = session.get(SESSION_TOKEN)
    return stored.session_key(token) if isinstance(token, str) and token else None


def end(db: Database) -> str | None:
    """End the session of this request's cookie in the database; its key (None without one)."""
    key = current_key()
    if key is not None:
        with db.session() as s:
            stored.end_session(s, key)
    g.pop(_G_SESSION, None)
    return key
