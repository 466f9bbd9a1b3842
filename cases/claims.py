"""The claim (理赔) workflow: reported → investigating (evidence) → liability fixed (shares summing to
100 %) → negotiating (offers and counter-offers) → amount agreed → responsible parties notified → paid →
closed; before payment it may end refused or withdrawn (`cases.claim_decisions`). The insurer's claim is a
track beside it, recordable from liability fixed onward, also after payment. Rules live in
`cases.workflow.CLAIM`; every step is audited (entity "claim") and a step into another stage restarts the
stage's clock (`stage_since`, the per-stage deadlines of `cases.claim_clock`). Money is Decimal yuan.
重大事故: the reporter's flag or a claimed amount ≥ `MAJOR_CLAIM_YUAN` only suggests it; a supervisor
confirms (then it is escalated to the centre's head) or declines (`cases.claim_decisions.decide_major`)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from cases.audit import record_audit
from cases.case_records import create_case, load_case
from cases.errors import ClaimNotFound, EvidenceRejected, InvalidWorkflowInput
from cases.inputs import aware_utc, clean_text, clean_username, parse_enum
from cases.models.base import utcnow
from cases.models.workflows import Claim, ClaimEvidence, ClaimLiability, ClaimOffer
from cases.money import bp_to_percent, percent_to_bp, split_by_shares, to_fen, yuan, yuan0
from cases.private_files import private_dir
from cases.views import CaseInput
from cases.vocab import (
    AccidentCause,
    CaseKind,
    CaseStatus,
    ClaimChannel,
    ClaimStage,
    InsurerStatus,
    LiableParty,
    MajorStatus,
    OfferBy,
)
from cases.workflow import CLAIM, advance

log = logging.getLogger(__name__)

MAJOR_CLAIM_YUAN = Decimal("50000")
DEFAULT_CENTRE_HEAD = "supervisor"
DEFAULT_MAX_EVIDENCE_BYTES = 20 * 1024 * 1024

# content type -> (file name extensions, leading bytes any of which the file must start with)
EVIDENCE_TYPES: dict[str, tuple[tuple[str, ...], tuple[bytes, ...]]] = {
    "image/jpeg": ((".jpg", ".jpeg"), (b"\xff\xd8\xff",)),
    "image/png": ((".png",), (b"\x89PNG\r\n\x1a\n",)),
    "application/pdf": ((".pdf",), (b"%PDF-",)),
    "audio/wav": ((".wav",), (b"RIFF",)),
    "audio/mpeg": ((".mp3",), (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")),
}
_SAFE_NAME = re.compile(r"[^\w.\-]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class EvidenceStore:
    """Where evidence files go (`root/<claim id>/<sha256><ext>`) and what is accepted."""

    root: Path
    max_bytes: int = DEFAULT_MAX_EVIDENCE_BYTES
    types: tuple[str, ...] = field(default=tuple(EVIDENCE_TYPES))


@dataclass(frozen=True, slots=True)
class LiabilityInput:
    party: str  # LiableParty value
    share_percent: Decimal | str | int  # e.g. "60", "33.33"
    name: str = ""  # which branch, driver, plate, warehouse, company ...


@dataclass(frozen=True, slots=True)
class EvidenceView:
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    stored_path: str
    uploaded_by: str
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class LiabilityView:
    party: LiableParty
    name: str
    share_percent: Decimal
    owed: Decimal | None
    notified_at: datetime | None


@dataclass(frozen=True, slots=True)
class OfferView:
    offered_by: OfferBy
    amount: Decimal
    note: str
    recorded_by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ClaimView:
    id: int
    case_id: int
    case_number: str
    subject: str
    stage: ClaimStage
    channel: ClaimChannel
    accident_cause: AccidentCause
    branch: str
    claimed: Decimal
    agreed: Decimal | None
    paid: Decimal | None
    major: bool
    escalated_to: str | None
    insurer: str
    policy_no: str
    insurer_claim_no: str
    insurer_status: InsurerStatus | None
    insurer_payout: Decimal | None
    reported_at: datetime
    liability_fixed_at: datetime | None
    agreed_at: datetime | None
    notified_at: datetime | None
    paid_at: datetime | None
    closed_at: datetime | None  # closed, refused or withdrawn
    evidence: tuple[EvidenceView, ...]
    liabilities: tuple[LiabilityView, ...]
    offers: tuple[OfferView, ...]
    allowed_actions: tuple[str, ...]
    stage_since: datetime  # when it entered its stage (the clock of the stage's deadline)
    end_reason: str  # why it was refused or withdrawn
    major_status: MajorStatus | None  # None: 重大事故 never suggested
    major_decided_by: str | None
    major_decided_at: datetime | None
    major_note: str
    assigned_to: str | None  # the claims staff working it (its case's assignee)


_LOAD = (
    selectinload(Claim.case),
    selectinload(Claim.evidence),
    selectinload(Claim.liabilities),
    selectinload(Claim.offers),
)


def claim_view(c: Claim) -> ClaimView:
    return ClaimView(
        id=c.id,
        case_id=c.case_id,
        case_number=c.case.number,
        subject=c.case.subject,
        stage=ClaimStage(c.stage),
        channel=ClaimChannel(c.channel),
        accident_cause=AccidentCause(c.accident_cause),
        branch=c.branch,
        claimed=yuan0(c.claimed_fen),
        agreed=yuan(c.agreed_fen),
        paid=yuan(c.paid_fen),
        major=c.major,
        escalated_to=c.escalated_to,
        insurer=c.insurer,
        policy_no=c.policy_no,
        insurer_claim_no=c.insurer_claim_no,
        insurer_status=InsurerStatus(c.insurer_status) if c.insurer_status else None,
        insurer_payout=yuan(c.insurer_payout_fen),
        reported_at=c.reported_at,
        liability_fixed_at=c.liability_fixed_at,
        agreed_at=c.agreed_at,
        notified_at=c.notified_at,
        paid_at=c.paid_at,
        closed_at=c.closed_at,
        evidence=tuple(
            EvidenceView(
                e.id, e.filename, e.content_type, e.size, e.sha256, e.stored_path, e.uploaded_by, e.uploaded_at
            )
            for e in c.evidence
        ),
        liabilities=tuple(
            LiabilityView(LiableParty(p.party), p.name, bp_to_percent(p.share_bp), yuan(p.owed_fen), p.notified_at)
            for p in c.liabilities
        ),
        offers=tuple(
            OfferView(OfferBy(o.offered_by), yuan0(o.amount_fen), o.note, o.recorded_by, o.at) for o in c.offers
        ),
        allowed_actions=CLAIM.allowed(c.stage),
        stage_since=c.stage_since,
        end_reason=c.end_reason,
        major_status=MajorStatus(c.major_status) if c.major_status else None,
        major_decided_by=c.major_decided_by,
        major_decided_at=c.major_decided_at,
        major_note=c.major_note,
        assigned_to=c.case.assigned_to,
    )


def load_for_update(s: Session, claim_id: int) -> Claim:
    c = s.get(Claim, claim_id, options=list(_LOAD), with_for_update=True)
    if c is None:
        raise ClaimNotFound(f"claim {claim_id} does not exist")
    return c


def at_or_now(at: datetime | None) -> datetime:
    return aware_utc(at, "time") if at is not None else utcnow()


def step_claim(
    s: Session, c: Claim, action: str, who: str, now: datetime, detail: dict[str, Any], case_status: CaseStatus | None
) -> ClaimView:
    """One step through `cases.workflow.CLAIM` (audited); entering another stage restarts its clock."""
    old = c.stage
    advance(s, CLAIM, c, action, who, now, detail, case_status)
    if c.stage != old:
        c.stage_since = now
        s.flush()
    return claim_view(c)


def report_claim(
    s: Session,
    case_id: int,
    *,
    channel: str,
    accident_cause: str,
    claimed: Decimal | str | int,
    branch: str = "",
    major: bool = False,
    centre_head: str = DEFAULT_CENTRE_HEAD,
    by: str,
    at: datetime | None = None,
) -> ClaimView:
    """Start the claim workflow on a case of kind claim (stage reported). 重大事故 is only suggested here
    (`major`, or claimed ≥ MAJOR_CLAIM_YUAN): a supervisor confirms it (`cases.claim_decisions`), and only
    then is it escalated to the centre's head. `centre_head` is kept for callers; it is checked, not used."""
    who = clean_username(by, "reported_by")
    chan = parse_enum(ClaimChannel, channel, "claim channel", InvalidWorkflowInput)
    cause = parse_enum(AccidentCause, accident_cause, "accident cause", InvalidWorkflowInput)
    claimed_fen = to_fen(claimed, "claimed amount")
    branch_name = clean_text(branch, "branch", max_len=100)
    clean_username(centre_head, "centre_head")
    now = at_or_now(at)
    case = load_case(s, case_id, for_update=True)
    if case.kind != CaseKind.CLAIM:
        raise InvalidWorkflowInput(f"case {case.number} is a {case.kind}, not a claim")
    if s.scalars(select(Claim.id).where(Claim.case_id == case.id)).first() is not None:
        raise InvalidWorkflowInput(f"case {case.number} already has a claim record")
    suggested = major or claimed_fen >= to_fen(MAJOR_CLAIM_YUAN, "threshold")
    c = Claim(
        case=case,
        stage=CLAIM.initial,
        channel=chan.value,
        accident_cause=cause.value,
        branch=branch_name,
        claimed_fen=claimed_fen,
        major=False,
        major_status=MajorStatus.SUGGESTED.value if suggested else None,
        escalated_to=None,
        reported_at=now,
        updated_at=now,
        stage_since=now,
    )
    s.add(c)
    s.flush()
    record_audit(
        s,
        who,
        "claim.report",
        "claim",
        c.id,
        {
            "case": case.number,
            "to": c.stage,
            "channel": chan.value,
            "accident_cause": cause.value,
            "claimed": str(yuan0(claimed_fen)),
            "branch": branch_name,
            "major_suggested": suggested,
        },
    )
    if suggested:
        log.info("claim on case %s (%s yuan): 重大事故 suggested, for a supervisor to decide", case.number,
                 yuan0(claimed_fen))
    s.flush()
    return claim_view(c)


