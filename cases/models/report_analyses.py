"""The supervisor's written analysis and suggestions (分析…提出合理化建议) of one report and period
(migration 0016): one row per report and period, the last write wins (each write audited)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cases.models.base import Base, UTCDateTime, utcnow


class ReportAnalysis(Base):
    """The analysis text of report `report` (a `cases.reports.REPORTS` name) over [from_day, until_day)."""

    __tablename__ = "report_analyses"
    __table_args__ = (UniqueConstraint("report", "from_day", "until_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report: Mapped[str] = mapped_column(String(40))
    from_day: Mapped[date] = mapped_column(Date)
    until_day: Mapped[date] = mapped_column(Date)  # exclusive
    text: Mapped[str] = mapped_column(Text, default="")
    written_by: Mapped[str] = mapped_column(String(64))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
