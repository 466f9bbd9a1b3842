"""Live transcripts as typed events: what the AudioSocket server heard, mapped to a call and speaker.

`LiveTranscriber` sits between `AudioSocketServer` (its `on_result` / `on_stream_end`) and a
`LiveBus`: every partial and final result of a registered stream becomes a `LiveLine` (call, agent,
speaker, text, partial or final), and an escalation word said by the customer or a taboo phrase said
by the agent (transcripts/standard_rules.toml) becomes a `LiveAlert`, once per call, speaker and
phrase. Streams are registered (`register(TapStream, agent)`) when their Originate is sent; results of
an unknown stream are dropped with a log line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from transcripts.audiosocket import LiveResult, StreamSummary
from transcripts.entities import normalize_numbers
from transcripts.live import TapStream
from transcripts.standard import Rules
from transcripts.turns import AGENT, CUSTOMER

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LiveLine:
    """A partial (still changing) or final line of one speaker of a live call."""

    linkedid: str
    agent: str  # the agent on the call (peer name): only they and supervisors see the line
    speaker: str  # "customer" or "agent"
    stream: str  # the AudioSocket stream's UUID
    seq: int  # per stream, increasing: a partial replaces the previous partial of its stream
    final: bool
    text: str
    audio_s: float  # seconds of the stream's audio heard when the result came
    at: float  # wall-clock time (time.time())


@dataclass(frozen=True, slots=True)
class LiveAlert:
    """A phrase a supervisor should know of at once: an escalation word or a taboo phrase."""

    linkedid: str
    agent: str
    speaker: str
    rule: str  # "escalation" or "taboo:<category>"
    phrase: str
    text: str  # the line it was heard in
    at: float


LiveEvent = LiveLine | LiveAlert
LiveHandler = Callable[[LiveEvent], None]


class LiveBus:
    """Synchronous in-process publish/subscribe of live transcript events; a failing subscriber is
    logged, never fatal (it runs on the AudioSocket stream's thread)."""

    def __init__(self) -> None:
        self._handlers: list[LiveHandler] = []
        self._lock = threading.Lock()
        self.published = 0

    def subscribe(self, handler: LiveHandler) -> None:
        with self._lock:
            self._handlers.append(handler)

    def unsubscribe(self, handler: LiveHandler) -> None:
        with self._lock:
            self._handlers = [h for h in self._handlers if h is not handler]

    def publish(self, event: LiveEvent) -> None:
        self.published += 1
        for handler in list(self._handlers):
            try:
                handler(event)
            except Exception:
                log.exception("live transcript subscriber %r failed on %s", handler, type(event).__name__)


def _compact(text: str) -> str:
    return normalize_numbers(text).replace(" ", "")


class LiveWatcher:
    """Escalation words (customer) and taboo phrases (agent) of the service standard, heard live.

    Partials count too, so the alert comes as soon as the phrase is heard; each (call, speaker, phrase)
    alerts once. Thread-safe."""

    def __init__(self, rules: Rules) -> None:
        self._rules: list[tuple[str, str, str]] = []  # (speaker, rule, phrase)
        for phrase in rules.escalation.phrases:
            self._rules.append((rules.escalation.speaker, "escalation", phrase))
        for category, phrases in rules.taboo.items():
            for phrase in phrases:
                self._rules.append((rules.taboo_speaker, f"taboo:{category}", phrase))
        self._seen: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def check(self, line: LiveLine) -> list[LiveAlert]:
        text = _compact(line.text)
        out: list[LiveAlert] = []
        for speaker, rule, phrase in self._rules:
            if speaker != line.speaker or _compact(phrase) not in text:
                continue
            key = (line.linkedid, line.speaker, phrase)
            with self._lock:
                if key in self._seen:
                    continue
                self._seen.add(key)
            out.append(LiveAlert(line.linkedid, line.agent, line.speaker, rule, phrase, line.text, line.at))
        return out

    def forget(self, linkedid: str) -> None:
        with self._lock:
            self._seen = {k for k in self._seen if k[0] != linkedid}


@dataclass(frozen=True, slots=True)
class _Registered:
    tap: TapStream
    agent: str


class LiveTranscriber:
    """Maps AudioSocket results to calls and speakers and publishes them on a `LiveBus`.

    Give `on_result` and `on_stream_end` to `AudioSocketServer`. `clock` is the wall clock of the
    events' `at`."""

    def __init__(self, bus: LiveBus, watcher: LiveWatcher | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.bus = bus
        self.watcher = watcher
        self.clock = clock
        self._streams: dict[str, _Registered] = {}
        self._seq: dict[str, int] = {}
        self._lock = threading.Lock()
        self.unknown_results = 0
        self.lines = 0
        self.alerts = 0

    def register(self, tap: TapStream, agent: str) -> None:
        with self._lock:
            self._streams[tap.stream_uuid.lower()] = _Registered(tap, agent)

    def unregister(self, stream: str) -> None:
        with self._lock:
            self._streams.pop(stream.lower(), None)
            self._seq.pop(stream.lower(), None)

    def reassign(self, linkedid: str, agent: str) -> int:
        """The call went to another agent (a transfer): its streams' lines go to that agent from now on.
        Returns how many streams were reassigned."""
        with self._lock:
            mine = {k: r for k, r in self._streams.items() if r.tap.linkedid == linkedid}
            for key, reg in mine.items():
                self._streams[key] = _Registered(reg.tap, agent)
        return len(mine)

    def agent_of(self, stream: str) -> str | None:
        with self._lock:
            reg = self._streams.get(stream.lower())
        return reg.agent if reg is not None else None

    def streams_of(self, linkedid: str) -> list[TapStream]:
        with self._lock:
            return [r.tap for r in self._streams.values() if r.tap.linkedid == linkedid]

    def on_result(self, result: LiveResult) -> None:
        stream = result.stream.lower()
        with self._lock:
            reg = self._streams.get(stream)
            if reg is not None:
                seq = self._seq[stream] = self._seq.get(stream, 0) + 1
        if reg is None:
            self.unknown_results += 1
            log.warning("live result of an unknown AudioSocket stream %s dropped", stream)
            return
        speaker = reg.tap.speaker if reg.tap.speaker in (CUSTOMER, AGENT) else CUSTOMER
        line = LiveLine(reg.tap.linkedid, reg.agent, speaker, stream, seq, result.final, result.text,
                        round(result.audio_s, 3), self.clock())
        self.lines += 1
        self.bus.publish(line)
        if self.watcher is not None:
            for alert in self.watcher.check(line):
                self.alerts += 1
                log.info("live alert on call %s: %s said %r (%s)", alert.linkedid, alert.speaker, alert.phrase,
                         alert.rule)
                self.bus.publish(alert)

    def on_stream_end(self, summary: StreamSummary) -> None:
        if summary.stream is None:
            return
        with self._lock:
            reg = self._streams.pop(summary.stream.lower(), None)
            self._seq.pop(summary.stream.lower(), None)
            others = reg is not None and any(r.tap.linkedid == reg.tap.linkedid for r in self._streams.values())
        if reg is not None and self.watcher is not None and not others:
            self.watcher.forget(reg.tap.linkedid)
