"""Recording the wrap-up code (话后代码) an agent chose for a case (table `wrap_ups`, migration 0017).

The choice is kept on the call it was about: of the case's calls, the latest the agent took (or talked
on), else the case's latest call; its hotline is kept with it (None: the case has no call). The agents'
report (`cases.reports.agents`) counts these rows; the case's history keeps its note line as well."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.case_records import load_case
from cases.inputs import clean_text, clean_username
from cases.models.base import utcnow
from cases.models.calls import Call
from cases.models.case import case_calls
from cases.models.wrap_ups import WrapUp


@dataclass(frozen=True, slots=True)
class WrapUpView:
    id: int
    case_id: int
    call_id: int | None
    agent: str
    code: str
    label: str
    hotline: str | None
    at: datetime


def wrap_up_call(s: Session, case_id: int, agent: str) -> tuple[int, str | None] | None:
    """(call id, hotline) the agent's wrap-up of the case is about, None when the case has no call."""
    rows = s.execute(
        select(Call.id, Call.agent, Call.agents, Call.hotline)
        .join(case_calls, case_calls.c.call_id == Call.id)
        .where(case_calls.c.case_id == case_id)
        .order_by(Call.started_at.desc(), Call.id.desc())
    ).all()
    mine = [r for r in rows if r.agent == agent or agent in (r.agents or [])]
    pick = (mine or rows)[0] if rows else None
    return None if pick is None else (int(pick.id), pick.hotline)


def record_wrap_up(s: Session, case_id: int, code: str, label: str, by: str,
                   at: datetime | None = None) -> WrapUpView:
    """`by` chose wrap-up code `code` (labelled `label`) for the case; the caller has checked the code
    against the console's configured codes."""
    who = clean_username(by, "agent")
    code = clean_text(code, "wrap-up code", max_len=40, required=True)
    label = clean_text(label, "wrap-up label", max_len=100) if label else ""
    load_case(s, case_id)  # CaseNotFound
    call = wrap_up_call(s, case_id, who)
    row = WrapUp(case_id=case_id, call_id=call[0] if call else None, agent=who, code=code, label=label,
                 hotline=call[1] if call else None, at=at or utcnow())
    s.add(row)
    s.flush()
    return WrapUpView(row.id, row.case_id, row.call_id, row.agent, row.code, row.label, row.hotline, row.at)
