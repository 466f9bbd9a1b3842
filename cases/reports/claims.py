"""The monthly claims report with the accident-cause analysis (每月理赔报表及事故原因分析)."""

from __future__ import annotations

from collections import defaultdict
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
    InsurerStatus,
    LiableParty,
)

DAY_S = Decimal(86400)
ENDED = (ClaimStage.REFUSED.value, ClaimStage.WITHDRAWN.value)  # ended unpaid, with a reason


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
class PersonLine:
    party: LiableParty
    label: str
    name: str  # 责任人: which branch, driver, loader ... ("" when not named)
    claims: int
    shares_percent: Decimal  # the person's shares of those claims, summed (60% + 40% = 100.00)
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
    liable: str  # 责任人 with shares: "分公司 郑州分公司 60%; 装卸工 40%"
    insurer_status: str  # 保险状态 ("" when not claimed from the insurer)
    days_to_settle: Decimal | None  # 理赔天数: reported → paid, in days (None: not paid yet)
    end_reason: str = ""  # why it was refused (拒赔) or withdrawn (客户撤回); "" otherwise
    ended_at: datetime | None = None  # when it was refused or withdrawn


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
    previous_total: int = 0  # the month (or span) before
    previous_by_cause: tuple[Count, ...] = ()
    settled: int = 0  # claims of the period paid so far
    avg_days_to_settle: Decimal | None = None  # over those (reported → paid)
    by_person: tuple[PersonLine, ...] = ()  # 责任人 with their shares
    refused: int = 0  # claims of the period refused (拒赔)
    withdrawn: int = 0  # claims of the period the customer withdrew (客户撤回)


def days_between(start: datetime, end: datetime | None) -> Decimal | None:
    return (Decimal(str((end - start).total_seconds())) / DAY_S).quantize(Decimal("0.1")) if end else None


def _share(bp: int) -> str:
    return f"{Decimal(bp) / 100:g}%"


def _liable(s: Session, claim_ids: list[int]) -> dict[int, str]:
    """Per claim: its liable parties with names and shares, largest share first."""
    out: dict[int, list[str]] = defaultdict(list)
    if not claim_ids:
        return {}
    rows = s.execute(
        select(ClaimLiability.claim_id, ClaimLiability.party, ClaimLiability.name, ClaimLiability.share_bp)
        .where(ClaimLiability.claim_id.in_(claim_ids))
        .order_by(ClaimLiability.claim_id, ClaimLiability.share_bp.desc(), ClaimLiability.id)
    ).all()
    for cid, party, name, bp in rows:
        who = " ".join(x for x in (LiableParty(party).label_zh, name) if x)
        out[cid].append(f"{who} {_share(bp)}")
    return {k: "; ".join(v) for k, v in out.items()}


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
            func.sum(case((Claim.stage == ClaimStage.REFUSED.value, 1), else_=0)),
            func.sum(case((Claim.stage == ClaimStage.WITHDRAWN.value, 1), else_=0)),
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
    person_rows = s.execute(
        select(
            ClaimLiability.party,
            ClaimLiability.name,
            func.count(func.distinct(ClaimLiability.claim_id)),
            zero(func.sum(ClaimLiability.share_bp), 0),
            zero(func.sum(ClaimLiability.owed_fen), 0),
        )
        .join(Claim, Claim.id == ClaimLiability.claim_id)
        .where(inp)
        .group_by(ClaimLiability.party, ClaimLiability.name)
    ).all()
    by_person = tuple(
        sorted(
            (PersonLine(LiableParty(p), LiableParty(p).label_zh, nm, int(k),
                        (Decimal(int(bp or 0)) / 100).quantize(Decimal("0.01")), yuan0(int(o or 0)))
             for p, nm, k, bp, o in person_rows),
            key=lambda x: (-x.owed, -x.shares_percent, x.party.value, x.name),
        )
    )
    detail = s.execute(
        select(Claim, Case.number)
        .join(Case, Case.id == Claim.case_id)
        .where(inp)
        .order_by(Claim.reported_at, Claim.id)
        .limit(DETAIL_LIMIT)
    ).all()
    liable = _liable(s, [c.id for c, _ in detail])
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
            liable.get(c.id, ""),
            InsurerStatus(c.insurer_status).label_zh if c.insurer_status else "",
            days_between(c.reported_at, c.paid_at),
            c.end_reason if c.stage in ENDED else "",
            c.closed_at if c.stage in ENDED else None,
        )
        for c, num in detail
    )
    settle = [days_between(a, b) for a, b in s.execute(
        select(Claim.reported_at, Claim.paid_at).where(inp, Claim.paid_at.is_not(None))).all()]
    settled_days = [x for x in settle if x is not None]
    prev = period.previous_month_or_span()
    in_prev = and_(Claim.reported_at >= prev.start, Claim.reported_at < prev.end)
    prev_causes = count_rows(s, select(Claim.accident_cause, n).where(in_prev).group_by(Claim.accident_cause),
                             AccidentCause)
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
        previous_total=sum(c.count for c in prev_causes),
        previous_by_cause=prev_causes,
        settled=len(settled_days),
        avg_days_to_settle=(sum(settled_days, Decimal(0)) / len(settled_days)).quantize(Decimal("0.1"))
        if settled_days else None,
        by_person=by_person,
        refused=int(tot[7] or 0),
        withdrawn=int(tot[8] or 0),
    )
