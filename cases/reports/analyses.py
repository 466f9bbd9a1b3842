"""The supervisor's written analysis and suggestions of a report (分析…提出合理化建议): one text per
report and period (table `report_analyses`), the last write wins, each write audited
(`report.analysis`, with the text before and after). The report's XLSX, PDF and JSON carry it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.audit import iso_utc, record_audit
from cases.errors import InvalidCaseInput
from cases.inputs import clean_text, clean_username
from cases.models.base import utcnow
from cases.models.report_analyses import ReportAnalysis
from cases.reports.data import Period

log = logging.getLogger(__name__)

ANALYSIS_MAX_LEN = 10_000
AUDIT_ENTITY = "report_analysis"


@dataclass(frozen=True, slots=True)
class AnalysisView:
    report: str
    text: str
    written_by: str
    written_at: datetime

    @property
    def version(self) -> str:
        """Changes with every write: names the report jobs that carry this text."""
        return f"{self.written_at.timestamp():.6f}"


def _view(row: ReportAnalysis) -> AnalysisView:
    return AnalysisView(row.report, row.text, row.written_by, row.written_at)


def _row(s: Session, report: str, period: Period, *, for_update: bool = False) -> ReportAnalysis | None:
    stmt = select(ReportAnalysis).where(ReportAnalysis.report == report, ReportAnalysis.from_day == period.from_day,
                                        ReportAnalysis.until_day == period.until_day)
    return s.scalars(stmt.with_for_update() if for_update else stmt).one_or_none()


def analysis_for(s: Session, report: str, period: Period) -> AnalysisView | None:
    """The analysis written for this report and period (None: none yet)."""
    row = _row(s, report, period)
    return _view(row) if row is not None else None


def save_analysis(s: Session, report: str, period: Period, text: str, by: str,
                  *, at: datetime | None = None) -> AnalysisView:
    """Write (or replace) the analysis of `report` over `period`; "" clears it. InvalidCaseInput for a
    text over ANALYSIS_MAX_LEN, a NUL character or a bad username, nothing stored then."""
    who = clean_username(by, "written_by")
    body = clean_text(text, "analysis", max_len=ANALYSIS_MAX_LEN)
    if "\x00" in body:  # PostgreSQL's text cannot hold it: a clear refusal, not a database error
        raise InvalidCaseInput("analysis contains a NUL character")
    now = at or utcnow()
    row = _row(s, report, period, for_update=True)
    before = row.text if row is not None else ""
    if row is None:
        row = ReportAnalysis(report=report, from_day=period.from_day, until_day=period.until_day, text=body,
                             written_by=who, written_at=now)
        s.add(row)
    else:
        row.text, row.written_by, row.written_at = body, who, now
    s.flush()
    record_audit(s, who, "report.analysis", AUDIT_ENTITY, row.id, {
        "report": report, "from": period.from_day.isoformat(), "until": period.until_day.isoformat(),
        "before": before, "after": body, "at": iso_utc(now)})
    s.flush()
    log.info("analysis of report %s %s written by %s (%d characters)", report, period.label, who, len(body))
    return _view(row)