def open_claim(
    s: Session,
    case: CaseInput,
    *,
    channel: str,
    accident_cause: str,
    claimed: Decimal | str | int,
    branch: str = "",
    major: bool = False,
    centre_head: str = DEFAULT_CENTRE_HEAD,
    by: str,
    at: datetime | None = None,
) -> ClaimView:
    """Create a claim case and report the claim on it."""
    if case.kind != CaseKind.CLAIM:
        raise InvalidWorkflowInput(f"open_claim needs a case of kind claim, got {case.kind!r}")
    parse_enum(ClaimChannel, channel, "claim channel", InvalidWorkflowInput)
    parse_enum(AccidentCause, accident_cause, "accident cause", InvalidWorkflowInput)
    to_fen(claimed, "claimed amount")
    created = create_case(s, case, by)
    return report_claim(
        s,
        created.id,
        channel=channel,
        accident_cause=accident_cause,
        claimed=claimed,
        branch=branch,
        major=major,
        centre_head=centre_head,
        by=by,
        at=at,
    )


def start_investigation(s: Session, claim_id: int, *, by: str, at: datetime | None = None) -> ClaimView:
    who = clean_username(by, "investigator")
    now = at_or_now(at)
    c = load_for_update(s, claim_id)
    c.case.assigned_to = who if c.case.assigned_to is None else c.case.assigned_to
    return step_claim(s, c, "start_investigation", who, now, {}, CaseStatus.IN_PROGRESS)


