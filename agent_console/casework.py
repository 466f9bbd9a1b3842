"""The claims, inspection and branch consoles (server-rendered pages with plain forms).

- `/claims`, `/claims/<id>`: the claims staff work a claim through its workflow (investigation with
  evidence, liability shares summing to 100 %, offers and counter-offers, agreed amount, responsible
  parties notified, insurer claim, payment, close).
- `/inspections`, `/inspections/<id>`: the inspectors record spot checks, findings with deadlines,
  verification of rectifications, rewards and penalties.
- `/branch`: branch and market staff see the complaints referred to their branch, the rectification
  tasks of their branch and its claims; they answer, rectify and upload evidence (反馈和跟踪确认).

Every step goes through `cases` (the workflow rules live in `cases.workflow`): a step the stage does
not allow, or bad input, re-renders the page with a clear message (409 / 400) and changes nothing.
Every route states its capability (security.CAPABILITIES); branch users only reach their branch's work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from agent_console.auth import SessionUser, current_user, requires
from agent_console.context import console
from agent_console.i18n import current_language, translate
from cases import claims as cl
from cases import complaints as co
from cases import inspections as ins
from cases.errors import (
    ClaimNotFound,
    DatabaseUnavailable,
    EvidenceRejected,
    FindingNotFound,
    IllegalTransition,
    InspectionNotFound,
    InvalidInput,
    NotFound,
)
from cases.ids import parse_row_id
from cases.models.workflows import Claim, ClaimEvidence, Complaint, Inspection, InspectionFinding, SelfSettled
from cases.money import yuan0
from cases.views import CaseInput
from cases.vocab import (
    AccidentCause,
    ClaimChannel,
    ClaimStage,
    ComplaintStage,
    ComplaintType,
    FindingStage,
    InspectionKind,
    InsurerStatus,
    LiableParty,
    OfferBy,
    SanctionKind,
    SettledBy,
)
from cases.workflow import CLAIM

log = logging.getLogger(__name__)

work = Blueprint("work", __name__)

CENTRE_TZ = ZoneInfo("Asia/Shanghai")  # the forms' date-times are the centre's local time
LIABILITY_ROWS = 4


class FormError(Exception):
    """A form field is missing or malformed; `key` is an i18n key, `detail` what was wrong."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(detail or key)
        self.key = key
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Notice:
    """The banner above a page: what happened (ok) or why nothing happened (error)."""

    kind: str  # "ok" | "error"
    text: str
    detail: str = ""


def _user() -> SessionUser:
    user = current_user()
    assert user is not None  # requires() ran first
    return user


def _t(key: str) -> str:
    return translate(current_language(), key)


def label(member: StrEnum | None) -> str:
    """A vocabulary value in the page's language: the standard's Chinese word, or English."""
    if member is None:
        return "–"
    if current_language() == "zh-CN":
        zh: str = getattr(member, "label_zh", member.value)
        return zh
    key = f"vocab.{type(member).__name__}.{member.value}"
    found = _t(key)
    return found if found != key else member.value.replace("_", " ").capitalize()


def action_label(workflow: str, action: str) -> str:
    return _t(f"action.{workflow}.{action}")


def money(value: Decimal | None) -> str:
    return "–" if value is None else f"¥{value:,.2f}"


def percent(value: Decimal) -> str:
    """33.33 -> "33.33", 70.00 -> "70" (no exponent)."""
    text = f"{value.normalize():f}"
    return text


def local(value: datetime | None) -> str:
    return "–" if value is None else value.astimezone(CENTRE_TZ).strftime("%Y-%m-%d %H:%M")


@work.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"label": label, "action_label": action_label, "money": money, "local": local, "percent": percent}


# --- form parsing ----------------------------------------------------------------------------------


def _field(name: str, *, required: bool = False, max_len: int = 10_000) -> str:
    value = (request.form.get(name) or "").strip()
    if required and not value:
        raise FormError("work.err.required", f"{name} is required")
    if len(value) > max_len:
        raise FormError("work.err.too_long", f"{name} is longer than {max_len} characters")
    return value


