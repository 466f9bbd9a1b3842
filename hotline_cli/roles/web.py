"""`hotline serve --role web`: one web process's console, fed from Redis (events, the live picture, the wallboard,
live transcript lines); PBX actions and wrap-ups through the listener, report jobs through RQ. Several run
behind nginx with sticky sessions. Wiring only."""

from __future__ import annotations

import argparse
from typing import Any

from agent_console import metrics
from cases.redact import masked
from hotline_cli import jobqueue
from hotline_cli.config import Settings
from hotline_cli.foreground import sigterm_as_interrupt
from hotline_cli.pbxrpc import RemotePbx, RemoteWrapUps
from hotline_cli.process_metrics import rq_backlog
from hotline_cli.redisbus import EventSubscriber, LiveEventSubscriber, RedisLive, RedisUnavailable, WallboardSubscriber
from hotline_cli.reportqueue import RqReportRunner
from hotline_cli.roles.redis_roles import job_retries
from hotline_cli.site import console_site, serve_site
from hotline_cli.startup import StartupError, open_database
from hotline_cli.webserver import ConsoleSite, Report
from telephony.events import EventBus
from transcripts.live_events import LiveBus


def run(args: argparse.Namespace, report: Report) -> int:
    sigterm_as_interrupt()
    settings: Settings = args.settings
    retry = job_retries(settings, "web")
    port = args.port or settings.http_port
    print(f"Hotline web: console http://{settings.http_host}:{port}; events from {masked(settings.redis_url)}",
          flush=True)
    serve_site(settings, port, lambda: web_site(settings, retry), report)
    return 0


def web_site(settings: Settings, retry: tuple[int, ...]) -> ConsoleSite:
    """`--role web`: one web process's console, fed from Redis (events, the live picture, the wallboard, live
    transcript lines); PBX actions and wrap-ups through the listener, report jobs through RQ."""
    db = open_database(settings)
    bus = EventBus()
    try:
        sub = EventSubscriber(settings.redis_url, bus)
        board_sub = WallboardSubscriber(settings.redis_url)
        web_live_bus = LiveBus()
        live_sub = LiveEventSubscriber(settings.redis_url, web_live_bus)
        live_view = RedisLive(settings.redis_url)
    except RedisUnavailable as exc:
        db.dispose()
        raise StartupError(str(exc)) from None
    jobs_conn = jobqueue.connect(settings.redis_url)
    web_metrics = metrics.MetricSources()
    web_metrics.backlog = rq_backlog(settings.redis_url, settings.job_queue)

    def web_status() -> dict[str, Any]:
        body: dict[str, Any] = {"role": "web", "events_received": sub.received,
                                "wallboard": {"version": board_sub.version, "deltas": board_sub.deltas,
                                              "resyncs": board_sub.resyncs},
                                "live_transcript_events_received": live_sub.received}
        try:
            body["transcription_jobs"] = jobqueue.counts_json(jobqueue.counts(jobs_conn, settings.job_queue))
            body["report_jobs"] = jobqueue.counts_json(jobqueue.counts(jobs_conn, settings.report_queue))
        except Exception as exc:  # Redis down: say so, the console still answers
            body["transcription_jobs"] = {"error": str(exc)}
        return body

    def close() -> None:
        board_sub.stop()
        live_sub.stop()
        sub.stop()
        db.dispose()

    remote = RemotePbx(settings.redis_url, settings.pbx_control_key)
    return console_site(settings, db, bus, live_view, demo=False, close=close, status=web_status,
                        live_bus=web_live_bus, control=remote, wrap_ups=RemoteWrapUps(remote), shared=True,
                        wallboard=board_sub, reports=RqReportRunner(settings.redis_url, settings.report_queue, retry),
                        metric_sources=web_metrics)
