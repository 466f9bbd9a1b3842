"""The callbacks (回电) owed after a change request's decision, on the agent's page: pushed to the
requesting agent as `change_callback` the moment the decision is committed (Socket.IO room
`agent:<username>`; one for no one in particular, e.g. of a change the IVR took, to `supervisors`), listed by
`GET /api/change-callbacks` (an agent's own open ones and those of no one in particular; a supervisor's:
every open one) and marked done (已回电: the customer was told) by `POST /api/change-callbacks/<id>/done`
{note?}, by that agent (anyone for one of no one in particular) or a supervisor; audited
(cases.change_callbacks)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, current_app, request
from flask.typing import ResponseReturnValue

from agent_console.auth import requires
from agent_console.console_rooms import SUPERVISORS_ROOM, agent_room
from agent_console.context import console
from agent_console.desk_forms import label, signed_in_user
from agent_console.i18n import current_language, translate
from cases.change_callbacks import ChangeCallbackView, complete_callback, get_callback, list_callbacks
from cases.errors import ChangeCallbackNotFound, DatabaseUnavailable, InvalidInput

log = logging.getLogger(__name__)

bp = Blueprint("change_callbacks", __name__, url_prefix="/api")

EVENT = "change_callback"


def callback_json(c: ChangeCallbackView) -> dict[str, Any]:
    return {"id": c.id, "change_request_id": c.change_request_id, "case_id": c.case_id, "case_number": c.case_number,
            "waybill": c.waybill, "field": c.field.value, "field_label": label(c.field), "old_value": c.old_value,
            "new_value": c.new_value, "outcome": c.outcome.value, "outcome_label": label(c.outcome), "note": c.note,
            "agent": c.agent, "decided_by": c.decided_by, "created_at": c.created_at.isoformat(),
            "done": c.done, "done_by": c.done_by}


def push_callback(c: ChangeCallbackView) -> None:
    """Tell the requesting agent's open pages (best effort: the list is there on the next load anyway)."""
    socketio = current_app.extensions.get("socketio")
    if socketio is None:
        return
    try:
        socketio.emit(EVENT, callback_json(c), to=agent_room(c.agent) if c.agent else SUPERVISORS_ROOM)
    except Exception:  # a message queue away must not undo a committed decision
        log.exception("change callback %s not pushed to %s", c.id, c.agent)


def _t(key: str) -> str:
    return translate(current_language(), key)


@bp.get("/change-callbacks")
@requires("agent_console")
def mine() -> ResponseReturnValue:
    user = signed_in_user()
    try:
        with console().db.reading() as s:
            rows = list_callbacks(s, agent=None if user.can("wallboard") else user.username, with_unassigned=True,
                                  open_only=True)
    except DatabaseUnavailable:
        abort(503)
    return {"callbacks": [callback_json(c) for c in rows]}


@bp.post("/change-callbacks/<int:callback_id>/done")
@requires("agent_console")
def done(callback_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    body = request.get_json(silent=True)
    note = body.get("note", "") if isinstance(body, dict) else ""
    if not isinstance(note, str):
        return {"error": "case.err.json", "message": _t("case.err.json")}, 400
    try:
        with console().db.session() as s:
            found = get_callback(s, callback_id)
            if found.agent not in (user.username, "") and not user.can("wallboard"):
                abort(403)
            view = complete_callback(s, callback_id, note=note, by=user.username)
    except ChangeCallbackNotFound:
        abort(404)
    except InvalidInput as exc:
        return {"error": "change.err.callback_done", "message": _t("change.err.callback_done"), "detail": str(exc)}, 409
    except DatabaseUnavailable:
        abort(503)
    log.info("change callback %s done by %s", callback_id, user.username)
    return callback_json(view), 200
