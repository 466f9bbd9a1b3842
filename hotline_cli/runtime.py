"""Wiring of one Hotline process: database, AMI listener, call pipeline, transcription, console.

`hotline demo` adds the PBX simulator in the same process; `hotline serve` listens to a real
Asterisk. Telephony publishes domain events on the bus; the pipeline stores ended calls and
queues their recordings for transcription; the console subscribes on its own.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import secrets
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from agent_console import metrics
from agent_console.config import ConsoleConfig
from agent_console.wallboard import WallboardRelay
from agent_console.wrapup import WrapUps
from cases.db import Database
from cases.demo_data import DEMO_WAYBILLS
from cases.private_files import private_dir
from cases.redact import masked
from hotline_cli import jobqueue, webserver
from hotline_cli.config import Settings, shipment_source
from hotline_cli.foreground import sigterm_as_interrupt, wait_forever
from hotline_cli.jobqueue import JobQueueError, RqTranscriber
from hotline_cli.livetap import LiveTap, make_livetap
from hotline_cli.process_metrics import record_metrics, rq_backlog, serve_metrics
from hotline_cli.startup import StartupError, model_folder, open_database, secret_key, standard_rules
from hotline_cli.webserver import BuildSite, ConsoleSite, WebServerError, WebServerSettings
from ivr.overflow import WaitLimitWatcher
from pipeline.call_pipeline import CallPipeline
from pipeline.catch_up import queue_missing_transcripts
from telephony.actions import Actions
from telephony.connection import AmiEndpoint
from telephony.events import EventBus
from telephony.pbxlink import CombinedLive, PbxControl, PbxLink, make_links
from transcripts.engine import VoskEngine
from transcripts.jobs import TranscriptionQueue, TranscriptionResult
from transcripts.live_events import LiveBus

log = logging.getLogger("hotline")

CATCH_UP_EVERY_S = 30.0
CATCH_UP_SINCE_S = 86400.0  # the worker's catch-up: calls of the last day
def make_transcriber(settings: Settings, pipeline_holder: list[CallPipeline]) -> TranscriptionQueue:
    model_dir = model_folder(settings)

    def done(result: TranscriptionResult) -> None:
        pipeline_holder[0].on_transcribed(result)

    def error(job_id: str, exc: Exception) -> None:
        pipeline_holder[0].on_transcription_error(job_id, exc)

    # jobs are files in a spool: they survive a restart and are retried with back-off
    return TranscriptionQueue(lambda: VoskEngine(model_dir), done, error,
                              spool_dir=settings.data_dir / "transcription-spool")


@dataclass
class Process:
    settings: Settings
    db: Database
    bus: EventBus
    links: list[PbxLink]
    live: CombinedLive
    control: PbxControl
    pipeline: CallPipeline
    transcriber: TranscriptionQueue
    live_bus: LiveBus | None = None
    livetap: LiveTap | None = None  # when live transcripts are on
    wrap_ups: WrapUps | None = None  # the site's wrap-up keeper (None: wrap_up_s = 0)
    metric_sources: metrics.MetricSources = field(default_factory=metrics.MetricSources)  # read by /metrics

    def status(self) -> Mapping[str, Any]:
        live = {"live_transcripts": self.livetap.status()} if self.livetap is not None else {}
        return live | {
            "ami": [link.status() for link in self.links],
            "live_calls": len(self.live.live_call_ids()),
            "calls_stored": self.pipeline.stored,
            "calls_transcribed": self.pipeline.transcribed,
            "transcription_pending": self.transcriber.pending,
            "transcription": _progress(self.transcriber),
            "pipeline_errors": self.pipeline.errors,
        }

    def start(self) -> None:
        if self.livetap is not None:
            self.livetap.start()
        for link in self.links:
            link.client.start()

    def stop(self) -> None:
        if self.wrap_ups is not None:
            self.wrap_ups.stop()
        for link in self.links:
            link.client.stop()
        if self.livetap is not None:
            self.livetap.stop()
        self.transcriber.stop(timeout=5)
        self.pipeline.stop()
        self.db.dispose()


def _progress(q: TranscriptionQueue) -> dict[str, int]:
    p = q.progress()
    return {"queued": p.queued, "retrying": p.retrying, "running": p.running, "done": p.done, "failed": p.failed}


def build_process(settings: Settings, endpoints: list[AmiEndpoint], *, seed: bool) -> Process:
    db = open_database(settings, seed_demo=seed)
    bus = EventBus()
    holder: list[CallPipeline] = []
    transcriber = make_transcriber(settings, holder)
    private_dir(settings.recordings_dir)
    pipeline = CallPipeline(db, bus, settings.recordings_dir.resolve(), transcriber, rules=standard_rules(settings))
    holder.append(pipeline)
    keeper: list[WrapUps | None] = []  # the wrap-up keeper, once made (it needs the links)

    def after_resync(link: PbxLink) -> None:
        _reconcile(pipeline, link)
        if keeper and keeper[0] is not None:  # agents a server before a restart left paused for wrap-up
            keeper[0].adopt(link.tracker.snapshot().agents)

    try:
        links = make_links(endpoints, bus, after_resync=after_resync)
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    threading.Thread(target=pipeline.catch_up_transcripts, name="transcript-catch-up", daemon=True).start()
    sources = metrics.MetricSources()
    record_metrics(bus, links, sources)

    def backlog() -> tuple[int, int]:
        p = transcriber.progress()
        return (p.queued + p.running, p.failed)

    sources.backlog = backlog
    sources.store_backlog = lambda: pipeline.backlog
    control = PbxControl(links)
    keeper.append(start_wrap_ups(settings, bus, control))  # before the links start: their first resync adopts
    live_bus, livetap = (make_livetap(settings, control, bus, transcriber.engine, sources)
                         if settings.live_transcripts else (None, None))
    return Process(settings, db, bus, links, CombinedLive([link.tracker for link in links]), control,
                   pipeline, transcriber, live_bus, livetap, keeper[0], sources)


def _reconcile(pipeline: CallPipeline, link: PbxLink) -> None:
    live = {lid for lid in link.tracker.live_call_ids()}
    pipeline.reconcile_pending({link.tracker.id_prefix + lid for lid in live}, link.tracker.id_prefix)


def process_site(proc: Process, *, demo: bool, close: Callable[[], None]) -> ConsoleSite:
    """The console of an embedded process (`hotline serve`, `hotline demo`)."""
    return console_site(proc.settings, proc.db, proc.bus, proc.live, demo=demo, close=close, status=proc.status,
                        control=proc.control, live_bus=proc.live_bus, wrap_ups=proc.wrap_ups,
                        metric_sources=proc.metric_sources)


def console_site(settings: Settings, db: Database, bus: EventBus, live: Any, *, demo: bool,
                 close: Callable[[], None], status: Any = None, control: Any = None, live_bus: LiveBus | None = None,
                 wallboard: WallboardRelay | None = None, wrap_ups: Any = None, reports: Any = None,
                 shared: bool = False, metric_sources: metrics.MetricSources | None = None) -> ConsoleSite:
    """`shared`: one of several web processes (each sees every agent; each builds the pops only of
    the agents connected to it). `wallboard`: relayed from where it is computed. `wrap_ups`: the
    site's wrap-up keeper (this process's, or in a web process the listener's over Redis). `reports`: where report
    jobs run (a web process: RQ; None: in this process). `close`: stops what the site was built with."""
    from agent_console.app import create_app

    config = dataclasses.replace(console_config(settings, demo=demo), pops_connected_only=shared)
    app, socketio = create_app(config, db, bus, live, status_provider=status, control=control,
                               shipments=shipment_source(settings.shipments), live_bus=live_bus,
                               wallboard=wallboard, wrap_ups=wrap_ups, reports=reports,
                               metric_sources=metric_sources)
    return ConsoleSite(app, socketio, close)


def serve_site(settings: Settings, port: int | None, build: BuildSite, report: Callable[[str], object]) -> None:
    """Serves the console `build` makes (in the web server's worker process) on the settings' web server until
    SIGTERM / Ctrl-C. A `StartupError` of `build` goes to `report`; then `SiteBuildFailed` is raised here."""
    web = WebServerSettings(settings.web_server, settings.http_host, port or settings.http_port, settings.web_threads)
    try:
        webserver.serve(web, build, startup_errors=(StartupError,), report=report)
    except WebServerError as exc:
        raise StartupError(str(exc)) from None


def start_wallboard(settings: Settings, db: Database, bus: EventBus, live: Any) -> Any:
    """Listener: the site's one wallboard, from this process's tracker, published over Redis."""
    from agent_console.calls import CallMemory
    from agent_console.wallboard import WallboardFeed, read_health, wallboard_settings
    from hotline_cli.redisbus import WallboardPublisher

    # the console's wallboard settings; the key is never used (the listener has no sessions)
    config = ConsoleConfig(secret_key=secrets.token_hex(16))
    calls = CallMemory()
    feed = WallboardFeed(live, calls, wallboard_settings(config), config.wallboard_interval_s)
    return WallboardPublisher(settings.redis_url, bus, feed, calls, lambda: read_health(db), config.probe_poll_s)


def console_config(settings: Settings, *, demo: bool) -> ConsoleConfig:
    """The console's settings from Hotline's (supervisor phones, pause reasons and reminders from the TOML file)."""
    # every web process gets every event from Redis and serves its own consoles: no Socket.IO queue
    return ConsoleConfig(secret_key=secret_key(settings), demo=demo, message_queue=None,
                         recordings_dir=settings.recordings_dir.resolve(),
                         evidence_dir=(settings.data_dir / "evidence").resolve(),
                         supervisor_phones=dict(settings.supervisor_phones), pause_reasons=settings.pause_reasons,
                         agent_interface=settings.agent_interface,
                         metrics_token=settings.metrics_token, wrap_up_s=settings.wrap_up_s,
                         reminder_lead_s=settings.reminders.lead_minutes * 60,
                         reminder_repeat_s=settings.reminders.repeat_minutes * 60,
                         reminder_interval_s=settings.reminders.check_seconds,
                         report_wait_s=settings.report_wait_s, job_retry_s=_retry(settings),
                         session_cookie_secure=(settings.behind_https if settings.session_cookie_secure is None
                                                else settings.session_cookie_secure),
                         session_idle_s=settings.session_idle_minutes * 60.0,
                         trusted_proxies=settings.trusted_proxies, login_concurrency=settings.login_concurrency,
                         max_request_bytes=settings.max_request_bytes, evidence_max_bytes=settings.evidence_max_bytes,
                         report_jobs_per_user=settings.report_jobs_per_user)


def _retry(settings: Settings) -> tuple[int, ...]:
    try:
        return jobqueue.parse_retry(settings.job_retry_s)
    except JobQueueError as exc:
        raise StartupError(str(exc)) from None


def start_wrap_ups(settings: Settings, bus: EventBus, control: PbxControl) -> WrapUps | None:
    """The site's wrap-up keeper for every agent, in the process that has the AMI links (the one
    process, or the listener); None when `wrap_up_s` is 0."""
    from agent_console.control import ConsoleControl

    if settings.wrap_up_s <= 0:
        return None
    # the console's PBX commands (reasons, agent interfaces); the keeper serves no pages or sessions
    config = ConsoleConfig(secret_key="unused-by-the-keeper", pause_reasons=settings.pause_reasons,
                           agent_interface=settings.agent_interface,
                           wrap_up_s=settings.wrap_up_s)
    keeper = WrapUps(bus, ConsoleControl(config, control), settings.wrap_up_s)
    keeper.start()
    log.info("wrap-up: %g s after each call, for every agent", settings.wrap_up_s)
    return keeper


def run_demo(args: argparse.Namespace, report: Callable[[str], object]) -> int:
    """`hotline demo`: the PBX simulator, its IVR and the whole site in the web server's process."""
    sigterm_as_interrupt()
    settings: Settings = args.settings
    apply_switch_interval(settings)
    if not getattr(args, "no_live", False):  # the demo shows live transcripts, on a free port
        settings = dataclasses.replace(settings, live_transcripts=True, audiosocket_port=0)
    if args.fresh and settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url[len("sqlite:///"):]).unlink(missing_ok=True)
    private_dir(settings.recordings_dir)
    port = args.port or settings.http_port
    serve_site(settings, port, lambda: demo_site(settings, args, port), report)
    print("Hotline demo stopped", flush=True)
    return 0


