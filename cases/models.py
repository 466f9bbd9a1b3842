"""The ORM schema (SQLAlchemy 2.0 typed declarative). The schema itself is created by the Alembic
migrations in `cases/migrations/versions`; a test checks that models and migrations agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from cases.phones import phone_tail
from cases.vocab import (
    AccidentCause,
    CaseKind,
    CaseStatus,
    ChangeField,
    ChangeStage,
    ClaimChannel,
    ClaimStage,
    ComplaintCause,
    ComplaintStage,
    ComplaintType,
    CustomerKind,
    Department,
    FindingStage,
    InspectionKind,
    InsurerStatus,
    LiableParty,
    OfferBy,
    Priority,
    Role,
    SanctionKind,
    SettledBy,
    Speaker,
    values,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores `timestamptz`; SQLite has no time zones, so the value is stored as UTC without
    an offset and given back its UTC tzinfo on load. Naive datetimes are refused on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


PROBE_STAGES = ("register", "invite", "prompt", "key", "queue", "done", "error")  # error: the probe could not run


def _in(column: str, allowed: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in allowed)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (CheckConstraint(_in("kind", values(CustomerKind)), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    phones: Mapped[list[CustomerPhone]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerPhone.id"
    )


class CustomerPhone(Base):
    """One phone number of a customer, stored normalised (digits only); unique across customers.
    `tail` is the number's tail key (`cases.phones.phone_tail`), set here whenever `phone` is set."""

    __tablename__ = "customer_phones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    tail: Mapped[str | None] = mapped_column(String(8), index=True)
    label: Mapped[str] = mapped_column(String(20), default="")

    customer: Mapped[Customer] = relationship(back_populates="phones")

    @validates("phone")
    def _set_tail(self, _key: str, phone: str) -> str:
        self.tail = phone_tail(phone)
        return phone


class Shipment(Base):
    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    waybill: Mapped[str] = mapped_column(String(14), unique=True)
    shipper_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    shipper_phone: Mapped[str] = mapped_column(String(32), default="")
    consignee_name: Mapped[str] = mapped_column(String(100), default="")
    consignee_phone: Mapped[str] = mapped_column(String(32), default="", index=True)
    origin: Mapped[str] = mapped_column(String(100), default="")
    destination: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(50), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    shipper: Mapped[Customer | None] = relationship()
    events: Mapped[list[ShipmentEvent]] = relationship(
        back_populates="shipment",
        cascade="all, delete-orphan",
        order_by="(ShipmentEvent.at, ShipmentEvent.id)",
    )


class ShipmentEvent(Base):
    """One line of a shipment's status history (时间, 地点, 状态)."""

    __tablename__ = "shipment_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(50))
    note: Mapped[str] = mapped_column(Text, default="")

    shipment: Mapped[Shipment] = relationship(back_populates="events")


