"""The department desk (`/branch`): department staff (role branch: 分公司, 市场区域, 仓管, 结算, 兑付, 开票,
大客户项目主管, 干线车辆) see the complaints referred to their department — for a branch or market area, to
their unit — routed by `cases.referrals`, and answer them with their rectification (整改), which the
centre then verifies. Branch and market staff also see the rectification tasks of their branch and its
claims, and the claims their unit is liable for with the share, the amount owed and when it was told
(`cases.claim_owed.owed_by`); they rectify and upload evidence (反馈和跟踪确认), and record the business they
settled with a customer themselves. Users only reach their own department's (and branch's) work."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

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
    form_when,
    notice_for,
    signed_in_user,
)
from agent_console.evidence_uploads import upload_evidence
from cases import claims as cl
from cases import complaints as co
from cases import inspections as ins
from cases.claim_owed import DEPARTMENT_PARTIES, OwedLine, owed_by_department, total_owed
from cases.errors import NotFound
from cases.models.workflows import Claim, Inspection, InspectionFinding, SelfSettled
from cases.money import yuan0
from cases.referrals import department_referrals, referral_is_for
from cases.vocab import UNIT_DEPARTMENTS, ComplaintType, Department, FindingStage, LiableParty, SettledBy
from cases.workflow import CLAIM_ENDED_STAGES

log = logging.getLogger(__name__)

bp = Blueprint("branch", __name__)


@dataclass(frozen=True, slots=True)
class BranchWork:
    referrals: tuple[co.ComplaintView, ...]  # complaints of the branch waiting for its answer
    answered: tuple[co.ComplaintView, ...]  # answered, being followed up by the centre
    rectifications: tuple[tuple[ins.InspectionView, ins.FindingView], ...]  # open findings of the branch
    claims: tuple[cl.ClaimView, ...]  # the branch's claims not closed
    settled: tuple[ins.SelfSettledView, ...]  # business the branch reported settling itself, newest first
    owed: tuple[OwedLine, ...] = ()  # claims the branch is liable for (明确责任人), with what it owes
    department: Department = Department.BRANCH  # whose referrals (cases.referrals)
    unit_desk: bool = True  # a branch or market area: its findings, claims and self-settled business too
    owed_parties: tuple[LiableParty, ...] = ()  # the liable parties the department answers for (owed above)


def branch_work(s: Session, branch: str, department: str = Department.BRANCH.value) -> BranchWork:
    dept = Department(department or Department.BRANCH.value)
    queue = department_referrals(s, dept, branch)
    parties = DEPARTMENT_PARTIES.get(dept, ())
    if dept.value not in UNIT_DEPARTMENTS or not branch:
        # 仓管, 干线车辆 ...: no unit, but what their parties owe on claims (a unit department without a unit: none)
        owes = dept.value not in UNIT_DEPARTMENTS
        return BranchWork(referrals=queue.waiting, answered=queue.answered, rectifications=(), claims=(), settled=(),
                          owed=owed_by_department(s, dept.value) if owes else (), department=dept, unit_desk=False,
                          owed_parties=parties if owes else ())
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
    claim_rows = [c for c in cl.list_claims(s, branch=branch, limit=200) if c.stage not in CLAIM_ENDED_STAGES]
    settled = s.scalars(
        select(SelfSettled).where(SelfSettled.branch == branch)
        .order_by(SelfSettled.settled_at.desc(), SelfSettled.id.desc()).limit(10)
    ).all()
    return BranchWork(
        referrals=queue.waiting,
        answered=queue.answered,
        department=dept,
        rectifications=tuple(pairs),
        claims=tuple(claim_rows),
        owed=owed_by_department(s, dept.value, branch),  # a unit is a liable party
        owed_parties=parties,
        settled=tuple(
            ins.SelfSettledView(x.id, SettledBy(x.settled_by), x.branch, x.person, x.waybill, ComplaintType(x.issue),
                                yuan0(x.amount_fen), x.settled_at, x.note, x.recorded_by)
            for x in settled
        ),
    )


def _branch_page(notice: Notice | None = None, status: int = 200) -> ResponseReturnValue:
    user = signed_in_user()
    with console().db.reading() as s:
        found = branch_work(s, user.branch, user.department)
    return render_template("branch.html", work=found, branch=user.branch, notice=notice or done_notice(),
                           owed_total=total_owed(found.owed),
                           max_mb=console().config.evidence_max_bytes // (1024 * 1024),
                           now=datetime.now(UTC), settled_by=list(SettledBy), issues=list(ComplaintType),
                           now_local=datetime.now(CENTRE_TZ).strftime("%Y-%m-%dT%H:%M"), form=request.form), status


@bp.get("/branch")
@requires("branch_work")
def branch() -> ResponseReturnValue:
    return _branch_page()


def _own(row_branch: str | None) -> None:
    """403 unless the row belongs to the logged-in branch user's branch."""
    user = signed_in_user()
    if row_branch is None:
        abort(404)
    if not user.branch or row_branch != user.branch or user.department not in UNIT_DEPARTMENTS:
        log.info("%s (branch %s) refused work of branch %s", user.username, user.branch, row_branch)
        abort(403)


