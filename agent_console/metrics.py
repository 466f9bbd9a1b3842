"""Prometheus metrics of this process and `GET /metrics` (text exposition format).

Every Hotline process keeps its own registry (prometheus-client): the embedded process has them all;
with processes by role the listener has calls, queue waits and AMI events, each web process its
pops, the worker the transcriptions, the live process its AudioSocket streams and recognisers;
listener, worker and live process serve theirs with `--metrics-port` (loopback). Prometheus scrapes
each process (docs/operations.md) — no state is shared between processes, so nothing needs
prometheus-client's multiprocess mode.

Access to `/metrics`: from loopback without proxy headers (a Prometheus on the same machine), with
`Authorization: Bearer <metrics_token>` when that setting is set, or logged in as admin. Anything
else gets 403: behind nginx every request comes from loopback, so a proxied request (X-Forwarded-For,
X-Real-IP, Forwarded) never counts as local.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import Blueprint, Response, abort, current_app, request
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

CALLS = Counter("hotline_calls", "Calls ended, by outcome and hotline", ["outcome", "hotline"], registry=REGISTRY)
QUEUE_WAIT = Histogram("hotline_queue_wait_seconds", "Time callers waited in queues (calls that queued)",
                       ["hotline"], buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600), registry=REGISTRY)
POPS = Counter("hotline_pops", "Screen pops delivered to agent consoles", registry=REGISTRY)
POP_LATENCY = Histogram("hotline_pop_latency_seconds", "AgentCalled at the PBX to the pop sent to the agent",
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=REGISTRY)
# where a pop's time goes, hop by hop (only AgentRinging is timed: the cost is a clock read per hop)
POP_HOPS = ("listener", "redis", "queue", "build", "emit")
POP_HOP = Histogram("hotline_pop_hop_seconds", "One hop of a screen pop: listener = AMI read to the event "
                    "published on Redis (listener; tracker, call store, wallboard queue and the publish), redis = "
                    "published to read by the web process's subscriber, queue = waiting on the console's event "
                    "queue, build = the pop looked up and assembled, emit = socketio.emit to the agent's room",
                    ["hop"], buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
                    registry=REGISTRY)
TRANSCRIBED = Counter("hotline_transcriptions", "Recordings transcribed and stored", registry=REGISTRY)
TRANSCRIPTION_LAG = Histogram("hotline_transcription_lag_seconds", "End of the call to its transcript stored",
                              buckets=(5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600), registry=REGISTRY)
PBX_CONTROL = Counter("hotline_pbx_control_requests", "PBX control requests from web processes served by the "
                      "listener, by action and outcome (ok, error, expired)", ["action", "outcome"],
                      registry=REGISTRY)
PBX_CONTROL_LATENCY = Histogram("hotline_pbx_control_seconds", "A PBX control request taken off Redis to its "
                                "answer ready (the AMI action's round trip included)", ["action"],
                                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                                registry=REGISTRY)

LIVE_RESULT_KINDS = ("partial", "final")
LIVE_RESULTS = Counter("hotline_live_results", "Live recognition results of AudioSocket streams, by kind "
                       "(partial, final)", ["kind"], registry=REGISTRY)
LIVE_RESULT_LAG = Histogram("hotline_live_result_lag_seconds", "How far live recognition runs behind the call: "
                            "a result's time less the time the audio it covers ended (0 when the audio came "
                            "faster than real time, as in a replay)", ["kind"],
                            buckets=(0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60), registry=REGISTRY)


@dataclass(frozen=True, slots=True)
class LiveFigures:
    """The AudioSocket server and its recognisers, read when scraped."""

    active_streams: int
    recognizers_in_use: int
    recognizers_idle: int
    recognizers_max: int
    accepted: int
    refused_peer: int
    refused_busy: int
    protocol_errors: int
    recognizer_cpu_s: float


AmiSource = Callable[[], Iterable[tuple[str, int, bool]]]  # (pbx name, events read, connected)
LiveSource = Callable[[], LiveFigures | None]  # None: no AudioSocket server (yet)
BacklogSource = Callable[[], tuple[int, int]]  # (jobs waiting or running, jobs failed for good)


class MetricSources(Collector):
    """The values of one process read when scraped: its AMI links' counters, the transcription backlog,
    the calls waiting to be stored, the live streams. Built at wiring, filled by what the process runs
    (None: not in this process), and handed to what serves the process's metrics
    (`create_app(metric_sources=...)`, `hotline_cli.process_metrics.serve_metrics`)."""

    def __init__(self) -> None:
        self.ami: AmiSource | None = None
        self.backlog: BacklogSource | None = None
        self.store_backlog: Callable[[], int] | None = None
        self.live: LiveSource | None = None
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(self)

    def watch_live(self, source: LiveSource) -> None:
        """Live transcripts in this process: the AudioSocket server's figures, and the result counters from 0."""
        self.live = source
        for kind in LIVE_RESULT_KINDS:
            LIVE_RESULTS.labels(kind)
            LIVE_RESULT_LAG.labels(kind)

    def collect(self) -> Iterable[Metric]:
        ami, backlog, store, live = self.ami, self.backlog, self.store_backlog, self.live
        if live is not None:
            figures = live()
            if figures is not None:
                yield from _live_metrics(figures)
        if store is not None:
            yield GaugeMetricFamily("hotline_store_backlog", "Calls waiting to be written to the database",
                                    value=store())
        if ami is not None:
            events = CounterMetricFamily("hotline_ami_events", "AMI events read, by PBX", labels=["pbx"])
            up = GaugeMetricFamily("hotline_ami_connected", "1 when the AMI link is logged in", labels=["pbx"])
            for name, count, connected in ami():
                events.add_metric([name], count)
                up.add_metric([name], 1 if connected else 0)
            yield events
            yield up
        if backlog is not None:
            waiting, failed = backlog()
            if waiting >= 0:
                yield GaugeMetricFamily("hotline_transcription_backlog", "Transcription jobs waiting or running",
                                        value=waiting)
                yield GaugeMetricFamily("hotline_transcription_failed", "Transcription jobs failed for good",
                                        value=failed)

    def describe(self) -> Iterable[Metric]:
        return []


