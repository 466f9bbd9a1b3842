"""The overdue list (逾期理赔, `/claims/overdue`) of the claims staff and the supervisors: claims past their
stage's deadline or their total one (`cases.claim_clock`, days from the settings' `[claim_deadlines]`), the
longest overdue first; `?mine=1` keeps those the signed-in claims staff works (and those nobody took yet)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from agent_console.auth import SessionUser, requires
from agent_console.context import console
from agent_console.desk_forms import signed_in_user
from cases.claim_clock import ClaimClock, OverdueClaim, clock, overdue_claims
from cases.claims import claim_for_case
from cases.vocab import CaseKind, ClaimStage

bp = Blueprint("claims_overdue", __name__)


def overdue_for(s: Session, user: SessionUser, *, mine: bool = False) -> tuple[OverdueClaim, ...]:
    """The overdue claims the user's desk lists: all of them, or (`mine`) the user's and the untaken."""
    return overdue_claims(s, console().config.claim_deadlines, assigned_to=user.username if mine else None)


@bp.get("/claims/overdue")
@requires("claims_work")
def overdue() -> ResponseReturnValue:
    user = signed_in_user()
    mine = request.args.get("mine") == "1"
    with console().db.reading() as s:
        rows = overdue_for(s, user, mine=mine)
    return render_template("claims_overdue.html", rows=rows, mine=mine, deadlines=console().config.claim_deadlines,
                           stage_of=ClaimStage)


@dataclass(frozen=True, slots=True)
class CaseClaim:
    """A claim case's claim as its case page shows it to the agent (督促理赔员按时完成理赔)."""

    claim_id: int
    stage: ClaimStage
    assigned_to: str | None
    clock: ClaimClock


def claim_of_case(case_id: int, kind: str) -> CaseClaim | None:
    """The claim of a case of kind claim with its stage and due date; None for other cases or none yet."""
    if kind != CaseKind.CLAIM:
        return None
    with console().db.reading() as s:
        view = claim_for_case(s, case_id)
    if view is None:
        return None
    ck = clock(view.stage, view.reported_at, view.stage_since, view.closed_at, console().config.claim_deadlines)
    return CaseClaim(view.id, view.stage, view.assigned_to, ck)