def demo_site(settings: Settings, args: argparse.Namespace, port: int) -> ConsoleSite:
    """The demo, built in the web server's process: simulator, AMI server, IVR, calls every `--interval` s."""
    from hotline_cli.demo_calls import attach_voice, call_stream, demo_callers
    from hotline_cli.demo_ivr import DemoIvr
    from telephony.simulator.pbx import SimulatedPbx
    from telephony.simulator.server import AmiServer, Credentials

    pbx = SimulatedPbx(recordings_dir=str(settings.recordings_dir.resolve()), seed=args.seed, callers=demo_callers())
    attach_voice(pbx)
    try:
        server = AmiServer(("127.0.0.1", args.ami_port), pbx, Credentials(settings.ami.username, settings.ami.secret))
    except OSError as exc:
        raise StartupError(f"the PBX simulator cannot listen on 127.0.0.1:{args.ami_port}: {exc.strerror} "
                           "(choose another with --ami-port)") from None
    endpoint = AmiEndpoint("127.0.0.1", server.port, settings.ami.username, settings.ami.secret, "simulator")
    proc = build_process(settings, [endpoint], seed=True)
    ivr = DemoIvr(proc.db, settings.data_dir)
    pbx.ivr_hook = ivr.visit
    limits = start_wait_limits(settings, proc.bus, lambda lid: proc.control.actions(proc.control.pbx_of_call(lid)))
    pbx.start()
    server.serve_in_thread()
    proc.start()
    stop = threading.Event()
    if args.interval > 0:
        threading.Thread(target=call_stream, args=(pbx, args.interval, stop, DEMO_WAYBILLS), daemon=True).start()

    def close() -> None:
        stop.set()
        if limits is not None:
            limits.stop()
        pbx.stop()
        server.shutdown_all()
        ivr.stop()
        proc.stop()

    print(f"Hotline demo: console http://{settings.http_host}:{port}  (agent1001/agent1002/agent1003/supervisor, "
          f"password hotline-demo); PBX simulator AMI on 127.0.0.1:{server.port}; IVR (FastAGI) on "
          f"127.0.0.1:{ivr.port}; database "
          f"{masked(settings.database_url)}; Ctrl-C stops", flush=True)
    return process_site(proc, demo=True, close=close)


