"""The claims desk (`/claims`, `/claims/<id>`): the claims staff work a claim through its workflow
(investigation with evidence, liability shares summing to 100 %, offers and counter-offers, agreed
amount, responsible parties notified, payment, close; or refused / withdrawn before payment), the insurer's
claim beside it, the supervisor's 重大事故 decision, and each claim's ageing against the per-stage deadlines
(`ConsoleConfig.claim_deadlines`; the overdue list is `agent_console.claims_overdue`).

Every step goes through `cases.claims` (the workflow rules live in `cases.workflow`): a step the stage
does not allow, or bad input, re-renders the page with a clear message (409 / 400) and changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import Blueprint, abort, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session, selectinload

from agent_console.auth import requires
from agent_console.claims_overdue import overdue_for
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
from agent_console.evidence_uploads import upload_evidence
from cases import claim_decisions as cd
from cases import claims as cl
from cases.claim_clock import ClaimClock, clock
from cases.errors import ClaimNotFound
from cases.intake import ClaimIntake, take_in
from cases.models.workflows import Claim, ClaimEvidence
from cases.views import CaseInput
from cases.vocab import AccidentCause, ClaimChannel, ClaimStage, InsurerStatus, LiableParty, OfferBy
from cases.workflow import CLAIM

log = logging.getLogger(__name__)

bp = Blueprint("claims", __name__)

LIABILITY_ROWS = 4
# the stepper's stages: the path to 已结案 (refused and withdrawn are shown as the claim's end instead)
MAIN_PATH = tuple(st for st in ClaimStage if st not in (ClaimStage.REFUSED, ClaimStage.WITHDRAWN))


def _claims_page(notice: Notice | None = None, status: int = 200) -> ResponseReturnValue:
    stage = request.args.get("stage") or None
    if stage is not None and stage not in {m.value for m in ClaimStage}:
        stage = None
    deadlines = console().config.claim_deadlines
    with console().db.reading() as s:
        rows = cl.list_claims(s, stage=stage, limit=200)
        late = overdue_for(s, signed_in_user())
    return render_template(
        "claims.html", claims=rows, stage=stage, stages=list(ClaimStage), channels=list(ClaimChannel),
        causes=list(AccidentCause), notice=notice or done_notice(), form=request.form,
        clocks={c.id: claim_clock(c) for c in rows}, overdue_count=len(late), deadlines=deadlines,
    ), status


def claim_clock(view: cl.ClaimView) -> ClaimClock:
    """The claim's ageing against the console's deadlines."""
    return clock(view.stage, view.reported_at, view.stage_since, view.closed_at, console().config.claim_deadlines)


@bp.get("/claims")
@requires("claims_work")
def claims() -> ResponseReturnValue:
    return _claims_page()


@bp.post("/claims")
@requires("claims_work")
def report_claim() -> ResponseReturnValue:
    user = signed_in_user()
    try:
        subject = form_field("subject", required=True, max_len=200)
        claimed = form_amount("claimed")
        assert claimed is not None
        with console().db.session() as s:
            taken = take_in(
                s,
                CaseInput(kind="claim", subject=subject, description=form_field("description"),
                          waybill=form_field("waybill") or None),
                user.username,
                ClaimIntake(channel=form_choice("channel", ClaimChannel),
                            accident_cause=form_choice("accident_cause", AccidentCause), claimed=claimed,
                            branch=form_field("branch", max_len=100), major=request.form.get("major") == "on"),
            )
            assert taken.claim is not None
            view = taken.claim
    except REFUSED as exc:
        notice, status = notice_for(exc)
        return _claims_page(notice, status)
    log.info("claim %s reported by %s on case %s", view.id, user.username, view.case_number)
    return redirect(url_for("claims.claim_page", claim_id=view.id, done="claim.report"), 303)


def _claim_page(claim_id: int, notice: Notice | None = None, status: int = 200) -> ResponseReturnValue:
    with console().db.reading() as s:
        try:
            view = cl.get_claim(s, claim_id)
        except ClaimNotFound:
            abort(404)
        audit = _audit(s, "claim", claim_id)
    offered = sorted({o.amount for o in view.offers})
    return render_template(
        "claim.html", claim=view, audit=audit, notice=notice or done_notice(), stages=MAIN_PATH,
        parties=list(LiableParty), offer_sides=list(OfferBy), insurer_statuses=list(InsurerStatus),
        offered=offered, liability_rows=LIABILITY_ROWS, form=request.form, clock=claim_clock(view),
        max_mb=console().config.evidence_max_bytes // (1024 * 1024), evidence_types=cl.EVIDENCE_TYPES,
    ), status


@dataclass(frozen=True, slots=True)
class AuditLine:
    at: datetime
    who: str
    what: str


def _audit(s: Session, entity: str, entity_id: int) -> tuple[AuditLine, ...]:
    from cases.audit import audit_for

    return tuple(AuditLine(a.at, a.who, a.what) for a in audit_for(s, entity, entity_id))


@bp.get("/claims/<int:claim_id>")
@requires("claims_work")
def claim_page(claim_id: int) -> ResponseReturnValue:
    return _claim_page(claim_id)


def _liabilities() -> list[cl.LiabilityInput]:
    rows: list[cl.LiabilityInput] = []
    for i in range(LIABILITY_ROWS):
        party = (request.form.get(f"party_{i}") or "").strip()
        share = (request.form.get(f"share_{i}") or "").strip()
        name = (request.form.get(f"name_{i}") or "").strip()
        if not party and not share and not name:
            continue
        if not party or not share:
            raise FormError("work.err.liability_row", f"row {i + 1}: give the party and its share")
        rows.append(cl.LiabilityInput(party=party, share_percent=share.rstrip("%").strip(), name=name))
    if not rows:
        raise FormError("work.err.liability_row", "name at least one responsible party")
    return rows


def _claim_step(s: Session, claim_id: int, action: str, who: str) -> None:
    if action == "start_investigation":
        cl.start_investigation(s, claim_id, by=who)
    elif action == "add_evidence":
        upload_evidence(s, claim_id, who)
    elif action == "fix_liability":
        cl.fix_liability(s, claim_id, parties=_liabilities(), by=who)
    elif action == "offer":
        amount = form_amount("amount")
        assert amount is not None
        cl.offer(s, claim_id, offered_by=form_choice("offered_by", OfferBy), amount=amount, note=form_field("note"),
                 by=who)
    elif action == "agree_amount":
        amount = form_amount("amount")
        assert amount is not None
        cl.agree_amount(s, claim_id, amount=amount, by=who)
    elif action == "notify_parties":
        cl.notify_parties(s, claim_id, by=who)
    elif action == "file_insurer_claim":
        cl.file_insurer_claim(s, claim_id, insurer=form_field("insurer", required=True),
                              policy_no=form_field("policy_no", required=True),
                              insurer_claim_no=form_field("insurer_claim_no", required=True), by=who)
    elif action == "update_insurer_claim":
        cl.update_insurer_claim(s, claim_id, status=form_choice("status", InsurerStatus),
                                payout=form_amount("payout", required=False), by=who)
    elif action in ("refuse", "withdraw"):
        end = cd.refuse if action == "refuse" else cd.withdraw
        end(s, claim_id, reason=form_field("reason", required=True), by=who)
    elif action == "decide_major":
        if not signed_in_user().can("major_incident"):
            abort(403)
        decision = form_field("decision", required=True)
        if decision not in ("confirm", "decline"):
            raise FormError("work.err.choice", f"decision: {decision!r} is not confirm or decline")
        cd.decide_major(s, claim_id, confirm=decision == "confirm", note=form_field("note", required=True), by=who)
    elif action == "pay":
        amount = form_amount("amount")
        assert amount is not None
        cl.pay(s, claim_id, amount=amount, by=who)
    elif action == "close":
        cl.close(s, claim_id, by=who)
    else:
        abort(404)


@bp.post("/claims/<int:claim_id>/<action>")
@requires("claims_work")
def claim_step(claim_id: int, action: str) -> ResponseReturnValue:
    """One workflow step; the claim's current stage decides (cases.workflow.CLAIM), so a step from a
    page that another worker has overtaken is refused with the stage it is in now."""
    if action not in CLAIM.actions():
        abort(404)
    user = signed_in_user()
    try:
        with console().db.session() as s:
            if s.get(Claim, claim_id) is None:
                abort(404)
            _claim_step(s, claim_id, action, user.username)
    except REFUSED as exc:
        notice, status = notice_for(exc)
        log.info("claim %s: %s by %s refused: %s", claim_id, action, user.username, exc)
        return _claim_page(claim_id, notice, status)
    return redirect(url_for("claims.claim_page", claim_id=claim_id, done=f"claim.{action}"), 303)


@bp.get("/claims/<int:claim_id>/evidence/<int:evidence_id>")
@requires("claim_evidence")
def evidence_file(claim_id: int, evidence_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    with console().db.reading() as s:
        ev = s.get(ClaimEvidence, evidence_id, options=[selectinload(ClaimEvidence.claim)])
        if ev is None or ev.claim_id != claim_id:
            abort(404)
        if user.role == "branch" and ev.claim.branch != user.branch:
            abort(403)
        stored, ctype, name = Path(ev.stored_path), ev.content_type, ev.filename
    cfg = console().config
    if cfg.evidence_dir is None:
        abort(404)
    # <evidence_dir>/<claim id>/<sha256><ext>: found there even after a restore into another data_dir
    root = Path(cfg.evidence_dir).resolve()
    resolved = (root / str(claim_id) / stored.name).resolve()
    if not resolved.is_relative_to(root) or not resolved.is_file():
        abort(404)
    return send_file(resolved, mimetype=ctype, download_name=name, conditional=True)