def _amount(name: str, *, required: bool = True) -> Decimal | None:
    raw = _field(name, required=required).replace(",", "").replace("¥", "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise FormError("work.err.amount", f"{name}: {raw!r} is not an amount of money") from None
    if not value.is_finite():
        raise FormError("work.err.amount", f"{name}: {raw!r} is not an amount of money")
    return value


def _when(name: str, *, required: bool = True) -> datetime | None:
    raw = _field(name, required=required)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise FormError("work.err.datetime", f"{name}: {raw!r} is not a date and time") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=CENTRE_TZ)


def _choice(name: str, enum: type[StrEnum]) -> str:
    value = _field(name, required=True)
    if value not in {m.value for m in enum}:
        raise FormError("work.err.choice", f"{name}: {value!r} is not one of {', '.join(m.value for m in enum)}")
    return value


def _row_id(name: str) -> int:
    """A form field naming a row (finding_id ...): ASCII digits of an id the database can hold."""
    raw = _field(name, required=True)
    found = parse_row_id(raw)
    if found is None:
        raise FormError("work.err.required", f"{name}: {raw[:40]!r} is not an id")
    return found


# --- errors -> notices --------------------------------------------------------------------------


def _stage_label(workflow: str, stage: str) -> str:
    enum: dict[str, type[StrEnum]] = {"claim": ClaimStage, "complaint": ComplaintStage, "finding": FindingStage}
    cls = enum.get(workflow)
    if cls is None:
        return stage
    try:
        return label(cls(stage))
    except ValueError:
        return stage


def notice_for(exc: Exception) -> tuple[Notice, int]:
    """The banner and HTTP status for a refused step."""
    if isinstance(exc, IllegalTransition):
        allowed = "、".join(action_label(exc.workflow, a) for a in exc.allowed) or _t("work.none_final")
        if current_language() != "zh-CN":
            allowed = allowed.replace("、", ", ")
        text = _t("work.err.illegal").format(
            stage=_stage_label(exc.workflow, exc.stage), action=action_label(exc.workflow, exc.action), allowed=allowed
        )
        return Notice("error", text, str(exc)), 409
    if isinstance(exc, FormError):
        return Notice("error", _t(exc.key), exc.detail), 400
    if isinstance(exc, EvidenceRejected):
        return Notice("error", _t("work.err.evidence"), str(exc)), 400
    if isinstance(exc, InvalidInput):
        message = str(exc)
        key = "work.err.invalid"
        if "sum to" in message:
            key = "work.err.shares"
        elif "was never offered" in message:
            key = "work.err.not_offered"
        elif "is not the agreed" in message:
            key = "work.err.not_agreed"
        elif "gather evidence" in message:
            key = "work.err.no_evidence"
        return Notice("error", _t(key), message), 400
    if isinstance(exc, DatabaseUnavailable):
        log.error("case work not saved: %s", exc)
        return Notice("error", _t("work.err.database"), str(exc)), 503
    raise exc


_REFUSED = (IllegalTransition, FormError, InvalidInput, DatabaseUnavailable)


def _done_notice() -> Notice | None:
    done = request.args.get("done", "")
    if not done:
        return None
    workflow, _, action = done.partition(".")
    return Notice("ok", _t("work.done").format(action=action_label(workflow, action)))


# --- evidence store ---------------------------------------------------------------------------------


def _store() -> cl.EvidenceStore:
    cfg = console().config
    if cfg.evidence_dir is None:
        raise FormError("work.err.no_evidence_dir", "no evidence folder is configured")
    return cl.EvidenceStore(root=Path(cfg.evidence_dir), max_bytes=cfg.evidence_max_bytes)


