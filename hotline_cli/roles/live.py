"""`hotline serve --role live`: live transcripts in a process of their own.

The speech model (0.5 GB, and most of the CPU while calls are tapped) stays out of the listener,
whose AMI link must keep up with every event. This process takes the domain events from Redis
(`CallAnswered` starts the taps, `CallEnded` forgets them), asks the listener to send the tap
Originates (AudioSocket/HOST:PORT/<uuid> running ChanSpy) over the PBX control list of
`hotline_cli.pbxrpc`, runs the AudioSocket server and the recognisers, and publishes every
`LiveLine` and `LiveAlert` on Redis for the web processes (`LiveEventPublisher`). `hotline serve`
without a role still does all of this in its one process.

With `--metrics-port PORT` it serves its Prometheus metrics on http://127.0.0.1:PORT/metrics and its
health on /status (`LiveStatus`; 503 while degraded), from the start: while the model loads, /status
says so.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import redis

from agent_console import metrics
from cases.redact import masked
from hotline_cli.config import Settings
from hotline_cli.foreground import sigterm_as_interrupt, wait_forever
from hotline_cli.livetap import LiveTap, LiveTapError, make_livetap
from hotline_cli.pbxrpc import RemotePbx
from hotline_cli.process_metrics import serve_metrics
from hotline_cli.redisbus import LIVE_KEY, LIVE_KEY_TTL_S, EventSubscriber, LiveEventPublisher
from hotline_cli.roles.redis_roles import job_retries
from hotline_cli.startup import StartupError, model_folder
from hotline_cli.webserver import Report
from telephony.events import EventBus
from transcripts.engine import SpeechEngine, VoskEngine, model_label, model_sample_rate
from transcripts.errors import TranscriptsError

log = logging.getLogger("hotline.live")


class LiveStatus:
    """The live process's /status: a callable returning its health as a JSON-able dict.

    Components: the speech model (loaded, name, sample rate), the AudioSocket server (listening, host,
    port), Redis (answers a PING within 1 s; subscribed to the events; lines published), the listener
    (its live picture under `hotline:live` is refreshed twice a second: seen within the key's 10 s,
    and the PBX control requests waiting on the list), the recognisers (in use, idle, max), the
    streams (active, accepted, refused by peer or busy, protocol errors) and the results. `ok` is
    false, `status` "degraded" and `problems` says why when the model is not loaded, the server is
    not listening, Redis does not answer, the events are not subscribed, or no listener was seen.
    One Redis round trip per call (PING, PTTL, LLEN in a pipeline)."""

    def __init__(self, settings: Settings, model_dir: Path, livetap: LiveTap,
                 publisher: LiveEventPublisher | None = None, events: EventSubscriber | None = None) -> None:
        self.settings = settings
        self.model_dir = model_dir
        self.livetap = livetap
        self.publisher = publisher
        self.events = events  # set once subscribed (after the model has loaded)
        self.redis = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=1)

    def __call__(self) -> dict[str, Any]:
        tap = self.livetap
        server = tap.server
        problems: list[str] = []
        engine = server.pool.engine if server is not None else None
        model: dict[str, Any] = {"loaded": engine is not None and tap.ready.is_set(),
                                 "name": engine.model_name if engine is not None else model_label(self.model_dir),
                                 "dir": str(self.model_dir), "sample_rate": self._sample_rate(engine),
                                 "error": tap.failed}
        if not model["loaded"]:
            problems.append(tap.failed or "speech model not loaded (yet)")
        listening = server is not None and server.listening
        if not listening:
            problems.append("AudioSocket server not listening")
        audiosocket = {"listening": listening, "host": self.settings.audiosocket_host, "port": tap.port,
                       "address": tap.address, "allowed_peers": list(self.settings.audiosocket_peers)}
        redis_part, listener = self._redis(problems)
        listener |= {"calls_tapped": tap.calls_tapped, "originates_sent": tap.originates_sent,
                     "originates_failed": tap.originates_failed}
        f = tap.figures()
        return {
            "role": "live",
            "ok": not problems,
            "status": "degraded" if problems else "ok",
            "problems": problems,
            "model": model,
            "audiosocket": audiosocket,
            "redis": redis_part,
            "listener": listener,
            "recognizers": {"in_use": f.recognizers_in_use if f else 0, "idle": f.recognizers_idle if f else 0,
                            "max": f.recognizers_max if f else self.settings.live_max_streams,
                            "prewarmed": server.pool.warmed if server is not None else 0,
                            "cpu_s": round(f.recognizer_cpu_s, 3) if f else 0.0},
            "streams": {"active": f.active_streams if f else 0, "accepted": f.accepted if f else 0,
                        "refused_peer": f.refused_peer if f else 0, "refused_busy": f.refused_busy if f else 0,
                        "protocol_errors": f.protocol_errors if f else 0, "ended": tap.streams_ended},
            "results": {"partial": tap.partials, "final": tap.finals, "lines": tap.transcriber.lines,
                        "alerts": tap.transcriber.alerts, "unknown_stream": tap.transcriber.unknown_results},
        }

    def _sample_rate(self, engine: SpeechEngine | None) -> int | None:
        if engine is not None:
            return int(engine.sample_rate)
        try:
            return model_sample_rate(self.model_dir)
        except (TranscriptsError, OSError, ValueError):
            return None

    def _redis(self, problems: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
        subscribed = self.events is not None and self.events.ready.is_set()
        part: dict[str, Any] = {"reachable": False, "error": None, "events_subscribed": subscribed,
                                "events_received": self.events.received if self.events is not None else 0,
                                "lines_published": self.publisher.sent if self.publisher is not None else 0,
                                "lines_not_published": self.publisher.failed if self.publisher is not None else 0}
        listener: dict[str, Any] = {"seen": None, "seen_s_ago": None, "control_requests_waiting": None}
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.ping()
            pipe.pttl(LIVE_KEY)
            pipe.llen(self.settings.pbx_control_key)
            _, ttl_ms, waiting = pipe.execute()
        except redis.RedisError as exc:
            part["error"] = str(exc) or type(exc).__name__
            problems.append(f"Redis unreachable: {part['error']}")
            return part, listener
        part["reachable"] = True
        if not subscribed:
            problems.append("not subscribed to the call events on Redis")
        ttl_ms = int(ttl_ms)
        listener["seen"] = ttl_ms != -2  # -2: no such key; -1: a key without expiry (not ours, but there)
        listener["seen_s_ago"] = round(max(0.0, LIVE_KEY_TTL_S - ttl_ms / 1000), 1) if ttl_ms >= 0 else None
        listener["control_requests_waiting"] = int(waiting)
        if not listener["seen"]:
            problems.append(f"no listener seen on Redis in the last {LIVE_KEY_TTL_S} s: calls are not tapped")
        return part, listener


def run_live(settings: Settings, metrics_port: int | None = None) -> None:
    """Run until SIGTERM/Ctrl-C. Raises `StartupError` when live transcription cannot start."""
    assert settings.redis_url
    model_dir = model_folder(settings)
    bus = EventBus()
    control = RemotePbx(settings.redis_url, settings.pbx_control_key)
    sources = metrics.MetricSources()
    live_bus, livetap = make_livetap(settings, control, bus, lambda: VoskEngine(model_dir), sources)
    publisher = LiveEventPublisher(settings.redis_url, live_bus)
    health = LiveStatus(settings, model_dir, livetap, publisher)
    serve_metrics(metrics_port, health, sources)  # before the model loads: /status tells of the loading
    try:
        livetap.start(wait=True, timeout=300)
    except LiveTapError as exc:
        raise StartupError(str(exc)) from None
    if not livetap.ready.is_set():
        livetap.stop()
        raise StartupError("live transcripts: the speech model did not load within 300 s")
    events = EventSubscriber(settings.redis_url, bus)  # taps only once the server is up
    health.events = events
    if not events.ready.wait(30):
        log.warning("not subscribed to the events on Redis yet: calls are tapped once it is")
    print(f"Hotline live transcripts: AudioSocket on {settings.audiosocket_host}:{livetap.port} (Asterisk dials "
          f"{livetap.address}); model {model_dir}; events from and lines to {masked(settings.redis_url)}"
          + (f"; /status and /metrics on 127.0.0.1:{metrics_port}" if metrics_port else ""), flush=True)
    try:
        wait_forever()
    finally:
        events.stop()
        livetap.stop()


def run(args: argparse.Namespace, report: Report) -> int:
    """`hotline serve --role live`."""
    sigterm_as_interrupt()
    settings: Settings = args.settings
    job_retries(settings, "live")
    run_live(settings, args.metrics_port)
    return 0
