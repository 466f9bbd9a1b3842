"""The service-standard check and the entities of a call, stored on the call.

The transcripts package computes them (`transcripts.standard.check_call`, `transcripts.entities`);
the wiring (hotline_cli) turns its results into these inputs when a transcript is attached, and
`record_call_analysis` stores them, replacing what an earlier run stored for the same call. A
waybill heard in the call is linked to its shipment when we know one with that waybill.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cases.errors import CallNotFound, InvalidTranscriptInput
from cases.models.base import utcnow
from cases.models.call_analysis import ENTITY_KINDS, SEGMENT_SPEAKERS, CallCheckFinding, CallCheckResult, CallEntity
from cases.models.calls import Call
from cases.views import CallCheckView, CallEntityView, CheckFindingView

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FindingInput:
    rule: str
    message: str
    at_s: float | None = None
    speaker: str | None = None
    phrase: str | None = None
    deduction: int = 0


@dataclass(frozen=True, slots=True)
class EntityInput:
    kind: str  # waybill | phone | amount
    value: str
    speaker: str | None = None  # customer | agent | unknown
    at_s: float | None = None


@dataclass(frozen=True, slots=True)
class CallAnalysisInput:
    score: int
    findings: tuple[FindingInput, ...] = ()
    entities: tuple[EntityInput, ...] = ()


def _time(value: float | None, what: str) -> float | None:
    if value is not None and (not math.isfinite(value) or value < 0):
        raise InvalidTranscriptInput(f"{what} must be a non-negative number of seconds, got {value!r}")
    return value


def _speaker(value: str | None) -> str | None:
    if value is not None and value not in SEGMENT_SPEAKERS:
        raise InvalidTranscriptInput(f"speaker must be one of {', '.join(SEGMENT_SPEAKERS)}, not {value!r}")
    return value


def _validate(a: CallAnalysisInput) -> None:
    if isinstance(a.score, bool) or not isinstance(a.score, int) or not 0 <= a.score <= 100:
        raise InvalidTranscriptInput(f"score must be 0-100, got {a.score!r}")
    for f in a.findings:
        if not f.rule or len(f.rule) > 40:
            raise InvalidTranscriptInput(f"finding rule must be 1-40 characters, got {f.rule!r}")
        if len(f.phrase or "") > 100:
            raise InvalidTranscriptInput("finding phrase must be at most 100 characters")
        if f.deduction < 0:
            raise InvalidTranscriptInput(f"finding deduction must not be negative, got {f.deduction}")
        _time(f.at_s, "finding at_s")
        _speaker(f.speaker)
    for e in a.entities:
        if e.kind not in ENTITY_KINDS:
            raise InvalidTranscriptInput(f"entity kind must be one of {', '.join(ENTITY_KINDS)}, not {e.kind!r}")
        if not e.value or len(e.value) > 32:
            raise InvalidTranscriptInput(f"entity value must be 1-32 characters, got {e.value!r}")
        _time(e.at_s, "entity at_s")
        _speaker(e.speaker)


def record_call_analysis(s: Session, linkedid: str, analysis: CallAnalysisInput) -> CallCheckView:
    """Store the check and entities of a call (replacing earlier ones); `CallNotFound`, `InvalidTranscriptInput`."""
    _validate(analysis)
    call = s.scalar(select(Call).where(Call.linkedid == linkedid))
    if call is None:
        raise CallNotFound(f"call {linkedid!r} does not exist")
    s.execute(delete(CallCheckResult).where(CallCheckResult.call_id == call.id))
    s.execute(delete(CallEntity).where(CallEntity.call_id == call.id))
    check = CallCheckResult(call_id=call.id, score=analysis.score, checked_at=utcnow(), findings=[
        CallCheckFinding(rule=f.rule, message=f.message[:300], at_s=f.at_s, speaker=f.speaker, phrase=f.phrase,
                         deduction=f.deduction)
        for f in analysis.findings
    ])
    s.add(check)
    first: dict[tuple[str, str], EntityInput] = {}
    for e in sorted(analysis.entities, key=lambda e: (e.at_s is None, e.at_s or 0.0)):
        first.setdefault((e.kind, e.value), e)
    s.add_all(CallEntity(call_id=call.id, kind=e.kind, value=e.value, speaker=e.speaker, at_s=e.at_s)
              for e in first.values())
    s.flush()
    s.expire(call, ["quality_check", "entities"])
    log.info("call %s checked: score %s, %d findings, %d entities", linkedid, analysis.score,
             len(analysis.findings), len(first))
    return check_view(check)


def check_view(c: CallCheckResult) -> CallCheckView:
    return CallCheckView(
        score=c.score,
        checked_at=c.checked_at,
        findings=tuple(CheckFindingView(f.rule, f.message, f.at_s, f.speaker, f.phrase, f.deduction)
                       for f in c.findings),
    )


def entity_views(entities: Sequence[CallEntity]) -> tuple[CallEntityView, ...]:
    return tuple(
        CallEntityView(e.kind, e.value, e.speaker, e.at_s, e.shipment.waybill if e.shipment is not None else None)
        for e in entities
    )


def call_analysis(s: Session, linkedid: str) -> tuple[CallCheckView | None, tuple[CallEntityView, ...]]:
    """The stored check and entities of a call (None, () if it was not checked or is unknown)."""
    call = s.scalar(select(Call).where(Call.linkedid == linkedid))
    if call is None:
        return None, ()
    return (check_view(call.quality_check) if call.quality_check is not None else None,
            entity_views(call.entities))
