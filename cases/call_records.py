"""Call records: storing a finished call (idempotent by linkedid), the pending row of a call linked to
a case before its record arrives, and reading calls back."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime

from sqlalchemy import String, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cases.customers import match_customer
from cases.errors import InvalidCallRecord
from cases.inputs import aware_utc
from cases.models.base import Base, utcnow
from cases.models.calls import Call, Transcript
from cases.phones import normalize_phone
from cases.views import CallView
from telephony.records import CallRecord

log = logging.getLogger(__name__)

PENDING_OUTCOME = "pending"


def call_view(c: Call) -> CallView:
    return CallView(
        id=c.id,
        linkedid=c.linkedid,
        caller=c.caller,
        caller_name=c.caller_name,
        dialed=c.dialed,
        hotline=c.hotline,
        digits=c.digits,
        queue=c.queue,
        outcome=c.outcome,
        agent=c.agent,
        agents=tuple(c.agents),
        rang=tuple(c.rang),
        hangup_by=c.hangup_by,
        wait_s=c.wait_s,
        talk_s=c.talk_s,
        recording=c.recording,
        started_at=c.started_at,
        answered_at=c.answered_at,
        ended_at=c.ended_at,
        waybill=c.waybill,
        reconciled=c.reconciled,
        ivr_path=c.ivr_path,
        customer_id=c.customer_id,
        customer_name=c.customer.name if c.customer is not None else None,
    )



def _column_length(model: type[Base], column: str) -> int | None:
    col_type = model.__table__.c[column].type
    return col_type.length if isinstance(col_type, String) else None



def _epoch(value: float | None, what: str) -> datetime | None:
    if value is None:
        return None
    if not math.isfinite(value):
        raise InvalidCallRecord(f"{what} is not a finite epoch time: {value!r}")
    return datetime.fromtimestamp(value, tz=UTC)


def _call_string(rec: CallRecord, name: str, value: str | None) -> str | None:
    limit = _column_length(Call, name)
    if value is not None and limit is not None and len(value) > limit:
        raise InvalidCallRecord(f"call {rec.linkedid}: {name} is longer than {limit} characters")
    return value


def record_call(s: Session, rec: CallRecord) -> CallView:
    """Store a finished call; idempotent by linkedid (a replay updates the same row).

    The caller's phone links the call to a customer (see `phones_match`).
    """
    linkedid = (rec.linkedid or "").strip()
    if not linkedid:
        raise InvalidCallRecord("call record has no linkedid")
    if len(linkedid) > 64:
        raise InvalidCallRecord(f"linkedid {linkedid!r} is longer than 64 characters")
    for name in ("caller", "caller_name", "dialed", "hotline", "digits", "queue", "outcome", "agent"):
        _call_string(rec, name, getattr(rec, name))
    for name in ("hangup_by", "recording", "waybill"):
        _call_string(rec, name, getattr(rec, name))
    started_at = _epoch(rec.started_at, "started_at")
    answered_at = _epoch(rec.answered_at, "answered_at")
    ended_at = _epoch(rec.ended_at, "ended_at")
    for name in ("wait_s", "talk_s"):
        v = getattr(rec, name)
        if v is not None and not math.isfinite(v):
            raise InvalidCallRecord(f"call {linkedid}: {name} is not a finite number")

    call, created = ensure_call(s, linkedid)
    caller_norm = normalize_phone(rec.caller)[:32]
    call.caller = rec.caller or ""
    call.caller_norm = caller_norm
    call.caller_name = rec.caller_name or ""
    call.dialed = rec.dialed or ""
    call.hotline = rec.hotline or None
    call.digits = rec.digits or ""
    call.queue = rec.queue
    call.outcome = rec.outcome
    call.agent = rec.agent
    call.agents = list(rec.agents)
    call.rang = list(rec.rang)
    call.hangup_by = rec.hangup_by
    call.wait_s = rec.wait_s
    call.talk_s = rec.talk_s
    call.recording = rec.recording
    call.started_at = started_at
    call.answered_at = answered_at
    call.ended_at = ended_at
    call.waybill = rec.waybill
    call.reconciled = rec.reconciled
    call.ivr_path = rec.ivr_path or None
    call.updated_at = utcnow()
    customer = match_customer(s, caller_norm)
    call.customer = customer
    s.flush()
    log.info(
        "call %s %s (caller %s, outcome %s, customer %s)",
        linkedid,
        "recorded" if created else "updated",
        rec.caller,
        rec.outcome,
        customer.id if customer is not None else None,
    )
    return call_view(call)


def call_by_linkedid(s: Session, linkedid: str) -> Call | None:
    return s.scalars(select(Call).where(Call.linkedid == linkedid)).one_or_none()


def ensure_call(s: Session, linkedid: str) -> tuple[Call, bool]:
    """The call row for `linkedid`, inserted as pending if missing: (call, created).

    Uses INSERT ... ON CONFLICT DO NOTHING so that a case linked while the call is live and the
    call's record arriving at hangup, in two concurrent transactions, cannot collide.
    """
    call = call_by_linkedid(s, linkedid)
    if call is not None:
        return call, False
    now = utcnow()
    values = {
        "linkedid": linkedid,
        "caller": "",
        "caller_norm": "",
        "caller_name": "",
        "dialed": "",
        "digits": "",
        "outcome": PENDING_OUTCOME,
        "agents": [],
        "rang": [],
        "reconciled": False,
        "created_at": now,
        "updated_at": now,
    }
    if s.get_bind().dialect.name == "postgresql":
        pg = pg_insert(Call).values(**values).on_conflict_do_nothing(index_elements=[Call.linkedid])
        created = s.execute(pg).rowcount == 1  # type: ignore[attr-defined]
    else:
        lite = sqlite_insert(Call).values(**values).on_conflict_do_nothing(index_elements=[Call.linkedid])
        created = s.execute(lite).rowcount == 1  # type: ignore[attr-defined]
    call = call_by_linkedid(s, linkedid)
    assert call is not None
    return call, created


def get_call(s: Session, linkedid: str) -> CallView | None:
    """The stored call with this linkedid, or None."""
    call = call_by_linkedid(s, linkedid)
    return call_view(call) if call is not None else None


def calls_with_outcome(s: Session, outcome: str, *, limit: int = 1000) -> tuple[CallView, ...]:
    """Calls whose outcome is `outcome` (e.g. the "pending" rows of calls still going on), oldest first."""
    rows = s.scalars(select(Call).where(Call.outcome == outcome).order_by(Call.id).limit(limit))
    return tuple(call_view(c) for c in rows)


def calls_needing_transcripts(s: Session, since: datetime, *, limit: int = 200) -> tuple[CallView, ...]:
    """Answered calls with a recording, ended since `since`, that have no transcript yet."""
    has_transcript = select(Transcript.id).where(Transcript.call_id == Call.id).exists()
    rows = s.scalars(select(Call).where(Call.outcome == "answered", Call.recording.is_not(None),
                                        Call.ended_at >= aware_utc(since, "since"), ~has_transcript)
                     .order_by(Call.ended_at).limit(limit))
    return tuple(call_view(c) for c in rows)

