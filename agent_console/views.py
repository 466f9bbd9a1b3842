"""Pages (agent, supervisor, cases, case, recording) and the JSON API. Thin: the work is in `data`
and `control`. Every route states the capability it needs (security.CAPABILITIES)."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue

from agent_console import data
from agent_console.auth import current_user, requires
from agent_console.claims_overdue import claim_of_case
from agent_console.context import console
from agent_console.control import ControlError
from agent_console.dispatcher import DISPATCHER_KEY, Dispatcher
from agent_console.i18n import current_language, translate
from agent_console.intake_form import intake_json
from agent_console.search import SHIPMENTS_KEY
from agent_console.wrapup import NotInWrapUp
from cases.errors import CaseNotFound, ChangeRequestNotFound, DatabaseUnavailable, InvalidInput, UserNotFound
from cases.vocab import AccidentCause, CaseKind, CaseStatus, ChangeField, ComplaintType, Department

log = logging.getLogger(__name__)

pages = Blueprint("pages", __name__)
api = Blueprint("api", __name__, url_prefix="/api")


def _user() -> Any:
    user = current_user()
    assert user is not None  # requires() ran first
    return user


def _dispatcher() -> Dispatcher:
    d: Dispatcher = current_app.extensions[DISPATCHER_KEY]
    return d


def _call_user() -> data.CallUser:
    """The logged-in user for the calls rule (agent_console.data.CallUser): a call is live with an agent
    while it rings the agent or the agent talks on it (the board), and just after it ended, until its
    record is surely stored (the console's recently ended calls); with anyone else while live at all."""
    user = _user()
    calls = console().calls
    if user.can("all_calls"):
        return data.CallUser(user.username, True,
                             lambda lid: calls.get(lid) is not None or calls.ended(lid) is not None)
    board = _dispatcher().board

    def live(lid: str) -> bool:
        if board.knows_call(user.username, lid):
            return True
        ended = calls.ended(lid)
        return ended is not None and user.username in {ended.agent, *ended.agents, *ended.rang}

    return data.CallUser(user.username, False, live)


@pages.get("/")
def index() -> ResponseReturnValue:
    user = current_user()
    return redirect(user.home() if user else url_for("auth.login"))


@pages.get("/agent")
@requires("agent_console")
def agent() -> ResponseReturnValue:
    cfg = console().config
    return render_template(
        "agent.html",
        kinds=[k.value for k in CaseKind],
        departments=[d.value for d in Department],
        statuses=[s.value for s in CaseStatus],
        change_fields=[f.value for f in ChangeField],
        complaint_types=list(ComplaintType), accident_causes=list(AccidentCause),
        pause_reasons=[r for r in cfg.pause_reasons if r.code != "wrap-up"],
        wrap_up_codes=cfg.wrap_up_codes,
        wrap_up_s=cfg.wrap_up_s,
        reason_labels={r.code: (r.label_zh if current_language() == "zh-CN" else r.label_en)
                       for r in cfg.pause_reasons},
    )


@pages.get("/supervisor")
@requires("wallboard")
def supervisor() -> ResponseReturnValue:
    cfg = console().config
    return render_template("supervisor.html", supervisor_phone=cfg.supervisor_phone(_user().username),
                           reason_labels={r.code: (r.label_zh if current_language() == "zh-CN" else r.label_en)
                                          for r in cfg.pause_reasons})


@pages.get("/cases")
@requires("read_cases")
def cases_list() -> ResponseReturnValue:
    return render_template("cases.html", cases=data.recent_cases(console().db))


def _case_page(case_id: int, assign_error: str = "", status: int = 200) -> ResponseReturnValue:
    """The case; an agent sees the recording and transcripts only of the calls it was on or was assigned
    (the others `withheld`); supervisors may assign a call to an agent from here."""
    try:
        case = data.get_case(console().db, case_id, _call_user())
    except CaseNotFound:
        abort(404)
    agents = data.active_agents(console().db) if _user().can("assign_calls") and case.calls else ()
    return render_template("case.html", case=case, agents=agents, assign_error=assign_error,
                           case_claim=claim_of_case(case.id, case.kind)), status


@pages.get("/cases/<int:case_id>")
@requires("read_cases")
def case_page(case_id: int) -> ResponseReturnValue:
    return _case_page(case_id)


@pages.post("/cases/<int:case_id>/calls/<linkedid>/assign")
@requires("assign_calls")
def assign_call(case_id: int, linkedid: str) -> ResponseReturnValue:
    """Form: give one of the case's calls to an agent (field `agent`): the agent may then link it to a
    case and see its recording and transcripts."""
    ctx = console()
    try:
        case = data.get_case(ctx.db, case_id, _call_user())
    except CaseNotFound:
        abort(404)
    if linkedid not in {c.call.linkedid for c in case.calls}:
        abort(404)
    try:
        data.assign_call(ctx.db, linkedid, (request.form.get("agent") or "").strip(), _user().username)
    except (UserNotFound, InvalidInput) as exc:
        log.info("call %s not assigned: %s", linkedid, exc)
        return _case_page(case_id, translate(current_language(), "case.err.assign"), 400)
    return redirect(url_for("pages.case_page", case_id=case_id), 303)


@pages.get("/recordings/<linkedid>")
@requires("recordings")
def recording(linkedid: str) -> ResponseReturnValue:
    ctx = console()
    user = _user()
    if user.role == "agent":
        mine = data.recording_allowed(ctx.db, linkedid, user.username)
        if mine is None:
            abort(404)
        if not mine:
            abort(403)
    try:
        path = data.recording_file(ctx.db, linkedid, ctx.config.recordings_dir)
    except data.RecordingUnavailable as exc:
        log.info("recording %s not served: %s", linkedid, exc)
        abort(404)
    return send_file(path, mimetype="audio/wav", conditional=True, download_name=f"{linkedid}.wav")


@pages.get("/status")
def status() -> ResponseReturnValue:
    """Health for probes (no login): reachability and counts, no caller data."""
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
    if db_ok:  # the IVR keeps going without a prompt, so these are told, not a failed health check
        body["ivr_missing_prompts"] = data.prompt_faults(ctx.db)
    d = current_app.extensions.get(DISPATCHER_KEY)
    if isinstance(d, Dispatcher):
        body["pops_built"] = d.pops_built  # screen pops this console built (role mode: its agents' only)
        body["console_maps"] = d.map_sizes()  # entries per call / per agent kept (each bounded)
    if ctx.status_provider is not None:
        try:
            body.update(ctx.status_provider())
        except Exception as exc:
            log.warning("status provider failed: %s", exc)
            body["provider_error"] = str(exc)
    return body, 200 if body["ok"] else 503


# --- cases -------------------------------------------------------------------------------------


def _case_error(exc: Exception) -> ResponseReturnValue:
    lang = current_language()
    if isinstance(exc, data.BadCaseRequest):
        return {"error": "invalid_case", "message": translate(lang, exc.key), "detail": str(exc)}, 400
    if isinstance(exc, data.CallRefused):
        error = "no_such_call" if exc.status == 404 else "forbidden_call"
        return {"error": error, "message": translate(lang, exc.key), "detail": str(exc)}, exc.status
    if isinstance(exc, InvalidInput):
        return {"error": "invalid_case", "message": translate(lang, "case.err.invalid"), "detail": str(exc)}, 400
    if isinstance(exc, (CaseNotFound, ChangeRequestNotFound)):
        return {"error": "not_found", "message": translate(lang, "error.not_found"), "detail": str(exc)}, 404
    if isinstance(exc, DatabaseUnavailable):
        log.error("case not saved: %s", exc)
        return {"error": "database_unavailable", "message": translate(lang, "error.unavailable"),
                "detail": str(exc)}, 503
    raise exc


_CASE_ERRORS = (data.BadCaseRequest, data.CallRefused, InvalidInput, CaseNotFound, ChangeRequestNotFound,
                DatabaseUnavailable)


def _case_json(case: Any) -> dict[str, Any]:
    return {
        "id": case.id,
        "number": case.number,
        "kind": str(case.kind),
        "status": str(case.status),
        "department": str(case.department) if case.department else None,
        "follow_up_due": case.follow_up_due.isoformat(timespec="minutes") if case.follow_up_due else None,
        "url": url_for("pages.case_page", case_id=case.id),
    }


@api.post("/cases")
@requires("write_cases")
def create_case() -> ResponseReturnValue:
    try:
        taken = data.create_case(console().db, request.get_json(silent=True), _call_user(),
                                 current_app.extensions.get(SHIPMENTS_KEY))
    except _CASE_ERRORS as exc:
        return _case_error(exc)
    return intake_json(taken, _case_json(taken.case)), 201


@api.post("/cases/<int:case_id>/update")
@requires("write_cases")
def update_case(case_id: int) -> ResponseReturnValue:
    ctx = console()
    try:
        case = data.update_case(ctx.db, case_id, request.get_json(silent=True), _user().username,
                                ctx.config.wrap_up_labels())
    except _CASE_ERRORS as exc:
        return _case_error(exc)
    return _case_json(case), 200


@api.post("/cases/<int:case_id>/change-request")
@requires("write_cases")
def change_request(case_id: int) -> ResponseReturnValue:
    try:
        view = data.request_change(console().db, case_id, request.get_json(silent=True), _user().username)
    except _CASE_ERRORS as exc:
        return _case_error(exc)
    return {"id": view.id, "case_id": view.case_id, "field": str(view.field), "old_value": view.old_value,
            "new_value": view.new_value, "stage": str(view.stage)}, 201


# --- the agent's own state, pops and tasks ----------------------------------------------------------


def _control_error(exc: ControlError) -> ResponseReturnValue:
    status = 503 if exc.key == "control.err.pbx" else 400 if exc.key == "control.err.bad" else 502
    return {"error": exc.key, "message": translate(current_language(), exc.key), "detail": str(exc)}, status


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object")
    return body


@api.get("/pops/<linkedid>")
@requires("agent_console")
def pop(linkedid: str) -> ResponseReturnValue:
    """The pop of a call ringing (or talking to) the logged-in agent; another agent's call is 404."""
    found = _dispatcher().board.pop_of(_user().username, linkedid)
    if found is None:
        abort(404)
    return found


@api.get("/agent/state")
@requires("agent_console")
def agent_state() -> ResponseReturnValue:
    return _dispatcher().agent_snapshot(_user().username)


@api.post("/agent/state")
@requires("agent_console")
def set_agent_state() -> ResponseReturnValue:
    """{state: ready} or {state: paused, reason: <code>}: sent to AMI (QueuePause); the page shows
    the state when AMI reports it."""
    body = _json_body()
    agent = _user().username
    control = _dispatcher().control
    try:
        if body.get("state") == "ready":
            control.ready(agent)
        elif body.get("state") == "paused":
            control.pause(agent, str(body.get("reason", "")))
        else:
            abort(400, description="state must be ready or paused")
    except ControlError as exc:
        return _control_error(exc)
    return {"ok": True}, 202


@api.post("/agent/wrap-up/extend")
@requires("agent_console")
def extend_wrap_up() -> ResponseReturnValue:
    try:
        until = _dispatcher().extend_wrap_up(_user().username)
    except NotInWrapUp as exc:
        return {"error": "not_in_wrap_up", "message": translate(current_language(), "wrap.err.none"),
                "detail": str(exc)}, 409
    except ControlError as exc:  # by role: the listener that keeps the wrap-ups did not answer
        return _control_error(exc)
    return {"wrap_up_until": until}, 200


@api.get("/callbacks")
@requires("agent_console")
def callbacks() -> ResponseReturnValue:
    return {"tasks": [asdict(t) for t in data.callback_tasks(console().db)]}


@api.post("/callbacks/<int:case_id>/accept")
@requires("agent_console")
def accept_callback(case_id: int) -> ResponseReturnValue:
    ctx = console()
    user = _user()
    try:
        task = data.callback_task(ctx.db, case_id)
    except CaseNotFound:
        abort(404)
    try:
        _dispatcher().control.callback(user.username, task.caller, task.number)
    except ControlError as exc:
        return _control_error(exc)
    try:
        case = data.accept_callback(ctx.db, task, _call_user())
    except _CASE_ERRORS as exc:
        return _case_error(exc)
    return _case_json(case) | {"calling": task.caller}, 202


# --- supervisors -------------------------------------------------------------------------------------


@api.get("/wallboard")
@requires("wallboard")
def wallboard() -> ResponseReturnValue:
    return _dispatcher().wallboard()


@api.post("/supervisor/spy")
@requires("wallboard")
def spy() -> ResponseReturnValue:
    """{agent, mode: listen|whisper|barge}: the supervisor's own phone rings into ChanSpy."""
    body = _json_body()
    agent = str(body.get("agent", ""))
    if agent not in {a.agent for a in console().live.snapshot().agents}:  # only an agent the PBX reports
        return {"error": "control.err.bad", "message": translate(current_language(), "control.err.bad"),
                "detail": f"unknown agent {agent!r}"}, 400
    try:
        phone = _dispatcher().control.spy(_user().username, agent, str(body.get("mode", "")))
    except ControlError as exc:
        return _control_error(exc)
    return {"ok": True, "phone": phone}, 202


@api.post("/supervisor/reroute")
@requires("wallboard")
def reroute() -> ResponseReturnValue:
    """{linkedid, queue}: move a waiting caller to another queue (AMI Redirect)."""
    body = _json_body()
    queue = str(body.get("queue", ""))
    known = set(console().config.queues) | {q.queue for q in console().live.snapshot().queues}
    if queue not in known:
        return {"error": "control.err.bad", "message": translate(current_language(), "control.err.bad"),
                "detail": f"unknown queue {queue!r}"}, 400
    try:
        channel = _dispatcher().control.reroute(str(body.get("linkedid", "")), queue)
    except ControlError as exc:
        return _control_error(exc)
    return {"ok": True, "channel": channel}, 202
