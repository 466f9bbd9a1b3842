"""The inspections desk (`/inspections`, `/inspections/<id>`): the inspectors record spot checks,
findings with deadlines, verification of rectifications, rewards and penalties (cases.inspections).
A refused step re-renders the page with a clear message and changes nothing (as on the claims desk)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from agent_console.auth import requires
from agent_console.context import console
from agent_console.desk_forms import (
    CENTRE_TZ,
    REFUSED,
    Notice,
    done_notice,
    form_amount,
    form_choice,
    form_field,
    form_row_id,
    form_when,
    notice_for,
    signed_in_user,
)
from cases import inspections as ins
from cases.errors import FindingNotFound, InspectionNotFound
from cases.models.workflows import Inspection, InspectionFinding
from cases.sanctions import SourceRef, list_sanctions
from cases.vocab import InspectionKind, SanctionKind

log = logging.getLogger(__name__)

bp = Blueprint("inspections", __name__)


def _inspections_page(notice: Notice | None = None, status: int = 200) -> ResponseReturnValue:
    with console().db.reading() as s:
        rows = s.scalars(
            select(Inspection).options(selectinload(Inspection.findings))
            .order_by(Inspection.inspected_at.desc(), Inspection.id.desc()).limit(200)
        ).all()
        views = tuple(ins.get_inspection(s, i.id) for i in rows)
        overdue = ins.overdue_findings(s)
    return render_template(
        "inspections.html", inspections=views, overdue=overdue, kinds=list(InspectionKind),
        notice=notice or done_notice(), form=request.form,
        now_local=datetime.now(CENTRE_TZ).strftime("%Y-%m-%dT%H:%M"),
    ), status


@bp.get("/inspections")
@requires("inspections_work")
def inspections() -> ResponseReturnValue:
    return _inspections_page()


@bp.post("/inspections")
@requires("inspections_work")
def record_inspection() -> ResponseReturnValue:
    user = signed_in_user()
    try:
        kind = form_choice("kind", InspectionKind)
        passed_raw = request.form.get("passed", "")
        inspected_at = form_when("inspected_at")
        assert inspected_at is not None
        data = ins.InspectionInput(
            kind=kind,
            branch=form_field("branch", required=True, max_len=100),
            inspected_at=inspected_at,
            person=form_field("person", max_len=100),
            passed=None if passed_raw == "" else passed_raw == "yes",
            quoted=form_amount("quoted", required=False),
            tariff=form_amount("tariff", required=False),
            due_at=form_when("due_at", required=False),
            done_at=form_when("done_at", required=False),
            note=form_field("note"),
        )
        with console().db.session() as s:
            view = ins.record_inspection(s, data, by=user.username)
    except REFUSED as exc:
        notice, status = notice_for(exc)
        return _inspections_page(notice, status)
    return redirect(url_for("inspections.inspection_page", inspection_id=view.id, done="inspection.record"), 303)


def _inspection_page(inspection_id: int, notice: Notice | None = None, status: int = 200) -> ResponseReturnValue:
    with console().db.reading() as s:
        try:
            view = ins.get_inspection(s, inspection_id)
        except InspectionNotFound:
            abort(404)
        sanctions = list_sanctions(s, source=SourceRef(inspection_id=inspection_id))
    return render_template(
        "inspection.html", inspection=view, sanctions=sanctions, sanction_kinds=list(SanctionKind),
        notice=notice or done_notice(), form=request.form,
        default_deadline=(datetime.now(CENTRE_TZ) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
    ), status


@bp.get("/inspections/<int:inspection_id>")
@requires("inspections_work")
def inspection_page(inspection_id: int) -> ResponseReturnValue:
    return _inspection_page(inspection_id)


def _finding_of(s: Session, inspection_id: int) -> int:
    finding_id = form_row_id("finding_id")
    found = s.get(InspectionFinding, finding_id)
    if found is None or found.inspection_id != inspection_id:
        raise FindingNotFound(f"finding {finding_id} is not part of inspection {inspection_id}")
    return finding_id


_INSPECTION_ACTIONS: dict[str, Callable[[Session, int, str], object]] = {
    "add_finding": lambda s, i, who: ins.add_finding(
        s, i, description=form_field("description", required=True), deadline=form_when("deadline") or datetime.now(UTC),
        assignee=form_field("assignee", max_len=100), by=who),
    "verify": lambda s, i, who: ins.verify_finding(s, _finding_of(s, i), by=who),
    "reopen": lambda s, i, who: ins.reopen_finding(
        s, _finding_of(s, i), deadline=form_when("deadline") or datetime.now(UTC),
        note=form_field("note", required=True), by=who),
    "sanction": lambda s, i, who: ins.record_sanction(
        s, kind=form_choice("kind", SanctionKind), branch=form_field("branch", required=True, max_len=100),
        person=form_field("person", max_len=100), amount=form_amount("amount") or Decimal(0),
        reason=form_field("reason", required=True), decided_at=datetime.now(UTC), inspection_id=i, by=who),
}


@bp.post("/inspections/<int:inspection_id>/<action>")
@requires("inspections_work")
def inspection_step(inspection_id: int, action: str) -> ResponseReturnValue:
    step = _INSPECTION_ACTIONS.get(action)
    if step is None:
        abort(404)
    user = signed_in_user()
    try:
        with console().db.session() as s:
            if s.get(Inspection, inspection_id) is None:
                abort(404)
            step(s, inspection_id, user.username)
    except FindingNotFound:
        abort(404)
    except REFUSED as exc:
        notice, status = notice_for(exc)
        return _inspection_page(inspection_id, notice, status)
    workflow = "finding" if action in ("verify", "reopen") else "inspection"
    return redirect(url_for("inspections.inspection_page", inspection_id=inspection_id,
                            done=f"{workflow}.{action}"), 303)

