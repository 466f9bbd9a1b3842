"""The monthly statistics of business settled outside the centre (自行解决业务)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from cases.models.workflows import (
    SelfSettled,
)
from cases.money import yuan0
from cases.reports.data import DETAIL_LIMIT, Period
from cases.vocab import (
    ComplaintType,
    SettledBy,
)


@dataclass(frozen=True, slots=True)
class AmountCount:
    key: str
    label: str
    count: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class SelfSettledRow:
    settled_at: datetime
    settled_by: str
    branch: str
    person: str
    waybill: str
    issue: str
    amount: Decimal
    note: str


@dataclass(frozen=True, slots=True)
class SelfSettledReport:
    period: Period
    total: int
    amount: Decimal
    by_settled_by: tuple[AmountCount, ...]
    by_branch: tuple[AmountCount, ...]
    by_issue: tuple[AmountCount, ...]
    rows: tuple[SelfSettledRow, ...]


def self_settled_report(s: Session, period: Period) -> SelfSettledReport:
    inp = and_(SelfSettled.settled_at >= period.start, SelfSettled.settled_at < period.end)

    def by(col: Any, enum: type[StrEnum] | None) -> tuple[AmountCount, ...]:
        got = s.execute(
            select(col, func.count(), func.coalesce(func.sum(SelfSettled.amount_fen), 0)).where(inp).group_by(col)
        ).all()
        out = [
            AmountCount(k, enum(k).label_zh if enum else k, int(c), yuan0(int(a)))  # type: ignore[attr-defined]
            for k, c, a in got
        ]
        return tuple(sorted(out, key=lambda x: (-x.count, x.key)))

    tot = s.execute(select(func.count(), func.coalesce(func.sum(SelfSettled.amount_fen), 0)).where(inp)).one()
    detail = s.scalars(
        select(SelfSettled).where(inp).order_by(SelfSettled.settled_at, SelfSettled.id).limit(DETAIL_LIMIT)
    ).all()
    rows = tuple(
        SelfSettledRow(
            x.settled_at,
            SettledBy(x.settled_by).label_zh,
            x.branch,
            x.person,
            x.waybill or "",
            ComplaintType(x.issue).label_zh,
            yuan0(x.amount_fen),
            x.note,
        )
        for x in detail
    )
    return SelfSettledReport(
        period,
        int(tot[0]),
        yuan0(int(tot[1])),
        by(SelfSettled.settled_by, SettledBy),
        by(SelfSettled.branch, None),
        by(SelfSettled.issue, ComplaintType),
        rows,
    )
