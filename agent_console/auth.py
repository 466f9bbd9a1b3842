"""Login, logout and the role checks of the console. The session lives in Flask's signed cookie."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from agent_console import data
from agent_console.context import console
from agent_console.i18n import current_language, translate
from agent_console.security import allowed
from cases.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

P = ParamSpec("P")
R = TypeVar("R")

SUPERVISOR_ROLES = frozenset({"supervisor", "admin"})
_SESSION_USER = "user"


@dataclass(frozen=True, slots=True)
class SessionUser:
    username: str  # for agents this is also the PBX peer name (agent1001)
    display_name: str
    role: str
    branch: str = ""  # role branch: the branch or market area the user belongs to

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
        work = {"claims": "work.claims", "inspector": "work.inspections", "branch": "work.branch"}.get(self.role)
        return url_for(work) if work else url_for("pages.cases_list")


def current_user() -> SessionUser | None:
    raw = session.get(_SESSION_USER)
    if not isinstance(raw, dict):
        return None
    try:
        return SessionUser(username=str(raw["username"]), display_name=str(raw["name"]), role=str(raw["role"]),
                           branch=str(raw.get("branch", "")))
    except KeyError:
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


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths; never `//host` or `http://...`."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.get("/login")
def login() -> ResponseReturnValue:
    user = current_user()
    if user is not None:
        return redirect(user.home())
    return render_template("login.html", error=None, username="", next=request.args.get("next", ""))


@bp.post("/login")
def login_post() -> ResponseReturnValue:
    lang = current_language()
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    nxt = request.form.get("next", "")
    if not username or not password:
        message = translate(lang, "login.missing")
        return render_template("login.html", error=message, username=username, next=nxt), 401
    limiter = console().limiter
    ip = request.remote_addr or "-"
    locked = limiter.locked(username, ip)
    if locked is not None:
        log.warning("console login of %s from %s refused: locked out", username, ip)
        return _locked_out(lang, username, nxt, locked.minutes_left(time.time()))
    try:
        found = data.authenticate(console().db, username, password)
    except DatabaseUnavailable as exc:
        log.error("login of %s impossible: %s", username, exc)
        abort(503)
    if found is None or not found.active:
        log.info("console login refused for %s from %s", username, ip)
        lockout = limiter.failed(username, ip)
        if lockout is not None:
            log.warning("console login of %s from %s locked out after repeated failures", username, ip)
            return _locked_out(lang, username, nxt, lockout.minutes_left(time.time()))
        message = translate(lang, "login.failed")
        return render_template("login.html", error=message, username=username, next=nxt), 401
    limiter.succeeded(username, ip)
    session.clear()
    user = SessionUser(username=found.username, display_name=found.display_name, role=str(found.role),
                       branch=found.branch)
    session[_SESSION_USER] = {"username": user.username, "name": user.display_name, "role": user.role,
                              "branch": user.branch}
    session["lang"] = lang
    log.info("console login: %s (%s)", user.username, user.role)
    return redirect(_safe_next(nxt) or user.home())


def _locked_out(lang: str, username: str, nxt: str, minutes: int) -> ResponseReturnValue:
    message = translate(lang, "login.locked").format(minutes=minutes)
    return render_template("login.html", error=message, username=username, next=nxt), 429


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    lang = session.get("lang")
    session.clear()
    if isinstance(lang, str):
        session["lang"] = lang
    return redirect(url_for("auth.login"))
