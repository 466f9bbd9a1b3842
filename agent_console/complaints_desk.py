"""The complaints desk (`/complaints`): the centre (客服员, 客服主管, and 监察主管, who takes and resolves
complaints too) works a complaint (投诉) through its workflow — recorded → analysed (cause, 责任部门 and
unit) → referred (department, unit, deadline) → the department's rectification (整改, answered on its
desk) → verified by the centre (验证; or sent back with a new deadline) → the customer told → the
follow-up call (回访) → closed — and sees the loose ends (留有尾巴). Refused steps re-render the page with
a clear message and change nothing (as on the claims desk)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

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
from cases import complaints as co
from cases.audit import audit_for
from cases.errors import ComplaintNotFound
from cases.follow_ups import MAX_ATTEMPTS, record_follow_up
from cases.intake import ComplaintIntake, take_in
from cases.models.workflows import Complaint
from cases.referrals import departments_with_desk, known_units
from cases.views import CaseInput
from cases.vocab import UNIT_DEPARTMENTS, ComplaintCause, ComplaintStage, ComplaintType, Department, FollowUpOutcome
from cases.workflow import COMPLAINT

log = logging.getLogger(__name__)

bp = Blueprint("complaints", __name__)


def _list_page(notice: Notice | None = None, status: int = 200) -> ResponseReturnValue:
    stage = request.args.get("stage") or None
    if stage is not None and stage not in {m.value for m in ComplaintStage}:
        stage = None
    with console().db.reading() as s:
        rows = co.list_complaints(s, stage=stage, limit=200)
        loose = co.loose_ends(s)
    return render_template(
        "complaints.html", complaints=rows, loose=loose, stage=stage, stages=list(ComplaintStage),
        types=list(ComplaintType), notice=notice or done_notice(), form=request.form,
    ), status


@bp.get("/complaints")
@requires("complaints_work")
def complaints() -> ResponseReturnValue:
    return _list_page()


@bp.post("/complaints")
@requires("complaints_work")
def record() -> ResponseReturnValue:
    user = signed_in_user()
    try:
        with console().db.session() as s:
            taken = take_in(
                s,
                CaseInput(kind="complaint", subject=form_field("subject", required=True, max_len=200),
                          description=form_field("description"), waybill=form_field("waybill") or None),
                user.username,
                ComplaintIntake(complaint_type=form_choice("complaint_type", ComplaintType),
                                branch=form_field("branch", max_len=100)),
            )
            assert taken.complaint is not None
            view = taken.complaint
    except REFUSED as exc:
        notice, status = notice_for(exc)
        return _list_page(notice, status)
    return redirect(url_for("complaints.page", complaint_id=view.id, done="complaint.record"), 303)


def _page(complaint_id: int, notice: Notice | None = None, status: int = 200) -> ResponseReturnValue:
    with console().db.reading() as s:
        try:
            view = co.get_complaint(s, complaint_id)
        except ComplaintNotFound:
            abort(404)
        audit = audit_for(s, "complaint", complaint_id)
        units = {Department(d): names for d, names in known_units(s).items()}
        staffed = departments_with_desk(s)
    return render_template(
        "complaint.html", c=view, audit=audit, stages=list(ComplaintStage), causes=list(ComplaintCause),
        departments=list(Department), notice=notice or done_notice(), form=request.form, units=units,
        staffed=staffed, unit_departments=UNIT_DEPARTMENTS, outcomes=list(FollowUpOutcome),
        max_attempts=MAX_ATTEMPTS,
        default_deadline=(datetime.now(CENTRE_TZ) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
    ), status


@bp.get("/complaints/<int:complaint_id>")
@requires("complaints_work")
def page(complaint_id: int) -> ResponseReturnValue:
    return _page(complaint_id)


def _step(s: Session, complaint_id: int, action: str, who: str) -> None:
    if action == "analyse":
        co.analyse(s, complaint_id, cause=form_choice("cause", ComplaintCause),
                   responsible_department=form_choice("responsible_department", Department),
                   responsible_unit=form_field("responsible_unit", max_len=100), analysis=form_field("analysis"),
                   by=who)
    elif action == "refer":
        deadline = form_when("deadline")
        assert deadline is not None
        co.refer(s, complaint_id, department=form_choice("department", Department), deadline=deadline,
                 unit=form_field("unit", max_len=100), note=form_field("note"), by=who)
    elif action == "confirm_rectification":
        co.confirm_rectification(s, complaint_id, rectification=form_field("rectification", required=True), by=who)
    elif action == "verify":
        co.verify(s, complaint_id, note=form_field("note"), by=who)
    elif action == "send_back":
        deadline = form_when("deadline")
        assert deadline is not None
        co.send_back(s, complaint_id, deadline=deadline, note=form_field("note", required=True), by=who)
    elif action in ("follow_up", "follow_up_attempt"):
        record_follow_up(s, complaint_id, outcome=form_choice("outcome", FollowUpOutcome), note=form_field("note"),
                         by=who)
    elif action == "tell_customer":
        co.tell_customer(s, complaint_id, reply=form_field("reply", required=True), by=who)
    elif action == "close":
        co.close(s, complaint_id, by=who)
    else:
        abort(404)


@bp.post("/complaints/<int:complaint_id>/<action>")
@requires("complaints_work")
def step(complaint_id: int, action: str) -> ResponseReturnValue:
    if action not in COMPLAINT.actions():
        abort(404)
    user = signed_in_user()
    try:
        with console().db.session() as s:
            if s.get(Complaint, complaint_id) is None:
                abort(404)
            _step(s, complaint_id, action, user.username)
    except REFUSED as exc:
        notice, status = notice_for(exc)
        log.info("complaint %s: %s by %s refused: %s", complaint_id, action, user.username, exc)
        return _page(complaint_id, notice, status)
    return redirect(url_for("complaints.page", complaint_id=complaint_id, done=f"complaint.{action}"), 303)