def _upload(s: Session, claim_id: int, who: str) -> None:
    store = _store()
    if (request.content_length or 0) > store.max_bytes + 64 * 1024:
        raise FormError("work.err.too_large", f"the upload is {request.content_length} bytes; at most "
                        f"{store.max_bytes} per file are accepted")
    files = request.files.getlist("file")
    if not files or not any(f.filename for f in files):
        raise FormError("work.err.no_file", "choose a file to upload")
    for f in files:
        if not f.filename:
            continue
        data = f.stream.read(store.max_bytes + 1)
        cl.add_evidence(s, claim_id, filename=f.filename, data=data, content_type=f.mimetype or "",
                        store=store, by=who)


# --- claims ------------------------------------------------------------------------------------------


def _claims_page(notice: Notice | None = None, status: int = 200) -> ResponseReturnValue:
    stage = request.args.get("stage") or None
    if stage is not None and stage not in {m.value for m in ClaimStage}:
        stage = None
    with console().db.reading() as s:
        rows = cl.list_claims(s, stage=stage, limit=200)
    return render_template(
        "claims.html", claims=rows, stage=stage, stages=list(ClaimStage), channels=list(ClaimChannel),
        causes=list(AccidentCause), notice=notice or _done_notice(), form=request.form,
    ), status


@work.get("/claims")
@requires("claims_work")
def claims() -> ResponseReturnValue:
    return _claims_page()


@work.post("/claims")
@requires("claims_work")
def report_claim() -> ResponseReturnValue:
    user = _user()
    try:
        subject = _field("subject", required=True, max_len=200)
        claimed = _amount("claimed")
        assert claimed is not None
        with console().db.session() as s:
            view = cl.open_claim(
                s,
                CaseInput(kind="claim", subject=subject, description=_field("description"),
                          waybill=_field("waybill") or None),
                channel=_choice("channel", ClaimChannel),
                accident_cause=_choice("accident_cause", AccidentCause),
                claimed=claimed,
                branch=_field("branch", max_len=100),
                major=request.form.get("major") == "on",
                by=user.username,
            )
    except _REFUSED as exc:
        notice, status = notice_for(exc)
        return _claims_page(notice, status)
    log.info("claim %s reported by %s on case %s", view.id, user.username, view.case_number)
    return redirect(url_for("work.claim_page", claim_id=view.id, done="claim.report"), 303)


def _claim_page(claim_id: int, notice: Notice | None = None, status: int = 200) -> ResponseReturnValue:
    with console().db.reading() as s:
        try:
            view = cl.get_claim(s, claim_id)
        except ClaimNotFound:
            abort(404)
        audit = _audit(s, "claim", claim_id)
    offered = sorted({o.amount for o in view.offers})
    return render_template(
        "claim.html", claim=view, audit=audit, notice=notice or _done_notice(), stages=list(ClaimStage),
        parties=list(LiableParty), offer_sides=list(OfferBy), insurer_statuses=list(InsurerStatus),
        offered=offered, liability_rows=LIABILITY_ROWS, form=request.form,
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


@work.get("/claims/<int:claim_id>")
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
        _upload(s, claim_id, who)
    elif action == "fix_liability":
        cl.fix_liability(s, claim_id, parties=_liabilities(), by=who)
    elif action == "offer":
        amount = _amount("amount")
        assert amount is not None
        cl.offer(s, claim_id, offered_by=_choice("offered_by", OfferBy), amount=amount, note=_field("note"), by=who)
    elif action == "agree_amount":
        amount = _amount("amount")
        assert amount is not None
        cl.agree_amount(s, claim_id, amount=amount, by=who)
    elif action == "notify_parties":
        cl.notify_parties(s, claim_id, by=who)
    elif action == "file_insurer_claim":
        cl.file_insurer_claim(s, claim_id, insurer=_field("insurer", required=True),
                              policy_no=_field("policy_no", required=True),
                              insurer_claim_no=_field("insurer_claim_no", required=True), by=who)
    elif action == "update_insurer_claim":
        cl.update_insurer_claim(s, claim_id, status=_choice("status", InsurerStatus),
                                payout=_amount("payout", required=False), by=who)
    elif action == "pay":
        amount = _amount("amount")
        assert amount is not None
        cl.pay(s, claim_id, amount=amount, by=who)
    elif action == "close":
        cl.close(s, claim_id, by=who)
    else:
        abort(404)


@work.post("/claims/<int:claim_id>/<action>")
@requires("claims_work")
def claim_step(claim_id: int, action: str) -> ResponseReturnValue:
    """One workflow step; the claim's current stage decides (cases.workflow.CLAIM), so a step from a
    page that another worker has overtaken is refused with the stage it is in now."""
    if action not in CLAIM.actions():
        abort(404)
    user = _user()
    try:
        with console().db.session() as s:
            if s.get(Claim, claim_id) is None:
                abort(404)
            _claim_step(s, claim_id, action, user.username)
    except _REFUSED as exc:
        notice, status = notice_for(exc)
        log.info("claim %s: %s by %s refused: %s", claim_id, action, user.username, exc)
        return _claim_page(claim_id, notice, status)
    return redirect(url_for("work.claim_page", claim_id=claim_id, done=f"claim.{action}"), 303)


@work.get("/claims/<int:claim_id>/evidence/<int:evidence_id>")
@requires("claim_evidence")
def evidence_file(claim_id: int, evidence_id: int) -> ResponseReturnValue:
    user = _user()
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


# --- inspections ------------------------------------------------------------------------------------


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
        notice=notice or _done_notice(), form=request.form,
        now_local=datetime.now(CENTRE_TZ).strftime("%Y-%m-%dT%H:%M"),
    ), status


