"""Incidents (突发事件, 监察主管9: 能够及时处理各种突发事件): what happened, when and where, who was
involved, the measures taken (处理措施, one row each) and who handled it, from reported through handling to closed
(migration 0015)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cases.models.base import Base, UTCDateTime, in_values, utcnow
from cases.models.case import Case
from cases.vocab import IncidentKind, IncidentStage, values


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(in_values("kind", values(IncidentKind)), name="kind"),
        CheckConstraint(in_values("stage", values(IncidentStage)), name="stage"),
        Index("ix_incidents_occurred_at", "occurred_at"),
        Index("ix_incidents_stage_occurred_at", "stage", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    stage: Mapped[str] = mapped_column(String(10))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    branch: Mapped[str] = mapped_column(String(100))
    place: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text)
    people: Mapped[str] = mapped_column(Text, default="")  # the people involved (当事人)
    result: Mapped[str] = mapped_column(Text, default="")  # 处理结果, given at closing
    reported_by: Mapped[str] = mapped_column(String(100))  # who reported it (a driver, a branch ...)
    recorded_by: Mapped[str] = mapped_column(String(64))  # the console user who recorded it
    handled_by: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handling_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case | None] = relationship()
    measures: Mapped[list[IncidentMeasure]] = relationship(
        back_populates="incident", cascade="all, delete-orphan", order_by="IncidentMeasure.id"
    )


class IncidentMeasure(Base):
    """One measure taken (处理措施) while handling an incident, by whom and when."""

    __tablename__ = "incident_measures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    measure: Mapped[str] = mapped_column(Text)
    taken_by: Mapped[str] = mapped_column(String(64))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)

    incident: Mapped[Incident] = relationship(back_populates="measures")
