"""Who may see a call.

An agent sees (recording, transcripts, service check, entities) and may link to a case only the calls it
was on — the call record's `agent` (took it), `agents` (talked on it: transfers) or `rang` (its phone
rang) — and the calls assigned to it (`assign_call`: by a supervisor, or the IVR's calls of a callback
task it accepted). Every other centre role sees every call; the console decides who is an agent
(agent_console.security, capability "all_calls") and vouches for calls live with the user that are not
stored yet (agent_console.data).
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.accounts import user_by_name
from cases.audit import record_audit
from cases.call_records import call_by_linkedid, call_view
from cases.errors import CallNotFound, InvalidUserInput
from cases.inputs import clean_username
from cases.models.base import utcnow
from cases.models.calls import CallAssignment
from cases.views import CallView, CaseCallView
from cases.vocab import Role

log = logging.getLogger(__name__)


def was_on_call(call: CallView, username: str) -> bool:
    """Whether `username` took, talked on or was rung for the call."""
    return bool(username) and (call.agent == username or username in call.agents or username in call.rang)


def may_see_call(call: CaseCallView, username: str) -> bool:
    """An agent's view of a call linked to a case: it was on it, or the call was assigned to it."""
    return was_on_call(call.call, username) or username in call.assigned


def agent_may_see_call(s: Session, linkedid: str, agent: str) -> bool | None:
    """Whether the agent was on the stored call or has it assigned; None when no call is stored."""
    call = call_by_linkedid(s, linkedid.strip())
    if call is None:
        return None
    if was_on_call(call_view(call), agent):
        return True
    assigned = select(CallAssignment.id).where(CallAssignment.call_id == call.id, CallAssignment.agent == agent)
    return s.scalar(assigned) is not None


def assign_call(s: Session, linkedid: str, agent: str, by: str, *, via: str = "supervisor") -> bool:
    """Give `agent` (an active user of role agent) the stored call: it may link it to a case and see its
    recording and transcripts. Idempotent; audited as call.assign. True if newly assigned.
    CallNotFound, UserNotFound, InvalidUserInput (not an active agent)."""
    who = clean_username(by, "assigned_by")
    call = call_by_linkedid(s, (linkedid or "").strip())
    if call is None:
        raise CallNotFound(f"no call {linkedid!r}")
    user = user_by_name(s, agent)
    if user.role != Role.AGENT.value or not user.active:
        raise InvalidUserInput(f"{user.username} is not an active agent")
    exists = select(CallAssignment.id).where(CallAssignment.call_id == call.id, CallAssignment.agent == user.username)
    if s.scalar(exists) is not None:
        return False
    s.add(CallAssignment(call_id=call.id, agent=user.username, assigned_by=who, assigned_at=utcnow()))
    s.flush()
    record_audit(s, who, "call.assign", "call", call.linkedid, {"agent": user.username, "via": via})
    log.info("call %s assigned to %s by %s (%s)", call.linkedid, user.username, who, via)
    return True