def _live_metrics(f: LiveFigures) -> Iterable[Metric]:
    yield GaugeMetricFamily("hotline_live_streams_active", "AudioSocket streams open now", value=f.active_streams)
    pool = GaugeMetricFamily("hotline_live_recognizers", "Live recognisers, in use or idle (kept for the next "
                             "stream)", labels=["state"])
    pool.add_metric(["in_use"], f.recognizers_in_use)
    pool.add_metric(["idle"], f.recognizers_idle)
    yield pool
    yield GaugeMetricFamily("hotline_live_recognizers_max", "Live recognisers allowed at once (live_max_streams)",
                            value=f.recognizers_max)
    yield CounterMetricFamily("hotline_live_streams_accepted", "AudioSocket connections accepted",
                              value=f.accepted)
    refused = CounterMetricFamily("hotline_live_streams_refused", "AudioSocket streams refused: peer = not an "
                                  "allowed address, busy = every recogniser in use", labels=["reason"])
    refused.add_metric(["peer"], f.refused_peer)
    refused.add_metric(["busy"], f.refused_busy)
    yield refused
    yield CounterMetricFamily("hotline_live_stream_protocol_errors", "AudioSocket streams ended by bytes that "
                              "are not AudioSocket messages", value=f.protocol_errors)
    yield CounterMetricFamily("hotline_live_recognizer_cpu_seconds", "CPU time of the live recognisers (Vosk), "
                              "measured on their threads", value=f.recognizer_cpu_s)


def live_result(final: bool, lag_s: float | None) -> None:
    """A live recognition result; `lag_s` behind real time (None: not known, not observed)."""
    kind = "final" if final else "partial"
    LIVE_RESULTS.labels(kind).inc()
    if lag_s is not None and lag_s < 3600:
        LIVE_RESULT_LAG.labels(kind).observe(max(0.0, lag_s))


def call_ended(outcome: str, hotline: str | None, wait_s: float | None) -> None:
    CALLS.labels(outcome, hotline or "none").inc()
    if wait_s is not None:
        QUEUE_WAIT.labels(hotline or "none").observe(wait_s)


def pop_delivered(rang_at: float, now: float | None = None) -> None:
    POPS.inc()
    delay = (time.time() if now is None else now) - rang_at
    if 0 <= delay < 3600:  # a clock far off (replays, a PBX in another zone) is not a latency
        POP_LATENCY.observe(delay)


def pop_hop(hop: str, seconds: float) -> None:
    """One of POP_HOPS took `seconds` (a negative or absurd value, from clocks of two machines, is not kept)."""
    if 0 <= seconds < 3600:
        POP_HOP.labels(hop).observe(seconds)


def transcription_stored(ended_at: float | None, now: float | None = None) -> None:
    TRANSCRIBED.inc()
    if ended_at is not None:
        TRANSCRIPTION_LAG.observe(max(0.0, (time.time() if now is None else now) - ended_at))


def pbx_control_served(action: str, outcome: str, seconds: float | None) -> None:
    PBX_CONTROL.labels(action, outcome).inc()
    if seconds is not None:
        PBX_CONTROL_LATENCY.labels(action).observe(seconds)


def exposition(sources: MetricSources | None = None) -> bytes:
    """The process's counters and histograms, and what `sources` read now, in the text format."""
    text = generate_latest(REGISTRY)
    return text + generate_latest(sources.registry) if sources is not None else text


# --- the route ------------------------------------------------------------------------------------

bp = Blueprint("metrics", __name__)
SOURCES_KEY = "hotline_metric_sources"  # app.extensions: the process's MetricSources (create_app)
PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def may_read_metrics(token: str) -> bool:
    """Loopback without proxy headers, the bearer token, or an admin session."""
    from agent_console.auth import current_user

    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    user = current_user()
    if user is not None and user.role == "admin":
        return True
    if any(h in request.headers for h in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    from agent_console.context import console

    if not may_read_metrics(console().config.metrics_token):
        abort(403)
    return Response(exposition(current_app.extensions.get(SOURCES_KEY)), content_type=CONTENT_TYPE_PLAIN_0_0_4)