def _check_evidence(store: EvidenceStore, filename: str, data: bytes, content_type: str) -> tuple[str, str]:
    name = (filename or "").strip().replace("\\", "/").rsplit("/", 1)[-1]
    if not name or len(name) > 255:
        raise EvidenceRejected(f"evidence file name {filename!r} is not valid")
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype not in store.types or ctype not in EVIDENCE_TYPES:
        raise EvidenceRejected(f"evidence type {content_type!r} is not accepted; accepted: {', '.join(store.types)}")
    exts, magics = EVIDENCE_TYPES[ctype]
    ext = os.path.splitext(name)[1].lower()
    if ext not in exts:
        raise EvidenceRejected(f"evidence {name!r}: a {ctype} file must end in {' or '.join(exts)}")
    if not data:
        raise EvidenceRejected(f"evidence {name!r} is empty")
    if len(data) > store.max_bytes:
        raise EvidenceRejected(f"evidence {name!r} is {len(data)} bytes; at most {store.max_bytes} are accepted")
    if not any(data.startswith(m) for m in magics):
        raise EvidenceRejected(f"evidence {name!r} does not look like {ctype} (its content does not match)")
    return name, ctype


def add_evidence(
    s: Session,
    claim_id: int,
    *,
    filename: str,
    data: bytes,
    content_type: str,
    store: EvidenceStore,
    by: str,
    at: datetime | None = None,
) -> ClaimView:
    """Keep a photo, document or recording under `store.root` (only while investigating)."""
    who = clean_username(by, "uploaded_by")
    name, ctype = _check_evidence(store, filename, data, content_type)
    now = at_or_now(at)
    c = load_for_update(s, claim_id)
    CLAIM.step(c.id, c.stage, "add_evidence")
    digest = hashlib.sha256(data).hexdigest()
    folder = Path(store.root) / str(c.id)
    target = folder / f"{digest}{os.path.splitext(name)[1].lower()}"
    try:
        private_dir(folder)  # the evidence root and the claim's folder 0700 when made here
        if not target.exists():
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
    except OSError as exc:
        raise EvidenceRejected(f"evidence {name!r} cannot be stored under {store.root}: {exc.strerror}") from None
    c.evidence.append(
        ClaimEvidence(
            filename=_SAFE_NAME.sub("_", name)[:255],
            content_type=ctype,
            size=len(data),
            sha256=digest,
            stored_path=str(target),
            uploaded_by=who,
            uploaded_at=now,
        )
    )
    return step_claim(s, c, "add_evidence", who, now, {"filename": name, "sha256": digest, "size": len(data)}, None)


