"""The changes desk (`/changes`): consignee changes (更改收货人/联系电话/收货地址) that agents requested,
by stage, approved or refused (with a reason) by a customer-service supervisor (客服主管) or an admin
(capability `changes_decide`); the same decisions as JSON under `/api/change-requests/<id>/<action>`.

Approval updates the shipment source: the transport-management system first when shipments come from
one (cases.shipment_updates). When it refuses or cannot be reached the approver is told why and nothing
changes: the request stays 待审批. Either decision gives the requesting agent a callback (回电), pushed
to its page as `change_callback` (agent_console.change_callbacks). Agents may request a change, never
decide one: 403 with a message saying who decides."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from agent_console.auth import SessionUser, requires
from agent_console.change_callbacks import callback_json, push_callback
from agent_console.context import console
from agent_console.desk_forms import FormError, Notice, done_notice, form_field, label, signed_in_user
from agent_console.i18n import current_language, translate
from agent_console.search import SHIPMENTS_KEY
from cases import changes as ch
from cases.change_callbacks import ChangeCallbackView, list_callbacks
from cases.changes import ChangeRequestView
from cases.errors import (
    ChangeRequestNotFound,
    DatabaseUnavailable,
    IllegalTransition,
    InvalidInput,
    ShipmentSourceError,
    ShipmentUpdateRefused,
)
from cases.shipment_sources import ShipmentSource
from cases.vocab import ChangeStage
from cases.workflow import CHANGE_REQUEST

log = logging.getLogger(__name__)

bp = Blueprint("changes", __name__)

DECIDE = "changes_decide"
REFUSED = (IllegalTransition, FormError, InvalidInput, ShipmentSourceError, DatabaseUnavailable)


def _t(key: str) -> str:
    return translate(current_language(), key)


def refusal(exc: Exception) -> tuple[str, int]:
    """The i18n key and HTTP status of a decision refused (nothing was changed)."""
    if isinstance(exc, IllegalTransition):
        return "change.err.decided", 409
    if isinstance(exc, ShipmentUpdateRefused):
        return "change.err.tms_refused", 409
    if isinstance(exc, ShipmentSourceError):
        return "change.err.tms_unreachable", 502
    if isinstance(exc, FormError):
        return exc.key, 400
    if isinstance(exc, InvalidInput):
        return ("change.err.reason" if "reason is required" in str(exc) else "work.err.invalid"), 400
    if isinstance(exc, DatabaseUnavailable):
        return "work.err.database", 503
    raise exc


def decide(request_id: int, action: str, note: str, who: str) -> tuple[ChangeRequestView, ChangeCallbackView | None]:
    """Approve or refuse in one transaction; the requester's callback is pushed after the commit."""
    source: ShipmentSource | None = current_app.extensions.get(SHIPMENTS_KEY)
    with console().db.session() as s:
        if action == "approve":
            view = ch.approve_change(s, request_id, note=note, by=who, source=source)
        else:
            view = ch.reject_change(s, request_id, note=note, by=who)
        callback = next((c for c in list_callbacks(s, case_id=view.case_id) if c.change_request_id == view.id), None)
    log.info("change request %s (%s) %s by %s", view.id, view.case_number, view.stage, who)
    if callback is not None:
        push_callback(callback)
    return view, callback


def _forbidden_page(user: SessionUser) -> ResponseReturnValue:
    log.info("%s (%s) may not decide change requests", user.username, user.role)
    return render_template("error.html", message=_t("change.err.not_allowed")), 403


def _desk(notice: Notice | None = None, status: int = 200) -> ResponseReturnValue:
    stage = request.args.get("stage", ChangeStage.REQUESTED.value)
    if stage not in {m.value for m in ChangeStage}:
        stage = ""
    with console().db.reading() as s:
        rows = ch.list_change_requests(s, stage=stage or None, limit=300)
        waiting = len(ch.list_change_requests(s, stage=ChangeStage.REQUESTED.value, limit=1000))
    return render_template("changes.html", rows=rows, stage=stage, stages=list(ChangeStage), waiting=waiting,
                           notice=notice or done_notice()), status


@bp.get("/changes")
@requires(DECIDE)
def changes() -> ResponseReturnValue:
    return _desk()


@bp.post("/changes/<int:request_id>/<action>")
@requires("write_cases")
def step(request_id: int, action: str) -> ResponseReturnValue:
    """Form: approve (note optional) or reject (reason required)."""
    user = signed_in_user()
    if not user.can(DECIDE):
        return _forbidden_page(user)
    if action not in CHANGE_REQUEST.actions():
        abort(404)
    try:
        note = form_field("note", required=action == "reject")
        decide(request_id, action, note, user.username)
    except ChangeRequestNotFound:
        abort(404)
    except REFUSED as exc:
        key, status = refusal(exc)
        log.info("change request %s: %s by %s refused: %s", request_id, action, user.username, exc)
        return _desk(Notice("error", _t(key), str(exc)), status)
    return redirect(url_for("changes.changes", done=f"change_request.{action}"), 303)


def request_json(v: ChangeRequestView) -> dict[str, Any]:
    return {"id": v.id, "case_id": v.case_id, "case_number": v.case_number, "waybill": v.waybill,
            "field": v.field.value, "old_value": v.old_value, "new_value": v.new_value, "stage": v.stage.value,
            "stage_label": label(v.stage), "reason": v.reason, "requested_by": v.requested_by,
            "decided_by": v.decided_by, "decision_note": v.decision_note,
            "decided_at": v.decided_at.isoformat() if v.decided_at else None}


@bp.post("/api/change-requests/<int:request_id>/<action>")
@requires("write_cases")
def api_step(request_id: int, action: str) -> ResponseReturnValue:
    """{note}: approve or reject (note required); 403 for anyone but a supervisor or an admin."""
    user = signed_in_user()
    if not user.can(DECIDE):
        return {"error": "change.err.not_allowed", "message": _t("change.err.not_allowed")}, 403
    if action not in CHANGE_REQUEST.actions():
        abort(404)
    body = request.get_json(silent=True)
    raw = body.get("note", "") if isinstance(body, dict) else None
    if not isinstance(raw, str):
        return {"error": "case.err.json", "message": _t("case.err.json")}, 400
    try:
        view, callback = decide(request_id, action, raw.strip(), user.username)
    except ChangeRequestNotFound:
        abort(404)
    except REFUSED as exc:
        key, status = refusal(exc)
        return {"error": key, "message": _t(key), "detail": str(exc)}, status
    return request_json(view) | {"callback": callback_json(callback) if callback else None}, 200


@bp.app_context_processor
def _case_changes_helper() -> dict[str, Any]:
    return {"case_changes": case_changes}


def case_changes(case_id: int) -> tuple[tuple[ChangeRequestView, ...], dict[int, ChangeCallbackView]]:
    """For the case page: its change requests, newest first, and their callbacks by request id."""
    with console().db.reading() as s:
        rows = ch.list_change_requests(s, case_id=case_id, limit=100)
        callbacks = {c.change_request_id: c for c in list_callbacks(s, case_id=case_id, limit=100)}
    return rows, callbacks
