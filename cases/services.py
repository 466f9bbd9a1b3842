"""What other packages call. Every function takes a SQLAlchemy `Session` first, flushes but never
commits (the caller's `Database.session()` block does), and returns frozen views from `cases.views`.
Input errors raise before anything is written, so a failed call leaves stored data unchanged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import ColumnElement, String, or_, select, union
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from cases import search as _search  # noqa: F401  (registers the transcript index listeners)
from cases.call_checks import check_view, entity_views
from cases.demo_data import (
    DEMO_CASES,
    DEMO_CUSTOMERS,
    DEMO_PASSWORD,
    DEMO_SHIPMENTS,
    DEMO_USERS,
    DEMO_WAYBILLS,
    STAGES,
)
from cases.errors import (
    CallNotFound,
    CaseNotFound,
    InvalidCallRecord,
    InvalidCaseInput,
    InvalidTranscriptInput,
    InvalidUserInput,
    InvalidWaybill,
    ShipmentSourceError,
    UnknownWaybill,
    UserExists,
    UserNotFound,
)
from cases.ids import is_row_id
from cases.models import (
    AuditEntry,
    Base,
    Call,
    CallAssignment,
    CallCheckResult,
    CallEntity,
    Case,
    CaseCounter,
    Customer,
    CustomerPhone,
    Shipment,
    ShipmentEvent,
    Transcript,
    User,
    case_calls,
    utcnow,
)
from cases.phones import MIN_SUFFIX_DIGITS, phone_tail
from cases.sessions import end_user_sessions
from cases.views import (
    UNSET,
    AuditView,
    CallerContext,
    CallView,
    CaseCallView,
    CaseInput,
    CaseSummaryView,
    CaseUpdate,
    CaseView,
    CustomerView,
    LoginCheck,
    SeedSummary,
    ShipmentEventInput,
    ShipmentEventView,
    ShipmentInput,
    ShipmentView,
    TranscriptView,
    UserView,
    WaybillLookup,
)
from cases.vocab import (
    OPEN_STATUSES,
    TRANSITIONS,
    CaseKind,
    CaseStatus,
    CustomerKind,
    Department,
    Priority,
    Role,
    Speaker,
)
from telephony.records import CallRecord

if TYPE_CHECKING:
    from cases.shipment_sources import ShipmentSource

__all__ = [
    "DEMO_WAYBILLS",
    "calls_needing_transcripts",
    "calls_with_outcome",
    "UNSET",
    "AuditView",
    "CallView",
    "CallerContext",
    "CaseCallView",
    "CaseInput",
    "CaseSummaryView",
    "CaseUpdate",
    "CaseView",
    "CustomerView",
    "SeedSummary",
    "ShipmentEventInput",
    "ShipmentEventView",
    "ShipmentInput",
    "ShipmentView",
    "TranscriptView",
    "UserView",
    "WaybillLookup",
    "attach_transcript",
    "audit_for",
    "authenticate",
    "check_login",
    "caller_context",
    "cases_for_call",
    "create_case",
    "create_customer",
    "create_shipment",
    "create_user",
    "list_users",
    "set_active",
    "set_password",
    "set_role",
    "find_case_by_number",
    "find_customer_by_phone",
    "find_shipment",
    "get_call",
    "get_case",
    "hash_password",
    "link_call",
    "list_cases",
    "normalize_phone",
    "password_needs_rehash",
    "phones_match",
    "record_call",
    "scrypt_hash",
    "seed_demo",
    "transcripts_for_call",
    "update_case",
    "upgrade_password_hash",
    "validate_waybill",
    "verify_password",
]

log = logging.getLogger(__name__)

CHINA_TZ = timezone(timedelta(hours=8), "CST")  # case numbers use the centre's calendar day
PREVIOUS_CALLS_LIMIT = 10
PREVIOUS_CALLS_MARGIN = 5  # rows read beyond the limit, for those `phones_match` rejects
RECENT_SHIPMENTS_LIMIT = 5
OPEN_CASES_LIMIT = 20
REFERRAL_FOLLOW_UP = timedelta(hours=24)
YEARS = (1900, 2999)  # dates the cases accept (deadlines, inspections, follow-ups)
DESCRIPTION_MAX_LEN = 10_000  # a case's description when it is opened (notes add at most 10,000 each)
PENDING_OUTCOME = "pending"
_WAYBILL_RE = re.compile(r"[0-9]{10,14}")
_USERNAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MIN_PASSWORD_LENGTH = 8

E = TypeVar("E", bound=StrEnum)


# ---------------------------------------------------------------- small helpers


def normalize_phone(raw: str | None) -> str:
    """Digits only: '+86 138-0013-8000' -> '8613800138000'."""
    return "".join(ch for ch in (raw or "") if ch.isascii() and ch.isdigit())


def phones_match(a: str, b: str) -> bool:
    """Whether two phone numbers are the same line.

    Equal after normalising, or, ignoring leading zeros (trunk '0' / international '00' prefixes),
    the shorter one (at least 8 digits) is the tail of the longer one: '13800138000' matches
    '+86 138 0013 8000', '010 5555 1001' matches '+86 10 5555 1001'; '010 12345678' does not match
    '021 12345678' (same 8-digit local number, other city).
    """
    a, b = normalize_phone(a), normalize_phone(b)
    if not a or not b:
        return False
    if a == b:
        return True
    a, b = a.lstrip("0"), b.lstrip("0")
    short, long = sorted((a, b), key=len)
    return len(short) >= MIN_SUFFIX_DIGITS and long.endswith(short)


def _suffix_key(norm: str) -> str | None:
    """The last 8 digits every suffix-match partner of `norm` shares, or None if too short: the key
    stored in `Call.caller_tail` and `CustomerPhone.tail` (`cases.phones.phone_tail`)."""
    return phone_tail(norm)


def validate_waybill(raw: str) -> str:
    """A waybill (运单号) is 10-14 digits; surrounding whitespace is ignored."""
    waybill = (raw or "").strip()
    if not _WAYBILL_RE.fullmatch(waybill):
        raise InvalidWaybill(f"waybill {raw!r} is not valid: a waybill is 10-14 digits")
    return waybill


def _enum(cls: type[E], value: str, what: str, error: type[Exception] = InvalidCaseInput) -> E:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise error(f"unknown {what} {value!r}; expected one of: {allowed}") from None


def _text(value: str | None, what: str, *, max_len: int, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidCaseInput(f"{what} is required")
    if len(text) > max_len:
        raise InvalidCaseInput(f"{what} is too long ({len(text)} characters, at most {max_len})")
    return text


def _aware(value: datetime, what: str) -> datetime:
    """In UTC, and within YEARS (a date far outside names no real deadline, and one at datetime's edge
    cannot be shown in another time zone: 9999-12-31T23:59-12:00 is past year 9999 in UTC)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidCaseInput(f"{what} must be timezone-aware (got {value.isoformat()})")
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not YEARS[0] <= in_utc.year <= YEARS[1]:
        raise InvalidCaseInput(f"{what} {value.isoformat()} is not between the years {YEARS[0]} and {YEARS[1]}")
    return in_utc


