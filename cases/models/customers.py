"""Customers and their phones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from cases.models.base import Base, UTCDateTime, in_values, utcnow
from cases.phones import phone_tail
from cases.vocab import CustomerKind, values


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (CheckConstraint(in_values("kind", values(CustomerKind)), name="kind"),)

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
