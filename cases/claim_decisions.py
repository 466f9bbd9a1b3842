"""The decisions on a claim beside its steps: ending it refused (拒赔) or withdrawn (客户撤回) with the reason,
from any stage before the customer is paid (its case is closed), and the supervisor's 重大事故 decision: the
claimed amount or the reporter only suggests a major incident; a supervisor confirms it (then it is escalated
to the centre's head, audited as claim.escalate) or declines it, with a note either way."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from cases.audit import record_audit
from cases.claims import DEFAULT_CENTRE_HEAD, ClaimView, at_or_now, load_for_update, step_claim
from cases.errors import InvalidWorkflowInput
from cases.inputs import clean_text, clean_username
from cases.vocab import CaseStatus, MajorStatus
from cases.workflow import CLAIM

log = logging.getLogger(__name__)


def _end(s: Session, claim_id: int, action: str, reason: str, by: str, at: datetime | None) -> ClaimView:
    who = clean_username(by, "ended_by")
    why = clean_text(reason, "reason", max_len=10_000, required=True)
    now = at_or_now(at)
    c = load_for_update(s, claim_id)
    CLAIM.step(c.id, c.stage, action)
    c.end_reason, c.closed_at = why, now
    return step_claim(s, c, action, who, now, {"reason": why}, CaseStatus.CLOSED)


def refuse(s: Session, claim_id: int, *, reason: str, by: str, at: datetime | None = None) -> ClaimView:
    """拒赔: the company will not pay (why: the reason, required); the claim and its case are closed."""
    return _end(s, claim_id, "refuse", reason, by, at)


def withdraw(s: Session, claim_id: int, *, reason: str, by: str, at: datetime | None = None) -> ClaimView:
    """客户撤回 (撤案): the customer withdrew the claim (why: the reason, required); claim and case closed."""
    return _end(s, claim_id, "withdraw", reason, by, at)


def decide_major(s: Session, claim_id: int, *, confirm: bool, note: str, by: str,
                 centre_head: str = DEFAULT_CENTRE_HEAD, at: datetime | None = None) -> ClaimView:
    """The supervisor's 重大事故 decision (with a note). Confirming escalates the claim to `centre_head` and
    makes its case urgent; declining is for a suggested claim only, and a confirmed one stays confirmed."""
    who = clean_username(by, "decided_by")
    text = clean_text(note, "note", max_len=10_000, required=True)
    head = clean_username(centre_head, "centre_head")
    now = at_or_now(at)
    c = load_for_update(s, claim_id)
    CLAIM.step(c.id, c.stage, "decide_major")
    current = MajorStatus(c.major_status) if c.major_status else None
    if current is MajorStatus.CONFIRMED:
        raise InvalidWorkflowInput(f"claim {c.id}: 重大事故 is confirmed already (by {c.major_decided_by})")
    if not confirm and current is not MajorStatus.SUGGESTED:
        raise InvalidWorkflowInput(f"claim {c.id}: only a suggested 重大事故 can be declined")
    status = MajorStatus.CONFIRMED if confirm else MajorStatus.DECLINED
    c.major_status, c.major_decided_by, c.major_decided_at, c.major_note = status.value, who, now, text
    c.major = confirm
    if confirm:
        c.escalated_to = head
        c.case.priority = "urgent"
    view = step_claim(s, c, "decide_major", who, now, {"decision": status.value, "note": text,
                                                       "was": current.value if current else None}, None)
    if confirm:
        record_audit(s, who, "claim.escalate", "claim", c.id, {"escalated_to": head, "claimed": str(view.claimed)})
        s.flush()
        log.warning("major incident on case %s confirmed by %s, escalated to %s", view.case_number, who, head)
    return view
