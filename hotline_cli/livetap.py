"""Live transcripts of answered calls: the wiring between telephony, the AudioSocket server and the bus.

On `CallAnswered` (AMI AgentConnect: `Uniqueid` the caller's channel, `DestUniqueid` the agent's)
two AMI Originates go to the call's Asterisk, `Channel: AudioSocket/HOST:PORT/<uuid>`,
`Application: ChanSpy`, `Data: <Uniqueid>,qEuo`, `Async: true` (verified on Asterisk 20:
../shared/asterisk-traces/audiosocket/), one per speaker. Asterisk connects to our
`AudioSocketServer`; each stream's UUID maps it to (call, speaker); results are published as
`LiveLine`s and `LiveAlert`s on the `LiveBus`. Telephony knows nothing of this: it only publishes
its events and takes actions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_console import metrics
from agent_console.control import ActionsSource
from hotline_cli.config import Settings
from hotline_cli.startup import StartupError
from telephony.connection import AmiError
from telephony.events import CallAnswered, CallEnded, DomainEvent, EventBus
from telephony.pbxlink import PbxNotConnected
from transcripts.audiosocket import (
    AudioSocketError,
    AudioSocketServer,
    LiveResult,
    RecognizerPool,
    StreamSummary,
    warm_up_pcm,
)
from transcripts.engine import SpeechEngine
from transcripts.errors import TranscriptsError
from transcripts.live import DEFAULT_TIMEOUT_MS, TapStream, tap_call
from transcripts.live_events import LiveBus, LiveTranscriber, LiveWatcher
from transcripts.standard import load_rules

log = logging.getLogger("hotline.live")

WARM_UP_RATE = 8000  # what Asterisk sends a tap of an 8 kHz call (slin)
FORGET_AFTER_S = 300.0  # after a call ends, registrations of streams that never came are dropped


@dataclass(frozen=True, slots=True)
class LiveTapSettings:
    listen_host: str = "127.0.0.1"
    listen_port: int = 9092  # 0: a free port (the demo)
    address: str = ""  # the host Asterisk dials; empty: listen_host
    allowed_peers: tuple[str, ...] = ("127.0.0.1", "::1")
    max_streams: int = 16
    prewarm: int = 0  # recognisers made ready at start (`RecognizerPool.prewarm`)
    warm_up_audio: Path | None = None  # the speech they decode then (None: the shipped clip)
    rules: Path | None = None  # service-standard rules (None: the shipped standard_rules.toml)


class LiveTapError(Exception):
    """Live transcription cannot start (port in use, model missing); the message says why."""


class LiveTap:
    """Subscribe `on_event` to the telephony bus and `start()`; `stop()` at the end.

    `engine` gives the process's one speech engine (shared with post-call transcription); it is
    called once, on a background thread at `start()`, so the model loads while the process comes up.
    Originates are sent from a small thread pool, never on the AMI reader thread."""

    def __init__(self, settings: LiveTapSettings, control: ActionsSource, engine: Callable[[], SpeechEngine],
                 live_bus: LiveBus) -> None:
        self.settings = settings
        self.control = control
        self.engine = engine
        self.live_bus = live_bus
        try:
            rules = load_rules(settings.rules)
        except TranscriptsError as exc:
            raise LiveTapError(str(exc)) from None
        self.transcriber = LiveTranscriber(live_bus, LiveWatcher(rules))
        self.server: AudioSocketServer | None = None
        self.ready = threading.Event()
        self.failed: str | None = None
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="live-tap")
        self.calls_tapped = 0
        self.originates_sent = 0
        self.originates_failed = 0
        self.streams_ended = 0
        self.partials = 0  # recognition results, mapped to a call or not
        self.finals = 0
        self._count_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self, *, wait: bool = False, timeout: float = 60.0) -> None:
        thread = threading.Thread(target=self._start, name="live-tap-start", daemon=True)
        thread.start()
        if wait:
            thread.join(timeout)
            if self.failed:
                raise LiveTapError(self.failed)

    def _start(self) -> None:
        s = self.settings
        try:
            engine = self.engine()
            warm_up = warm_up_pcm(WARM_UP_RATE, s.warm_up_audio) if s.prewarm else b""
            server = AudioSocketServer(
                RecognizerPool(engine, max_streams=s.max_streams), self._on_result,
                host=s.listen_host, port=s.listen_port, allowed_peers=s.allowed_peers,
                on_stream_end=self._stream_ended)
            server.start()
        except (AudioSocketError, TranscriptsError, OSError) as exc:  # AudioFormatError is a TranscriptsError
            self.failed = f"live transcripts off: {exc}"
            log.error("%s", self.failed)
            return
        self.server = server
        self.ready.set()
        log.info("live transcripts: AudioSocket server on %s:%s, Asterisk dials %s", s.listen_host, server.port,
                 self.address)
        if s.prewarm:  # on a thread of its own: streams are served meanwhile
            threading.Thread(target=self._prewarm, args=(server.pool, warm_up), name="live-prewarm",
                             daemon=True).start()

    def _prewarm(self, pool: RecognizerPool, pcm: bytes) -> None:
        t0 = time.monotonic()
        made = pool.prewarm(WARM_UP_RATE, pcm, self.settings.prewarm, stop=self._stopping)
        log.info("live transcripts: %d recognisers made ready in %.1f s", made, time.monotonic() - t0)

    @property
    def address(self) -> str:
        return self.settings.address or self.settings.listen_host

    @property
    def port(self) -> int:
        return self.server.port if self.server is not None else self.settings.listen_port

    def stop(self) -> None:
        self._stopping.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.server is not None:
            self.server.stop()

    def status(self) -> dict[str, Any]:
        return {"ready": self.ready.is_set(), "error": self.failed, "port": self.port,
                "active_streams": self.server.active_streams if self.server else 0,
                "recognisers_prewarmed": self.server.pool.warmed if self.server else 0,
                "calls_tapped": self.calls_tapped, "originates_sent": self.originates_sent,
                "originates_failed": self.originates_failed, "streams_ended": self.streams_ended,
                "lines": self.transcriber.lines, "alerts": self.transcriber.alerts}

    def figures(self) -> metrics.LiveFigures | None:
        """The AudioSocket server and its recognisers now (for /metrics and /status); None before it runs."""
        server = self.server
        if server is None:
            return None
        c = server.counters
        return metrics.LiveFigures(server.active_streams, server.pool.in_use, server.pool.idle,
                                   server.pool.max_streams, c.accepted, c.refused_peer, c.refused_busy,
                                   c.protocol_errors, server.recognizer_cpu_s)

    def _on_result(self, result: LiveResult) -> None:
        """Every recognition result is counted (and its lag behind the call observed), then mapped to its
        call and speaker."""
        with self._count_lock:
            if result.final:
                self.finals += 1
            else:
                self.partials += 1
        metrics.live_result(result.final, result.lag_s)
        self.transcriber.on_result(result)

    # ------------------------------------------------------------------ the bus
    def on_event(self, event: DomainEvent) -> None:
        """Telephony bus handler: never blocks the AMI thread."""
        if isinstance(event, CallEnded):
            # streams end with the call (ChanSpy `E`); an Originate Asterisk could not carry out never
            # connects: its registration is dropped a while after the call
            timer = threading.Timer(FORGET_AFTER_S, self._forget, args=(event.record.linkedid,))
            timer.daemon = True
            timer.start()
            return
        if not isinstance(event, CallAnswered):
            return
        if not event.customer_uniqueid or not event.agent_uniqueid:
            return  # taken up by a resync: the channels are not known from AgentConnect
        if not self.ready.is_set():
            log.warning("live transcripts not ready: call %s not tapped", event.linkedid)
            return
        try:
            self._pool.submit(self._tap, event)
        except RuntimeError:  # stopping
            pass

    def _tap(self, event: CallAnswered) -> None:
        try:
            streams = tap_call(event.linkedid, event.customer_uniqueid, event.agent_uniqueid)
        except TranscriptsError as exc:
            log.warning("call %s not tapped: %s", event.linkedid, exc)
            return
        self.calls_tapped += 1
        # a call answered again (a transfer to another agent): the channels already tapped keep their
        # stream, now shown to the new agent; only the new channel gets an Originate
        tapped = {t.spied_uniqueid for t in self.transcriber.streams_of(event.linkedid)}
        if tapped:
            self.transcriber.reassign(event.linkedid, event.agent)
        for stream in streams:
            if stream.spied_uniqueid in tapped:
                continue
            self.transcriber.register(stream, event.agent)
            self._originate(stream)

    def _originate(self, stream: TapStream) -> None:
        try:
            fields = dict(stream.originate_fields(self.address, self.port))
            actions = self.control.actions(self.control.pbx_of_call(stream.linkedid))
            actions.originate(fields["Channel"], application=fields["Application"], data=fields["Data"],
                              caller_id=fields["CallerID"], timeout_ms=DEFAULT_TIMEOUT_MS)
            self.originates_sent += 1
        except (PbxNotConnected, AmiError, OSError, TranscriptsError) as exc:
            self._originate_failed(stream, f"{type(exc).__name__}: {exc}")

    def _originate_failed(self, stream: TapStream, why: str) -> None:
        self.originates_failed += 1
        self.transcriber.unregister(stream.stream_uuid)
        log.warning("live tap of call %s (%s) not started: %s", stream.linkedid, stream.speaker, why)

    def _forget(self, linkedid: str) -> None:
        for stream in self.transcriber.streams_of(linkedid):
            self.transcriber.unregister(stream.stream_uuid)

    def _stream_ended(self, summary: StreamSummary) -> None:
        self.streams_ended += 1
        self.transcriber.on_stream_end(summary)


def make_livetap(settings: Settings, control: ActionsSource, bus: EventBus, engine: Callable[[], SpeechEngine],
                 sources: metrics.MetricSources) -> tuple[LiveBus, LiveTap]:
    """Live transcripts from the settings: taps answered calls (telephony bus), publishes lines on a
    new LiveBus, and has `sources` read its figures. `StartupError` when the settings cannot work."""
    live_bus = LiveBus()
    try:
        tap = LiveTap(LiveTapSettings(settings.audiosocket_host, settings.audiosocket_port,
                                      settings.audiosocket_address, settings.audiosocket_peers,
                                      settings.live_max_streams, settings.live_prewarm,
                                      Path(settings.live_warm_up_audio) if settings.live_warm_up_audio else None,
                                      Path(settings.standard_rules) if settings.standard_rules else None),
                      control, engine, live_bus)
    except LiveTapError as exc:
        raise StartupError(str(exc)) from None
    bus.subscribe(tap.on_event)
    sources.watch_live(tap.figures)
    return live_bus, tap

