"""What each liable party owes (通知责任人赔偿金额): the claims where a party (a branch, a market area, a trunk
vehicle, a warehouse ...) is liable, with its share, the amount it owes and when it was told. The department
desk shows its own (`owed_by_department`): a branch or market area what its unit owes; a department without
units (仓管, 干线车辆) what every one of its liable parties owes (`DEPARTMENT_PARTIES`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from cases.errors import InvalidWorkflowInput
from cases.inputs import clean_text, parse_enum
from cases.models.workflows import Claim, ClaimLiability
from cases.money import bp_to_percent, yuan, yuan0
from cases.vocab import UNIT_DEPARTMENTS, ClaimStage, Department, LiableParty

# which liable parties a department answers for: a unit department for its unit (one branch, one market
# area); the trunk-vehicle department for the trunk vehicles and their drivers (干线车辆/司机); the warehouse
# department (仓管) for the warehouses and the loaders (装卸工) working in them. Settlement, payment,
# invoicing and key accounts are never liable for a claim; third parties and customers have no desk.
DEPARTMENT_PARTIES: dict[Department, tuple[LiableParty, ...]] = {
    Department.BRANCH: (LiableParty.BRANCH,),
    Department.MARKET_AREA: (LiableParty.MARKET_AREA,),
    Department.TRUNK_VEHICLE: (LiableParty.TRUNK_VEHICLE,),
    Department.WAREHOUSE: (LiableParty.WAREHOUSE, LiableParty.LOADER),
}


@dataclass(frozen=True, slots=True)
class OwedLine:
    claim_id: int
    case_id: int
    case_number: str
    subject: str
    stage: ClaimStage
    party: LiableParty
    name: str
    share_percent: Decimal
    owed: Decimal | None  # None until the parties are notified (the amount is agreed first)
    owed_fen: int | None
    notified_at: datetime | None
    agreed: Decimal | None
    liability_fixed_at: datetime | None


def owed_by(s: Session, party: str, name: str, *, include_ended: bool = False, limit: int = 500
            ) -> tuple[OwedLine, ...]:
    """The claims where `party` named `name` (e.g. branch "郑州分公司") is liable, newest liability first.
    Refused and withdrawn claims are left out (nothing is owed); closed ones only with `include_ended`."""
    who = parse_enum(LiableParty, party, "liable party", InvalidWorkflowInput)
    named = clean_text(name, "party name", max_len=100, required=True)
    return _owed(s, (who,), named, include_ended, limit)


def owed_by_department(s: Session, department: str, unit: str = "", *, include_ended: bool = True,
                       limit: int = 200) -> tuple[OwedLine, ...]:
    """What a department's desk owes on claims: a unit department (branch, market area) its unit's (none
    without a unit), another the lines of every party it answers for (`DEPARTMENT_PARTIES`), any name."""
    dept = parse_enum(Department, department, "department", InvalidWorkflowInput)
    parties = DEPARTMENT_PARTIES.get(dept, ())
    if dept.value in UNIT_DEPARTMENTS:
        return owed_by(s, parties[0].value, unit, include_ended=include_ended, limit=limit) if unit.strip() else ()
    return _owed(s, parties, None, include_ended, limit) if parties else ()


def _owed(s: Session, parties: tuple[LiableParty, ...], named: str | None, include_ended: bool, limit: int
          ) -> tuple[OwedLine, ...]:
    gone = [ClaimStage.REFUSED.value, ClaimStage.WITHDRAWN.value]
    if not include_ended:
        gone.append(ClaimStage.CLOSED.value)
    stmt = (select(ClaimLiability).join(Claim)
            .options(selectinload(ClaimLiability.claim).selectinload(Claim.case))
            .where(ClaimLiability.party.in_([p.value for p in parties]), Claim.stage.not_in(gone))
            .order_by(Claim.liability_fixed_at.desc(), Claim.id.desc(), ClaimLiability.id)
            .limit(max(1, min(limit, 5000))))
    if named is not None:
        stmt = stmt.where(ClaimLiability.name == named)
    return tuple(
        OwedLine(claim_id=p.claim.id, case_id=p.claim.case_id, case_number=p.claim.case.number,
                 subject=p.claim.case.subject, stage=ClaimStage(p.claim.stage), party=LiableParty(p.party),
                 name=p.name,
                 share_percent=bp_to_percent(p.share_bp), owed=yuan(p.owed_fen), owed_fen=p.owed_fen,
                 notified_at=p.notified_at, agreed=yuan(p.claim.agreed_fen),
                 liability_fixed_at=p.claim.liability_fixed_at)
        for p in s.scalars(stmt).all()
    )


def total_owed(lines: tuple[OwedLine, ...]) -> Decimal:
    """The sum of what the lines owe (those notified)."""
    return yuan0(sum(x.owed_fen or 0 for x in lines))
