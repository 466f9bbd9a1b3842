"""Shipments (by waybill) and their status history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cases.models.base import Base, UTCDateTime, utcnow
from cases.models.customers import Customer


class Shipment(Base):
    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    waybill: Mapped[str] = mapped_column(String(14), unique=True)
    shipper_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    shipper_phone: Mapped[str] = mapped_column(String(32), default="")
    consignee_name: Mapped[str] = mapped_column(String(100), default="")
    consignee_phone: Mapped[str] = mapped_column(String(32), default="", index=True)
    consignee_address: Mapped[str] = mapped_column(String(200), default="")  # migration 0012
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
