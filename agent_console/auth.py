"""Login, logout and the role checks of the console. The session is kept on the server
(agent_console.sessions); Flask's signed cookie carries only its token, the language and the CSRF token."""

from __future__ import annotations

import functools
import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from agent_console import data, sessions
from agent_console.context import console
from agent_console.i18n import current_language, translate
from agent_console.login_limiter import retry_after
from agent_console.password_checks import LoginBusy
from agent_console.security import allowed
from cases.errors import DatabaseUnavailable
from cases.views import UserView

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

P = ParamSpec("P")
R = TypeVar("R")

SUPERVISOR_ROLES = frozenset({"supervisor", "admin"})


@dataclass(frozen=True, slots=True)
class SessionUser:
    username: str  # for agents this is also the PBX peer name (agent1001)
    display_name: str
    role: str
    branch: str = ""  # role branch: the branch or market area the user belongs to
    department: str = ""  # role branch: the department whose referrals the user answers (default branch)

    @property
    def is_supervisor(self) -> bool:
        return self.role in SUPERVISOR_ROLES

    def can(self, capability: str) -> bool:
        return allowed(self.role, capability)

    def home(self) -> str:
        if self.can("wallboard"):
            return url_for("pages.supervisor")
        if self.can("agent_console"):
            return url_for("pages.agent")
        work = {"claims": "claims.claims", "inspector": "inspections.inspections",
                "branch": "branch.branch"}.get(self.role)
        return url_for(work) if work else url_for("pages.cases_list")


def current_user() -> SessionUser | None:
    """The user of this request's session, as stored now; None when logged out, ended or idle too
    long (agent_console.sessions). 503 when the database cannot say."""
    ctx = console()
    try:
        found = sessions.current(ctx.db, ctx.sessions)
    except DatabaseUnavailable as exc:
        log.error("console session not checked: %s", exc)
        abort(503)
    if found is None:
        return None
    u = found.user
    return SessionUser(username=u.username, display_name=u.display_name, role=str(u.role), branch=u.branch,
                       department=u.department.value if u.department else ("branch" if u.role == "branch" else ""))


def optional_user() -> SessionUser | None:
    """current_user(), or None when the database cannot say (page chrome, error pages)."""
    try:
        return current_user()
    except HTTPException:
        return None


def login_required(view: Callable[P, R]) -> Callable[P, R | ResponseReturnValue]:
    """Pages: redirect to the login page; JSON API (`/api/`): 401."""

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | ResponseReturnValue:
        if current_user() is None:
            if request.path.startswith("/api/"):
                abort(401)
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def requires(capability: str) -> Callable[[Callable[P, R]], Callable[P, R | ResponseReturnValue]]:
    """Logged in (pages redirect to the login, the JSON API answers 401) and with the capability
    (`security.CAPABILITIES`), else 403."""

    def decorate(view: Callable[P, R]) -> Callable[P, R | ResponseReturnValue]:
        @functools.wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | ResponseReturnValue:
            user = current_user()
            if user is None:
                if request.path.startswith("/api/"):
                    abort(401)
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not user.can(capability):
                log.info("%s (%s) refused %s %s", user.username, user.role, request.method, request.path)
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_capability = capability  # type: ignore[attr-defined]
        return wrapped

    return decorate


supervisor_required = requires("wallboard")


# what a browser drops from a URL before parsing it (tab, LF, CR) or reads as a slash (backslash), and
# any other control, format or space character: none belongs in a path we send the user to
_NEXT_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cs", "Cn"})
MAX_NEXT_CHARS = 2000


def safe_next(target: str | None) -> str | None:
    r"""`target` if it is a path on this site (`/cases/1?x=y`), else None (issue #16, finding 5): never
    `//host`, `/\host`, `http://…`, nor anything with a control character, whitespace or a backslash
    (browsers drop tabs and newlines, so `/\t/evil.example` would be read as `//evil.example`, and a
    newline in a Location header would be a 500)."""
    if not target or len(target) > MAX_NEXT_CHARS or not target.startswith("/"):
        return None
    if any(ch == "\\" or ch.isspace() or unicodedata.category(ch) in _NEXT_REFUSED_CATEGORIES for ch in target):
        return None
    if target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.get("/login")
def login() -> ResponseReturnValue:
    user = current_user()
    if user is not None:
        return redirect(user.home())
    return render_template("login.html", error=None, username="", next=request.args.get("next", ""))


@bp.post("/login")
def login_post() -> ResponseReturnValue:
    """Check a password (agent_console.login_limiter: too early -> 429 unchecked; agent_console.password_checks:
    no free slot -> 503), start a server-side session (agent_console.sessions), go to `next` if safe."""
    lang = current_language()
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    nxt = request.form.get("next", "")
    if not username or not password:
        message = translate(lang, "login.missing")
        return render_template("login.html", error=message, username=username, next=nxt), 401
    ctx = console()
    address = request.remote_addr or "-"
    wait = ctx.limiter.wait_s(username, address)
    if wait > 0:
        log.warning("console login of %s from %s refused: %.0f s too early after failures", username, address, wait)
        return _too_early(lang, username, nxt, wait)

    def check() -> tuple[float, UserView | None]:
        again = ctx.limiter.wait_s(username, address)  # again: failures recorded while this one waited
        return again, (None if again > 0 else data.authenticate(ctx.db, username, password))

    try:
        wait, found = ctx.password_checks.run(check)
    except LoginBusy:
        log.warning("console login of %s from %s refused: %d password checks already running", username, address,
                    ctx.password_checks.concurrent)
        message = translate(lang, "login.busy")
        page = render_template("login.html", error=message, username=username, next=nxt)
        return page, 503, {"Retry-After": retry_after(ctx.password_checks.wait_s + 1)}
    except DatabaseUnavailable as exc:
        log.error("login of %s impossible: %s", username, exc)
        abort(503)
    if wait > 0:
        return _too_early(lang, username, nxt, wait)
    if found is None or not found.active:
        wait = ctx.limiter.failed(username, address)
        log.info("console login refused for %s from %s (next attempt in %.0f s)", username, address, wait)
        message = translate(lang, "login.failed")
        return render_template("login.html", error=message, username=username, next=nxt), 401
    ctx.limiter.succeeded(username, address)
    session.clear()
    try:
        sessions.begin(ctx.db, found.id, ctx.sessions)
    except DatabaseUnavailable as exc:
        log.error("login of %s impossible: %s", username, exc)
        abort(503)
    session["lang"] = lang
    log.info("console login: %s (%s) from %s", found.username, found.role, address)
    user = SessionUser(username=found.username, display_name=found.display_name, role=str(found.role),
                       branch=found.branch, department=found.department.value if found.department else "")
    return redirect(safe_next(nxt) or user.home())


def _too_early(lang: str, username: str, nxt: str, wait: float) -> ResponseReturnValue:
    seconds = retry_after(wait)
    message = translate(lang, "login.wait").format(seconds=seconds)
    return render_template("login.html", error=message, username=username, next=nxt), 429, {"Retry-After": seconds}


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the session on the server (a kept copy of the cookie no longer works) and its live
    Socket.IO connections in this process (elsewhere: agent_console.socket_sessions' sweep)."""
    ctx = console()
    lang = session.get("lang")
    try:
        key = sessions.end(ctx.db)
    except DatabaseUnavailable as exc:
        key = None
        log.warning("logout: the stored session stays until its idle timeout: %s", exc)
    if key is not None:
        ctx.sockets.end(key)
    session.clear()
    if isinstance(lang, str):
        session["lang"] = lang
    return redirect(url_for("auth.login"))
