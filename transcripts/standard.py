"""Service-standard checks of a call as data (`standard_rules.toml`, edited by an admin).

`check_call(turns, rules)` gives a `CallCheck`: a score out of 100 and the findings (greeting,
closing, taboo phrases, long silences, talk-over, escalation words). `EscalationWatcher` is a live
result callback that raises an alert the first time a stream says an escalation word.
"""

from __future__ import annotations

import logging
import threading
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from transcripts.entities import normalize_numbers
from transcripts.errors import TranscriptsError
from transcripts.turns import AGENT, CUSTOMER, Turn, talk_over

log = logging.getLogger(__name__)
SPEAKERS = (AGENT, CUSTOMER, "any")


class RulesError(TranscriptsError):
    """The rules file is missing, not TOML, or has unknown keys or bad values."""


@dataclass(frozen=True, slots=True)
class PhraseRule:
    speaker: str
    phrases: tuple[str, ...]
    weight: int
    window_s: float = 0.0  # greeting: within the first N s; closing: in the last N s


@dataclass(frozen=True, slots=True)
class Rules:
    greeting: PhraseRule
    closing: PhraseRule
    taboo: dict[str, tuple[str, ...]]
    taboo_speaker: str
    taboo_weight: int
    silence_max_s: float
    silence_weight: int
    talk_over_min_s: float
    talk_over_max_count: int
    talk_over_weight: int
    escalation: PhraseRule


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str  # greeting, closing, taboo:<category>, silence, talk_over, escalation
    message: str
    at_s: float | None = None
    speaker: str | None = None
    phrase: str | None = None
    deduction: int = 0


@dataclass(frozen=True, slots=True)
class CallCheck:
    score: int
    findings: tuple[Finding, ...]

    @property
    def escalated(self) -> bool:
        return any(f.rule == "escalation" for f in self.findings)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "findings": [
                {k: getattr(f, k) for k in ("rule", "message", "at_s", "speaker", "phrase", "deduction")}
                for f in self.findings
            ],
        }


def _compact(text: str) -> str:
    return normalize_numbers(text).replace(" ", "")


