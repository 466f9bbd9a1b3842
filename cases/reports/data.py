"""What every report of the service standard shares: the period, given as local calendar dates in a time
zone (default Asia/Shanghai): `from_day` inclusive, `until_day` exclusive, and the counts, per-day
trends and percentages aggregated in SQL over it. The reports themselves: `cases.reports.complaints`,
`claims`, `inspections`, `self_settled`, `calls` and `ivr`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from cases.errors import InvalidReportRequest

DEFAULT_TZ = "Asia/Shanghai"
DETAIL_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Period:
    from_day: date
    until_day: date  # exclusive
    tz: str
    start: datetime  # UTC
    end: datetime  # UTC, exclusive

    @property
    def label(self) -> str:
        last = self.until_day - timedelta(days=1)
        return f"{self.from_day.isoformat()} – {last.isoformat()} ({self.tz})"

    def previous(self) -> Period:
        return make_period(self.from_day - (self.until_day - self.from_day), self.from_day, self.tz)

    def previous_month_or_span(self) -> Period:
        """The calendar month before, when this period is one calendar month; else `previous()`."""
        first = self.from_day
        after = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        if first.day != 1 or self.until_day != after:
            return self.previous()
        before = (first - timedelta(days=1)).replace(day=1)
        return make_period(before, first, self.tz)


def make_period(from_day: date, until_day: date, tz: str = DEFAULT_TZ) -> Period:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        raise InvalidReportRequest(f"unknown time zone {tz!r}") from None
    if until_day <= from_day:
        raise InvalidReportRequest(f"until {until_day} must be after from {from_day}")
    if (until_day - from_day).days > 3660:
        raise InvalidReportRequest("a report period is at most 10 years")
    start = datetime.combine(from_day, time(), zone).astimezone(UTC)
    end = datetime.combine(until_day, time(), zone).astimezone(UTC)
    return Period(from_day, until_day, tz, start, end)


@dataclass(frozen=True, slots=True)
class Count:
    key: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    count: int


def local_day_sql(col: Any, period: Period, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.to_char(func.timezone(period.tz, col), "YYYY-MM-DD")
    offset = int(period.start.astimezone(ZoneInfo(period.tz)).utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
    return func.strftime("%Y-%m-%d", col, f"{offset:+d} minutes")


def count_rows(s: Session, stmt: Select[Any] | Any, enum: type[StrEnum] | None) -> tuple[Count, ...]:
    rows = [(k if k is not None else "", int(n)) for k, n in s.execute(stmt).all()]
    out = []
    for key, n in rows:
        label = key or "—"
        if enum is not None and key:
            try:
                label = enum(key).label_zh  # type: ignore[attr-defined]
            except ValueError:
                pass
        out.append(Count(key, label, n))
    return tuple(sorted(out, key=lambda c: (-c.count, c.key)))


def daily_trend(s: Session, col: Any, where: ColumnElement[bool], period: Period) -> tuple[DayCount, ...]:
    day = local_day_sql(col, period, s.get_bind().dialect.name).label("day")
    got = {str(d): int(n) for d, n in s.execute(select(day, func.count()).where(where).group_by(day)).all()}
    out, d = [], period.from_day
    while d < period.until_day:
        out.append(DayCount(d, got.get(d.isoformat(), 0)))
        d += timedelta(days=1)
    return tuple(out)


def percent(part: int, whole: int) -> Decimal:
    return (Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.1")) if whole else Decimal("0.0")
