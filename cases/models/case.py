"""Cases, the calls linked to them, and the per-day counter behind case numbers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cases.models.base import Base, UTCDateTime, in_values, utcnow
from cases.models.calls import Call
from cases.models.customers import Customer
from cases.models.shipments import Shipment
from cases.vocab import CaseKind, CaseStatus, Department, Priority, values

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
        CheckConstraint(in_values("kind", values(CaseKind)), name="kind"),
        CheckConstraint(in_values("status", values(CaseStatus)), name="status"),
        CheckConstraint(in_values("priority", values(Priority)), name="priority"),
        CheckConstraint(f"department IS NULL OR {in_values('department', values(Department))}", name="department"),
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
