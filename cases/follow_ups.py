"""The follow-up call to the customer (回访) after the customer was told the result of a complaint.

Every call is recorded (when, by whom, satisfied / not satisfied / not reached, a note). A call that
reached the customer moves the complaint to followed_up, from where it may be closed (or, the
customer not satisfied, referred again). The standard forbids leaving loose ends (留有尾巴), so an
unreached customer is tried again: the `MAX_ATTEMPTS`-th unreached call is the last, and the
complaint is followed up as "customer unreachable" (联系不上) and may be closed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cases.complaints import ComplaintView, load_for_update, step_time, take_step
from cases.errors import InvalidWorkflowInput
from cases.inputs import clean_text, clean_username, parse_enum
from cases.models.follow_ups import ComplaintFollowUp
from cases.vocab import CaseStatus, FollowUpOutcome
from cases.workflow import COMPLAINT

MAX_ATTEMPTS = 3  # unreached calls before the complaint is followed up as "customer unreachable"


def record_follow_up(
    s: Session, complaint_id: int, *, outcome: str, note: str = "", by: str, at: datetime | None = None
) -> ComplaintView:
    """Record one follow-up call. Reached (satisfied or not): stage followed_up. Not reached: the call
    is recorded and the stage stays customer_told, until the MAX_ATTEMPTS-th unreached call since the
    customer was told, which ends the follow-up as unreachable (stage followed_up)."""
    who = clean_username(by, "called_by")
    result = parse_enum(FollowUpOutcome, outcome, "follow-up outcome", InvalidWorkflowInput)
    text = clean_text(note, "note", max_len=10_000)
    now = step_time(at)
    c = load_for_update(s, complaint_id)
    attempt = 1
    if result is FollowUpOutcome.UNREACHABLE:
        earlier = s.scalar(
            select(func.count()).select_from(ComplaintFollowUp).where(
                ComplaintFollowUp.complaint_id == c.id,
                ComplaintFollowUp.outcome == FollowUpOutcome.UNREACHABLE.value,
                ComplaintFollowUp.called_at >= (c.customer_told_at or c.recorded_at),
            )
        ) or 0
        attempt = earlier + 1
    action = "follow_up_attempt" if result is FollowUpOutcome.UNREACHABLE and attempt < MAX_ATTEMPTS else "follow_up"
    COMPLAINT.step(c.id, c.stage, action)
    if c.customer_told_at is not None and now < c.customer_told_at:
        raise InvalidWorkflowInput("a follow-up call cannot be before the customer was told")
    c.follow_ups.append(ComplaintFollowUp(outcome=result.value, note=text, called_by=who, called_at=now))
    status = CaseStatus.RESOLVED
    return take_step(s, c, action, who, now, {"outcome": result.value, "attempt": attempt, "note": text}, status)