def fix_liability(
    s: Session, claim_id: int, *, parties: Sequence[LiabilityInput], by: str, at: datetime | None = None
) -> ClaimView:
    """Name the responsible parties (明确责任人) with shares summing to exactly 100 %; needs evidence."""
    who = clean_username(by, "fixed_by")
    if not parties:
        raise InvalidWorkflowInput("liability needs at least one responsible party")
    rows: list[tuple[str, str, int]] = []
    for i, p in enumerate(parties, 1):
        party = parse_enum(LiableParty, p.party, "liable party", InvalidWorkflowInput)
        rows.append(
            (
                party.value,
                clean_text(p.name, "party name", max_len=100),
                percent_to_bp(p.share_percent, f"share of party {i}"),
            )
        )
    keys = [(r[0], r[1]) for r in rows]
    if len(set(keys)) != len(keys):
        raise InvalidWorkflowInput("the same responsible party is named twice")
    total = sum(r[2] for r in rows)
    if total != 10000:
        raise InvalidWorkflowInput(f"liability shares sum to {bp_to_percent(total)} %, not 100 %")
    now = at_or_now(at)
    c = load_for_update(s, claim_id)
    CLAIM.step(c.id, c.stage, "fix_liability")
    if not c.evidence:
        raise InvalidWorkflowInput(f"claim {c.id}: gather evidence before fixing liability")
    c.liabilities = [ClaimLiability(party=p, name=n, share_bp=bp) for p, n, bp in rows]
    c.liability_fixed_at = now
    return step_claim(
        s,
        c,
        "fix_liability",
        who,
        now,
        {"parties": [{"party": p, "name": n, "share": str(bp_to_percent(bp))} for p, n, bp in rows]},
        None,
    )