def _username(by: str, what: str = "user") -> str:
    name = (by or "").strip()
    if not _USERNAME_RE.fullmatch(name):
        raise InvalidCaseInput(f"{what} {by!r} is not a valid username (1-64 letters, digits, _ . -)")
    return name


def _column_length(model: type[Base], column: str) -> int | None:
    col_type = model.__table__.c[column].type
    return col_type.length if isinstance(col_type, String) else None


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _audit(s: Session, who: str, what: str, entity: str, entity_id: object, detail: dict[str, Any]) -> None:
    s.add(AuditEntry(who=who, what=what, entity=entity, entity_id=str(entity_id), detail=detail, at=utcnow()))


# ---------------------------------------------------------------- view builders


def _customer_view(c: Customer) -> CustomerView:
    return CustomerView(
        id=c.id,
        name=c.name,
        kind=CustomerKind(c.kind),
        phones=tuple(p.phone for p in c.phones),
        note=c.note,
    )


def _shipment_view(sh: Shipment) -> ShipmentView:
    return ShipmentView(
        id=sh.id,
        waybill=sh.waybill,
        shipper_customer_id=sh.shipper_customer_id,
        shipper_name=sh.shipper.name if sh.shipper is not None else "",
        shipper_phone=sh.shipper_phone,
        consignee_name=sh.consignee_name,
        consignee_phone=sh.consignee_phone,
        origin=sh.origin,
        destination=sh.destination,
        status=sh.status,
        created_at=sh.created_at,
        updated_at=sh.updated_at,
        events=tuple(ShipmentEventView(at=e.at, place=e.place, status=e.status, note=e.note) for e in sh.events),
    )


def _call_view(c: Call) -> CallView:
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


def _transcript_view(t: Transcript, linkedid: str) -> TranscriptView:
    return TranscriptView(
        id=t.id,
        linkedid=linkedid,
        engine=t.engine,
        model=t.model,
        speaker=Speaker(t.speaker),
        text=t.text,
        words_json=json.dumps(t.words, ensure_ascii=False, sort_keys=True),
        duration_s=t.duration_s,
        created_at=t.created_at,
    )


