"""`hotline serve --role listener`: the AMI links (one per Asterisk), the call store and routing; publishes every
domain event and the live picture on Redis, enqueues transcription jobs (RQ), runs the web processes' PBX
actions and every agent's wrap-up, and computes the site's one wallboard. Wiring only."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from agent_console import metrics
from agent_console.wrapup import WrapUps
from cases.db import Database
from cases.redact import masked
from hotline_cli.config import Settings
from hotline_cli.foreground import wait_forever
from hotline_cli.jobqueue import RqTranscriber
from hotline_cli.pbxrpc import ControlServer, WrapUpMirror
from hotline_cli.process import reconcile_pending_calls, start_router, start_wait_limits, start_wrap_ups
from hotline_cli.process_metrics import record_metrics, rq_backlog, serve_metrics
from hotline_cli.redisbus import EventPublisher, LivePublisher
from hotline_cli.roles.redis_roles import run_with_database
from hotline_cli.site import start_wallboard
from hotline_cli.startup import StartupError
from hotline_cli.webserver import Report
from pipeline.call_pipeline import CallPipeline
from telephony.connection import AmiEndpoint
from telephony.events import EventBus
from telephony.pbxlink import CombinedLive, PbxControl, PbxLink, make_links

log = logging.getLogger("hotline")


def run(args: argparse.Namespace, report: Report) -> int:
    return run_with_database(args, "listener", listen)


def listen(settings: Settings, db: Database, retry: tuple[int, ...], metrics_port: int | None) -> None:
    bus = EventBus()
    endpoints = [AmiEndpoint(a.host, a.port, a.username, a.secret, a.name) for a in settings.pbxs()]
    jobs = RqTranscriber(settings.redis_url, settings.job_queue, retry)
    pipeline = CallPipeline(db, bus, settings.recordings_dir.resolve(), jobs)
    keeper: list[WrapUps | None] = []  # the wrap-up keeper, once made (it needs the links)

    def after_resync(link: PbxLink) -> None:
        reconcile_pending_calls(pipeline, link)
        if keeper and keeper[0] is not None:  # agents left paused for wrap-up by a listener before
            keeper[0].adopt(link.tracker.snapshot().agents)

    try:
        links = make_links(endpoints, bus, after_resync=after_resync)
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    live = CombinedLive([link.tracker for link in links])
    control = PbxControl(links)
    publisher = EventPublisher(settings.redis_url, bus)
    WrapUpMirror(settings.redis_url, bus, settings.pbx_control_key)  # before the keeper's first event
    wrap_ups = start_wrap_ups(settings, bus, control)  # every agent's, console open or not
    keeper.append(wrap_ups)
    control_server = ControlServer(settings.redis_url, control, settings.pbx_control_key, wrap_ups=wrap_ups)
    live_pub = LivePublisher(settings.redis_url, live)
    board_pub = start_wallboard(settings, db, bus, live)
    listener_metrics = metrics.MetricSources()
    record_metrics(bus, links, listener_metrics)
    listener_metrics.backlog = rq_backlog(settings.redis_url, settings.job_queue)
    listener_metrics.store_backlog = lambda: pipeline.backlog

    def listener_status() -> dict[str, Any]:
        return {"role": "listener", "ami": [link.status() for link in links],
                "live_calls": len(live.live_call_ids()), "calls_stored": pipeline.stored,
                "store_backlog": pipeline.backlog, "pipeline_errors": pipeline.errors,
                "events_published": publisher.sent, "events_not_published": publisher.failed,
                "pbx_control": control_server.status(),
                "wrap_up": wrap_ups.status() if wrap_ups is not None else None}

    serve_metrics(metrics_port, listener_status, listener_metrics)
    if settings.live_transcripts:  # the model and the recognisers run in `--role live`
        log.info("live transcripts: taps are asked for by the live process (--role live)")
    router = start_router(settings, bus, control)
    limits = start_wait_limits(settings, bus, lambda lid: control.actions(control.pbx_of_call(lid)))
    for link in links:
        link.client.start()
    print(f"Hotline listener: AMI {', '.join(f'{e.name} {e.host}:{e.port}' for e in endpoints)}; "
          f"events to {masked(settings.redis_url)}; transcription jobs to RQ queue {settings.job_queue}",
          flush=True)
    wait_forever()
    for link in links:
        link.client.stop()
    if router is not None:
        router.stop()
    if limits is not None:
        limits.stop()
    board_pub.stop()
    live_pub.stop()
    control_server.stop()
    if wrap_ups is not None:
        wrap_ups.stop()
    pipeline.stop()
