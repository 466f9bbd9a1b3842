"""Claims on time (the standard asks the agents to 督促理赔员按时完成客户理赔): the days a claim may spend in
each stage and in all (`ClaimDeadlines`, the settings' `[claim_deadlines]`), its ageing (days open, days in
its stage, when it is due) and the overdue list (逾期) of the claims staff and supervisors.

The standard names no number of days, so the defaults are ours (README, docs/workflows.md): 1 day from the
report to starting the investigation, 7 to fix liability, 3 to start negotiating, 7 to agree the amount, 2 to
notify the parties liable, 7 to pay the customer, 3 to close; 30 days from the report in all. 0 means no
deadline. A stage's clock is `Claim.stage_since`, restarted by each step into another stage."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from cases.errors import InvalidInput
from cases.models.base import utcnow
from cases.models.workflows import Claim
from cases.money import yuan0
from cases.vocab import ClaimStage, MajorStatus
from cases.workflow import CLAIM_ENDED_STAGES, CLAIM_OPEN_STAGES

MAX_DAYS = 365.0


class InvalidClaimDeadlines(InvalidInput):
    """A `[claim_deadlines]` table that cannot be used (unknown stage, not a number of days)."""


@dataclass(frozen=True, slots=True)
class ClaimDeadlines:
    """Days allowed in each stage before the claim is overdue (0: no deadline), and from report to end."""

    reported: float = 1.0  # 已报案 → 调查中
    investigating: float = 7.0  # 调查中 → 责任已明确
    liability_fixed: float = 3.0  # 责任已明确 → 协商中
    negotiating: float = 7.0  # 协商中 → 金额已确定
    amount_agreed: float = 2.0  # 金额已确定 → 已通知责任方
    parties_notified: float = 7.0  # 已通知责任方 → 已赔付
    paid: float = 3.0  # 已赔付 → 已结案
    total: float = 30.0  # 已报案 → 已结案, whatever the stage

    def days_for(self, stage: str) -> float:
        """The days allowed in `stage` (0 for a stage without a deadline, and for ended claims)."""
        if stage in CLAIM_ENDED_STAGES:
            return 0.0
        found: float = getattr(self, stage, 0.0)
        return found

    def timed_stages(self) -> tuple[tuple[str, float], ...]:
        return tuple((f.name, float(getattr(self, f.name))) for f in fields(self) if f.name != "total")


def parse_claim_deadlines(table: Mapping[str, object]) -> ClaimDeadlines:
    """`[claim_deadlines]` stage = days (numbers from 0 to 365; 0: no deadline); keys not given keep their
    defaults. `InvalidClaimDeadlines` names the key that is wrong."""
    known = [f.name for f in fields(ClaimDeadlines)]
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise InvalidClaimDeadlines(f"unknown [claim_deadlines] keys: {', '.join(unknown)} (known: {', '.join(known)})")
    got: dict[str, float] = {}
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_DAYS \
                or math.isnan(value):
            raise InvalidClaimDeadlines(f"claim_deadlines.{key}: {value!r} is not a number of days from 0 to "
                                        f"{MAX_DAYS:g} (0: no deadline)")
        got[key] = float(value)
    return replace(ClaimDeadlines(), **got)


@dataclass(frozen=True, slots=True)
class ClaimClock:
    """A claim's ageing: days open (to its end, if ended), days in its stage, when it is due and whether late.
    `due_reason` says which deadline is the nearer: "stage" or "total"."""

    days_open: Decimal
    days_in_stage: Decimal
    due_at: datetime | None
    due_reason: str | None
    overdue: bool
    days_overdue: Decimal


def _days(delta: timedelta) -> Decimal:
    return Decimal(max(delta.total_seconds(), 0.0) / 86400).quantize(Decimal("0.1"))


def clock(stage: str, reported_at: datetime, stage_since: datetime, closed_at: datetime | None,
          deadlines: ClaimDeadlines, now: datetime | None = None) -> ClaimClock:
    """The ageing of a claim in `stage` reported at `reported_at`, in its stage since `stage_since`."""
    at = now or utcnow()
    ended = stage in CLAIM_ENDED_STAGES
    end = (closed_at or stage_since) if ended else at
    dues: list[tuple[datetime, str]] = []
    if not ended:
        stage_days = deadlines.days_for(stage)
        if stage_days > 0:
            dues.append((stage_since + timedelta(days=stage_days), "stage"))
        if deadlines.total > 0:
            dues.append((reported_at + timedelta(days=deadlines.total), "total"))
    due_at, reason = min(dues) if dues else (None, None)
    late = due_at is not None and due_at < at
    behind = _days(at - due_at) if late and due_at is not None else Decimal(0)
    return ClaimClock(days_open=_days(end - reported_at), days_in_stage=_days(end - stage_since), due_at=due_at,
                      due_reason=reason, overdue=late, days_overdue=behind)


def clock_of(c: Claim, deadlines: ClaimDeadlines, now: datetime | None = None) -> ClaimClock:
    return clock(c.stage, c.reported_at, c.stage_since, c.closed_at, deadlines, now)


@dataclass(frozen=True, slots=True)
class OverdueClaim:
    claim_id: int
    case_id: int
    case_number: str
    subject: str
    stage: ClaimStage
    branch: str
    claimed: Decimal
    assigned_to: str | None  # the claims staff working it; None: nobody took it yet
    major_status: MajorStatus | None
    clock: ClaimClock


def _late_condition(deadlines: ClaimDeadlines, now: datetime) -> object:
    late = [and_(Claim.stage == stage, Claim.stage_since < now - timedelta(days=days))
            for stage, days in deadlines.timed_stages() if days > 0]
    if deadlines.total > 0:
        late.append(Claim.reported_at < now - timedelta(days=deadlines.total))
    return or_(*late) if late else None


def overdue_claims(s: Session, deadlines: ClaimDeadlines, *, now: datetime | None = None,
                   assigned_to: str | None = None, limit: int = 500) -> tuple[OverdueClaim, ...]:
    """Claims not ended whose stage or total deadline has passed, the longest overdue first; `assigned_to`
    keeps those of one claims staff (and those nobody took yet)."""
    at = now or utcnow()
    late = _late_condition(deadlines, at)
    if late is None:
        return ()
    stmt = (select(Claim).options(selectinload(Claim.case))
            .where(Claim.stage.in_([*CLAIM_OPEN_STAGES, ClaimStage.PAID.value]), late))  # type: ignore[arg-type]
    rows: list[OverdueClaim] = []
    for c in s.scalars(stmt).all():
        if assigned_to is not None and c.case.assigned_to not in (assigned_to, None):
            continue
        rows.append(OverdueClaim(c.id, c.case_id, c.case.number, c.case.subject, ClaimStage(c.stage), c.branch,
                                 yuan0(c.claimed_fen), c.case.assigned_to,
                                 MajorStatus(c.major_status) if c.major_status else None, clock_of(c, deadlines, at)))
    rows.sort(key=lambda r: (r.clock.due_at or at, r.claim_id))
    return tuple(rows[: max(1, min(limit, 5000))])