def start_wait_limits(settings: Settings, bus: EventBus,
                      actions_for: Callable[[str], Actions]) -> WaitLimitWatcher | None:
    """The queue wait limits (`[queue_wait_limits]`): callers waiting longer are moved to the IVR's
    callback offer. None when no queue has a limit."""
    if not settings.queue_wait_limits:
        return None
    watcher = WaitLimitWatcher(actions_for, settings.queue_wait_limits)
    bus.subscribe(watcher.on_event)
    log.info("queue wait limits: %s", ", ".join(f"{q} {s:g} s" for q, s in settings.queue_wait_limits.items()))
    return watcher


def apply_switch_interval(settings: Settings) -> None:
    """Let a thread that waits for the interpreter (a pop's database answer, a socket read) have it
    after `switch_interval_ms` instead of Python's 5 ms while another thread computes."""
    sys.setswitchinterval(settings.switch_interval_ms / 1000)


def run_serve(args: argparse.Namespace, report: Callable[[str], object]) -> int:
    apply_switch_interval(args.settings)
    if getattr(args, "role", "all") != "all":
        return run_role(args, report)
    sigterm_as_interrupt()
    settings: Settings = args.settings
    endpoints = [AmiEndpoint(a.host, a.port, a.username, a.secret, a.name) for a in settings.pbxs()]
    pbxs = ", ".join(f"{e.name} {e.host}:{e.port}" for e in endpoints)
    print(f"Hotline: console http://{settings.http_host}:{args.port or settings.http_port}; AMI {pbxs}", flush=True)
    serve_site(settings, args.port, lambda: embedded_site(settings, endpoints), report)
    return 0