def _case_summary(c: Case) -> CaseSummaryView:
    return CaseSummaryView(
        id=c.id,
        number=c.number,
        kind=CaseKind(c.kind),
        status=CaseStatus(c.status),
        subject=c.subject,
        priority=Priority(c.priority),
        customer_id=c.customer_id,
        customer_name=c.customer.name if c.customer is not None else None,
        waybill=c.shipment.waybill if c.shipment is not None else None,
        department=Department(c.department) if c.department else None,
        assigned_to=c.assigned_to,
        follow_up_due=c.follow_up_due,
        created_by=c.created_by,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


def _case_view(c: Case) -> CaseView:
    return CaseView(
        id=c.id,
        number=c.number,
        kind=CaseKind(c.kind),
        status=CaseStatus(c.status),
        subject=c.subject,
        description=c.description,
        priority=Priority(c.priority),
        customer=_customer_view(c.customer) if c.customer is not None else None,
        shipment=_shipment_view(c.shipment) if c.shipment is not None else None,
        department=Department(c.department) if c.department else None,
        assigned_to=c.assigned_to,
        follow_up_due=c.follow_up_due,
        created_by=c.created_by,
        created_at=c.created_at,
        updated_at=c.updated_at,
        calls=tuple(
            CaseCallView(
                call=_call_view(call),
                transcripts=tuple(_transcript_view(t, call.linkedid) for t in call.transcripts),
                check=check_view(call.quality_check) if call.quality_check is not None else None,
                entities=entity_views(call.entities),
                assigned=tuple(a.agent for a in call.assignments),
            )
            for call in c.calls
        ),
    )


_SUMMARY_LOAD = (selectinload(Case.customer), selectinload(Case.shipment))
_SHIPMENT_LOAD = (selectinload(Shipment.shipper), selectinload(Shipment.events))


# ---------------------------------------------------------------- customers


def create_customer(s: Session, name: str, kind: str, phones: Sequence[str] = (), *, note: str = "") -> CustomerView:
    """A new customer with its phones (normalised; each phone may belong to one customer only)."""
    clean_name = _text(name, "customer name", max_len=100, required=True)
    kind_value = _enum(CustomerKind, kind, "customer kind")
    normalised: list[str] = []
    for raw in phones:
        norm = normalize_phone(raw)
        if not norm or len(norm) > 32:
            raise InvalidCaseInput(f"phone {raw!r} is not a phone number")
        if norm not in normalised:
            normalised.append(norm)
    if normalised:
        taken = s.scalars(select(CustomerPhone.phone).where(CustomerPhone.phone.in_(normalised))).all()
        if taken:
            raise InvalidCaseInput(f"phone {taken[0]} already belongs to another customer")
    customer = Customer(
        name=clean_name,
        kind=kind_value.value,
        note=note,
        phones=[CustomerPhone(phone=p) for p in normalised],
        created_at=utcnow(),
    )
    s.add(customer)
    s.flush()
    return _customer_view(customer)


def _match_customer(s: Session, norm: str) -> Customer | None:
    if not norm:
        return None
    exact = s.scalars(select(CustomerPhone).where(CustomerPhone.phone == norm)).one_or_none()
    if exact is not None:
        return exact.customer
    key = _suffix_key(norm)
    if key is None:
        return None
    candidates = s.scalars(select(CustomerPhone).where(CustomerPhone.tail == key)).all()
    scored = [(len(p.phone.lstrip("0")), p) for p in candidates if phones_match(p.phone, norm)]
    if not scored:
        return None
    # the closest match wins: the longest shared tail, i.e. the most digits compared
    best = max(min(score, len(norm.lstrip("0"))) for score, _ in scored)
    top = [p for score, p in scored if min(score, len(norm.lstrip("0"))) == best]
    if len({p.customer_id for p in top}) > 1:
        log.warning("phone %s matches several customers, linking none", norm)
        return None
    return top[0].customer


def find_customer_by_phone(s: Session, phone: str) -> CustomerView | None:
    customer = _match_customer(s, normalize_phone(phone))
    return _customer_view(customer) if customer is not None else None


# ---------------------------------------------------------------- shipments


def create_shipment(s: Session, data: ShipmentInput) -> ShipmentView:
    """A shipment with its status history; its status is the latest event's."""
    waybill = validate_waybill(data.waybill)
    if s.scalars(select(Shipment.id).where(Shipment.waybill == waybill)).first() is not None:
        raise InvalidCaseInput(f"a shipment with waybill {waybill} already exists")
    if data.shipper_customer_id is not None and s.get(Customer, data.shipper_customer_id) is None:
        raise InvalidCaseInput(f"customer {data.shipper_customer_id} does not exist")
    events = sorted(data.events, key=lambda e: _aware(e.at, "shipment event time"))
    for e in events:
        _text(e.status, "shipment event status", max_len=50, required=True)
    now = utcnow()
    shipment = Shipment(
        waybill=waybill,
        shipper_customer_id=data.shipper_customer_id,
        shipper_phone=normalize_phone(data.shipper_phone),
        consignee_name=_text(data.consignee_name, "consignee name", max_len=100),
        consignee_phone=normalize_phone(data.consignee_phone),
        origin=_text(data.origin, "origin", max_len=100),
        destination=_text(data.destination, "destination", max_len=100),
        status=events[-1].status.strip() if events else "",
        created_at=events[0].at if events else now,
        updated_at=events[-1].at if events else now,
        events=[ShipmentEvent(at=e.at, place=e.place, status=e.status.strip(), note=e.note) for e in events],
    )
    s.add(shipment)
    s.flush()
    return _shipment_view(shipment)


def _shipment_by_waybill(s: Session, waybill: str) -> Shipment | None:
    return s.scalars(select(Shipment).where(Shipment.waybill == waybill).options(*_SHIPMENT_LOAD)).one_or_none()


def find_shipment(s: Session, waybill: str) -> ShipmentView | None:
    """The shipment with its status history; `InvalidWaybill` unless 10-14 digits."""
    shipment = _shipment_by_waybill(s, validate_waybill(waybill))
    return _shipment_view(shipment) if shipment is not None else None


def _customer_shipments(s: Session, customer: Customer, limit: int) -> list[Shipment]:
    phones = [p.phone for p in customer.phones]
    cond: ColumnElement[bool] = Shipment.shipper_customer_id == customer.id
    if phones:
        cond = or_(cond, Shipment.consignee_phone.in_(phones))
    stmt = (
        select(Shipment)
        .where(cond)
        .options(*_SHIPMENT_LOAD)
        .order_by(Shipment.created_at.desc(), Shipment.id.desc())
        .limit(limit)
    )
    return list(s.scalars(stmt).all())


# ---------------------------------------------------------------- calls


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

    call, created = _ensure_call(s, linkedid)
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
    customer = _match_customer(s, caller_norm)
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
    return _call_view(call)


def _call_by_linkedid(s: Session, linkedid: str) -> Call | None:
    return s.scalars(select(Call).where(Call.linkedid == linkedid)).one_or_none()


def _ensure_call(s: Session, linkedid: str) -> tuple[Call, bool]:
    """The call row for `linkedid`, inserted as pending if missing: (call, created).

    Uses INSERT ... ON CONFLICT DO NOTHING so that a case linked while the call is live and the
    call's record arriving at hangup, in two concurrent transactions, cannot collide.
    """
    call = _call_by_linkedid(s, linkedid)
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
    call = _call_by_linkedid(s, linkedid)
    assert call is not None
    return call, created


def get_call(s: Session, linkedid: str) -> CallView | None:
    """The stored call with this linkedid, or None."""
    call = _call_by_linkedid(s, linkedid)
    return _call_view(call) if call is not None else None


def calls_with_outcome(s: Session, outcome: str, *, limit: int = 1000) -> tuple[CallView, ...]:
    """Calls whose outcome is `outcome` (e.g. the "pending" rows of calls still going on), oldest first."""
    rows = s.scalars(select(Call).where(Call.outcome == outcome).order_by(Call.id).limit(limit))
    return tuple(_call_view(c) for c in rows)


def calls_needing_transcripts(s: Session, since: datetime, *, limit: int = 200) -> tuple[CallView, ...]:
    """Answered calls with a recording, ended since `since`, that have no transcript yet."""
    has_transcript = select(Transcript.id).where(Transcript.call_id == Call.id).exists()
    rows = s.scalars(select(Call).where(Call.outcome == "answered", Call.recording.is_not(None),
                                        Call.ended_at >= _aware(since, "since"), ~has_transcript)
                     .order_by(Call.ended_at).limit(limit))
    return tuple(_call_view(c) for c in rows)


def transcripts_for_call(s: Session, linkedid: str) -> tuple[TranscriptView, ...]:
    """The call's transcripts, oldest first (empty if the call is unknown)."""
    call = _call_by_linkedid(s, linkedid)
    return tuple(_transcript_view(t, call.linkedid) for t in call.transcripts) if call is not None else ()


def _calls_of_phone(
    s: Session, norm: str, customer_id: int | None, limit: int, exclude_linkedid: str | None = None
) -> list[Call]:
    """Calls from this phone (or a suffix-matching one) and, if known, from the customer's phones.

    The SQL filter (the indexed tail key) lets through few calls that `phones_match` then rejects (the
    same 8-digit local number in another city), so a page of `limit` plus a small margin is read, and
    a further page only while rejected rows left the result short."""
    conds = _phone_call_conds(norm)
    if customer_id is not None:
        conds.append(Call.customer_id == customer_id)
    if not conds:
        return []
    # one indexed lookup per condition: with OR'd conditions SQLite walks the whole started_at index
    # for the ORDER BY instead
    ids = union(*(select(Call.id).where(cond) for cond in conds)) if len(conds) > 1 else select(Call.id).where(conds[0])
    stmt = select(Call).where(Call.id.in_(ids)).options(selectinload(Call.customer))
    if exclude_linkedid:
        stmt = stmt.where(Call.linkedid != exclude_linkedid)
    stmt = stmt.order_by(Call.started_at.desc().nulls_last(), Call.id.desc())
    page = limit + PREVIOUS_CALLS_MARGIN
    matched: list[Call] = []
    seen: set[int] = set()
    offset = 0
    while len(matched) < limit:
        rows = s.scalars(stmt.offset(offset).limit(page)).all()
        for c in rows:
            if c.id in seen:  # a call stored between two pages shifts the next one
                continue
            seen.add(c.id)
            if (customer_id is not None and c.customer_id == customer_id) or phones_match(c.caller_norm, norm):
                matched.append(c)
        if len(rows) < page:
            break
        offset += page
    return matched[:limit]


def _phone_call_conds(norm: str) -> list[ColumnElement[bool]]:
    """SQL conditions a call from this phone meets (a superset: check `phones_match` on the rows).
    Every call `phones_match` accepts has the same tail key (an index lookup); a number too short
    for one only matches itself."""
    if not norm:
        return []
    key = _suffix_key(norm)
    return [Call.caller_norm == norm if key is None else Call.caller_tail == key]


def _open_case_ids_of_phone(s: Session, norm: str) -> set[int]:
    """Open cases linked to a call from this phone. Only the links of open cases are read, so the
    work does not grow with the phone's calls (a busy line has thousands: loading them all on every
    screen pop is what made the console fall behind under load)."""
    conds = _phone_call_conds(norm)
    if not conds:
        return set()
    stmt = (
        select(case_calls.c.case_id, Call.caller_norm)
        .join(Call, Call.id == case_calls.c.call_id)
        .join(Case, Case.id == case_calls.c.case_id)
        .where(or_(*conds), Case.status.in_([st.value for st in OPEN_STATUSES]))
    )
    return {case_id for case_id, caller_norm in s.execute(stmt) if phones_match(caller_norm, norm)}


# ---------------------------------------------------------------- caller context (screen pop)


def caller_context(
    s: Session,
    phone: str,
    waybill: str | None = None,
    *,
    exclude_linkedid: str | None = None,
    shipments: ShipmentSource | None = None,
) -> CallerContext:
    """Everything the screen pop shows for a caller: who, which shipment, history, open cases.

    An ill-formed waybill does not raise: it is reported as `WaybillLookup.INVALID`; a shipment
    source (`cases.shipment_sources`, default the embedded table) that cannot answer gives
    `WaybillLookup.UNAVAILABLE`. `exclude_linkedid` leaves the ringing call itself out of the
    previous calls.
    """
    norm = normalize_phone(phone)
    customer = _match_customer(s, norm)

    shipment: ShipmentView | None = None
    wb = (waybill or "").strip()
    if not wb:
        lookup = WaybillLookup.NONE
    else:
        try:
            wb = validate_waybill(wb)
        except InvalidWaybill:
            lookup = WaybillLookup.INVALID
        else:
            if shipments is None:
                row = _shipment_by_waybill(s, wb)
                shipment = _shipment_view(row) if row is not None else None
                lookup = WaybillLookup.FOUND if shipment is not None else WaybillLookup.NOT_FOUND
            else:
                try:
                    shipment = shipments.lookup(s, wb)
                    lookup = WaybillLookup.FOUND
                except UnknownWaybill:
                    lookup = WaybillLookup.NOT_FOUND
                except ShipmentSourceError as exc:
                    log.warning("screen pop: waybill %s not looked up: %s", wb, exc)
                    lookup = WaybillLookup.UNAVAILABLE
    recent: list[Shipment] = []
    if shipment is None and customer is not None:
        recent = _customer_shipments(s, customer, RECENT_SHIPMENTS_LIMIT)

    customer_id = customer.id if customer is not None else None
    previous = _calls_of_phone(s, norm, customer_id, PREVIOUS_CALLS_LIMIT, exclude_linkedid)

    case_conds: list[ColumnElement[bool]] = []
    if customer_id is not None:
        case_conds.append(Case.customer_id == customer_id)
    phone_case_ids = _open_case_ids_of_phone(s, norm)
    if phone_case_ids:
        case_conds.append(Case.id.in_(phone_case_ids))
    open_cases: list[Case] = []
    if case_conds:
        stmt = (
            select(Case)
            .where(or_(*case_conds), Case.status.in_([st.value for st in OPEN_STATUSES]))
            .options(*_SUMMARY_LOAD)
            .order_by(Case.created_at.desc(), Case.id.desc())
            .limit(OPEN_CASES_LIMIT)
        )
        open_cases = list(s.scalars(stmt).all())

    return CallerContext(
        phone=phone,
        phone_normalized=norm,
        customer=_customer_view(customer) if customer is not None else None,
        waybill=waybill,
        waybill_lookup=lookup,
        shipment=shipment,
        recent_shipments=tuple(_shipment_view(sh) for sh in recent),
        previous_calls=tuple(_call_view(c) for c in previous),
        open_cases=tuple(_case_summary(c) for c in open_cases),
    )


# ---------------------------------------------------------------- cases


def _next_case_number(s: Session, now: datetime) -> str:
    """C<yyyymmdd>-<nnnn> by the centre's calendar day; the per-day counter is bumped atomically."""
    day = now.astimezone(CHINA_TZ).strftime("%Y%m%d")
    bump = {"last": CaseCounter.last + 1}
    if s.get_bind().dialect.name == "postgresql":
        pg = pg_insert(CaseCounter).values(day=day, last=1)
        stmt = pg.on_conflict_do_update(index_elements=[CaseCounter.day], set_=bump).returning(CaseCounter.last)
    else:
        lite = sqlite_insert(CaseCounter).values(day=day, last=1)
        stmt = lite.on_conflict_do_update(index_elements=[CaseCounter.day], set_=bump).returning(CaseCounter.last)
    n = s.execute(stmt).scalar_one()
    return f"C{day}-{n:04d}"


def _link_call_row(s: Session, case: Case, linkedid: str, pending_ok: bool) -> Call:
    """The call to link; a call not yet recorded (still ringing) gets a pending row that `record_call`
    fills in later when `pending_ok` (the caller vouches that the call is live), else CallNotFound."""
    lid = linkedid.strip()
    if not lid or len(lid) > 64:
        raise InvalidCaseInput(f"linkedid {linkedid!r} is not valid")
    if not pending_ok:
        call = _call_by_linkedid(s, lid)
        if call is None:
            raise CallNotFound(f"no call {lid}")
        return call
    call, created = _ensure_call(s, lid)
    if created:
        log.info("call %s linked to a case before it was recorded: stored as pending", lid)
    return call


def create_case(s: Session, data: CaseInput, by: str, *, pending_ok: bool = True) -> CaseView:
    """Open a case (validated; audited as case.create). Referred cases need a department and get a
    follow-up deadline (default: 24 hours). A `linkedid` not stored yet is linked as a pending call if
    `pending_ok` (the IVR's own live call; the console only for a call live with the user), else
    CallNotFound and nothing is stored."""
    who = _username(by, "created_by")
    kind = _enum(CaseKind, data.kind, "case kind")
    status = _enum(CaseStatus, data.status, "case status")
    priority = _enum(Priority, data.priority, "priority")
    department = _enum(Department, data.department, "department") if data.department is not None else None
    subject = _text(data.subject, "subject", max_len=200, required=True)
    description = _text(data.description, "description", max_len=DESCRIPTION_MAX_LEN)
    assigned_to = _username(data.assigned_to, "assigned_to") if data.assigned_to else None
    follow_up_due = _aware(data.follow_up_due, "follow_up_due") if data.follow_up_due is not None else None
    if status is CaseStatus.REFERRED and department is None:
        raise InvalidCaseInput("a referred case needs a department to refer it to")

    customer: Customer | None = None
    if data.customer_id is not None:
        if not is_row_id(data.customer_id):
            raise InvalidCaseInput(f"customer {data.customer_id!r} is not a customer id")
        customer = s.get(Customer, data.customer_id)
        if customer is None:
            raise InvalidCaseInput(f"customer {data.customer_id} does not exist")
    shipment: Shipment | None = None
    if data.waybill is not None and data.waybill.strip():
        try:
            waybill = validate_waybill(data.waybill)
        except InvalidWaybill as exc:
            raise InvalidCaseInput(str(exc)) from None
        shipment = _shipment_by_waybill(s, waybill)
        if shipment is None:
            raise InvalidCaseInput(f"no shipment with waybill {waybill}")

    now = utcnow()
    if status is CaseStatus.REFERRED and follow_up_due is None:
        follow_up_due = now + REFERRAL_FOLLOW_UP
    case = Case(
        number="",
        kind=kind.value,
        status=status.value,
        subject=subject,
        description=description,
        priority=priority.value,
        customer=customer,
        shipment=shipment,
        created_by=who,
        assigned_to=assigned_to,
        department=department.value if department is not None else None,
        follow_up_due=follow_up_due,
        created_at=now,
        updated_at=now,
    )
    if data.linkedid is not None:
        call = _link_call_row(s, case, data.linkedid, pending_ok)
        case.calls.append(call)
        if case.customer is None and call.customer is not None:
            case.customer = call.customer
    case.number = _next_case_number(s, now)
    s.add(case)
    s.flush()
    _audit(
        s,
        who,
        "case.create",
        "case",
        case.id,
        {
            "number": case.number,
            "kind": case.kind,
            "status": case.status,
            "priority": case.priority,
            "subject": case.subject,
            "customer_id": case.customer_id,
            "waybill": shipment.waybill if shipment is not None else None,
            "linkedid": data.linkedid,
            "department": case.department,
            "assigned_to": case.assigned_to,
            "follow_up_due": _iso(case.follow_up_due),
        },
    )
    s.flush()
    log.info("case %s (%s) created by %s", case.number, case.kind, who)
    return _case_view(case)


def _load_case(s: Session, case_id: int, *, for_update: bool = False) -> Case:
    case = s.get(
        Case,
        case_id,
        options=[
            selectinload(Case.customer).selectinload(Customer.phones),
            selectinload(Case.shipment).selectinload(Shipment.events),
            selectinload(Case.shipment).selectinload(Shipment.shipper),
            selectinload(Case.calls).selectinload(Call.transcripts),
            selectinload(Case.calls).selectinload(Call.customer),
            selectinload(Case.calls).selectinload(Call.quality_check).selectinload(CallCheckResult.findings),
            selectinload(Case.calls).selectinload(Call.entities).selectinload(CallEntity.shipment),
            selectinload(Case.calls).selectinload(Call.assignments),
        ],
        with_for_update=for_update,
    )
    if case is None:
        raise CaseNotFound(f"case {case_id} does not exist")
    return case


def update_case(s: Session, case_id: int, data: CaseUpdate, by: str) -> CaseView:
    """Change a case (validated before anything changes; audited as case.update with the changes).

    Status transitions follow `cases.vocab.TRANSITIONS`; referring needs a department (given here or
    already set) and sets a follow-up deadline if none; a closed case only takes notes.
    """
    who = _username(by, "updated_by")
    case = _load_case(s, case_id, for_update=True)
    old_status = CaseStatus(case.status)
    changes: dict[str, dict[str, Any]] = {}

    new_status = _enum(CaseStatus, data.status, "case status") if data.status is not None else old_status
    priority = _enum(Priority, data.priority, "priority") if data.priority is not None else None
    note = _text(data.note, "note", max_len=10_000) if data.note is not None else ""

    department: str | None = case.department
    if data.department is not UNSET:
        department = _enum(Department, data.department, "department").value if data.department else None
    assigned_to: str | None = case.assigned_to
    if data.assigned_to is not UNSET:
        assigned_to = _username(data.assigned_to, "assigned_to") if data.assigned_to else None
    follow_up_due: datetime | None = case.follow_up_due
    if data.follow_up_due is not UNSET:
        follow_up_due = _aware(data.follow_up_due, "follow_up_due") if data.follow_up_due else None

    if new_status is not old_status and new_status not in TRANSITIONS[old_status]:
        allowed = ", ".join(sorted(st.value for st in TRANSITIONS[old_status])) or "none (closed is final)"
        raise InvalidCaseInput(
            f"case {case.number} cannot go from {old_status.value} to {new_status.value}; allowed: {allowed}"
        )
    if old_status is CaseStatus.CLOSED and (
        (priority is not None and priority.value != case.priority)
        or department != case.department
        or assigned_to != case.assigned_to
        or follow_up_due != case.follow_up_due
    ):
        raise InvalidCaseInput(f"case {case.number} is closed: only notes can be added")
    if new_status is CaseStatus.REFERRED and department is None:
        raise InvalidCaseInput(f"case {case.number}: referring needs a department to refer it to")

    now = utcnow()
    if new_status is CaseStatus.REFERRED and old_status is not CaseStatus.REFERRED and follow_up_due is None:
        follow_up_due = now + REFERRAL_FOLLOW_UP

    def change(field: str, old: object, new: object) -> None:
        if old != new:
            changes[field] = {
                "from": _iso(old) if isinstance(old, datetime) else old,
                "to": _iso(new) if isinstance(new, datetime) else new,
            }

    change("status", case.status, new_status.value)
    if priority is not None:
        change("priority", case.priority, priority.value)
    change("department", case.department, department)
    change("assigned_to", case.assigned_to, assigned_to)
    change("follow_up_due", case.follow_up_due, follow_up_due)
    if not changes and not note:
        return _case_view(case)

    case.status = new_status.value
    if priority is not None:
        case.priority = priority.value
    case.department = department
    case.assigned_to = assigned_to
    case.follow_up_due = follow_up_due
    detail: dict[str, Any] = {"changes": changes}
    if note:
        stamp = now.strftime("%Y-%m-%d %H:%M UTC")
        entry = f"[{stamp} {who}] {note}"
        case.description = f"{case.description}\n\n{entry}" if case.description else entry
        detail["note"] = note
    case.updated_at = now
    s.flush()
    _audit(s, who, "case.update", "case", case.id, detail)
    s.flush()
    log.info("case %s updated by %s: %s", case.number, who, ", ".join(changes) or "note")
    return _case_view(case)


def link_call(s: Session, case_id: int, linkedid: str, by: str, *, pending_ok: bool = True) -> CaseView:
    """Link one more call to a case (idempotent); a call not yet recorded is linked as pending if
    `pending_ok`, else CallNotFound."""
    who = _username(by, "linked_by")
    case = _load_case(s, case_id, for_update=True)
    call = _link_call_row(s, case, linkedid, pending_ok)
    if call not in case.calls:
        case.calls.append(call)
        if case.customer is None and call.customer is not None:
            case.customer = call.customer
        case.updated_at = utcnow()
        s.flush()
        _audit(s, who, "case.link_call", "case", case.id, {"linkedid": call.linkedid})
        s.flush()
    return _case_view(case)


def get_case(s: Session, case_id: int) -> CaseView:
    """A case with its customer, shipment (with history), and linked calls with their transcripts."""
    return _case_view(_load_case(s, case_id))


# ---------------------------------------------------------------- who may see a call
#
# An agent sees (recording, transcripts, service check, entities) and may link to a case only the calls it
# was on — the call record's `agent` (took it), `agents` (talked on it: transfers) or `rang` (its phone
# rang) — and the calls assigned to it (`assign_call`: by a supervisor, or the IVR's calls of a callback
# task it accepted). Every other centre role sees every call; the console decides who is an agent
# (agent_console.security, capability "all_calls") and vouches for calls live with the user that are not
# stored yet (agent_console.data).


def was_on_call(call: CallView, username: str) -> bool:
    """Whether `username` took, talked on or was rung for the call."""
    return bool(username) and (call.agent == username or username in call.agents or username in call.rang)


def may_see_call(call: CaseCallView, username: str) -> bool:
    """An agent's view of a call linked to a case: it was on it, or the call was assigned to it."""
    return was_on_call(call.call, username) or username in call.assigned


def agent_may_see_call(s: Session, linkedid: str, agent: str) -> bool | None:
    """Whether the agent was on the stored call or has it assigned; None when no call is stored."""
    call = _call_by_linkedid(s, linkedid.strip())
    if call is None:
        return None
    if was_on_call(_call_view(call), agent):
        return True
    assigned = select(CallAssignment.id).where(CallAssignment.call_id == call.id, CallAssignment.agent == agent)
    return s.scalar(assigned) is not None


def assign_call(s: Session, linkedid: str, agent: str, by: str, *, via: str = "supervisor") -> bool:
    """Give `agent` (an active user of role agent) the stored call: it may link it to a case and see its
    recording and transcripts. Idempotent; audited as call.assign. True if newly assigned.
    CallNotFound, UserNotFound, InvalidUserInput (not an active agent)."""
    who = _username(by, "assigned_by")
    call = _call_by_linkedid(s, (linkedid or "").strip())
    if call is None:
        raise CallNotFound(f"no call {linkedid!r}")
    user = _user_by_name(s, agent)
    if user.role != Role.AGENT.value or not user.active:
        raise InvalidUserInput(f"{user.username} is not an active agent")
    exists = select(CallAssignment.id).where(CallAssignment.call_id == call.id, CallAssignment.agent == user.username)
    if s.scalar(exists) is not None:
        return False
    s.add(CallAssignment(call_id=call.id, agent=user.username, assigned_by=who, assigned_at=utcnow()))
    s.flush()
    _audit(s, who, "call.assign", "call", call.linkedid, {"agent": user.username, "via": via})
    log.info("call %s assigned to %s by %s (%s)", call.linkedid, user.username, who, via)
    return True


def list_cases(
    s: Session, *, status: str | None = None, kind: str | None = None, limit: int = 50
) -> tuple[CaseSummaryView, ...]:
    """Cases, newest first, optionally filtered by status and kind."""
    if not 1 <= limit <= 1000:
        raise InvalidCaseInput(f"limit must be between 1 and 1000, got {limit}")
    stmt = select(Case).options(*_SUMMARY_LOAD)
    if status is not None:
        stmt = stmt.where(Case.status == _enum(CaseStatus, status, "case status").value)
    if kind is not None:
        stmt = stmt.where(Case.kind == _enum(CaseKind, kind, "case kind").value)
    stmt = stmt.order_by(Case.created_at.desc(), Case.id.desc()).limit(limit)
    return tuple(_case_summary(c) for c in s.scalars(stmt).all())


def find_case_by_number(s: Session, number: str, kind: str | None = None) -> CaseSummaryView | None:
    """The case with this number (`C20261207-0003`), of `kind` if given; None when there is none."""
    stmt = select(Case).options(*_SUMMARY_LOAD).where(Case.number == number)
    if kind is not None:
        stmt = stmt.where(Case.kind == _enum(CaseKind, kind, "case kind").value)
    case = s.scalars(stmt).first()
    return _case_summary(case) if case is not None else None


def cases_for_call(s: Session, linkedid: str) -> tuple[CaseSummaryView, ...]:
    """The cases a call is linked to (empty if the call is unknown), oldest first."""
    stmt = (
        select(Case)
        .join(case_calls, case_calls.c.case_id == Case.id)
        .join(Call, Call.id == case_calls.c.call_id)
        .where(Call.linkedid == linkedid)
        .options(*_SUMMARY_LOAD)
        .order_by(Case.created_at, Case.id)
    )
    return tuple(_case_summary(c) for c in s.scalars(stmt).all())


def audit_for(s: Session, entity: str, entity_id: object) -> tuple[AuditView, ...]:
    """The audit trail of one entity, oldest first."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    return tuple(
        AuditView(
            id=a.id,
            who=a.who,
            what=a.what,
            entity=a.entity,
            entity_id=a.entity_id,
            at=a.at,
            detail_json=json.dumps(a.detail, ensure_ascii=False, sort_keys=True),
        )
        for a in s.scalars(stmt).all()
    )


# ---------------------------------------------------------------- transcripts


def attach_transcript(
    s: Session,
    linkedid: str,
    *,
    engine: str,
    model: str,
    speaker: str,
    text: str,
    words_json: str,
    duration_s: float | None,
) -> TranscriptView:
    """Store a transcript of a recorded call; `CallNotFound` if the call is unknown.

    `words_json` is a JSON array (e.g. Vosk's word list) and is stored as JSON.
    """
    call = _call_by_linkedid(s, linkedid)
    if call is None:
        raise CallNotFound(f"call {linkedid!r} does not exist")
    spk = _enum(Speaker, speaker, "speaker", InvalidTranscriptInput)
    engine_name = (engine or "").strip()
    if not engine_name or len(engine_name) > 50:
        raise InvalidTranscriptInput("engine must be 1-50 characters")
    if len(model or "") > 200:
        raise InvalidTranscriptInput("model must be at most 200 characters")
    try:
        words = json.loads(words_json)
    except (TypeError, ValueError) as exc:
        raise InvalidTranscriptInput(f"words_json is not JSON: {exc}") from None
    if not isinstance(words, list):
        raise InvalidTranscriptInput("words_json must be a JSON array")
    if duration_s is not None and (not math.isfinite(duration_s) or duration_s < 0):
        raise InvalidTranscriptInput(f"duration_s must be a non-negative number, got {duration_s!r}")
    transcript = Transcript(
        call=call,
        engine=engine_name,
        model=model or "",
        speaker=spk.value,
        text=text or "",
        words=words,
        duration_s=duration_s,
        created_at=utcnow(),
    )
    s.add(transcript)
    s.flush()
    log.info("transcript %s (%s, %s) attached to call %s", transcript.id, engine_name, spk.value, linkedid)
    return _transcript_view(transcript, call.linkedid)


# ---------------------------------------------------------------- users

# New passwords: argon2id with OWASP's 19 MiB profile (m=19456 KiB, t=2, p=1) rather than argon2-cffi's
# defaults (RFC 9106's low-memory profile, m=64 MiB, t=3, p=4). One check then holds ARGON2_MEMORY_KIB of
# memory for ~40 ms of one core (2-core test machine; the defaults took ~150 ms and 64 MiB), and the
# console runs at most `login_concurrency` checks at once (agent_console.password_checks), so wrong
# logins can add at most login_concurrency x 19 MiB to a web process (issue #16, finding 3;
# benchmarks/login_memory.py). Hashes made with other parameters, or before argon2
# ('scrypt$n$r$p$salt$hash'), still verify and are re-hashed with these at the next good login.
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1
_ARGON2 = PasswordHasher(time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM)

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 32
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=_SCRYPT_MAXMEM)


def hash_password(password: str) -> str:
    """An argon2id hash ('$argon2id$v=19$m=…,t=…,p=…$salt$hash') with a random salt."""
    return _ARGON2.hash(password)


def scrypt_hash(password: str) -> str:
    """The former scheme, 'scrypt$n$r$p$salt$hash' (base64), kept to verify (and test) older hashes."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(digest_b64, validate=True)
        actual = _scrypt(password, salt, int(n), int(r), int(p), len(expected))
    except (ValueError, TypeError):
        log.warning("unreadable password hash")
        return False
    return hmac.compare_digest(actual, expected)


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of `password` against an argon2 hash or an older scrypt hash."""
    if stored.startswith("$argon2"):
        try:
            return _ARGON2.verify(stored, password)
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError):
            log.warning("unreadable password hash")
            return False
    return _verify_scrypt(password, stored)


def password_needs_rehash(stored: str) -> bool:
    """True for hashes not made by today's `hash_password` (scrypt, or argon2 with older parameters)."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _ARGON2.check_needs_rehash(stored)
    except InvalidHashError:
        return True


_DUMMY_HASH = _ARGON2.hash("not a password of anyone")


def _user_view(u: User) -> UserView:
    return UserView(id=u.id, username=u.username, display_name=u.display_name, role=Role(u.role), active=u.active,
                    branch=u.branch)


def create_user(
    s: Session, username: str, password: str, role: str, display_name: str, *, branch: str = ""
) -> UserView:
    """A new user; the password is stored as a salted argon2id hash only. Users of role branch
    belong to a branch (or market area), whose referrals, rectifications and claims they see."""
    name = (username or "").strip()
    if not _USERNAME_RE.fullmatch(name):
        raise InvalidUserInput(f"username {username!r} is not valid (1-64 letters, digits, _ . -)")
    role_value = _enum(Role, role, "role", InvalidUserInput)
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidUserInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    shown = (display_name or "").strip() or name
    if len(shown) > 100:
        raise InvalidUserInput("display name is longer than 100 characters")
    branch_name = (branch or "").strip()
    if len(branch_name) > 100:
        raise InvalidUserInput("branch is longer than 100 characters")
    if role_value is Role.BRANCH and not branch_name:
        raise InvalidUserInput("a user of role branch needs the branch it belongs to")
    if s.scalars(select(User.id).where(User.username == name)).first() is not None:
        raise UserExists(f"user {name!r} already exists")
    user = User(
        username=name,
        display_name=shown,
        role=role_value.value,
        branch=branch_name,
        password_hash=hash_password(password),
        active=True,
        created_at=utcnow(),
    )
    s.add(user)
    s.flush()
    log.info("user %s (%s) created", name, role_value.value)
    return _user_view(user)


def list_users(s: Session) -> list[UserView]:
    """Every user, active or not, by username."""
    return [_user_view(u) for u in s.scalars(select(User).order_by(User.username))]


def _user_by_name(s: Session, username: str) -> User:
    user = s.scalars(select(User).where(User.username == (username or "").strip())).one_or_none()
    if user is None:
        raise UserNotFound(f"no user {username!r}")
    return user


def set_password(s: Session, username: str, password: str) -> UserView:
    """A new password (argon2id); the old one stops working at once."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidUserInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    user = _user_by_name(s, username)
    user.password_hash = hash_password(password)
    end_user_sessions(s, user.id)
    log.info("password of %s changed; the user's console sessions ended", user.username)
    return _user_view(user)


def set_active(s: Session, username: str, active: bool) -> UserView:
    """Disable (no more logins, the user's console sessions end at once; the user's history stays)
    or enable a user again."""
    user = _user_by_name(s, username)
    user.active = active
    if not active:
        end_user_sessions(s, user.id)
    log.info("user %s %s", user.username, "enabled" if active else "disabled")
    return _user_view(user)


def set_role(s: Session, username: str, role: str, *, branch: str | None = None) -> UserView:
    """A new role (and for role branch the branch, else the one stored); the user's console sessions
    end at once, so the new role applies from the next login."""
    user = _user_by_name(s, username)
    role_value = _enum(Role, role, "role", InvalidUserInput)
    branch_name = user.branch if branch is None else branch.strip()
    if len(branch_name) > 100:
        raise InvalidUserInput("branch is longer than 100 characters")
    if role_value is Role.BRANCH and not branch_name:
        raise InvalidUserInput("a user of role branch needs the branch it belongs to")
    old = user.role
    user.role = role_value.value
    user.branch = branch_name
    end_user_sessions(s, user.id)
    log.info("role of %s changed from %s to %s; the user's console sessions ended", user.username, old,
             role_value.value)
    return _user_view(user)


def check_login(s: Session, username: str, password: str) -> LoginCheck:
    """Reads only, so a caller can verify in a read-only session and write an upgrade afterwards in a
    short one (argon2 takes a while; no write lock is held meanwhile). Same work for unknown users."""
    user = s.scalars(select(User).where(User.username == (username or "").strip())).one_or_none()
    if user is None or not user.active:
        verify_password(password or "", _DUMMY_HASH)
        return LoginCheck(None)
    if not verify_password(password or "", user.password_hash):
        return LoginCheck(None)
    if password_needs_rehash(user.password_hash):
        return LoginCheck(_user_view(user), hash_password(password), user.password_hash)
    return LoginCheck(_user_view(user))


def upgrade_password_hash(s: Session, check: LoginCheck) -> bool:
    """Store `check.new_hash` unless the password was changed meanwhile; True if stored."""
    if check.user is None or check.new_hash is None:
        return False
    user = s.get(User, check.user.id)
    if user is None or user.password_hash != check.old_hash:
        return False
    old_scheme = user.password_hash.split("$")[1] if user.password_hash.startswith("$") else "scrypt"
    user.password_hash = check.new_hash
    log.info("password hash of %s upgraded from %s to argon2id", user.username, old_scheme)
    return True


def authenticate(s: Session, username: str, password: str) -> UserView | None:
    """The active user with this username and password, else None (same work either way). A hash of
    an older scheme (scrypt) is replaced by an argon2id one in the same session."""
    check = check_login(s, username, password)
    upgrade_password_hash(s, check)
    return check.user


# ---------------------------------------------------------------- demo data


def seed_demo(s: Session, *, now: datetime | None = None) -> SeedSummary:
    """Demo customers, shipments, cases and users; running it again creates nothing new."""
    now = now or utcnow()
    created = {"customers": 0, "shipments": 0, "cases": 0, "users": 0}

    customer_ids: dict[str, int] = {}
    for dc in DEMO_CUSTOMERS:
        existing = s.scalars(select(CustomerPhone).where(CustomerPhone.phone.in_(dc.phones))).first()
        if existing is not None:
            customer_ids[dc.key] = existing.customer_id
            continue
        customer_ids[dc.key] = create_customer(s, dc.name, dc.kind, dc.phones, note=dc.note).id
        created["customers"] += 1

    for ds in DEMO_SHIPMENTS:
        if s.scalars(select(Shipment.id).where(Shipment.waybill == ds.waybill)).first() is not None:
            continue
        picked_up = now - timedelta(days=ds.days_ago, hours=6)
        places = (
            f"{ds.origin}营业部",
            f"{ds.origin}-{ds.destination}干线",
            f"{ds.destination}分拨中心",
            f"{ds.destination}派送站",
            ds.destination,
        )
        events = tuple(
            ShipmentEventInput(at=min(picked_up + timedelta(hours=9 * i), now), status=stage, place=places[i])
            for i, stage in enumerate(STAGES[: ds.stages_done])
        )
        shipper = customer_ids[ds.shipper]
        shipper_phone = s.scalars(
            select(CustomerPhone.phone).where(CustomerPhone.customer_id == shipper).order_by(CustomerPhone.id)
        ).first()
        create_shipment(
            s,
            ShipmentInput(
                waybill=ds.waybill,
                origin=ds.origin,
                destination=ds.destination,
                shipper_customer_id=shipper,
                shipper_phone=shipper_phone or "",
                consignee_name=ds.consignee_name,
                consignee_phone=ds.consignee_phone,
                events=events,
            ),
        )
        created["shipments"] += 1

    for dcase in DEMO_CASES:
        cid = customer_ids[dcase.customer]
        exists = s.scalars(
            select(Case.id).where(Case.subject == dcase.subject, Case.customer_id == cid, Case.created_by == "seed")
        ).first()
        if exists is not None:
            continue
        create_case(
            s,
            CaseInput(
                kind=dcase.kind,
                subject=dcase.subject,
                description=dcase.description,
                customer_id=cid,
                waybill=dcase.waybill,
                priority=dcase.priority,
                status=dcase.status,
                department=dcase.department,
                follow_up_due=now + timedelta(hours=dcase.follow_up_hours) if dcase.follow_up_hours else None,
            ),
            by="seed",
        )
        created["cases"] += 1

    for du in DEMO_USERS:
        if s.scalars(select(User.id).where(User.username == du.username)).first() is not None:
            continue
        create_user(s, du.username, DEMO_PASSWORD, du.role, du.display_name, branch=du.branch)
        created["users"] += 1

    s.flush()
    summary = SeedSummary(**created)
    log.info("demo data seeded: %s", summary)
    return summary
