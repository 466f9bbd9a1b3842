"""The workflow rules, in one place: which action may be taken in which stage, and where it leads;
and which status a case may take next (`CASE_STATUS_TRANSITIONS`, checked by `check_case_status`).

Every workflow step of `cases.complaints`, `cases.claims`, `cases.changes`, `cases.inspections` and `cases.incidents`
asks its machine here (`Machine.step`) before changing anything; an action the current stage does
not allow raises `IllegalTransition` naming the workflow, the stage and the allowed actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from cases.audit import record_audit
from cases.errors import IllegalTransition, InvalidCaseInput
from cases.vocab import CaseStatus, ChangeStage, ClaimStage, ComplaintStage, FindingStage, IncidentStage

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cases.models.case import Case


@dataclass(frozen=True, slots=True)
class Step:
    action: str
    sources: frozenset[str]
    target: str


@dataclass(frozen=True, slots=True)
class Machine:
    name: str
    initial: str
    steps: tuple[Step, ...]

    def step(self, entity_id: object, stage: str, action: str) -> str:
        """The stage `action` leads to from `stage`; `IllegalTransition` if it is not allowed there."""
        for st in self.steps:
            if st.action == action and stage in st.sources:
                return st.target
        if action not in self.actions():
            raise ValueError(f"{self.name}: unknown action {action!r}")
        raise IllegalTransition(self.name, entity_id, stage, action, self.allowed(stage))

    def allowed(self, stage: str) -> tuple[str, ...]:
        return tuple(st.action for st in self.steps if stage in st.sources)

    def actions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(st.action for st in self.steps))

    def stages(self) -> tuple[str, ...]:
        seen = dict.fromkeys([self.initial])
        for st in self.steps:
            seen.update(dict.fromkeys(sorted(st.sources)))
            seen[st.target] = None
        return tuple(seen)


class Staged(Protocol):
    """A workflow row (complaint, claim): its stage, and the case it belongs to."""

    id: int
    stage: str
    updated_at: datetime
    case: Case


def advance(s: Session, machine: Machine, row: Staged, action: str, who: str, now: datetime,
            detail: dict[str, Any], case_status: CaseStatus | None) -> None:
    """Take one step: the machine decides the new stage (or raises, changing nothing), the case's
    own status follows, and the step is audited as `<workflow>.<action>` with from/to."""
    old = row.stage
    row.stage = machine.step(row.id, row.stage, action)
    row.updated_at = now
    case = row.case
    if case_status is not None and case.status != case_status.value:
        detail["case_status"] = {"from": case.status, "to": case_status.value}
        case.status = case_status.value
    case.updated_at = now
    s.flush()
    record_audit(s, who, f"{machine.name}.{action}", machine.name, row.id, {"from": old, "to": row.stage, **detail})
    s.flush()


# ---------------------------------------------------------------- a case's own status

# Which status may follow which. A closed case is final; a resolved one may be reopened.
CASE_STATUS_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.OPEN: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.REFERRED, CaseStatus.RESOLVED, CaseStatus.CLOSED}),
    CaseStatus.IN_PROGRESS: frozenset({CaseStatus.REFERRED, CaseStatus.RESOLVED, CaseStatus.CLOSED}),
    CaseStatus.REFERRED: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.CLOSED}),
    CaseStatus.RESOLVED: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.CLOSED}),
    CaseStatus.CLOSED: frozenset(),
}


def check_case_status(number: str, old: CaseStatus, new: CaseStatus) -> None:
    """`InvalidCaseInput` unless case `number` may go from status `old` to `new` (keeping it is allowed)."""
    if new is not old and new not in CASE_STATUS_TRANSITIONS[old]:
        allowed = ", ".join(sorted(st.value for st in CASE_STATUS_TRANSITIONS[old])) or "none (closed is final)"
        raise InvalidCaseInput(f"case {number} cannot go from {old.value} to {new.value}; allowed: {allowed}")


# ---------------------------------------------------------------- the workflows' machines


def _s(action: str, sources: tuple[str, ...] | str, target: str) -> Step:
    return Step(action, frozenset((sources,) if isinstance(sources, str) else sources), target)


C = ComplaintStage
COMPLAINT = Machine(
    "complaint",
    C.RECORDED,
    (
        _s("analyse", C.RECORDED, C.ANALYSED),
        # (re)refer: to a department (and unit) with a deadline; a referral may be renewed while it is open
        _s("refer", (C.ANALYSED, C.REFERRED), C.REFERRED),
        # the department's answer: its rectification (整改), then the centre verifies it (验证) or
        # sends it back with a new deadline, as inspection findings are verified
        _s("confirm_rectification", C.REFERRED, C.RECTIFIED),
        _s("verify", C.RECTIFIED, C.VERIFIED),
        _s("send_back", C.RECTIFIED, C.REFERRED),
        # a complaint settled without a referral goes straight to telling the customer
        _s("tell_customer", (C.ANALYSED, C.VERIFIED), C.CUSTOMER_TOLD),
        # the follow-up call (回访): reached (satisfied or not), or the last allowed attempt unreached;
        # an earlier unreached attempt is recorded and the stage stays (cases.follow_ups)
        _s("follow_up", C.CUSTOMER_TOLD, C.FOLLOWED_UP),
        _s("follow_up_attempt", C.CUSTOMER_TOLD, C.CUSTOMER_TOLD),
        _s("close", C.FOLLOWED_UP, C.CLOSED),
        # a customer not satisfied at the follow-up call may lead to a new referral
        _s("refer", C.FOLLOWED_UP, C.REFERRED),
    ),
)


def _loops(action: str, stages: tuple[str, ...]) -> tuple[Step, ...]:
    """An action that may be taken in each of `stages` and keeps the stage (it changes no clock)."""
    return tuple(_s(action, st, st) for st in stages)


L = ClaimStage
# before the customer is paid a claim may end refused (拒赔) or withdrawn (撤案), each with its reason
CLAIM_OPEN_STAGES: tuple[str, ...] = (L.REPORTED, L.INVESTIGATING, L.LIABILITY_FIXED, L.NEGOTIATING,
                                      L.AMOUNT_AGREED, L.PARTIES_NOTIFIED)
CLAIM_ENDED_STAGES: frozenset[str] = frozenset({L.CLOSED, L.REFUSED, L.WITHDRAWN})
# the insurer's claim is its own track beside the customer's: filed once liability is fixed, and its status
# and payout recorded whenever the insurer answers, also after the customer is paid and after closing
_INSURER_STAGES = (L.LIABILITY_FIXED, L.NEGOTIATING, L.AMOUNT_AGREED, L.PARTIES_NOTIFIED, L.PAID, L.CLOSED)
CLAIM = Machine(
    "claim",
    L.REPORTED,
    (
        _s("start_investigation", L.REPORTED, L.INVESTIGATING),
        _s("add_evidence", L.INVESTIGATING, L.INVESTIGATING),
        _s("fix_liability", L.INVESTIGATING, L.LIABILITY_FIXED),
        _s("offer", (L.LIABILITY_FIXED, L.NEGOTIATING), L.NEGOTIATING),
        _s("agree_amount", L.NEGOTIATING, L.AMOUNT_AGREED),
        _s("notify_parties", L.AMOUNT_AGREED, L.PARTIES_NOTIFIED),
        _s("pay", L.PARTIES_NOTIFIED, L.PAID),
        _s("close", L.PAID, L.CLOSED),
        _s("refuse", CLAIM_OPEN_STAGES, L.REFUSED),
        _s("withdraw", CLAIM_OPEN_STAGES, L.WITHDRAWN),
        *_loops("file_insurer_claim", _INSURER_STAGES),
        *_loops("update_insurer_claim", _INSURER_STAGES),
        # 重大事故: the supervisor confirms or declines while the claim is not ended
        *_loops("decide_major", (*CLAIM_OPEN_STAGES, L.PAID)),
    ),
)

G = ChangeStage
CHANGE_REQUEST = Machine(
    "change request",
    G.REQUESTED,
    (
        _s("approve", G.REQUESTED, G.APPLIED),
        _s("reject", G.REQUESTED, G.REJECTED),
    ),
)

F = FindingStage
FINDING = Machine(
    "finding",
    F.OPEN,
    (
        _s("rectify", F.OPEN, F.RECTIFIED),
        _s("verify", F.RECTIFIED, F.VERIFIED),
        # verification failed: back to the branch with a new deadline
        _s("reopen", F.RECTIFIED, F.OPEN),
    ),
)

N = IncidentStage
INCIDENT = Machine(
    "incident",
    N.REPORTED,
    (
        # an inspector or supervisor takes the incident (突发事件) in hand, then records each measure
        # taken (处理措施) until it is over and the result is written down
        _s("handle", N.REPORTED, N.HANDLING),
        _s("add_measure", N.HANDLING, N.HANDLING),
        _s("close", N.HANDLING, N.CLOSED),
    ),
)

MACHINES: tuple[Machine, ...] = (COMPLAINT, CLAIM, CHANGE_REQUEST, FINDING, INCIDENT)