def offer(
    s: Session,
    claim_id: int,
    *,
    offered_by: str,
    amount: Decimal | str | int,
    note: str = "",
    by: str,
    at: datetime | None = None,
) -> ClaimView:
    """An offer (company) or counter-offer (customer) in the negotiation."""
    who = clean_username(by, "recorded_by")
    side = parse_enum(OfferBy, offered_by, "offered_by", InvalidWorkflowInput)
    fen = to_fen(amount, "offer")
    text = clean_text(note, "note", max_len=10_000)
    now = at_or_now(at)
    c = load_for_update(s, claim_id)
    CLAIM.step(c.id, c.stage, "offer")
    c.offers.append(ClaimOffer(offered_by=side.value, amount_fen=fen, note=text, recorded_by=who, at=now))
    detail = {"offered_by": side.value, "amount": str(yuan0(fen)), "note": text}
    return step_claim(s, c, "offer", who, now, detail, None)


def agree_amount(
    s: Session, claim_id: int, *, amount: Decimal | str | int, by: str, at: datetime | None = None
) -> ClaimView:
    """The agreed compensation; it must be one of the amounts offered by either side."""
    who = clean_username(by, "agreed_by")
    fen = to_fen(amount, "agreed amount")
    now = at_or_now(at)
    c = load_for_update(s, claim_id)
    CLAIM.step(c.id, c.stage, "agree_amount")
    offered = {o.amount_fen for o in c.offers}
    if fen not in offered:
        shown = ", ".join(str(yuan0(f)) for f in sorted(offered))
        raise InvalidWorkflowInput(f"claim {c.id}: {yuan0(fen)} was never offered (offers: {shown})")
    c.agreed_fen, c.agreed_at = fen, now
    return step_claim(s, c, "agree_amount", who, now, {"amount": str(yuan0(fen))}, None)


def notify_parties(s: Session, claim_id: int, *, by: str, at: datetime | None = None) -> ClaimView:
    """Tell each responsible party what it owes: the agreed amount split by shares, to the fen."""
    who = clean_username(by, "notified_by")
    now = at_or_now(at)
    c = load_for_update(s, claim_id)
    CLAIM.step(c.id, c.stage, "notify_parties")
    assert c.agreed_fen is not None
    parts = split_by_shares(c.agreed_fen, [p.share_bp for p in c.liabilities])
    for p, owed in zip(c.liabilities, parts, strict=True):
        p.owed_fen, p.notified_at = owed, now
    c.notified_at = now
    owed_detail = [{"party": p.party, "name": p.name, "owed": str(yuan0(p.owed_fen))} for p in c.liabilities]
    return step_claim(s, c, "notify_parties", who, now, {"owed": owed_detail}, None)


def file_insurer_claim(
    s: Session,
    claim_id: int,
    *,
    insurer: str,
    policy_no: str,
    insurer_claim_no: str,
    by: str,
    at: datetime | None = None,
) -> ClaimView:
    who = clean_username(by, "filed_by")
    ins = clean_text(insurer, "insurer", max_len=100, required=True)
    pol = clean_text(policy_no, "policy number", max_len=64, required=True)
    num = clean_text(insurer_claim_no, "insurer claim number", max_len=64, required=True)
    now = at_or_now(at)
    c = load_for_update(s, claim_id)
    CLAIM.step(c.id, c.stage, "file_insurer_claim")
    if c.insurer_status is not None:
        raise InvalidWorkflowInput(f"claim {c.id}: the insurer claim is filed already ({c.insurer_claim_no}); "
                                   "update its status instead")
    c.insurer, c.policy_no, c.insurer_claim_no, c.insurer_status = ins, pol, num, InsurerStatus.FILED.value
    return step_claim(
        s, c, "file_insurer_claim", who, now, {"insurer": ins, "policy_no": pol, "insurer_claim_no": num}, None
    )