def embedded_site(settings: Settings, endpoints: list[AmiEndpoint]) -> ConsoleSite:
    """`hotline serve`: the AMI links, the call store, transcription, routing and the console in one process."""
    proc = build_process(settings, endpoints, seed=False)
    router = None
    if settings.routing == "ami":
        from ivr.routing import HotlineRouter, RoutingRules

        rules = RoutingRules.build(settings.blocked_callers, settings.key_account_callers)
        router = HotlineRouter(lambda lid: proc.control.actions(proc.control.pbx_of_call(lid)), rules)
        proc.bus.subscribe(router.on_event)
    limits = start_wait_limits(settings, proc.bus, lambda lid: proc.control.actions(proc.control.pbx_of_call(lid)))
    proc.start()

    def close() -> None:
        if router is not None:
            router.stop()
        if limits is not None:
            limits.stop()
        proc.stop()

    return process_site(proc, demo=False, close=close)


def run_role(args: argparse.Namespace, report: Callable[[str], object]) -> int:
    """`hotline serve --role listener|web|worker|live`: one job per process, events shared over Redis.

    listener: the AMI links (one per Asterisk), call store, routing; publishes events and the live
    picture; enqueues transcription jobs (RQ); runs PBX actions for the others and every agent's
    wrap-up. web: the console, fed from Redis; its report jobs go to RQ. worker: an RQ worker rendering
    reports and transcribing recordings. live: live transcripts (the speech model, the AudioSocket
    server; taps asked of the listener), lines out over Redis."""
    from hotline_cli.pbxrpc import ControlServer, WrapUpMirror
    from hotline_cli.redisbus import EventPublisher, LivePublisher, RedisUnavailable

    sigterm_as_interrupt()
    settings: Settings = args.settings
    role = args.role
    if not settings.redis_url:
        raise StartupError(f"--role {role} needs Redis: set redis_url (HOTLINE_REDIS_URL)")
    try:
        retry = jobqueue.parse_retry(settings.job_retry_s)
    except JobQueueError as exc:
        raise StartupError(str(exc)) from None
    db = open_database(settings)
    bus = EventBus()
    try:
        if role == "listener":
            endpoints = [AmiEndpoint(a.host, a.port, a.username, a.secret, a.name) for a in settings.pbxs()]
            jobs = RqTranscriber(settings.redis_url, settings.job_queue, retry)
            pipeline = CallPipeline(db, bus, settings.recordings_dir.resolve(), jobs)
            keeper: list[Any] = []  # the wrap-up keeper, once made (it needs the links)

            def after_resync(link: PbxLink) -> None:
                _reconcile(pipeline, link)
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

            serve_metrics(args.metrics_port, listener_status, listener_metrics)
            if settings.live_transcripts:  # the model and the recognisers run in `--role live`
                log.info("live transcripts: taps are asked for by the live process (--role live)")
            router = None
            if settings.routing == "ami":
                from ivr.routing import HotlineRouter, RoutingRules

                rules = RoutingRules.build(settings.blocked_callers, settings.key_account_callers)
                router = HotlineRouter(lambda lid: control.actions(control.pbx_of_call(lid)), rules)
                bus.subscribe(router.on_event)
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
        elif role == "web":
            port = args.port or settings.http_port
            print(f"Hotline web: console http://{settings.http_host}:{port}; events from {masked(settings.redis_url)}",
                  flush=True)
            db.dispose()  # the web server's worker process opens its own
            serve_site(settings, port, lambda: web_site(settings, retry), report)
        elif role == "worker":
            run_rq_worker(settings, db, retry, args.metrics_port)
        elif role == "live":
            from hotline_cli.liverole import run_live

            run_live(settings, args.metrics_port)
        else:
            raise StartupError(f"unknown role {role!r}")
    except RedisUnavailable as exc:
        raise StartupError(str(exc)) from None
    finally:
        db.dispose()
    return 0


