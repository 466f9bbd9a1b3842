"""The console's web server.

`gunicorn` (the default, for production): gunicorn's master process binds nothing itself (the port is bound
here first, so a busy port is a clear error, and handed over as `fd://N`) and keeps one worker process with
`web_threads` threads, Flask-SocketIO's threading mode with WebSocket through simple-websocket (Flask-SocketIO
supports one gunicorn worker per port; several web processes sit behind nginx with sticky sessions, as
`--role web`). Everything that runs threads (the AMI links, the call store, the console) is built by `build` in
the worker, after the fork, never in the master. The worker dies with the master (a `kill -9` of `hotline serve`
ends both). On SIGTERM every console is disconnected at once, so the server stops within `STOP_S` even with
consoles open; the site's own parts are stopped after the last request.

`werkzeug` (`web_server = "werkzeug"`): Werkzeug's development server in this process, as before; kept for
development and for the benchmarks that compare the two.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask_socketio import SocketIO
from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

log = logging.getLogger(__name__)

STOP_S = 10  # SIGTERM: seconds the worker may take to finish its requests before it is killed
BOOT_FAILED = 4  # gunicorn's exit code for an app that could not load: its master stops instead of retrying
_PR_SET_PDEATHSIG = 1


class WebServerError(Exception):
    """The console cannot be served (its address is taken, or the site could not be built)."""


@dataclass(frozen=True, slots=True)
class WebServerSettings:
    server: str  # "gunicorn" or "werkzeug" (hotline_cli.config.WEB_SERVERS)
    host: str
    port: int
    threads: int  # gunicorn: one per open console (its WebSocket) plus the requests in flight


@dataclass(frozen=True, slots=True)
class ConsoleSite:
    """What a web server runs, built in the process that serves it."""

    app: Flask
    socketio: SocketIO
    close: Callable[[], None]  # stops the site's own parts (AMI links, stores) once the server has ended

    def disconnect_consoles(self) -> None:
        """Closes every console's Socket.IO connection (the console reconnects to whoever serves next)."""
        self.socketio.server.eio.disconnect()


BuildSite = Callable[[], ConsoleSite]
Report = Callable[[str], object]  # tells the user why the site could not start (one line)


class SiteBuildFailed(Exception):
    """`build` raised one of the caller's start-up errors in the worker; its message is already printed."""


def serve(settings: WebServerSettings, build: BuildSite, *, startup_errors: tuple[type[Exception], ...],
          report: Report) -> None:
    """Serves the site `build` makes until SIGTERM / Ctrl-C. An exception of `startup_errors` from `build`
    is handed to `report` (in the process that built it) and ends the server: `SiteBuildFailed` here."""
    if settings.server == "werkzeug":
        _serve_werkzeug(settings, build)
    else:
        _serve_gunicorn(settings, build, startup_errors, report)


def _serve_werkzeug(settings: WebServerSettings, build: BuildSite) -> None:
    site = build()
    try:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        site.socketio.run(site.app, host=settings.host, port=settings.port, allow_unsafe_werkzeug=True,
                          use_reloader=False, log_output=False)
    except OSError as exc:
        raise WebServerError(f"cannot serve the console on {settings.host}:{settings.port}: {exc.strerror}") \
            from None
    except KeyboardInterrupt:
        pass
    finally:
        site.close()


def bind(host: str, port: int) -> socket.socket:
    """The console's listening socket (as gunicorn would make it: SO_REUSEADDR, backlog 2048)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise WebServerError(f"cannot serve the console on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _serve_gunicorn(settings: WebServerSettings, build: BuildSite, startup_errors: tuple[type[Exception], ...],
                    report: Report) -> None:
    fd = bind(settings.host, settings.port).detach()  # gunicorn's master takes it over (and closes it)
    master = os.getpid()
    try:
        _GunicornSite(settings, fd, build, startup_errors, report).run()
    except SystemExit as exc:
        if os.getpid() != master:  # the worker leaves gunicorn through SystemExit: it ends here, with its code
            raise
        if exc.code == BOOT_FAILED:
            raise SiteBuildFailed() from None
        if exc.code not in (0, None):
            raise WebServerError(f"the console's web server (gunicorn) stopped with exit code {exc.code}") \
                from None


def _die_with_parent() -> None:
    """Linux: this worker gets SIGKILL when its master dies, as one process would die with it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: gunicorn's worker notices a new parent within a second
        log.debug("web server: no PR_SET_PDEATHSIG here")


class ConsoleWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker that disconnects the consoles at SIGTERM, so that their WebSockets do not
    hold the worker for the whole grace period."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        stopping = getattr(self.app, "stopping", None)
        if stopping is not None:
            threading.Thread(target=stopping, name="console-stop", daemon=True).start()


class ProcessLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's messages through this process's logging (format, secret masking); no access log."""

    def setup(self, cfg: Any) -> None:
        for logger in (self.error_log, self.access_log):
            logger.handlers[:] = []
            logger.propagate = True
        self.error_log.setLevel(logging.WARNING)  # its start-up lines repeat what `hotline serve` prints
        self.error_log.addFilter(_quiet_boot_failure)
        self.access_log.disabled = True


def _quiet_boot_failure(record: logging.LogRecord) -> bool:
    """Drops gunicorn's three lines about a site that could not be built: the worker printed why, once."""
    if record.msg == "Worker (pid:%s) exited with code %s." and isinstance(record.args, tuple) \
            and record.args[-1:] == (BOOT_FAILED,):
        return False
    return not (record.msg == "Reason: %s" and record.args == ("App failed to load.",)
                or record.msg == "Shutting down: %s" and record.levelno >= logging.ERROR)


class _GunicornSite(BaseApplication):  # type: ignore[misc]
    """gunicorn run from code: one worker, threads, the port bound by us; the site built in the worker."""

    def __init__(self, settings: WebServerSettings, fd: int, build: BuildSite,
                 startup_errors: tuple[type[Exception], ...], report: Report) -> None:
        self._settings = settings
        self._fd = fd
        self._build = build
        self._startup_errors = startup_errors
        self._report = report
        self._site: ConsoleSite | None = None
        self._stopping = False
        super().__init__()

    def load_config(self) -> None:
        cfg = self.cfg
        cfg.set("bind", [f"fd://{self._fd}"])
        cfg.set("workers", 1)
        cfg.set("threads", self._settings.threads)
        cfg.set("worker_class", ConsoleWorker)
        cfg.set("logger_class", ProcessLogger)
        cfg.set("graceful_timeout", STOP_S)
        # the worker's heartbeat comes from its event loop, free while requests run; a worker silent this long
        # is stuck and replaced (its site is built again: AMI resync, consoles reconnect)
        cfg.set("timeout", 120)
        cfg.set("keepalive", 5)
        cfg.set("proc_name", "hotline-console")
        cfg.set("control_socket_disable", True)  # no gunicornc socket under $HOME, shared by every instance
        cfg.set("post_fork", lambda arbiter, worker: _die_with_parent())
        cfg.set("worker_exit", lambda arbiter, worker: self._close())

    def load(self) -> Flask:
        threading.excepthook = self._thread_died
        try:
            self._site = self._build()
        except self._startup_errors as exc:
            self._report(str(exc))
            sys.stdout.flush()
            sys.stderr.flush()
            sys.exit(BOOT_FAILED)
        return self._site.app

    def stopping(self) -> None:
        self._stopping = True
        if self._site is not None:
            try:
                self._site.disconnect_consoles()
            except Exception:
                log.exception("web server: disconnecting the consoles failed")

    def _thread_died(self, args: threading.ExceptHookArgs) -> None:
        """While the worker stops, Engine.IO's WebSocket writer threads may find their socket already closed by
        gunicorn (EBADF on the close frame): expected then, one debug line instead of a traceback."""
        if self._stopping and isinstance(args.exc_value, OSError) and args.exc_value.errno == errno.EBADF:
            log.debug("web server: a WebSocket closed while stopping (%s)", args.exc_value)
            return
        threading.__excepthook__(args)

    def _close(self) -> None:
        site, self._site = self._site, None
        if site is not None:
            site.close()
