"""The callback (回电) owed to the customer once a change request is decided: made by the decision for
the agent who asked for the change (cases.changes), listed on that agent's page and the case page, and
marked done (已回电) by that agent or a supervisor. A change the IVR or another non-agent asked for goes to
the case's assignee, else to no one in particular (`agent` ""): every agent sees it and any may take it.
Audited (entity "change_callback")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.audit import record_audit
from cases.errors import ChangeCallbackNotFound, InvalidWorkflowInput
from cases.inputs import aware_utc, clean_text, clean_username
from cases.models.accounts import User
from cases.models.base import utcnow
from cases.models.case import Case
from cases.models.change_callbacks import ChangeCallback
from cases.models.shipments import Shipment
from cases.models.workflows import ChangeRequest
from cases.vocab import ChangeField, ChangeStage, Role

CALLBACK_ROLES = (Role.AGENT.value, Role.SUPERVISOR.value, Role.ADMIN.value)  # the console users who take calls


@dataclass(frozen=True, slots=True)
class ChangeCallbackView:
    id: int
    change_request_id: int
    case_id: int
    case_number: str
    waybill: str
    field: ChangeField
    old_value: str
    new_value: str
    outcome: ChangeStage  # applied or rejected
    note: str  # the decision's reason
    agent: str  # who calls the customer back
    decided_by: str
    created_at: datetime
    done_at: datetime | None
    done_by: str | None
    done_note: str

    @property
    def done(self) -> bool:
        return self.done_at is not None


def who_calls_back(s: Session, r: ChangeRequest, case: Case) -> str:
    """The requester when it is an active user who takes calls; else the case's assignee, else "" (anyone)."""
    user = s.scalars(select(User).where(User.username == r.requested_by)).one_or_none()
    if user is not None and user.active and user.role in CALLBACK_ROLES:
        return user.username
    return case.assigned_to or ""


def create_callback(s: Session, r: ChangeRequest, case: Case, *, by: str, at: datetime) -> ChangeCallback:
    """The callback for a request just decided (`r.stage` applied or rejected), for `who_calls_back`."""
    cb = ChangeCallback(change_request_id=r.id, case_id=case.id, agent=who_calls_back(s, r, case), outcome=r.stage,
                        note=r.decision_note, created_at=at)
    s.add(cb)
    s.flush()
    record_audit(s, by, "change_callback.create", "change_callback", cb.id,
                 {"case": case.number, "change_request": r.id, "agent": cb.agent, "outcome": cb.outcome})
    return cb


_QUERY = (
    select(ChangeCallback, ChangeRequest, Case.number, Shipment.waybill)
    .join(ChangeRequest, ChangeRequest.id == ChangeCallback.change_request_id)
    .join(Case, Case.id == ChangeCallback.case_id)
    .join(Shipment, Shipment.id == ChangeRequest.shipment_id)
)


def _view(cb: ChangeCallback, r: ChangeRequest, number: str, waybill: str) -> ChangeCallbackView:
    return ChangeCallbackView(
        id=cb.id, change_request_id=r.id, case_id=cb.case_id, case_number=number, waybill=waybill,
        field=ChangeField(r.field), old_value=r.old_value, new_value=r.new_value, outcome=ChangeStage(cb.outcome),
        note=cb.note, agent=cb.agent, decided_by=r.decided_by or "", created_at=cb.created_at, done_at=cb.done_at,
        done_by=cb.done_by, done_note=cb.done_note,
    )


def list_callbacks(s: Session, *, agent: str | None = None, case_id: int | None = None, open_only: bool = False,
                   with_unassigned: bool = False, limit: int = 100) -> tuple[ChangeCallbackView, ...]:
    """Callbacks, newest first: of one agent (and those of no one in particular), of one case, only those
    not done yet."""
    stmt = _QUERY
    if agent is not None:
        stmt = stmt.where(ChangeCallback.agent.in_((agent, "") if with_unassigned else (agent,)))
    if case_id is not None:
        stmt = stmt.where(ChangeCallback.case_id == case_id)
    if open_only:
        stmt = stmt.where(ChangeCallback.done_at.is_(None))
    stmt = stmt.order_by(ChangeCallback.created_at.desc(), ChangeCallback.id.desc()).limit(max(1, min(limit, 1000)))
    return tuple(_view(cb, r, number, wb) for cb, r, number, wb in s.execute(stmt).all())


def get_callback(s: Session, callback_id: int) -> ChangeCallbackView:
    row = s.execute(_QUERY.where(ChangeCallback.id == callback_id)).one_or_none()
    if row is None:
        raise ChangeCallbackNotFound(f"change callback {callback_id} does not exist")
    return _view(*row)


def complete_callback(s: Session, callback_id: int, *, note: str = "", by: str,
                      at: datetime | None = None) -> ChangeCallbackView:
    """The customer was called back and told the outcome (已回电); audited. Once only."""
    who = clean_username(by, "done_by")
    text = clean_text(note, "note", max_len=10_000)
    now = aware_utc(at, "time") if at is not None else utcnow()
    cb = s.get(ChangeCallback, callback_id, with_for_update=True)
    if cb is None:
        raise ChangeCallbackNotFound(f"change callback {callback_id} does not exist")
    if cb.done_at is not None:
        raise InvalidWorkflowInput(f"change callback {callback_id} was already done by {cb.done_by}")
    cb.done_at, cb.done_by, cb.done_note = now, who, text
    s.flush()
    record_audit(s, who, "change_callback.done", "change_callback", cb.id,
                 {"change_request": cb.change_request_id, "note": text})
    s.flush()
    return get_callback(s, callback_id)
