"""One intake: whichever door a complaint, claim or change comes in by (the screen pop and POST /api/cases,
the phone menu, the complaints and claims desks), the case and its workflow record are made here, in the
caller's one transaction: a complaint gets its `Complaint` (cases.complaints), a claim its `Claim`
(cases.claims), a change request with a field and a new value its `ChangeRequest` (cases.changes). The
call (linkedid), waybill, recording and transcript attach to the case as `cases.case_records.create_case`
attaches them. Everything is checked before anything is written; a refusal raises a named
`InvalidInput` and the caller's session is rolled back, so nothing is half-stored."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from cases.case_records import create_case, get_case
from cases.changes import ChangeRequestView, request_change
from cases.claims import DEFAULT_CENTRE_HEAD, ClaimView, report_claim
from cases.complaints import ComplaintView, record_complaint
from cases.errors import InvalidWorkflowInput
from cases.inputs import clean_text, parse_enum
from cases.money import to_fen
from cases.views import CaseInput, CaseView
from cases.vocab import AccidentCause, CaseKind, ChangeField, ClaimChannel, ComplaintType

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ComplaintIntake:
    """A complaint's own fields: its type (default 其他) and the branch concerned (相关分公司) as typed."""

    complaint_type: str = ComplaintType.OTHER.value
    branch: str = ""


@dataclass(frozen=True, slots=True)
class ClaimIntake:
    """A claim's own fields: by which channel it came (热线 for the IVR's claims hotline, 坐席 for the pop),
    the accident cause (default 其他), the amount claimed (理赔金额; 0 while the customer does not know it yet)
    and the branch concerned (相关分公司) as typed."""

    channel: str = ClaimChannel.AGENT.value
    accident_cause: str = AccidentCause.OTHER.value
    claimed: Decimal | str | int = 0
    branch: str = ""
    major: bool = False
    centre_head: str = DEFAULT_CENTRE_HEAD


@dataclass(frozen=True, slots=True)
class ChangeIntake:
    """A change request's field and new value (更改收货人/联系电话…), checked by cases.changes."""

    field: str
    new_value: str
    reason: str = ""


Details = ComplaintIntake | ClaimIntake | ChangeIntake


@dataclass(frozen=True, slots=True)
class IntakeView:
    """The case as it stands after the intake, and its workflow record (None for the kinds without one, and
    for a change request taken without a field and new value)."""

    case: CaseView
    complaint: ComplaintView | None = None
    claim: ClaimView | None = None
    change: ChangeRequestView | None = None


_KIND_OF: dict[type, CaseKind] = {
    ComplaintIntake: CaseKind.COMPLAINT,
    ClaimIntake: CaseKind.CLAIM,
    ChangeIntake: CaseKind.CHANGE_REQUEST,
}


def _check(kind: CaseKind, details: Details | None) -> Details | None:
    """The details the kind takes (defaults for a complaint or claim given none), checked before writing."""
    if details is not None and _KIND_OF[type(details)] is not kind:
        raise InvalidWorkflowInput(f"a {kind.value} case does not take {_KIND_OF[type(details)].value} details")
    if kind is CaseKind.COMPLAINT:
        complaint = details if isinstance(details, ComplaintIntake) else ComplaintIntake()
        parse_enum(ComplaintType, complaint.complaint_type, "complaint type", InvalidWorkflowInput)
        clean_text(complaint.branch, "branch", max_len=100)
        return complaint
    if kind is CaseKind.CLAIM:
        claim = details if isinstance(details, ClaimIntake) else ClaimIntake()
        parse_enum(ClaimChannel, claim.channel, "claim channel", InvalidWorkflowInput)
        parse_enum(AccidentCause, claim.accident_cause, "accident cause", InvalidWorkflowInput)
        to_fen(claim.claimed, "claimed amount")
        clean_text(claim.branch, "branch", max_len=100)
        return claim
    if isinstance(details, ChangeIntake):
        parse_enum(ChangeField, details.field, "change field", InvalidWorkflowInput)
    return details


def take_in(
    s: Session,
    data: CaseInput,
    by: str,
    details: Details | None = None,
    *,
    pending_ok: bool = True,
    at: datetime | None = None,
) -> IntakeView:
    """Open the case and its workflow record in `s` (one transaction: the caller commits or rolls back).

    A complaint or claim always gets its record (defaults when `details` is None); a change request gets
    its `ChangeRequest` when `details` names the field and the new value; other kinds are cases only.
    `pending_ok`: as `cases.case_records.create_case` (a live call not stored yet is linked as pending)."""
    kind = parse_enum(CaseKind, data.kind, "case kind")
    checked = _check(kind, details)
    created = create_case(s, data, by, pending_ok=pending_ok)
    complaint: ComplaintView | None = None
    claim: ClaimView | None = None
    change: ChangeRequestView | None = None
    if isinstance(checked, ComplaintIntake):
        complaint = record_complaint(s, created.id, complaint_type=checked.complaint_type, branch=checked.branch,
                                     by=by, at=at)
    elif isinstance(checked, ClaimIntake):
        claim = report_claim(s, created.id, channel=checked.channel, accident_cause=checked.accident_cause,
                             claimed=checked.claimed, branch=checked.branch, major=checked.major,
                             centre_head=checked.centre_head, by=by, at=at)
    elif isinstance(checked, ChangeIntake):
        change = request_change(s, created.id, field=checked.field, new_value=checked.new_value,
                                reason=checked.reason, by=by, at=at)
    else:
        return IntakeView(case=created)
    log.info("intake: case %s (%s) with its workflow record, by %s", created.number, kind.value, by)
    return IntakeView(case=get_case(s, created.id), complaint=complaint, claim=claim, change=change)
