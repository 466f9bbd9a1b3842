"""The wrap-up codes (话后代码) agents chose after their calls (migration 0017): one row per choice, on
the case it was chosen for and the call it was about (the agent's own call of the case, else the case's
latest), with that call's hotline kept so the agents' report counts per code, hotline and agent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cases.models.base import Base, UTCDateTime, utcnow


class WrapUp(Base):
    """`agent` chose wrap-up code `code` (its zh-CN label then: `label`) for case `case_id` at `at`."""

    __tablename__ = "wrap_ups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    agent: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(100), default="")
    hotline: Mapped[str | None] = mapped_column(String(16))  # service | claims | None (no call)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