def update_insurer_claim(
    s: Session,
    claim_id: int,
    *,
    status: str,
    payout: Decimal | str | int | None = None,
    by: str,
    at: datetime | None = None,
) -> ClaimView:
    who = clean_username(by, "updated_by")
    st = parse_enum(InsurerStatus, status, "insurer status", InvalidWorkflowInput)
    payout_fen = to_fen(payout, "insurer payout") if payout is not None else None
    if st is InsurerStatus.PAID and payout_fen is None:
        raise InvalidWorkflowInput("an insurer claim marked paid needs the payout amount")
    now = at_or_now(at)
    c = load_for_update(s, claim_id)
    CLAIM.step(c.id, c.stage, "update_insurer_claim")
    if c.insurer_status is None:
        raise InvalidWorkflowInput(f"claim {c.id}: file the insurer claim before recording its status")
    c.insurer_status = st.value
    if payout_fen is not None:
        c.insurer_payout_fen = payout_fen
    return step_claim(
        s,
        c,
        "update_insurer_claim",
        who,
        now,
        {"status": st.value, "payout": str(yuan0(payout_fen)) if payout_fen is not None else None},
        None,
    )


def pay(s: Session, claim_id: int, *, amount: Decimal | str | int, by: str, at: datetime | None = None) -> ClaimView:
    """The customer has been paid; the amount must be the agreed one."""
    who = clean_username(by, "paid_by")
    fen = to_fen(amount, "paid amount")
    now = at_or_now(at)
    c = load_for_update(s, claim_id)
    CLAIM.step(c.id, c.stage, "pay")
    if fen != c.agreed_fen:
        raise InvalidWorkflowInput(f"claim {c.id}: paid {yuan0(fen)} is not the agreed {yuan0(c.agreed_fen)}")
    c.paid_fen, c.paid_at = fen, now
    return step_claim(s, c, "pay", who, now, {"amount": str(yuan0(fen))}, CaseStatus.RESOLVED)


def close(s: Session, claim_id: int, *, by: str, at: datetime | None = None) -> ClaimView:
    who = clean_username(by, "closed_by")
    now = at_or_now(at)
    c = load_for_update(s, claim_id)
    CLAIM.step(c.id, c.stage, "close")
    c.closed_at = now
    return step_claim(s, c, "close", who, now, {}, CaseStatus.CLOSED)


def get_claim(s: Session, claim_id: int) -> ClaimView:
    c = s.get(Claim, claim_id, options=list(_LOAD))
    if c is None:
        raise ClaimNotFound(f"claim {claim_id} does not exist")
    return claim_view(c)


def claim_for_case(s: Session, case_id: int) -> ClaimView | None:
    c = s.scalars(select(Claim).where(Claim.case_id == case_id).options(*_LOAD)).first()
    return claim_view(c) if c is not None else None


def list_claims(
    s: Session, *, stage: str | None = None, branch: str | None = None, major: bool | None = None, limit: int = 100
) -> tuple[ClaimView, ...]:
    """Claims, newest first; `branch` gives a branch's claims (its console's queue)."""
    stmt = select(Claim).options(*_LOAD)
    if stage is not None:
        stmt = stmt.where(Claim.stage == parse_enum(ClaimStage, stage, "stage", InvalidWorkflowInput).value)
    if branch is not None:
        stmt = stmt.where(Claim.branch == branch)
    if major is not None:
        stmt = stmt.where(Claim.major.is_(major))
    stmt = stmt.order_by(Claim.reported_at.desc(), Claim.id.desc()).limit(max(1, min(limit, 1000)))
    return tuple(claim_view(c) for c in s.scalars(stmt).all())
