"""Speaker turns: who said what when, from per-speaker transcripts of one call.

Each speaker's words are cut into segments at pauses longer than `max_pause_s`; the segments of all
speakers, in time order, are the turns. Overlapping turns (both talking at once) are kept as they
are, so talk-over stays visible. `turns_json` is a JSON array the wiring can store as `words_json`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from transcripts.engine import Transcript, Word

CUSTOMER = "customer"
AGENT = "agent"
UNKNOWN = "unknown"
# Transcript.speaker labels (MixMonitor parts, stereo channels) -> turn speakers.
SPEAKER_ROLES = {"caller": CUSTOMER, "customer": CUSTOMER, "agent": AGENT}
DEFAULT_MAX_PAUSE_S = 1.0


@dataclass(frozen=True, slots=True)
class Turn:
    """One stretch of speech by one speaker; times in seconds from the start of the call."""

    speaker: str  # "customer", "agent" or "unknown" (a mixed recording)
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()

    def overlaps(self, other: Turn) -> float:
        """Seconds during which this turn and `other` are spoken at the same time (0 if none)."""
        return max(0.0, min(self.end, other.end) - max(self.start, other.start))

    def to_json_dict(self) -> dict[str, Any]:
        return {"speaker": self.speaker, "start": self.start, "end": self.end, "text": self.text}


def speaker_role(label: str) -> str:
    """The turn speaker for a transcript's speaker label ("caller" -> "customer")."""
    return SPEAKER_ROLES.get(label, UNKNOWN)


def _segments(words: Sequence[Word], max_pause_s: float) -> Iterable[tuple[Word, ...]]:
    current: list[Word] = []
    for word in sorted(words, key=lambda w: (w.start, w.end)):
        if current and word.start - current[-1].end > max_pause_s:
            yield tuple(current)
            current = []
        current.append(word)
    if current:
        yield tuple(current)


def build_turns(transcripts: Sequence[Transcript], *, max_pause_s: float = DEFAULT_MAX_PAUSE_S) -> tuple[Turn, ...]:
    """Time-ordered turns of a call from its per-speaker transcripts (see `VoskEngine.transcribe_call`).

    A stereo transcript is taken per channel. A transcript with text but no word timings (a grammar
    without words, another engine) becomes one turn spanning the whole recording.
    """
    if max_pause_s < 0:
        raise ValueError(f"max_pause_s must not be negative, not {max_pause_s}")
    turns: list[Turn] = []
    for transcript in transcripts:
        for part in transcript.channels or (transcript,):
            role = speaker_role(part.speaker)
            if not part.words:
                if part.text.strip():
                    turns.append(Turn(role, 0.0, round(part.duration_s, 3), part.text.strip()))
                continue
            for segment in _segments(part.words, max_pause_s):
                turns.append(
                    Turn(
                        speaker=role,
                        start=segment[0].start,
                        end=max(w.end for w in segment),
                        text=" ".join(w.word for w in segment),
                        words=segment,
                    )
                )
    turns.sort(key=lambda t: (t.start, t.end, t.speaker))
    return tuple(turns)


def talk_over(turns: Sequence[Turn], *, min_overlap_s: float = 0.0) -> list[tuple[Turn, Turn, float]]:
    """Pairs of turns by different speakers that overlap by more than `min_overlap_s` seconds."""
    found: list[tuple[Turn, Turn, float]] = []
    ordered = sorted(turns, key=lambda t: t.start)
    for i, first in enumerate(ordered):
        for second in ordered[i + 1 :]:
            if second.start >= first.end:
                break
            if second.speaker == first.speaker:
                continue
            overlap = first.overlaps(second)
            if overlap > min_overlap_s:
                found.append((first, second, round(overlap, 3)))
    return found


def turns_json(turns: Sequence[Turn]) -> str:
    """The turns as a JSON array of {speaker, start, end, text} (what `attach_transcript` can store)."""
    return json.dumps([t.to_json_dict() for t in turns], ensure_ascii=False)


def turns_text(turns: Sequence[Turn]) -> str:
    """One line per turn: `customer: text`."""
    return "\n".join(f"{t.speaker}: {t.text}" for t in turns)
