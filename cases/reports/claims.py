"""The monthly claims report with the accident-cause analysis (每月理赔报表及事故原因分析)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from cases.models.case import Case
from cases.models.workflows import (
    Claim,
    ClaimLiability,
)
from cases.money import yuan0
from cases.reports.data import DETAIL_LIMIT, Count, DayCount, Period, count_rows, daily_trend, percent
from cases.vocab import (
    AccidentCause,
    ClaimStage,
    LiableParty,
)


@dataclass(frozen=True, slots=True)
class CauseLine:
    cause: AccidentCause
    label: str
    count: int
    share_percent: Decimal  # of the claims in the period
    claimed: Decimal
    agreed: Decimal
    paid: Decimal
    major: int


@dataclass(frozen=True, slots=True)
class PartyLine:
    party: LiableParty
    label: str
    claims: int
    owed: Decimal  # notified amounts owed


@dataclass(frozen=True, slots=True)
class ClaimRow:
    case_number: str
    reported_at: datetime
    branch: str
    cause: str
    stage: str
    claimed: Decimal
    agreed: Decimal | None
    paid: Decimal | None
    major: bool


@dataclass(frozen=True, slots=True)
class ClaimsReport:
    period: Period
    total: int
    major: int
    closed: int
    claimed: Decimal
    agreed: Decimal
    paid: Decimal
    insurer_payout: Decimal
    by_cause: tuple[CauseLine, ...]
    by_stage: tuple[Count, ...]
    by_branch: tuple[Count, ...]
    by_party: tuple[PartyLine, ...]
    trend: tuple[DayCount, ...]
    rows: tuple[ClaimRow, ...]


def claims_report(s: Session, period: Period) -> ClaimsReport:
    """Claims reported in the period with the accident-cause analysis: count, share, amounts claimed,
    agreed and paid per cause; stage, branch, responsible parties' amounts owed; per day."""
    inp = and_(Claim.reported_at >= period.start, Claim.reported_at < period.end)
    n = func.count()
    zero = func.coalesce
    tot = s.execute(
        select(
            n,
            zero(func.sum(Claim.claimed_fen), 0),
            zero(func.sum(Claim.agreed_fen), 0),
            zero(func.sum(Claim.paid_fen), 0),
            zero(func.sum(Claim.insurer_payout_fen), 0),
            func.sum(case((Claim.major, 1), else_=0)),
            func.sum(case((Claim.stage == ClaimStage.CLOSED.value, 1), else_=0)),
        ).where(inp)
    ).one()
    total = int(tot[0])
    cause_rows = s.execute(
        select(
            Claim.accident_cause,
            n,
            zero(func.sum(Claim.claimed_fen), 0),
            zero(func.sum(Claim.agreed_fen), 0),
            zero(func.sum(Claim.paid_fen), 0),
            func.sum(case((Claim.major, 1), else_=0)),
        )
        .where(inp)
        .group_by(Claim.accident_cause)
    ).all()
    by_cause = tuple(
        sorted(
            (
                CauseLine(
                    AccidentCause(c),
                    AccidentCause(c).label_zh,
                    int(k),
                    percent(int(k), total),
                    yuan0(int(cl)),
                    yuan0(int(ag)),
                    yuan0(int(pd)),
                    int(mj or 0),
                )
                for c, k, cl, ag, pd, mj in cause_rows
            ),
            key=lambda x: (-x.count, x.cause.value),
        )
    )
    party_rows = s.execute(
        select(
            ClaimLiability.party,
            func.count(func.distinct(ClaimLiability.claim_id)),
            zero(func.sum(ClaimLiability.owed_fen), 0),
        )
        .join(Claim, Claim.id == ClaimLiability.claim_id)
        .where(inp)
        .group_by(ClaimLiability.party)
    ).all()
    by_party = tuple(
        sorted(
            (PartyLine(LiableParty(p), LiableParty(p).label_zh, int(k), yuan0(int(o or 0))) for p, k, o in party_rows),
            key=lambda x: (-x.owed, x.party.value),
        )
    )
    detail = s.execute(
        select(Claim, Case.number)
        .join(Case, Case.id == Claim.case_id)
        .where(inp)
        .order_by(Claim.reported_at, Claim.id)
        .limit(DETAIL_LIMIT)
    ).all()
    rows = tuple(
        ClaimRow(
            num,
            c.reported_at,
            c.branch,
            AccidentCause(c.accident_cause).label_zh,
            ClaimStage(c.stage).label_zh,
            yuan0(c.claimed_fen),
            yuan0(c.agreed_fen) if c.agreed_fen is not None else None,
            yuan0(c.paid_fen) if c.paid_fen is not None else None,
            c.major,
        )
        for c, num in detail
    )
    return ClaimsReport(
        period=period,
        total=total,
        major=int(tot[5] or 0),
        closed=int(tot[6] or 0),
        claimed=yuan0(int(tot[1])),
        agreed=yuan0(int(tot[2])),
        paid=yuan0(int(tot[3])),
        insurer_payout=yuan0(int(tot[4])),
        by_cause=by_cause,
        by_stage=count_rows(s, select(Claim.stage, n).where(inp).group_by(Claim.stage), ClaimStage),
        by_branch=count_rows(s, select(Claim.branch, n).where(inp).group_by(Claim.branch), None),
        by_party=by_party,
        trend=daily_trend(s, Claim.reported_at, inp, period),
        rows=rows,
    )