def _take(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise RulesError(f"[{where}] needs {key!r}")
    value = table.pop(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RulesError(f"[{where}] {key} has a bad value: {value!r}")
    if isinstance(value, (int, float)) and value < 0:
        raise RulesError(f"[{where}] {key} must not be negative: {value!r}")
    return value


def _phrases(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(p, str) and p.strip() for p in value):
        raise RulesError(f"[{where}] phrases must be a non-empty list of non-empty strings")
    return tuple(_compact(p) for p in value)


def _speaker(table: dict[str, Any], where: str) -> str:
    speaker = table.pop("speaker", "any")
    if speaker not in SPEAKERS:
        raise RulesError(f"[{where}] speaker must be one of {', '.join(SPEAKERS)}, not {speaker!r}")
    return str(speaker)


def _done(table: dict[str, Any], where: str) -> None:
    if table:
        raise RulesError(f"[{where}] unknown keys: {', '.join(sorted(table))}")


def parse_rules(data: dict[str, Any]) -> Rules:
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    sections = {"greeting", "closing", "taboo", "silence", "talk_over", "escalation"}
    unknown = set(data) - sections
    if unknown:
        raise RulesError(f"unknown sections: {', '.join(sorted(unknown))}")
    missing = sections - set(data)
    if missing:
        raise RulesError(f"missing sections: {', '.join(sorted(missing))}")
    g, c, t, s, o, e = (data[k] for k in ("greeting", "closing", "taboo", "silence", "talk_over", "escalation"))
    greeting = PhraseRule(
        _speaker(g, "greeting"), _phrases(g.pop("phrases", None), "greeting"),
        _take(g, "weight", int, "greeting"), float(_take(g, "within_s", (int, float), "greeting")),
    )  # fmt: skip
    closing = PhraseRule(
        _speaker(c, "closing"), _phrases(c.pop("phrases", None), "closing"),
        _take(c, "weight", int, "closing"), float(_take(c, "last_s", (int, float), "closing")),
    )  # fmt: skip
    taboo_speaker = _speaker(t, "taboo")
    taboo_weight = _take(t, "weight", int, "taboo")
    table = t.pop("phrases", None)
    if not isinstance(table, dict) or not table:
        raise RulesError("[taboo.phrases] must be a table of category = [phrases]")
    taboo = {str(k): _phrases(v, f"taboo.phrases.{k}") for k, v in table.items()}
    escalation = PhraseRule(_speaker(e, "escalation"), _phrases(e.pop("phrases", None), "escalation"), 0)
    rules = Rules(
        greeting=greeting,
        closing=closing,
        taboo=taboo,
        taboo_speaker=taboo_speaker,
        taboo_weight=taboo_weight,
        silence_max_s=float(_take(s, "max_s", (int, float), "silence")),
        silence_weight=_take(s, "weight", int, "silence"),
        talk_over_min_s=float(_take(o, "min_overlap_s", (int, float), "talk_over")),
        talk_over_max_count=_take(o, "max_count", int, "talk_over"),
        talk_over_weight=_take(o, "weight", int, "talk_over"),
        escalation=escalation,
    )
    for table_, where in ((g, "greeting"), (c, "closing"), (t, "taboo"), (s, "silence"), (o, "talk_over"),
                          (e, "escalation")):
        _done(table_, where)
    return rules


def load_rules(path: Path | None = None) -> Rules:
    """Rules from `path`, or the built-in `standard_rules.toml`."""
    try:
        if path is None:
            text = resources.files("transcripts").joinpath("standard_rules.toml").read_text(encoding="utf-8")
            where = "built-in standard_rules.toml"
        else:
            text = Path(path).read_text(encoding="utf-8")
            where = str(path)
    except OSError as exc:
        raise RulesError(f"cannot read rules file {path}: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{where}: not valid TOML ({exc})") from exc
    try:
        return parse_rules(data)
    except RulesError as exc:
        raise RulesError(f"{where}: {exc}") from exc


def _speaks(turn: Turn, speaker: str) -> bool:
    return speaker == "any" or turn.speaker == speaker


def _first(turns: Sequence[Turn], phrases: Sequence[str], speaker: str) -> tuple[Turn, str] | None:
    for turn in turns:
        if _speaks(turn, speaker):
            text = _compact(turn.text)
            for phrase in phrases:
                if phrase in text:
                    return turn, phrase
    return None


def check_call(turns: Sequence[Turn], rules: Rules) -> CallCheck:
    """Check a call's turns against the rules: score = 100 minus the weights of what failed (at least 0)."""
    findings: list[Finding] = []
    turns = sorted(turns, key=lambda t: (t.start, t.end))
    if turns:
        call_end = max(t.end for t in turns)
        g = rules.greeting
        if _first([t for t in turns if t.start <= g.window_s], g.phrases, g.speaker) is None:
            findings.append(Finding("greeting", f"no greeting in the first {g.window_s:g} s", deduction=g.weight))
        c = rules.closing
        if _first([t for t in turns if t.end >= call_end - c.window_s], c.phrases, c.speaker) is None:
            findings.append(Finding("closing", f"no closing in the last {c.window_s:g} s", deduction=c.weight))
    else:
        findings.append(Finding("greeting", "nothing was said", deduction=rules.greeting.weight))
        findings.append(Finding("closing", "nothing was said", deduction=rules.closing.weight))
    for category, phrases in rules.taboo.items():
        for turn in turns:
            if not _speaks(turn, rules.taboo_speaker):
                continue
            text = _compact(turn.text)
            for phrase in phrases:
                if phrase in text:
                    findings.append(Finding(f"taboo:{category}", f"taboo phrase ({category}): {phrase}",
                                            turn.start, turn.speaker, phrase, rules.taboo_weight))
    words = sorted((w for t in turns for w in t.words), key=lambda w: w.start)
    latest_end = None
    for w in words:
        if latest_end is not None and w.start - latest_end > rules.silence_max_s:
            findings.append(Finding("silence", f"{w.start - latest_end:.1f} s of silence", round(latest_end, 3),
                                    deduction=rules.silence_weight))
        latest_end = w.end if latest_end is None else max(latest_end, w.end)
    overlaps = talk_over(turns, min_overlap_s=rules.talk_over_min_s)
    for first, second, seconds in overlaps:
        findings.append(Finding("talk_over", f"{first.speaker} and {second.speaker} spoke at once for {seconds:g} s",
                                second.start, second.speaker))
    if len(overlaps) > rules.talk_over_max_count:
        findings.append(Finding("talk_over", f"talk-over {len(overlaps)} times (more than "
                                f"{rules.talk_over_max_count})", deduction=rules.talk_over_weight))
    e = rules.escalation
    for turn in turns:
        if _speaks(turn, e.speaker):
            text = _compact(turn.text)
            for phrase in e.phrases:
                if phrase in text:
                    findings.append(Finding("escalation", f"escalation word: {phrase}", turn.start, turn.speaker,
                                            phrase))
    score = max(0, 100 - sum(f.deduction for f in findings))
    return CallCheck(score=score, findings=tuple(findings))


@dataclass(frozen=True, slots=True)
class Alert:
    stream: str
    phrase: str
    text: str


class EscalationWatcher:
    """A live-result callback (`AudioSocketServer(on_result=...)`): alerts once per stream and phrase.

    Looks at partial results too, so the alert comes as soon as the word is heard. Thread-safe.
    """

    def __init__(self, rules: Rules, on_alert: Callable[[Alert], None]) -> None:
        self.phrases = rules.escalation.phrases
        self.on_alert = on_alert
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def __call__(self, result: Any) -> None:
        text = _compact(str(result.text))
        for phrase in self.phrases:
            if phrase in text:
                key = (str(result.stream), phrase)
                with self._lock:
                    if key in self._seen:
                        continue
                    self._seen.add(key)
                try:
                    self.on_alert(Alert(key[0], phrase, str(result.text)))
                except Exception:
                    log.exception("escalation alert callback failed for stream %s", key[0])

    def forget(self, stream: str) -> None:
        """Drop a finished stream's state."""
        with self._lock:
            self._seen = {k for k in self._seen if k[0] != stream}
