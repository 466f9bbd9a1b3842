"""From a transcribed call to what the case shows: the service-standard check and the entities.

`transcripts` computes (check_call, extract_entities), `cases` stores (record_call_analysis); this
wiring turns one into the other, as neither package may import the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cases.call_checks import CallAnalysisInput, EntityInput, FindingInput
from cases.models import SEGMENT_SPEAKERS
from hotline_cli.config import Settings
from transcripts.entities import extract_entities
from transcripts.standard import Rules, check_call, load_rules
from transcripts.turns import Turn


def standard_rules(settings: Settings) -> Rules:
    """The rules file of the settings (`standard_rules`), or the built-in one; `RulesError` if it is bad."""
    return load_rules(Path(settings.standard_rules) if settings.standard_rules else None)


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
