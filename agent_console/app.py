"""The console's app factory: Flask pages and JSON API, Socket.IO, and the bus subscription."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, render_template, request
from flask_socketio import SocketIO
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from agent_console import (
    auth,
    branch_desk,
    change_callbacks,
    changes_desk,
    claims_desk,
    claims_overdue,
    complaints_desk,
    incidents_desk,
    inspections_desk,
    metrics,
    reminders,
    reports_page,
    sanctions_desk,
    search,
    views,
)
from agent_console.auth import optional_user
from agent_console.calls import CallMemory
from agent_console.case_writes import CaseWrites
from agent_console.config import ConsoleConfig
from agent_console.context import EXTENSION_KEY, ConsoleContext, StatusProvider
from agent_console.control import ActionsSource, ConsoleControl
from agent_console.converters import RowIdConverter
from agent_console.desk_forms import template_helpers
from agent_console.dispatcher import DISPATCHER_KEY, Dispatcher
from agent_console.event_wiring import ConsoleInputs, build_dispatcher
from agent_console.headers import register_security_headers
from agent_console.i18n import STRINGS, current_language, other_language, translate
from agent_console.limits import refuse_oversized_body
from agent_console.login_limiter import LoginLimiter
from agent_console.password_checks import PasswordChecks, default_concurrency
from agent_console.pop import MenuSource, PopBuilder
from agent_console.report_jobs import LocalReportRunner, ReportRunner
from agent_console.report_quota import ReportQuota
from agent_console.security import CSRF_FIELD, check_csrf, csrf_token
from agent_console.sessions import SessionPolicy
from agent_console.socket_handlers import register_socket_handlers
from agent_console.socket_sessions import SocketSessions
from agent_console.unavailable import register_unavailable
from agent_console.wallboard import WallboardRelay, read_health
from agent_console.wrapup import WrapUps, WrapUpService
from cases.db import Database
from cases.shipment_sources import ShipmentSource
from telephony.events import EventBus
from telephony.live import LiveView
from transcripts.live_events import LiveBus

__all__ = ["ConsoleConfig", "create_app"]

log = logging.getLogger(__name__)


_ERROR_KEYS = {403: "error.forbidden", 404: "error.not_found", 413: "error.too_large", 429: "error.too_many",
               503: "error.unavailable"}
_TOLD_IN_JSON = (413, 429, 503)  # their JSON message is the page's language's, the detail in English


def create_app(
    config: ConsoleConfig,
    db: Database,
    bus: EventBus,
    live: LiveView,
    *,
    status_provider: StatusProvider | None = None,
    control: ActionsSource | None = None,
    shipments: ShipmentSource | None = None,
    live_bus: LiveBus | None = None,
    wallboard: WallboardRelay | None = None,
    wrap_ups: WrapUpService | None = None,
    reports: ReportRunner | None = None,
    metric_sources: metrics.MetricSources | None = None,
    menus: MenuSource | None = None,
) -> tuple[Flask, SocketIO]:
    """Build the console. It subscribes to `bus` at once; `dispatcher(app).stop()` unsubscribes.

    `status_provider`, if given, adds its fields to the `/status` JSON. `control` (a
    `telephony.pbxlink.PbxControl`) is where agent states, listen-in, re-routing and callbacks are
    sent; without it those answer 503. `shipments` is where screen pops look waybills up (default:
    the embedded shipments table). `live_bus` (transcripts.live_events.LiveBus) brings live
    transcript lines and alerts to the agent on the call and to supervisors. `wallboard`: the
    supervisors' wallboard is computed elsewhere (role mode: by the listener) and relayed from it.
    `wrap_ups`: the site's wrap-up keeper elsewhere (a web process by role: the listener's, over
    Redis); None runs one here when `config.wrap_up_s` > 0 (agent_console.wrapup). `reports`: where
    report jobs run (a web process by role: RQ, rendered by a worker); None runs them here.
    `metric_sources`: this process's values read when `/metrics` is scraped (AMI links, backlogs).
    """
    app = Flask(__name__)
    app.url_map.converters["int"] = RowIdConverter  # before any route: ids the database can hold, else 404
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.session_cookie_secure,
        HOTLINE_DEFAULT_LANGUAGE=config.default_language,
        JSON_AS_ASCII=False,
        MAX_CONTENT_LENGTH=config.max_request_bytes,  # agent_console.limits: evidence uploads get more
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    socketio = SocketIO(app, async_mode="threading", message_queue=config.message_queue or None)
    if config.trusted_proxies > 0:
        # outermost, so pages and Socket.IO alike see the client's address (and scheme) as the proxies
        # tell it; without trusted proxies forwarded headers are ignored and the peer's address counts
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=config.trusted_proxies, x_proto=config.trusted_proxies)
    calls = CallMemory()
    policy = SessionPolicy(config.session_idle_s)
    sockets = SocketSessions(socketio, db, policy, config.session_sweep_s)
    password_checks = PasswordChecks(config.login_concurrency or default_concurrency(), config.login_wait_s)
    app.extensions[EXTENSION_KEY] = ConsoleContext(
        config=config, db=db, bus=bus, live=live, calls=calls, status_provider=status_provider,
        limiter=LoginLimiter(config.login_limits),
        password_checks=password_checks,
        sessions=policy, sockets=sockets,
    )
    app.register_blueprint(auth.bp)
    app.register_blueprint(views.pages)
    app.register_blueprint(views.api)
    app.register_blueprint(metrics.bp)
    app.extensions[metrics.SOURCES_KEY] = metric_sources
    app.register_blueprint(search.bp)
    app.extensions[search.SHIPMENTS_KEY] = shipments
    app.register_blueprint(claims_desk.bp)
    app.register_blueprint(claims_overdue.bp)
    app.register_blueprint(inspections_desk.bp)
    app.register_blueprint(incidents_desk.bp)  # 突发事件
    app.register_blueprint(sanctions_desk.bp)  # 奖罚 from any source, 已收缴
    app.register_blueprint(branch_desk.bp)
    app.context_processor(template_helpers)  # the desks' labels, money and times (the reports page's too)
    app.register_blueprint(reports_page.bp)
    runner = reports if reports is not None else LocalReportRunner(db, config.job_retry_s)
    app.extensions[reports_page.RUNNER_KEY] = runner
    app.extensions[reports_page.QUOTA_KEY] = ReportQuota(config.report_jobs_per_user)
    app.register_blueprint(complaints_desk.bp)
    app.register_blueprint(reminders.bp)
    app.register_blueprint(changes_desk.bp)  # consignee changes decided; the callbacks after (issue #17)
    app.register_blueprint(change_callbacks.bp)

    @app.context_processor
    def inject_language() -> dict[str, Any]:
        lang = current_language()
        return {
            "lang": lang,
            "other_lang": other_language(lang),
            "t": lambda key: translate(lang, key),
            "strings": STRINGS[lang],
            "user": optional_user(),
            "demo": config.demo,
            "csrf_token": csrf_token,
            "csrf_field": CSRF_FIELD,
        }

    @app.before_request
    def body_size() -> None:  # first: before the CSRF check reads a form, before any login check
        refuse_oversized_body(config)

    @app.before_request
    def csrf_protect() -> None:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            check_csrf()

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        code = exc.code or 500
        if request.path.startswith("/api/") or request.is_json or request.path.startswith("/status"):
            if code in _TOLD_IN_JSON:
                return {"error": exc.name, "message": translate(current_language(), _ERROR_KEYS[code]),
                        "detail": exc.description}, code, _retry_after(exc)
            return {"error": exc.name, "message": exc.description}, code
        key = _ERROR_KEYS.get(code)
        message = translate(current_language(), key) if key else (exc.description or exc.name)
        return render_template("error.html", message=message), code, _retry_after(exc)

    register_unavailable(app)
    register_security_headers(app)

    pops = PopBuilder(db, shipments, menus)  # `menus`: the IVR's menu files (default: the shipped ones)
    console_control = ConsoleControl(config, control)
    keeper: WrapUps | None = None
    if wrap_ups is None and config.wrap_up_s > 0:
        keeper = wrap_ups = WrapUps(bus, console_control, config.wrap_up_s)
    dispatcher = build_dispatcher(socketio, config, ConsoleInputs(bus, live, calls, live_bus, wallboard), pops,
                                  console_control, lambda: read_health(db), wrap_ups)
    app.extensions[DISPATCHER_KEY] = dispatcher
    case_writes = CaseWrites(db.engine, dispatcher.jobs.lookups.changed)  # pops look the caller up again
    case_writes.start()
    dispatcher.also_stop(case_writes.stop)
    register_socket_handlers(socketio, dispatcher, sockets)
    dispatcher.start()
    sockets.start()
    dispatcher.also_stop(sockets.stop)
    dispatcher.also_stop(password_checks.stop)
    if keeper is not None:
        keeper.start()
        dispatcher.also_stop(keeper.stop)
    dispatcher.also_stop(runner.stop)
    checker = reminders.ReminderChecker(socketio, db, config.reminder_interval_s, config.reminder_lead_s,
                                        config.reminder_repeat_s, claim_deadlines=config.claim_deadlines)
    app.extensions[reminders.REMINDERS_KEY] = checker
    dispatcher.also_stop(checker.stop)
    checker.start()
    log.info("agent console ready (demo=%s, message queue=%s)", config.demo, bool(config.message_queue))
    return app, socketio


def _retry_after(exc: HTTPException) -> dict[str, str]:
    """The Retry-After header an error carries (503 while the database is locked, 429), if any."""
    found = dict(exc.get_headers()).get("Retry-After")
    return {"Retry-After": found} if found else {}


def dispatcher(app: Flask) -> Dispatcher:
    """The app's bus-to-Socket.IO dispatcher (`stop()` it when the app goes away; that also stops the
    follow-up reminder checker)."""
    d: Dispatcher = app.extensions[DISPATCHER_KEY]
    return d
