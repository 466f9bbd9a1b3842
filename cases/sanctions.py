"""Rewards and penalties (奖罚, 监察主管5: 每月监察奖罚明细报表): decided by an inspector or supervisor for a
branch (and optionally a person in it), from an inspection, a complaint, a claim or an incident (at most one
source), and for a penalty whether it was collected (已收缴: by whom, when). Audited (entity `sanction`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.audit import iso_utc, record_audit
from cases.errors import InvalidWorkflowInput, SanctionNotFound
from cases.incidents import case_by_number
from cases.inputs import aware_utc, clean_text, clean_username, parse_enum
from cases.models.base import utcnow
from cases.models.case import Case
from cases.models.incidents import Incident
from cases.models.workflows import Claim, Complaint, Inspection, Sanction
from cases.money import to_fen, yuan0
from cases.vocab import SanctionKind, SanctionSource

LIST_LIMIT = 500


@dataclass(frozen=True, slots=True)
class SanctionView:
    id: int
    inspection_id: int | None
    kind: SanctionKind
    branch: str
    person: str
    amount: Decimal
    reason: str
    decided_by: str
    decided_at: datetime
    complaint_id: int | None = None
    claim_id: int | None = None
    incident_id: int | None = None
    source: SanctionSource | None = None
    source_ref: str = ""  # the source's number: 案件号 of a complaint or claim, #id of an inspection or incident
    collected_at: datetime | None = None
    collected_by: str | None = None

    @property
    def collectable(self) -> bool:
        """A penalty not yet collected (已收缴 may still be recorded)."""
        return self.kind is SanctionKind.PENALTY and self.collected_at is None


@dataclass(frozen=True, slots=True)
class SourceRef:
    """What a sanction is decided from: at most one of these ids."""

    inspection_id: int | None = None
    complaint_id: int | None = None
    claim_id: int | None = None
    incident_id: int | None = None

    def given(self) -> tuple[tuple[SanctionSource, int], ...]:
        pairs = ((SanctionSource.INSPECTION, self.inspection_id), (SanctionSource.COMPLAINT, self.complaint_id),
                 (SanctionSource.CLAIM, self.claim_id), (SanctionSource.INCIDENT, self.incident_id))
        return tuple((k, v) for k, v in pairs if v is not None)


def _case_numbers(s: Session, model: type[Complaint] | type[Claim], ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = s.execute(select(model.id, Case.number).join(Case, Case.id == model.case_id).where(model.id.in_(ids)))
    return {int(i): str(n) for i, n in rows}


def _view(x: Sanction, complaint_numbers: dict[int, str], claim_numbers: dict[int, str]) -> SanctionView:
    source: SanctionSource | None = None
    ref = ""
    if x.complaint_id is not None:
        source, ref = SanctionSource.COMPLAINT, complaint_numbers.get(x.complaint_id, "")
    elif x.claim_id is not None:
        source, ref = SanctionSource.CLAIM, claim_numbers.get(x.claim_id, "")
    elif x.incident_id is not None:
        source, ref = SanctionSource.INCIDENT, f"#{x.incident_id}"
    elif x.inspection_id is not None:
        source, ref = SanctionSource.INSPECTION, f"#{x.inspection_id}"
    return SanctionView(
        x.id, x.inspection_id, SanctionKind(x.kind), x.branch, x.person, yuan0(x.amount_fen), x.reason,
        x.decided_by, x.decided_at, x.complaint_id, x.claim_id, x.incident_id, source, ref,
        x.collected_at, x.collected_by,
    )


def sanction_views(s: Session, rows: Sequence[Sanction]) -> tuple[SanctionView, ...]:
    """The views of `rows`, their complaints' and claims' case numbers looked up in two queries."""
    complaints = _case_numbers(s, Complaint, {x.complaint_id for x in rows if x.complaint_id is not None})
    claims = _case_numbers(s, Claim, {x.claim_id for x in rows if x.claim_id is not None})
    return tuple(_view(x, complaints, claims) for x in rows)


def sanction_view(s: Session, x: Sanction) -> SanctionView:
    return sanction_views(s, [x])[0]


def source_of_case(s: Session, number: str) -> SourceRef:
    """The complaint or claim of the case with 案件号 `number` (a sanction's source typed by its number)."""
    case = case_by_number(s, number)
    complaint_id = s.scalar(select(Complaint.id).where(Complaint.case_id == case.id))
    if complaint_id is not None:
        return SourceRef(complaint_id=complaint_id)
    claim_id = s.scalar(select(Claim.id).where(Claim.case_id == case.id))
    if claim_id is not None:
        return SourceRef(claim_id=claim_id)
    raise InvalidWorkflowInput(f"case {case.number} is neither a complaint nor a claim")


_SOURCE_TABLES: dict[SanctionSource, type[Inspection] | type[Complaint] | type[Claim] | type[Incident]] = {
    SanctionSource.INSPECTION: Inspection, SanctionSource.COMPLAINT: Complaint,
    SanctionSource.CLAIM: Claim, SanctionSource.INCIDENT: Incident,
}


def record_sanction(
    s: Session,
    *,
    kind: str,
    branch: str,
    amount: Decimal | str | int,
    reason: str,
    decided_at: datetime,
    person: str = "",
    inspection_id: int | None = None,
    complaint_id: int | None = None,
    claim_id: int | None = None,
    incident_id: int | None = None,
    by: str,
) -> SanctionView:
    """A reward or penalty for a branch (and optionally a person in it), from at most one source."""
    who = clean_username(by, "decided_by")
    k = parse_enum(SanctionKind, kind, "sanction kind", InvalidWorkflowInput)
    branch_name = clean_text(branch, "branch", max_len=100, required=True)
    person_name = clean_text(person, "person", max_len=100)
    fen = to_fen(amount, "amount")
    why = clean_text(reason, "reason", max_len=10_000, required=True)
    at = aware_utc(decided_at, "decided_at")
    ref = SourceRef(inspection_id, complaint_id, claim_id, incident_id)
    given = ref.given()
    if len(given) > 1:
        raise InvalidWorkflowInput("a reward or penalty comes from one source at most: "
                                   + ", ".join(f"{k.value} {v}" for k, v in given))
    for source, row_id in given:
        if s.get(_SOURCE_TABLES[source], row_id) is None:
            raise InvalidWorkflowInput(f"there is no {source.value} {row_id}")
    x = Sanction(
        inspection_id=inspection_id, complaint_id=complaint_id, claim_id=claim_id, incident_id=incident_id,
        kind=k.value, branch=branch_name, person=person_name, amount_fen=fen, reason=why, decided_by=who,
        decided_at=at,
    )
    s.add(x)
    s.flush()
    record_audit(s, who, "sanction.record", "sanction", x.id, {
        "kind": k.value, "branch": branch_name, "person": person_name, "amount": str(yuan0(fen)),
        "inspection": inspection_id, **{src.value: row_id for src, row_id in given},
    })
    s.flush()
    return sanction_view(s, x)


def collect_penalty(s: Session, sanction_id: int, *, by: str, at: datetime | None = None) -> SanctionView:
    """The penalty was collected (已收缴); a reward, or a penalty already collected, is refused."""
    who = clean_username(by, "collected_by")
    now = aware_utc(at, "collected_at") if at is not None else utcnow()
    x = s.get(Sanction, sanction_id, with_for_update=True)
    if x is None:
        raise SanctionNotFound(f"sanction {sanction_id} does not exist")
    if x.kind != SanctionKind.PENALTY.value:
        raise InvalidWorkflowInput(f"sanction {sanction_id} is a reward: only a penalty is collected")
    if x.collected_at is not None:
        raise InvalidWorkflowInput(f"penalty {sanction_id} was already collected on {iso_utc(x.collected_at)}"
                                   f" by {x.collected_by}")
    if now < x.decided_at:
        raise InvalidWorkflowInput("a penalty cannot be collected before it was decided")
    x.collected_at, x.collected_by = now, who
    s.flush()
    record_audit(s, who, "sanction.collect", "sanction", x.id, {"collected_at": iso_utc(now)})
    s.flush()
    return sanction_view(s, x)


def list_sanctions(
    s: Session, *, source: SourceRef | None = None, uncollected: bool = False, limit: int = 200
) -> tuple[SanctionView, ...]:
    """Newest decision first: of one source (`source` with one id given), or penalties not yet collected."""
    stmt = select(Sanction)
    if source is not None:
        for src, row_id in source.given():
            stmt = stmt.where(getattr(Sanction, f"{src.value}_id") == row_id)
    if uncollected:
        stmt = stmt.where(Sanction.kind == SanctionKind.PENALTY.value, Sanction.collected_at.is_(None))
    stmt = stmt.order_by(Sanction.decided_at.desc(), Sanction.id.desc()).limit(max(1, min(limit, LIST_LIMIT)))
    return sanction_views(s, s.scalars(stmt).all())
