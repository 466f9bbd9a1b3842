"""Pages (agent, supervisor, case, recording) and the JSON API. Thin: the work is in `data`."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue

from agent_console import data
from agent_console.auth import current_user, login_required, supervisor_required
from agent_console.context import console
from agent_console.i18n import current_language, translate
from cases.errors import CaseNotFound, DatabaseUnavailable, InvalidInput
from cases.vocab import CaseKind, Department

log = logging.getLogger(__name__)

pages = Blueprint("pages", __name__)
api = Blueprint("api", __name__, url_prefix="/api")


@pages.get("/")
def index() -> ResponseReturnValue:
    user = current_user()
    return redirect(user.home() if user else url_for("auth.login"))


@pages.get("/agent")
@login_required
def agent() -> ResponseReturnValue:
    return render_template("agent.html", kinds=[k.value for k in CaseKind], departments=[d.value for d in Department])


@pages.get("/supervisor")
@supervisor_required
def supervisor() -> ResponseReturnValue:
    return render_template("supervisor.html")


@pages.get("/cases/<int:case_id>")
@login_required
def case_page(case_id: int) -> ResponseReturnValue:
    try:
        case = data.get_case(console().db, case_id)
    except CaseNotFound:
        abort(404)
    return render_template("case.html", case=case)


@pages.get("/recordings/<linkedid>")
@login_required
def recording(linkedid: str) -> ResponseReturnValue:
    ctx = console()
    try:
        path = data.recording_file(ctx.db, linkedid, ctx.config.recordings_dir)
    except data.RecordingUnavailable as exc:
        log.info("recording %s not served: %s", linkedid, exc)
        abort(404)
    return send_file(path, mimetype="audio/wav", conditional=True, download_name=f"{linkedid}.wav")


@pages.get("/status")
def status() -> ResponseReturnValue:
    ctx = console()
    db_ok, db_error = data.status(ctx.db)
    body: dict[str, Any] = {"ok": db_ok, "db": {"reachable": db_ok, "error": db_error}}
    try:
        body["live_calls"] = ctx.live.snapshot().live_calls
    except Exception as exc:  # the health view must answer whatever telephony does
        log.warning("status: live view failed: %s", exc)
        body["live_calls"] = None
        body["ok"] = False
    body["console_calls_tracked"] = len(ctx.calls)
    if ctx.status_provider is not None:
        try:
            body.update(ctx.status_provider())
        except Exception as exc:
            log.warning("status provider failed: %s", exc)
            body["provider_error"] = str(exc)
    return body, 200 if body["ok"] else 503


@api.post("/cases")
@login_required
def create_case() -> ResponseReturnValue:
    user = current_user()
    assert user is not None  # login_required
    lang = current_language()
    try:
        case = data.create_case(console().db, request.get_json(silent=True), user.username)
    except data.BadCaseRequest as exc:
        return {"error": "invalid_case", "message": translate(lang, exc.key), "detail": str(exc)}, 400
    except InvalidInput as exc:
        return {
            "error": "invalid_case",
            "message": translate(lang, "case.err.invalid"),
            "detail": str(exc),
        }, 400
    except DatabaseUnavailable as exc:
        log.error("case not saved: %s", exc)
        return {"error": "database_unavailable", "message": str(exc)}, 503
    return {
        "id": case.id,
        "number": case.number,
        "kind": str(case.kind),
        "status": str(case.status),
        "url": url_for("pages.case_page", case_id=case.id),
    }, 201
