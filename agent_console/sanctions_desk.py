"""Rewards and penalties (奖罚) on the inspection desk (`/sanctions`): inspectors and supervisors decide one
from an inspection, a complaint, a claim or an incident (typed by its number: a complaint's or claim's 案件号,
an inspection's or incident's #id) or from none, and record that a penalty was collected (已收缴). The same
list appears on the complaint, claim, inspection and incident pages (`sanctions_of` in the templates), with
the form; after a step the user goes back to the page the form was on. A refused step shows this page with
the reason, and nothing is stored."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from agent_console.auth import current_user, requires, safe_next
from agent_console.context import console
from agent_console.desk_forms import (
    REFUSED,
    FormError,
    Notice,
    done_notice,
    form_amount,
    form_choice,
    form_field,
    notice_for,
    signed_in_user,
)
from cases import sanctions as sx
from cases.errors import InvalidWorkflowInput, SanctionNotFound
from cases.ids import parse_row_id
from cases.vocab import SanctionKind, SanctionSource

log = logging.getLogger(__name__)

bp = Blueprint("sanctions", __name__)

def _back(done: str) -> str:
    """The page the form was on (`next`: a path of this site, `safe_next`, without a query of its own),
    else this desk; with the done banner."""
    target = safe_next((request.form.get("next") or "").strip())
    if target is None or "?" in target or "#" in target:
        target = url_for("sanctions.page")
    return f"{target}?done={done}"


def _list_page(notice: Notice | None = None, status: int = 200) -> ResponseReturnValue:
    uncollected = request.args.get("uncollected") == "1"
    with console().db.reading() as s:
        rows = sx.list_sanctions(s, uncollected=uncollected, limit=500)
    return render_template(
        "sanctions.html", sanctions=rows, uncollected=uncollected, sources=list(SanctionSource),
        notice=notice or done_notice(), form=request.form,
    ), status


@bp.get("/sanctions")
@requires("inspections_work")
def page() -> ResponseReturnValue:
    return _list_page()


def _source(s: Session) -> sx.SourceRef:
    """The form's source: `source` (a SanctionSource or empty) and `source_ref` (#id, or a 案件号)."""
    kind = form_field("source", max_len=20)
    if not kind:
        return sx.SourceRef()
    source = SanctionSource(form_choice("source", SanctionSource))
    raw = form_field("source_ref", required=True, max_len=20)
    by_case = source in (SanctionSource.COMPLAINT, SanctionSource.CLAIM) and not raw.startswith("#")
    if by_case:  # a complaint or claim by its 案件号
        found = sx.source_of_case(s, raw)
        if found.given()[0][0] is not source:
            raise InvalidWorkflowInput(f"case {raw} is not a {source.value}")
        return found
    row_id = parse_row_id(raw.removeprefix("#"))
    if row_id is None:
        raise FormError("work.err.required", f"source_ref: {raw[:20]!r} is not a number")
    return sx.SourceRef(**{f"{source.value}_id": row_id})


@bp.post("/sanctions")
@requires("inspections_work")
def record() -> ResponseReturnValue:
    user = signed_in_user()
    try:
        kind = form_choice("kind", SanctionKind)
        amount = form_amount("amount") or Decimal(0)
        with console().db.session() as s:
            ref = _source(s)
            sx.record_sanction(
                s, kind=kind, branch=form_field("branch", required=True, max_len=100),
                person=form_field("person", max_len=100), amount=amount, reason=form_field("reason", required=True),
                decided_at=datetime.now(UTC), inspection_id=ref.inspection_id, complaint_id=ref.complaint_id,
                claim_id=ref.claim_id, incident_id=ref.incident_id, by=user.username,
            )
    except REFUSED as exc:
        notice, status = notice_for(exc)
        log.info("sanction not recorded by %s: %s", user.username, exc)
        return _list_page(notice, status)
    return redirect(_back("sanction.record"), 303)


@bp.post("/sanctions/<int:sanction_id>/collect")
@requires("inspections_work")
def collect(sanction_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    try:
        with console().db.session() as s:
            sx.collect_penalty(s, sanction_id, by=user.username)
    except SanctionNotFound:
        abort(404)
    except REFUSED as exc:
        notice, status = notice_for(exc)
        log.info("sanction %s: collect by %s refused: %s", sanction_id, user.username, exc)
        return _list_page(notice, status)
    return redirect(_back("sanction.collect"), 303)


def _sanctions_of(source: str, row_id: int) -> tuple[sx.SanctionView, ...]:
    """The rewards and penalties decided from one complaint, claim, inspection or incident (for its page)."""
    user = current_user()
    if user is None or not user.can("inspections_work"):  # the desk's own people only
        return ()
    ref = sx.SourceRef(**{f"{SanctionSource(source).value}_id": row_id})
    with console().db.reading() as s:
        return sx.list_sanctions(s, source=ref)


@bp.app_context_processor
def sanction_helpers() -> dict[str, Any]:
    return {"sanctions_of": _sanctions_of, "sanction_kind_choices": tuple(SanctionKind)}
