"""The ORM schema (SQLAlchemy 2.0 typed declarative). The schema itself is created by the Alembic
migrations in `cases/migrations/versions`; a test checks that models and migrations agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
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
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from cases.vocab import CaseKind, CaseStatus, CustomerKind, Department, Priority, Role, Speaker, values

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
    """One phone number of a customer, stored normalised (digits only); unique across customers."""

    __tablename__ = "customer_phones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    label: Mapped[str] = mapped_column(String(20), default="")

    customer: Mapped[Customer] = relationship(back_populates="phones")


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
    """A telephony `CallRecord`, keyed by linkedid. `caller_norm` is the caller's digits only."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    caller: Mapped[str] = mapped_column(String(64), default="")
    caller_norm: Mapped[str] = mapped_column(String(32), default="", index=True)
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
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer | None] = relationship()
    transcripts: Mapped[list[Transcript]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="Transcript.id"
    )


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
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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