class Call(Base):
    """A telephony `CallRecord`, keyed by linkedid. `caller_norm` is the caller's digits only;
    `caller_tail` its tail key (`cases.phones.phone_tail`), set here whenever `caller_norm` is set."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    caller: Mapped[str] = mapped_column(String(64), default="")
    caller_norm: Mapped[str] = mapped_column(String(32), default="", index=True)
    caller_tail: Mapped[str | None] = mapped_column(String(8), index=True)
    caller_name: Mapped[str] = mapped_column(String(200), default="")
    dialed: Mapped[str] = mapped_column(String(64), default="")
    hotline: Mapped[str | None] = mapped_column(String(16))  # service | claims | None
    digits: Mapped[str] = mapped_column(String(64), default="")
    queue: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    agent: Mapped[str | None] = mapped_column(String(64))
    agents: Mapped[list[str]] = mapped_column(JSONType, default=list)
    rang: Mapped[list[str]] = mapped_column(JSONType, default=list)
    hangup_by: Mapped[str | None] = mapped_column(String(64))
    wait_s: Mapped[float | None] = mapped_column(Float)
    talk_s: Mapped[float | None] = mapped_column(Float)
    recording: Mapped[str | None] = mapped_column(String(500))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waybill: Mapped[str | None] = mapped_column(String(32))
    reconciled: Mapped[bool] = mapped_column(Boolean, default=False)
    ivr_path: Mapped[str | None] = mapped_column(Text)  # the IVR's IVR_PATH: menu nodes and keys, ">"-joined
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer | None] = relationship()
    transcripts: Mapped[list[Transcript]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="Transcript.id"
    )
    quality_check: Mapped[CallCheckResult | None] = relationship(viewonly=True)
    entities: Mapped[list[CallEntity]] = relationship(viewonly=True, order_by="(CallEntity.at_s, CallEntity.id)")
    assignments: Mapped[list[CallAssignment]] = relationship(viewonly=True, order_by="CallAssignment.id")

    @validates("caller_norm")
    def _set_caller_tail(self, _key: str, caller_norm: str) -> str:
        self.caller_tail = phone_tail(caller_norm)
        return caller_norm


class CallAssignment(Base):
    """A call a supervisor gave an agent to work on (or an agent took with a callback task): the agent may
    link it to a case and see its recording and transcripts as if it had been on it (cases.call_access)."""

    __tablename__ = "call_assignments"
    __table_args__ = (UniqueConstraint("call_id", "agent"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    agent: Mapped[str] = mapped_column(String(64))
    assigned_by: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


case_calls = Table(
    "case_calls",
    Base.metadata,
    Column("case_id", ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("call_id", ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("linked_at", UTCDateTime, nullable=False, default=utcnow),
)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_in("kind", values(CaseKind)), name="kind"),
        CheckConstraint(_in("status", values(CaseStatus)), name="status"),
        CheckConstraint(_in("priority", values(Priority)), name="priority"),
        CheckConstraint(f"department IS NULL OR {_in('department', values(Department))}", name="department"),
        CheckConstraint("status <> 'referred' OR department IS NOT NULL", name="referred_department"),
        Index("ix_cases_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[str] = mapped_column(String(10))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id", ondelete="SET NULL"), index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    assigned_to: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(20))
    follow_up_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer | None] = relationship()
    shipment: Mapped[Shipment | None] = relationship()
    calls: Mapped[list[Call]] = relationship(secondary=case_calls, order_by="(Call.started_at, Call.id)")


class CaseCounter(Base):
    """Per-day sequence behind case numbers (C20261130-0001), bumped atomically by an upsert."""

    __tablename__ = "case_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Transcript(Base):
    __tablename__ = "transcripts"
    __table_args__ = (CheckConstraint(_in("speaker", values(Speaker)), name="speaker"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    engine: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(200), default="")
    speaker: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text, default="")
    words: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    duration_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    call: Mapped[Call] = relationship(back_populates="transcripts")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", values(Role)), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(20))
    branch: Mapped[str] = mapped_column(String(100), default="")  # role branch: which branch or market area
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsoleSession(Base):
    """One login to the console (migration 0010, cases.sessions). The signed cookie carries a random
    token; only its SHA-256 is stored here, so a leaked table opens no session. A request whose row is
    gone (logout, new password, new role, account disabled) or idle too long is logged out."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie's token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class AuditEntry(Base):
    """Who did what to which entity, when; `detail` is a JSON object (e.g. {"changes": {...}})."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    who: Mapped[str] = mapped_column(String(64))
    what: Mapped[str] = mapped_column(String(50))
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


# ---------------------------------------------------------------- workflows (migration 0003)
# Money is stored as integer fen (分, 1/100 yuan) and shown as Decimal yuan; liability shares as basis
# points (10000 = 100 %). Both are exact on SQLite and PostgreSQL.


def _in_or_null(column: str, allowed: tuple[str, ...]) -> str:
    return f"{column} IS NULL OR {_in(column, allowed)}"


class Complaint(Base):
    """The complaint (投诉) workflow of a case of kind complaint."""

    __tablename__ = "complaints"
    __table_args__ = (
        CheckConstraint(_in("stage", values(ComplaintStage)), name="stage"),
        CheckConstraint(_in("complaint_type", values(ComplaintType)), name="complaint_type"),
        CheckConstraint(_in_or_null("cause", values(ComplaintCause)), name="cause"),
        CheckConstraint(_in_or_null("responsible_department", values(Department)), name="responsible_department"),
        CheckConstraint(_in_or_null("referred_to", values(Department)), name="referred_to"),
        Index("ix_complaints_stage_deadline", "stage", "referral_deadline"),
        Index("ix_complaints_recorded_at", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    stage: Mapped[str] = mapped_column(String(20))
    complaint_type: Mapped[str] = mapped_column(String(20))
    branch: Mapped[str] = mapped_column(String(100), default="")
    cause: Mapped[str | None] = mapped_column(String(20))
    responsible_department: Mapped[str | None] = mapped_column(String(20))
    analysis: Mapped[str] = mapped_column(Text, default="")
    referred_to: Mapped[str | None] = mapped_column(String(20))
    referral_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rectification: Mapped[str] = mapped_column(Text, default="")
    customer_reply: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    analysed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    referred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    customer_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship()


class Claim(Base):
    """The claim (理赔) workflow of a case of kind claim."""

    __tablename__ = "claims"
    __table_args__ = (
        CheckConstraint(_in("stage", values(ClaimStage)), name="stage"),
        CheckConstraint(_in("channel", values(ClaimChannel)), name="channel"),
        CheckConstraint(_in("accident_cause", values(AccidentCause)), name="accident_cause"),
        CheckConstraint(_in_or_null("insurer_status", values(InsurerStatus)), name="insurer_status"),
        CheckConstraint("claimed_fen >= 0", name="claimed_fen"),
        Index("ix_claims_reported_at", "reported_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    stage: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(10))
    accident_cause: Mapped[str] = mapped_column(String(20))
    branch: Mapped[str] = mapped_column(String(100), default="")
    claimed_fen: Mapped[int] = mapped_column(BigInteger)
    agreed_fen: Mapped[int | None] = mapped_column(BigInteger)
    paid_fen: Mapped[int | None] = mapped_column(BigInteger)
    major: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated_to: Mapped[str | None] = mapped_column(String(64))
    insurer: Mapped[str] = mapped_column(String(100), default="")
    policy_no: Mapped[str] = mapped_column(String(64), default="")
    insurer_claim_no: Mapped[str] = mapped_column(String(64), default="")
    insurer_status: Mapped[str | None] = mapped_column(String(20))
    insurer_payout_fen: Mapped[int | None] = mapped_column(BigInteger)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    liability_fixed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agreed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship()
    evidence: Mapped[list[ClaimEvidence]] = relationship(
        back_populates="claim", cascade="all, delete-orphan", order_by="ClaimEvidence.id"
    )
    liabilities: Mapped[list[ClaimLiability]] = relationship(
        back_populates="claim", cascade="all, delete-orphan", order_by="ClaimLiability.id"
    )
    offers: Mapped[list[ClaimOffer]] = relationship(
        back_populates="claim", cascade="all, delete-orphan", order_by="ClaimOffer.id"
    )


class ClaimEvidence(Base):
    """A file (photo, document, recording) kept under the evidence folder, named by its SHA-256."""

    __tablename__ = "claim_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_path: Mapped[str] = mapped_column(String(500))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    claim: Mapped[Claim] = relationship(back_populates="evidence")


class ClaimLiability(Base):
    __tablename__ = "claim_liabilities"
    __table_args__ = (
        CheckConstraint(_in("party", values(LiableParty)), name="party"),
        CheckConstraint("share_bp > 0 AND share_bp <= 10000", name="share_bp"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    party: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100), default="")
    share_bp: Mapped[int] = mapped_column(Integer)
    owed_fen: Mapped[int | None] = mapped_column(BigInteger)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    claim: Mapped[Claim] = relationship(back_populates="liabilities")


class ClaimOffer(Base):
    __tablename__ = "claim_offers"
    __table_args__ = (
        CheckConstraint(_in("offered_by", values(OfferBy)), name="offered_by"),
        CheckConstraint("amount_fen >= 0", name="amount_fen"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    offered_by: Mapped[str] = mapped_column(String(10))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    claim: Mapped[Claim] = relationship(back_populates="offers")


class ChangeRequest(Base):
    """A consignee or consignee-phone change (变更收货人/电话) awaiting approval."""

    __tablename__ = "change_requests"
    __table_args__ = (
        CheckConstraint(_in("field", values(ChangeField)), name="field"),
        CheckConstraint(_in("stage", values(ChangeStage)), name="stage"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(20))
    old_value: Mapped[str] = mapped_column(String(100), default="")
    new_value: Mapped[str] = mapped_column(String(100))
    stage: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")


class Inspection(Base):
    """One spot check (监察) of a branch or person; freight-rate checks carry quoted vs tariff."""

    __tablename__ = "inspections"
    __table_args__ = (
        CheckConstraint(_in("kind", values(InspectionKind)), name="kind"),
        Index("ix_inspections_inspected_at", "inspected_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    branch: Mapped[str] = mapped_column(String(100))
    person: Mapped[str] = mapped_column(String(100), default="")
    inspector: Mapped[str] = mapped_column(String(64))
    inspected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    passed: Mapped[bool] = mapped_column(Boolean)
    quoted_fen: Mapped[int | None] = mapped_column(BigInteger)
    tariff_fen: Mapped[int | None] = mapped_column(BigInteger)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    findings: Mapped[list[InspectionFinding]] = relationship(
        back_populates="inspection", cascade="all, delete-orphan", order_by="InspectionFinding.id"
    )


class InspectionFinding(Base):
    """A problem found by an inspection → rectification task with a deadline → verification."""

    __tablename__ = "inspection_findings"
    __table_args__ = (
        CheckConstraint(_in("stage", values(FindingStage)), name="stage"),
        Index("ix_inspection_findings_stage_deadline", "stage", "deadline"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String(10))
    assignee: Mapped[str] = mapped_column(String(100), default="")
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    rectification: Mapped[str] = mapped_column(Text, default="")
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by: Mapped[str | None] = mapped_column(String(64))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    inspection: Mapped[Inspection] = relationship(back_populates="findings")


class Sanction(Base):
    """A reward or penalty (奖罚) for a branch or a person, usually from an inspection."""

    __tablename__ = "sanctions"
    __table_args__ = (
        CheckConstraint(_in("kind", values(SanctionKind)), name="kind"),
        CheckConstraint("amount_fen >= 0", name="amount_fen"),
        Index("ix_sanctions_decided_at", "decided_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    branch: Mapped[str] = mapped_column(String(100))
    person: Mapped[str] = mapped_column(String(100), default="")
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SelfSettled(Base):
    """Business the market, a branch, a driver or a loader settled with a customer themselves."""

    __tablename__ = "self_settled"
    __table_args__ = (
        CheckConstraint(_in("settled_by", values(SettledBy)), name="settled_by"),
        CheckConstraint(_in("issue", values(ComplaintType)), name="issue"),
        CheckConstraint("amount_fen >= 0", name="amount_fen"),
        Index("ix_self_settled_settled_at", "settled_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    settled_by: Mapped[str] = mapped_column(String(10))
    branch: Mapped[str] = mapped_column(String(100))
    person: Mapped[str] = mapped_column(String(100), default="")
    waybill: Mapped[str | None] = mapped_column(String(14))
    issue: Mapped[str] = mapped_column(String(20))
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    settled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PromptFault(Base):
    """A prompt the PBX could not play (STREAM FILE / GET DATA `-1` on a live channel): counted per prompt, for
    /status and the wallboard until the prompts are fixed (`hotline prompts build`, copied to the PBX)."""

    __tablename__ = "prompt_faults"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt: Mapped[str] = mapped_column(String(200), unique=True)  # as asked of Asterisk: hotline/zh/service-menu
    hotline: Mapped[str] = mapped_column(String(32))  # the hotline of the call that last missed it
    count: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ProbeRun(Base):
    """One `hotline probe` call to a hotline: up or down, where it stopped, its timings."""

    __tablename__ = "probe_runs"
    __table_args__ = (
        CheckConstraint(_in("stage", PROBE_STAGES), name="stage"),
        Index("ix_probe_runs_hotline_started_at", "hotline", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hotline: Mapped[str] = mapped_column(String(32))  # service | claims | the number dialled
    number: Mapped[str] = mapped_column(String(32))
    pbx: Mapped[str] = mapped_column(String(200))
    up: Mapped[bool] = mapped_column(Boolean)
    stage: Mapped[str] = mapped_column(String(16))  # where it stopped (done when up)
    reason: Mapped[str] = mapped_column(Text, default="")  # why it is down; empty when up
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_s: Mapped[float] = mapped_column(Float)
    register_s: Mapped[float | None] = mapped_column(Float)
    setup_s: Mapped[float | None] = mapped_column(Float)
    first_audio_s: Mapped[float | None] = mapped_column(Float)
    queue: Mapped[str | None] = mapped_column(String(64))
    queue_s: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # the whole ProbeResult


# ---------------------------------------------------------------- transcript search and call checks (migration 0005)

SEGMENT_SPEAKERS = ("customer", "agent", "unknown")
FTS_TABLE = "transcript_fts"  # SQLite's FTS5 table (and its shadow tables): made by migration 0005, not a model
FTS_INDEX = "ix_transcript_segments_tokens_fts"  # PostgreSQL's GIN index on tokens_tsv
FTS_COLUMN = "tokens_tsv"  # PostgreSQL only: to_tsvector('simple', tokens), generated and stored (migration 0006)


def include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    """Alembic's comparison filter: the full-text objects of migration 0005 are not models (autogenerate
    must leave them alone)."""
    if name is None:
        return True
    return not ((type_ == "table" and name.startswith(FTS_TABLE)) or (type_ == "index" and name == FTS_INDEX)
                or (type_ == "column" and name == FTS_COLUMN))
ENTITY_KINDS = ("waybill", "phone", "amount")


class TranscriptSegment(Base):
    """One turn of a transcript, the unit of full-text search. Written by `cases.search` whenever a
    transcript is stored or changed (never by hand); `tokens` is the text segmented by jieba.

    SQLite indexes `tokens` in the FTS5 table `transcript_fts` (external content, kept in step by
    triggers); PostgreSQL by a GIN index on the generated column `tokens_tsv` = to_tsvector('simple', tokens)."""

    __tablename__ = "transcript_segments"
    __table_args__ = (CheckConstraint(_in("speaker", SEGMENT_SPEAKERS), name="speaker"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id", ondelete="CASCADE"), index=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    speaker: Mapped[str] = mapped_column(String(10))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    tokens: Mapped[str] = mapped_column(Text)


class CallCheckResult(Base):
    """The service-standard check of a call (one per call, replaced when the call is checked again)."""

    __tablename__ = "call_checks"
    __table_args__ = (CheckConstraint("score >= 0 AND score <= 100", name="score"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    score: Mapped[int] = mapped_column(Integer)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    findings: Mapped[list[CallCheckFinding]] = relationship(
        back_populates="check", cascade="all, delete-orphan", order_by="CallCheckFinding.id"
    )


class CallCheckFinding(Base):
    """One failed rule of a call's check: greeting, closing, taboo:<category>, silence, talk_over, escalation."""

    __tablename__ = "call_check_findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("call_checks.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(300))
    at_s: Mapped[float | None] = mapped_column(Float)
    speaker: Mapped[str | None] = mapped_column(String(10))
    phrase: Mapped[str | None] = mapped_column(String(100))
    deduction: Mapped[int] = mapped_column(Integer, default=0)

    check: Mapped[CallCheckResult] = relationship(back_populates="findings")


class CallEntity(Base):
    """A waybill number, phone number or amount heard in a call (first mention), from its transcript."""

    __tablename__ = "call_entities"
    __table_args__ = (
        CheckConstraint(_in("kind", ENTITY_KINDS), name="kind"),
        Index("ix_call_entities_call_id_kind_value", "call_id", "kind", "value", unique=True),
        Index("ix_call_entities_kind_value", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(32))
    speaker: Mapped[str | None] = mapped_column(String(10))
    at_s: Mapped[float | None] = mapped_column(Float)

    # the shipment of a waybill heard in the call, if we know it
    shipment: Mapped[Shipment | None] = relationship(
        primaryjoin="and_(CallEntity.kind == 'waybill', foreign(CallEntity.value) == Shipment.waybill)",
        viewonly=True,
    )
