"""The callback (回电) owed to a customer once their change request is decided (migration 0012): the agent
who asked for the change calls the customer back with the outcome and marks it done (cases.change_callbacks)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cases.models.base import Base, UTCDateTime, in_values, utcnow

OUTCOMES = ("applied", "rejected")  # the decided stages of cases.vocab.ChangeStage


class ChangeCallback(Base):
    __tablename__ = "change_callbacks"
    __table_args__ = (CheckConstraint(in_values("outcome", OUTCOMES), name="outcome"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_request_id: Mapped[int] = mapped_column(ForeignKey("change_requests.id", ondelete="CASCADE"), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    agent: Mapped[str] = mapped_column(String(64), index=True)  # who calls back: who asked for the change
    outcome: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")  # the decision's reason, to tell the customer
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[str | None] = mapped_column(String(64))
    done_note: Mapped[str] = mapped_column(Text, default="")
