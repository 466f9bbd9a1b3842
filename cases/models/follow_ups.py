"""The follow-up calls (回访) to a complaint's customer (migration 0014): each attempt, reached or not."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cases.models.base import Base, UTCDateTime, in_values, utcnow
from cases.vocab import FollowUpOutcome, values


class ComplaintFollowUp(Base):
    """One follow-up call to the customer: when, by whom, satisfied, not satisfied or not reached."""

    __tablename__ = "complaint_follow_ups"
    __table_args__ = (CheckConstraint(in_values("outcome", values(FollowUpOutcome)), name="outcome"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[str] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(Text, default="")
    called_by: Mapped[str] = mapped_column(String(64))
    called_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
