"""The incidents desk (`/incidents`, `/incidents/<id>`): inspectors and supervisors record incidents
(突发事件, 监察主管9), take them in hand, record each measure taken (处理措施) and close them with the
result; a reward or penalty may be decided from an incident (the form posts to `/sanctions`).
A refused step re-renders the page with a clear message and changes nothing (as on the other desks)."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from agent_console.auth import requires
from agent_console.context import console
from agent_console.desk_forms import (
    CENTRE_TZ,
    REFUSED,
    Notice,
    done_notice,
    form_choice,
    form_field,
    form_when,
    notice_for,
    signed_in_user,
)
from cases import incidents as inc
from cases.audit import audit_for
from cases.errors import IncidentNotFound
from cases.models.incidents import Incident
from cases.sanctions import SourceRef, list_sanctions
from cases.vocab import IncidentKind, IncidentStage
from cases.workflow import INCIDENT

log = logging.getLogger(__name__)

bp = Blueprint("incidents", __name__)


def _list_page(notice: Notice | None = None, status: int = 200) -> ResponseReturnValue:
    stage = request.args.get("stage") or None
    if stage is not None and stage not in {m.value for m in IncidentStage}:
        stage = None
    with console().db.reading() as s:
        rows = inc.list_incidents(s, stage=stage, limit=200)
    return render_template(
        "incidents.html", incidents=rows, stage=stage, stages=list(IncidentStage), kinds=list(IncidentKind),
        notice=notice or done_notice(), form=request.form,
        now_local=datetime.now(CENTRE_TZ).strftime("%Y-%m-%dT%H:%M"),
    ), status


@bp.get("/incidents")
@requires("inspections_work")
def incidents() -> ResponseReturnValue:
    return _list_page()


@bp.post("/incidents")
@requires("inspections_work")
def record() -> ResponseReturnValue:
    user = signed_in_user()
    try:
        occurred_at = form_when("occurred_at")
        assert occurred_at is not None
        data = inc.IncidentInput(
            kind=form_choice("kind", IncidentKind),
            occurred_at=occurred_at,
            branch=form_field("branch", required=True, max_len=100),
            place=form_field("place", max_len=200),
            description=form_field("description", required=True),
            people=form_field("people"),
            reported_by=form_field("reported_by", required=True, max_len=100),
            case_number=form_field("case_number", max_len=20),
        )
        with console().db.session() as s:
            view = inc.record_incident(s, data, by=user.username)
    except REFUSED as exc:
        notice, status = notice_for(exc)
        log.info("incident not recorded by %s: %s", user.username, exc)
        return _list_page(notice, status)
    return redirect(url_for("incidents.page", incident_id=view.id, done="incident.record"), 303)


def _page(incident_id: int, notice: Notice | None = None, status: int = 200) -> ResponseReturnValue:
    with console().db.reading() as s:
        try:
            view = inc.get_incident(s, incident_id)
        except IncidentNotFound:
            abort(404)
        audit = audit_for(s, "incident", incident_id)
        sanctions = list_sanctions(s, source=SourceRef(incident_id=incident_id))
    return render_template(
        "incident.html", incident=view, audit=audit, sanctions=sanctions,
        notice=notice or done_notice(), form=request.form,
    ), status


@bp.get("/incidents/<int:incident_id>")
@requires("inspections_work")
def page(incident_id: int) -> ResponseReturnValue:
    return _page(incident_id)


def _step(s: Session, incident_id: int, action: str, who: str) -> None:
    if action == "handle":
        inc.handle_incident(s, incident_id, measure=form_field("measure"), by=who)
    elif action == "add_measure":
        inc.add_measure(s, incident_id, measure=form_field("measure", required=True), by=who)
    else:
        inc.close_incident(s, incident_id, result=form_field("result", required=True), by=who)


@bp.post("/incidents/<int:incident_id>/<action>")
@requires("inspections_work")
def step(incident_id: int, action: str) -> ResponseReturnValue:
    if action not in INCIDENT.actions():
        abort(404)
    user = signed_in_user()
    try:
        with console().db.session() as s:
            if s.get(Incident, incident_id) is None:
                abort(404)
            _step(s, incident_id, action, user.username)
    except REFUSED as exc:
        notice, status = notice_for(exc)
        log.info("incident %s: %s by %s refused: %s", incident_id, action, user.username, exc)
        return _page(incident_id, notice, status)
    return redirect(url_for("incidents.page", incident_id=incident_id, done=f"incident.{action}"), 303)
