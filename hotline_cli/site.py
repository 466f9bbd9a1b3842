"""The console as a site a web server runs (`hotline_cli/webserver.py`): its settings from Hotline's, the Flask
app with what it is fed, and serving it; plus the listener's wallboard publisher, built from the console's
wallboard settings."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from pathlib import Path

from agent_console import metrics
from agent_console.config import ConsoleConfig
from agent_console.context import StatusProvider
from agent_console.control import ActionsSource
from agent_console.report_jobs import ReportRunner
from agent_console.wallboard import WallboardRelay
from agent_console.wrapup import WrapUpService
from cases.db import Database
from hotline_cli import jobqueue, webserver
from hotline_cli.config import Settings, shipment_source
from hotline_cli.jobqueue import JobQueueError
from hotline_cli.process import Process
from hotline_cli.redisbus import WallboardPublisher
from hotline_cli.startup import StartupError, secret_key
from hotline_cli.webserver import BuildSite, ConsoleSite, WebServerError, WebServerSettings
from ivr.config import MenuFileError, MenuStore
from telephony.events import EventBus
from telephony.live import LiveView
from transcripts.live_events import LiveBus


def process_site(proc: Process, *, demo: bool, close: Callable[[], None]) -> ConsoleSite:
    """The console of an embedded process (`hotline serve`, `hotline demo`)."""
    return console_site(proc.settings, proc.db, proc.bus, proc.live, demo=demo, close=close, status=proc.status,
                        control=proc.control, live_bus=proc.live_bus, wrap_ups=proc.wrap_ups,
                        metric_sources=proc.metric_sources)


def console_site(settings: Settings, db: Database, bus: EventBus, live: LiveView, *, demo: bool,
                 close: Callable[[], None], status: StatusProvider | None = None,
                 control: ActionsSource | None = None, live_bus: LiveBus | None = None,
                 wallboard: WallboardRelay | None = None, wrap_ups: WrapUpService | None = None,
                 reports: ReportRunner | None = None,
                 shared: bool = False, metric_sources: metrics.MetricSources | None = None) -> ConsoleSite:
    """`shared`: one of several web processes (each sees every agent; each builds the pops only of
    the agents connected to it). `wallboard`: relayed from where it is computed. `wrap_ups`: the
    site's wrap-up keeper (this process's, or in a web process the listener's over Redis). `reports`: where report
    jobs run (a web process: RQ; None: in this process). `close`: stops what the site was built with."""
    from agent_console.app import create_app

    config = dataclasses.replace(console_config(settings, demo=demo), pops_connected_only=shared)
    try:  # the menus the IVR runs: the pops' key labels and suggested case kind
        menus = MenuStore(Path(settings.ivr_menus)) if settings.ivr_menus else None
    except MenuFileError as exc:
        raise StartupError(f"setting ivr_menus: {exc}") from None
    app, socketio = create_app(config, db, bus, live, status_provider=status, control=control,
                               shipments=shipment_source(settings.shipments), live_bus=live_bus,
                               wallboard=wallboard, wrap_ups=wrap_ups, reports=reports,
                               metric_sources=metric_sources, menus=menus)
    return ConsoleSite(app, socketio, close)


def serve_site(settings: Settings, port: int | None, build: BuildSite, report: Callable[[str], object]) -> None:
    """Serves the console `build` makes (in the web server's worker process) on the settings' web server until
    SIGTERM / Ctrl-C. A `StartupError` of `build` goes to `report`; then `SiteBuildFailed` is raised here."""
    web = WebServerSettings(settings.web_server, settings.http_host, port or settings.http_port, settings.web_threads)
    try:
        webserver.serve(web, build, startup_errors=(StartupError,), report=report)
    except WebServerError as exc:
        raise StartupError(str(exc)) from None


def start_wallboard(settings: Settings, db: Database, bus: EventBus, live: LiveView) -> WallboardPublisher:
    """Listener: the site's one wallboard, from this process's tracker, published over Redis."""
    from agent_console.calls import CallMemory
    from agent_console.wallboard import WallboardFeed, read_health, wallboard_settings

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
                         claim_deadlines=settings.claim_deadlines,
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
