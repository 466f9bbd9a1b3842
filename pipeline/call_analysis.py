"""From a transcribed call to what the case shows: the service-standard check and the entities.

`transcripts` computes (check_call, extract_entities), `cases` stores (record_call_analysis); this
module turns one into the other, as neither package may import the other.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from cases.call_checks import CallAnalysisInput, EntityInput, FindingInput, record_call_analysis
from cases.db import Database
from cases.errors import CasesError
from cases.models.call_analysis import SEGMENT_SPEAKERS
from transcripts.entities import extract_entities
from transcripts.errors import TranscriptsError
from transcripts.jobs import TranscriptionResult
from transcripts.standard import Rules, check_call
from transcripts.turns import Turn

log = logging.getLogger("hotline")


def _speaker(value: str | None) -> str | None:
    if value is None:
        return None
    return value if value in SEGMENT_SPEAKERS else "unknown"


def analyse_call(turns: Sequence[Turn], rules: Rules) -> CallAnalysisInput:
    """The check of the call's turns against the rules and the waybills, phones and amounts said in them."""
    check = check_call(turns, rules)
    findings = tuple(
        FindingInput(rule=f.rule, message=f.message, at_s=f.at_s, speaker=_speaker(f.speaker),
                     phrase=(f.phrase or None) and f.phrase[:100], deduction=f.deduction)
        for f in check.findings
    )
    entities = tuple(
        EntityInput(kind=e.kind, value=e.value[:32], speaker=_speaker(turn.speaker), at_s=turn.start)
        for turn in turns
        for e in extract_entities(turn.text)
    )
    return CallAnalysisInput(score=check.score, findings=findings, entities=entities)


def store_call_analysis(db: Database, result: TranscriptionResult, rules: Rules) -> None:
    """The check and the waybills/phones/amounts of a transcribed call, stored on the call. A failure is
    logged, not raised: the transcripts are stored already and a retry would not change the check."""
    try:
        with db.session() as s:
            record_call_analysis(s, result.job_id, analyse_call(result.turns, rules))
    except (CasesError, TranscriptsError) as exc:
        log.error("service check of call %s not stored: %s", result.job_id, exc)