@work.get("/inspections")
@requires("inspections_work")
def inspections() -> ResponseReturnValue:
    return _inspections_page()


@work.post("/inspections")
@requires("inspections_work")
def record_inspection() -> ResponseReturnValue:
    user = _user()
    try:
        kind = _choice("kind", InspectionKind)
        passed_raw = request.form.get("passed", "")
        inspected_at = _when("inspected_at")
        assert inspected_at is not None
        data = ins.InspectionInput(
            kind=kind,
            branch=_field("branch", required=True, max_len=100),
            inspected_at=inspected_at,
            person=_field("person", max_len=100),
            passed=None if passed_raw == "" else passed_raw == "yes",
            quoted=_amount("quoted", required=False),
            tariff=_amount("tariff", required=False),
            due_at=_when("due_at", required=False),
            done_at=_when("done_at", required=False),
            note=_field("note"),
        )
        with console().db.session() as s:
            view = ins.record_inspection(s, data, by=user.username)
    except _REFUSED as exc:
        notice, status = notice_for(exc)
        return _inspections_page(notice, status)
    return redirect(url_for("work.inspection_page", inspection_id=view.id, done="inspection.record"), 303)


def _inspection_page(inspection_id: int, notice: Notice | None = None, status: int = 200) -> ResponseReturnValue:
    with console().db.reading() as s:
        try:
            view = ins.get_inspection(s, inspection_id)
        except InspectionNotFound:
            abort(404)
        sanctions = tuple(x for x in _sanctions(s) if x.inspection_id == inspection_id)
    return render_template(
        "inspection.html", inspection=view, sanctions=sanctions, sanction_kinds=list(SanctionKind),
        notice=notice or _done_notice(), form=request.form,
        default_deadline=(datetime.now(CENTRE_TZ) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
    ), status


def _sanctions(s: Session) -> tuple[ins.SanctionView, ...]:
    from cases.models.workflows import Sanction

    rows = s.scalars(select(Sanction).order_by(Sanction.decided_at.desc(), Sanction.id.desc()).limit(500)).all()
    return tuple(ins.sanction_view(x) for x in rows)


@work.get("/inspections/<int:inspection_id>")
@requires("inspections_work")
def inspection_page(inspection_id: int) -> ResponseReturnValue:
    return _inspection_page(inspection_id)


def _finding_of(s: Session, inspection_id: int) -> int:
    finding_id = _row_id("finding_id")
    found = s.get(InspectionFinding, finding_id)
    if found is None or found.inspection_id != inspection_id:
        raise FindingNotFound(f"finding {finding_id} is not part of inspection {inspection_id}")
    return finding_id


_INSPECTION_ACTIONS: dict[str, Callable[[Session, int, str], object]] = {
    "add_finding": lambda s, i, who: ins.add_finding(
        s, i, description=_field("description", required=True), deadline=_when("deadline") or datetime.now(UTC),
        assignee=_field("assignee", max_len=100), by=who),
    "verify": lambda s, i, who: ins.verify_finding(s, _finding_of(s, i), by=who),
    "reopen": lambda s, i, who: ins.reopen_finding(
        s, _finding_of(s, i), deadline=_when("deadline") or datetime.now(UTC), note=_field("note", required=True),
        by=who),
    "sanction": lambda s, i, who: ins.record_sanction(
        s, kind=_choice("kind", SanctionKind), branch=_field("branch", required=True, max_len=100),
        person=_field("person", max_len=100), amount=_amount("amount") or Decimal(0),
        reason=_field("reason", required=True), decided_at=datetime.now(UTC), inspection_id=i, by=who),
}


@work.post("/inspections/<int:inspection_id>/<action>")
@requires("inspections_work")
def inspection_step(inspection_id: int, action: str) -> ResponseReturnValue:
    step = _INSPECTION_ACTIONS.get(action)
    if step is None:
        abort(404)
    user = _user()
    try:
        with console().db.session() as s:
            if s.get(Inspection, inspection_id) is None:
                abort(404)
            step(s, inspection_id, user.username)
    except FindingNotFound:
        abort(404)
    except _REFUSED as exc:
        notice, status = notice_for(exc)
        return _inspection_page(inspection_id, notice, status)
    workflow = "finding" if action in ("verify", "reopen") else "inspection"
    return redirect(url_for("work.inspection_page", inspection_id=inspection_id, done=f"{workflow}.{action}"), 303)


# --- the branch console ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BranchWork:
    referrals: tuple[co.ComplaintView, ...]  # complaints of the branch waiting for its answer
    answered: tuple[co.ComplaintView, ...]  # answered, being followed up by the centre
    rectifications: tuple[tuple[ins.InspectionView, ins.FindingView], ...]  # open findings of the branch
    claims: tuple[cl.ClaimView, ...]  # the branch's claims not closed
    settled: tuple[ins.SelfSettledView, ...]  # business the branch reported settling itself, newest first


def branch_work(s: Session, branch: str) -> BranchWork:
    complaints = s.scalars(
        select(Complaint.id).where(
            Complaint.branch == branch,
            Complaint.stage.in_([ComplaintStage.REFERRED.value, ComplaintStage.RECTIFIED.value]),
        ).order_by(Complaint.referral_deadline.asc().nulls_last(), Complaint.id)
    ).all()
    views = [co.get_complaint(s, cid) for cid in complaints]
    finding_rows = s.execute(
        select(InspectionFinding.id, Inspection.id).join(Inspection)
        .where(Inspection.branch == branch, InspectionFinding.stage != FindingStage.VERIFIED.value)
        .order_by(InspectionFinding.deadline, InspectionFinding.id)
    ).all()
    inspections: dict[int, ins.InspectionView] = {}
    pairs: list[tuple[ins.InspectionView, ins.FindingView]] = []
    for finding_id, inspection_id in finding_rows:
        view = inspections.get(inspection_id) or ins.get_inspection(s, inspection_id)
        inspections[inspection_id] = view
        pairs.append((view, next(f for f in view.findings if f.id == finding_id)))
    claim_rows = [c for c in cl.list_claims(s, branch=branch, limit=200) if c.stage is not ClaimStage.CLOSED]
    settled = s.scalars(
        select(SelfSettled).where(SelfSettled.branch == branch)
        .order_by(SelfSettled.settled_at.desc(), SelfSettled.id.desc()).limit(10)
    ).all()
    return BranchWork(
        referrals=tuple(v for v in views if v.stage is ComplaintStage.REFERRED),
        answered=tuple(v for v in views if v.stage is ComplaintStage.RECTIFIED),
        rectifications=tuple(pairs),
        claims=tuple(claim_rows),
        settled=tuple(
            ins.SelfSettledView(x.id, SettledBy(x.settled_by), x.branch, x.person, x.waybill, ComplaintType(x.issue),
                                yuan0(x.amount_fen), x.settled_at, x.note, x.recorded_by)
            for x in settled
        ),
    )


def _branch_page(notice: Notice | None = None, status: int = 200) -> ResponseReturnValue:
    user = _user()
    with console().db.reading() as s:
        found = branch_work(s, user.branch)
    return render_template("branch.html", work=found, branch=user.branch, notice=notice or _done_notice(),
                           max_mb=console().config.evidence_max_bytes // (1024 * 1024),
                           now=datetime.now(UTC), settled_by=list(SettledBy), issues=list(ComplaintType),
                           now_local=datetime.now(CENTRE_TZ).strftime("%Y-%m-%dT%H:%M"), form=request.form), status


@work.get("/branch")
@requires("branch_work")
def branch() -> ResponseReturnValue:
    return _branch_page()


def _own(row_branch: str | None) -> None:
    """403 unless the row belongs to the logged-in branch user's branch."""
    user = _user()
    if row_branch is None:
        abort(404)
    if not user.branch or row_branch != user.branch:
        log.info("%s (branch %s) refused work of branch %s", user.username, user.branch, row_branch)
        abort(403)


def _branch_step(work_step: Callable[[Session, str], object], done: str) -> ResponseReturnValue:
    user = _user()
    try:
        with console().db.session() as s:
            work_step(s, user.username)
    except NotFound:
        abort(404)
    except _REFUSED as exc:
        notice, status = notice_for(exc)
        return _branch_page(notice, status)
    return redirect(url_for("work.branch", done=done), 303)


@work.post("/branch/complaints/<int:complaint_id>/answer")
@requires("branch_work")
def branch_answer(complaint_id: int) -> ResponseReturnValue:
    """The branch's answer to a referred complaint: what it rectified (整改); the centre then tells
    the customer and closes."""
    with console().db.reading() as s:
        _own(s.scalar(select(Complaint.branch).where(Complaint.id == complaint_id)))
    return _branch_step(
        lambda s, who: co.confirm_rectification(
            s, complaint_id, rectification=_field("rectification", required=True), by=who),
        "complaint.confirm_rectification",
    )


@work.post("/branch/findings/<int:finding_id>/rectify")
@requires("branch_work")
def branch_rectify(finding_id: int) -> ResponseReturnValue:
    with console().db.reading() as s:
        _own(s.scalar(select(Inspection.branch).join(InspectionFinding).where(InspectionFinding.id == finding_id)))
    return _branch_step(
        lambda s, who: ins.rectify_finding(s, finding_id, rectification=_field("rectification", required=True),
                                           by=who),
        "finding.rectify",
    )


@work.post("/branch/self-settled")
@requires("branch_work")
def branch_self_settled() -> ResponseReturnValue:
    """Business the branch (its market staff, drivers, loaders) settled with a customer itself
    (自行解决业务), for the supervisor's monthly statistics; always recorded for the user's branch."""
    branch_name = _user().branch
    if not branch_name:
        abort(403)

    def record(s: Session, who: str) -> object:
        settled_at = _when("settled_at")
        assert settled_at is not None
        return ins.record_self_settled(
            s, settled_by=_choice("settled_by", SettledBy), branch=branch_name, issue=_choice("issue", ComplaintType),
            settled_at=settled_at, amount=_amount("amount", required=False) or Decimal(0),
            person=_field("person", max_len=100), waybill=_field("waybill") or None, note=_field("note"), by=who)

    return _branch_step(record, "branch.self_settled")


@work.post("/branch/claims/<int:claim_id>/evidence")
@requires("branch_work")
def branch_evidence(claim_id: int) -> ResponseReturnValue:
    with console().db.reading() as s:
        _own(s.scalar(select(Claim.branch).where(Claim.id == claim_id)))
    return _branch_step(lambda s, who: _upload(s, claim_id, who), "claim.add_evidence")