def web_site(settings: Settings, retry: tuple[int, ...]) -> ConsoleSite:
    """`--role web`: one web process's console, fed from Redis (events, the live picture, the wallboard, live
    transcript lines); PBX actions and wrap-ups through the listener, report jobs through RQ."""
    from hotline_cli.pbxrpc import RemotePbx, RemoteWrapUps
    from hotline_cli.redisbus import (
        EventSubscriber,
        LiveEventSubscriber,
        RedisLive,
        RedisUnavailable,
        WallboardSubscriber,
    )
    from hotline_cli.reportqueue import RqReportRunner

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


def run_rq_worker(settings: Settings, db: Database, retry: tuple[int, ...], metrics_port: int | None) -> None:
    """An RQ worker (in this process, the Vosk model kept between jobs) with RQ's scheduler for
    retries, plus a catch-up every 30 s: recorded calls without a transcript (their job never made
    it: a listener killed before enqueueing, Redis down) and jobs of dead workers on this machine."""
    model_dir = model_folder(settings)
    recordings = settings.recordings_dir.resolve()
    context = jobqueue.WorkerContext(db, model_dir, recordings, rules=standard_rules(settings),
                                     recording_wait_s=settings.recording_wait_s)
    conn = jobqueue.connect(settings.redis_url)
    jobs = RqTranscriber(settings.redis_url, settings.job_queue, retry)
    worker_metrics = metrics.MetricSources()
    worker_metrics.backlog = rq_backlog(settings.redis_url, settings.job_queue)
    serve_metrics(metrics_port, sources=worker_metrics)
    stop = threading.Event()

    def catch_up() -> None:
        while True:
            try:
                jobqueue.requeue_jobs_of_dead_workers(conn, settings.job_queue)
                jobqueue.requeue_jobs_of_dead_workers(conn, settings.report_queue)
                queue_missing_transcripts(db, jobs, Path, CATCH_UP_SINCE_S)
            except Exception as exc:  # Redis or the database down: next round
                log.warning("transcription catch-up failed: %s", exc)
            if stop.wait(CATCH_UP_EVERY_S):
                return

    threading.Thread(target=catch_up, name="transcript-catch-up", daemon=True).start()
    print(f"Hotline worker: report jobs from RQ queue {settings.report_queue}, transcription jobs from "
          f"{settings.job_queue} at {masked(settings.redis_url)} (worker {jobqueue.worker_name()})", flush=True)
    try:
        while True:
            worker = jobqueue.make_worker(jobqueue.worker_connection(settings.redis_url), settings.report_queue,
                                          settings.job_queue, context=context)  # reports first
            try:
                worker.work(with_scheduler=True, logging_level="WARNING")
            except (redis.RedisError, ValueError) as exc:  # Redis away at start; a name still registered
                log.warning("RQ worker could not start: %s", exc)
            if worker._shutdown_requested_date is not None:  # SIGTERM/SIGINT: RQ's warm shutdown
                break
            # RQ's loop quits on a Redis timeout or an unexpected error: start again, do not die
            log.warning("RQ worker stopped (Redis slow or away?); starting again in 2 s")
            time.sleep(2)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