def _branch_step(work_step: Callable[[Session, str], object], done: str) -> ResponseReturnValue:
    user = signed_in_user()
    try:
        with console().db.session() as s:
            work_step(s, user.username)
    except NotFound:
        abort(404)
    except REFUSED as exc:
        notice, status = notice_for(exc)
        return _branch_page(notice, status)
    return redirect(url_for("branch.branch", done=done), 303)


@bp.post("/branch/complaints/<int:complaint_id>/answer")
@requires("branch_work")
def branch_answer(complaint_id: int) -> ResponseReturnValue:
    """The department's answer to a complaint referred to it: what it rectified (整改); the centre then
    verifies it (or sends it back), tells the customer, calls back (回访) and closes."""
    user = signed_in_user()
    with console().db.reading() as s:
        routed = referral_is_for(s, complaint_id, user.department, user.branch)
    if routed is None:
        abort(404)
    if not routed:
        log.info("%s (%s %s) refused the referral of complaint %s", user.username, user.department, user.branch,
                 complaint_id)
        abort(403)
    return _branch_step(
        lambda s, who: co.confirm_rectification(
            s, complaint_id, rectification=form_field("rectification", required=True), by=who),
        "complaint.confirm_rectification",
    )


@bp.post("/branch/findings/<int:finding_id>/rectify")
@requires("branch_work")
def branch_rectify(finding_id: int) -> ResponseReturnValue:
    with console().db.reading() as s:
        _own(s.scalar(select(Inspection.branch).join(InspectionFinding).where(InspectionFinding.id == finding_id)))
    return _branch_step(
        lambda s, who: ins.rectify_finding(s, finding_id, rectification=form_field("rectification", required=True),
                                           by=who),
        "finding.rectify",
    )


@bp.post("/branch/self-settled")
@requires("branch_work")
def branch_self_settled() -> ResponseReturnValue:
    """Business the branch (its market staff, drivers, loaders) settled with a customer itself
    (自行解决业务), for the supervisor's monthly statistics; always recorded for the user's branch."""
    branch_name = signed_in_user().branch
    if not branch_name or signed_in_user().department not in UNIT_DEPARTMENTS:
        abort(403)

    def record(s: Session, who: str) -> object:
        settled_at = form_when("settled_at")
        assert settled_at is not None
        return ins.record_self_settled(
            s, settled_by=form_choice("settled_by", SettledBy), branch=branch_name,
            issue=form_choice("issue", ComplaintType), settled_at=settled_at,
            amount=form_amount("amount", required=False) or Decimal(0), person=form_field("person", max_len=100),
            waybill=form_field("waybill") or None, note=form_field("note"), by=who)

    return _branch_step(record, "branch.self_settled")


@bp.post("/branch/claims/<int:claim_id>/evidence")
@requires("branch_work")
def branch_evidence(claim_id: int) -> ResponseReturnValue:
    with console().db.reading() as s:
        _own(s.scalar(select(Claim.branch).where(Claim.id == claim_id)))
    return _branch_step(lambda s, who: upload_evidence(s, claim_id, who), "claim.add_evidence")
