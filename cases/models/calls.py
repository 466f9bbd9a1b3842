"""Calls (one `CallRecord` each), the calls a supervisor assigned to an agent, and transcripts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from cases.models.base import Base, JSONType, UTCDateTime, in_values, utcnow
from cases.models.call_analysis import CallCheckResult, CallEntity
from cases.models.customers import Customer
from cases.phones import phone_tail
from cases.vocab import Speaker, values


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


class Transcript(Base):
    __tablename__ = "transcripts"
    __table_args__ = (CheckConstraint(in_values("speaker", values(Speaker)), name="speaker"),)

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
