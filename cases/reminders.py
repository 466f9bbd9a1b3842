"""Follow-up reminders: cases whose follow-up deadline (a referral's deadline, `Case.follow_up_due`)
is near or past, and complaints left with loose ends (留有尾巴, `complaints.loose_ends`). A reminder is
acknowledged once, by its assignee or a supervisor, with an audit entry (what
"reminder.acknowledge" on the case); acknowledged reminders are not raised again. The overdue
reminder is another reminder than the one before the deadline, so acknowledging "due soon" still
leaves "overdue" to come. Claims past a deadline of `cases.claim_clock` (a stage's or the total) raise
"claim_overdue" to the claims staff working them (or whoever reported them, before anyone took them) and the
supervisors; a claim that moves on gets a new deadline, and so a new reminder once that one passes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.audit import iso_utc, record_audit
from cases.claim_clock import ClaimDeadlines, overdue_claims
from cases.complaints import loose_ends
from cases.errors import NotFound
from cases.models.audit import AuditEntry
from cases.models.base import utcnow
from cases.models.case import Case
from cases.vocab import OPEN_STATUSES

ACK = "reminder.acknowledge"
DUE_SOON = "follow_up_due"  # the deadline is within the lead time
OVERDUE = "follow_up_overdue"  # the deadline has passed (a referral's department is late)
LOOSE_END_KINDS = ("no_follow_up", "not_verified", "customer_not_told", "no_return_call")  # loose_ends reasons
CLAIM_OVERDUE = "claim_overdue"  # a claim past its stage's or its total deadline (逾期)
KINDS = (DUE_SOON, OVERDUE, *LOOSE_END_KINDS, CLAIM_OVERDUE)
DEFAULT_LEAD = timedelta(hours=2)


class ReminderNotFound(NotFound):
    """No such reminder is due (never was, or already acknowledged, or the case moved on)."""


@dataclass(frozen=True, slots=True)
class Reminder:
    key: str  # "<case id>:<kind>:<due ISO>": what an acknowledgement names
    case_id: int
    case_number: str
    subject: str
    kind: str  # one of KINDS
    due: datetime  # the deadline (follow-up kinds) or since when the loose end is left
    assignee: str | None  # who works the case (assigned_to, else who opened it)
    department: str | None

    @property
    def overdue(self) -> bool:
        return self.kind != DUE_SOON

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "case_id": self.case_id, "case_number": self.case_number, "subject": self.subject,
                "kind": self.kind, "due": iso_utc(self.due), "assignee": self.assignee, "department": self.department,
                "overdue": self.overdue}


def _reminder(case: Case, kind: str, due: datetime) -> Reminder:
    return Reminder(key=f"{case.id}:{kind}:{iso_utc(due)}", case_id=case.id, case_number=case.number,
                    subject=case.subject, kind=kind, due=due, assignee=case.assigned_to or case.created_by or None,
                    department=case.department)


def _candidates(s: Session, now: datetime, lead: timedelta, deadlines: ClaimDeadlines) -> list[Reminder]:
    out: dict[str, Reminder] = {}
    stmt = select(Case).where(Case.follow_up_due.is_not(None), Case.follow_up_due <= now + lead,
                              Case.status.in_([st.value for st in OPEN_STATUSES]))
    for case in s.scalars(stmt).all():
        due = case.follow_up_due
        assert due is not None
        r = _reminder(case, OVERDUE if due <= now else DUE_SOON, due)
        out[r.key] = r
    for end in loose_ends(s, now=now):
        ended = s.scalars(select(Case).where(Case.number == end.case_number)).one_or_none()
        if ended is None:
            continue
        kind = OVERDUE if end.reason == "referral_overdue" else end.reason
        if kind not in KINDS or any(r.case_id == ended.id and r.kind == kind for r in out.values()):
            continue
        r = _reminder(ended, kind, end.since)
        out[r.key] = r
    late = {c.case_id: c for c in overdue_claims(s, deadlines, now=now)}
    for case in s.scalars(select(Case).where(Case.id.in_(late))).all() if late else ():
        due = late[case.id].clock.due_at
        if due is not None:
            r = _reminder(case, CLAIM_OVERDUE, due)
            out[r.key] = r
    return sorted(out.values(), key=lambda r: (r.due, r.case_id, r.kind))


def _acknowledged(s: Session, case_ids: set[int]) -> set[str]:
    if not case_ids:
        return set()
    rows = s.scalars(select(AuditEntry.detail).where(
        AuditEntry.what == ACK, AuditEntry.entity == "case", AuditEntry.entity_id.in_([str(i) for i in case_ids])))
    return {str(d.get("key")) for d in rows if isinstance(d, dict)}


def due_reminders(s: Session, *, now: datetime | None = None, lead: timedelta = DEFAULT_LEAD,
                  claim_deadlines: ClaimDeadlines | None = None) -> tuple[Reminder, ...]:
    """Reminders due now and not yet acknowledged, earliest deadline first."""
    found = _candidates(s, now or utcnow(), lead, claim_deadlines or ClaimDeadlines())
    done = _acknowledged(s, {r.case_id for r in found})
    return tuple(r for r in found if r.key not in done)


def acknowledge_reminder(s: Session, key: str, *, by: str, now: datetime | None = None,
                         lead: timedelta = DEFAULT_LEAD, claim_deadlines: ClaimDeadlines | None = None) -> Reminder:
    """Mark a due reminder acknowledged (audited). ReminderNotFound if it is not due now."""
    found = due_reminders(s, now=now, lead=lead, claim_deadlines=claim_deadlines)
    reminder = next((r for r in found if r.key == key), None)
    if reminder is None:
        raise ReminderNotFound(f"no reminder {key!r} is due")
    record_audit(s, by, ACK, "case", reminder.case_id,
                 {"key": key, "kind": reminder.kind, "due": iso_utc(reminder.due)})
    s.flush()
    return reminder
