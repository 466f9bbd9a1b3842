"""Transcript search segments and the service checks of calls (migration 0005): the check result and
its findings, and the entities (waybills, phones, amounts) heard in a call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cases.models.base import Base, UTCDateTime, in_values, utcnow
from cases.models.shipments import Shipment

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
    __table_args__ = (CheckConstraint(in_values("speaker", SEGMENT_SPEAKERS), name="speaker"),)

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
        CheckConstraint(in_values("kind", ENTITY_KINDS), name="kind"),
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
