"""The follow-up reminder checker of a web process: every `ConsoleConfig.reminder_interval_s` it asks
`cases.reminders.due_reminders` (deadlines within `reminder_lead_s`) and pushes what changed over
Socket.IO, and again every `reminder_repeat_s` what nobody acknowledged (settings file: [reminders]):

- `reminder`         to `agent:<assignee>` and `supervisors`: a reminder that became due (Reminder.to_json)
- `reminder_cleared` to the same rooms: {key, reason: acknowledged|resolved, by}

Pages list the current reminders from `GET /api/reminders` and acknowledge with
`POST /api/reminders/ack` (assignee or supervisor; audited)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, current_app, request
from flask.typing import ResponseReturnValue
from flask_socketio import SocketIO
from sqlalchemy.exc import SQLAlchemyError

from agent_console.auth import SessionUser, current_user, requires
from agent_console.i18n import current_language, translate
from cases.claim_clock import ClaimDeadlines
from cases.db import Database
from cases.errors import CasesError, DatabaseUnavailable
from cases.reminders import Reminder, ReminderNotFound, acknowledge_reminder, due_reminders

log = logging.getLogger(__name__)

SUPERVISORS_ROOM = "supervisors"


def _rooms(reminder: Reminder) -> list[str]:
    rooms = [SUPERVISORS_ROOM]
    if reminder.assignee:
        rooms.append(f"agent:{reminder.assignee}")
    return rooms


class ReminderChecker:
    """Every `interval_s`: reminders whose deadline is within `lead_s` are pushed once, and again every
    `repeat_s` (at the first check after it) while nobody acknowledges them; 0 pushes them once."""

    def __init__(self, socketio: SocketIO, db: Database, interval_s: float, lead_s: float, repeat_s: float = 0.0,
                 *, clock: Callable[[], float] = time.monotonic, claim_deadlines: ClaimDeadlines | None = None) -> None:
        self._socketio = socketio
        self._db = db
        self._interval = interval_s
        self.lead = timedelta(seconds=lead_s)
        self.repeat_s = repeat_s
        self.claim_deadlines = claim_deadlines or ClaimDeadlines()  # overdue claims remind too
        self._clock = clock
        self._known: dict[str, Reminder] = {}
        self._pushed: dict[str, float] = {}  # key -> when it was last pushed (clock)
        self._lock = threading.Lock()  # one check at a time (timer thread and acknowledgements)
        self._stopped = threading.Event()
        self._task: Any = None

    def start(self) -> None:
        if self._task is None and self._interval > 0:
            self._task = self._socketio.start_background_task(self._loop)

    def stop(self) -> None:
        """Stop the timer and wait (a little) for a check in progress."""
        self._stopped.set()
        task, self._task = self._task, None
        if task is not None and hasattr(task, "join"):
            task.join(timeout=5)

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self.check()
            self._stopped.wait(self._interval)

    def current(self) -> tuple[Reminder, ...]:
        with self._db.reading() as s:
            return due_reminders(s, lead=self.lead, claim_deadlines=self.claim_deadlines)

    def check(self) -> list[Reminder]:
        """Ask the database; push new reminders and withdraw those no longer due. Returns the new ones."""
        with self._lock:
            try:
                due = {r.key: r for r in self.current()}
            except (CasesError, SQLAlchemyError) as exc:
                log.warning("follow-up reminders not checked: %s", exc)
                return []
            now = self._clock()
            new = [r for k, r in due.items() if k not in self._known]
            again = [r for k, r in due.items() if k in self._known and self.repeat_s > 0
                     and now - self._pushed.get(k, now) >= self.repeat_s]
            gone = [r for k, r in self._known.items() if k not in due]
            self._known = due
            pushed_now = {r.key for r in (*new, *again)}
            self._pushed = {k: now if k in pushed_now else self._pushed.get(k, now) for k in due}
        for r in gone:
            self._emit("reminder_cleared", {"key": r.key, "reason": "resolved", "by": None}, r)
        for r in new:
            log.info("follow-up reminder %s for %s", r.key, r.assignee or "-")
            self._emit("reminder", r.to_json(), r)
        for r in again:
            log.info("follow-up reminder %s for %s again (not acknowledged)", r.key, r.assignee or "-")
            self._emit("reminder", r.to_json(), r)
        return new

    def acknowledge(self, key: str, by: str) -> Reminder:
        """Audited acknowledgement (cases.reminders); everyone it was pushed to sees it cleared."""
        with self._db.session() as s:
            reminder = acknowledge_reminder(s, key, by=by, lead=self.lead, claim_deadlines=self.claim_deadlines)
        with self._lock:
            self._known.pop(key, None)
            self._pushed.pop(key, None)
        self._emit("reminder_cleared", {"key": key, "reason": "acknowledged", "by": by}, reminder)
        return reminder

    def _emit(self, name: str, payload: dict[str, object], reminder: Reminder) -> None:
        for room in _rooms(reminder):
            self._socketio.emit(name, payload, to=room)


# --- HTTP: the list and the acknowledgement ---------------------------------------------------------

REMINDERS_KEY = "hotline_reminders"

bp = Blueprint("reminders", __name__, url_prefix="/api")


def checker() -> ReminderChecker:
    found: ReminderChecker = current_app.extensions[REMINDERS_KEY]
    return found


def _mine(reminder: Reminder, user: SessionUser) -> bool:
    return user.can("wallboard") or reminder.assignee == user.username


@bp.get("/reminders")
@requires("read_cases")
def list_reminders() -> ResponseReturnValue:
    """Due reminders: a supervisor's are all of them, anyone else's those of the cases they work."""
    user = current_user()
    assert user is not None
    try:
        due = checker().current()
    except DatabaseUnavailable:
        abort(503)
    return {"reminders": [r.to_json() for r in due if _mine(r, user)]}


@bp.post("/reminders/ack")
@requires("write_cases")
def acknowledge() -> ResponseReturnValue:
    """{key}: acknowledge a due reminder of one's own case (supervisors: any); audited."""
    user = current_user()
    assert user is not None
    body = request.get_json(silent=True)
    key = body.get("key") if isinstance(body, dict) else None
    if not isinstance(key, str) or not key:
        return {"error": "reminder.err.key", "message": translate(current_language(), "reminder.err.key")}, 400
    try:
        due = {r.key: r for r in checker().current()}
        if key in due and not _mine(due[key], user):
            abort(403)
        reminder = checker().acknowledge(key, user.username)
    except ReminderNotFound:
        return {"error": "reminder.err.gone", "message": translate(current_language(), "reminder.err.gone")}, 404
    except DatabaseUnavailable:
        abort(503)
    return {"key": reminder.key, "acknowledged_by": user.username}, 200
