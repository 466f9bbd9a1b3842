"""A threaded FastAGI TCP server: one thread per Asterisk connection, dispatch by the AGI script
path (`agi://HOST:4573/service` → the `service` handler).

Binds 127.0.0.1:4573 by default and accepts connections only from the configured Asterisk
addresses (others are closed at once and counted as refused). A handler that raises does not stop
the server; a peer sending garbage gets its session closed.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ivr.agi import AgiClosed, AgiError, AgiHangup, AgiProtocolError, AgiSession

log = logging.getLogger(__name__)

DEFAULT_PORT = 4573
Handler = Callable[[AgiSession], None]


class AgiServerError(Exception):
    """The server cannot start (port busy, bad address)."""


@dataclass(frozen=True, slots=True)
class ServerStats:
    sessions: int  # handled (environment read and dispatched)
    active: int
    completed: int  # handler returned
    hangups: int  # caller hung up during the handler
    protocol_errors: int  # garbage, closed early
    handler_errors: int  # handler raised something else
    refused: int  # peers that are not configured Asterisk servers
    unknown_scripts: int


class AgiServer:
    def __init__(
        self,
        handlers: Mapping[str, Handler],
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        allowed_peers: Iterable[str] = ("127.0.0.1",),
        default: str | None = None,
        max_sessions: int = 500,
        reply_timeout: float | None = None,
    ) -> None:
        self.handlers = dict(handlers)
        self.default = default
        if default is not None and default not in self.handlers:
            raise AgiServerError(f"default script {default!r} has no handler")
        self.allowed = frozenset(allowed_peers)
        self.max_sessions = max_sessions
        self.reply_timeout = reply_timeout
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(
            ("sessions", "active", "completed", "hangups", "protocol_errors", "handler_errors", "refused",
             "unknown_scripts"), 0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            family = infos[0][0]
            self._sock = socket.socket(family, socket.SOCK_STREAM)
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind((host, port))
            self._sock.listen(256)
        except OSError as exc:
            raise AgiServerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.host = host
        self.port: int = self._sock.getsockname()[1]

    # ------------------------------------------------------------------ stats
    def _bump(self, name: str, delta: int = 1) -> None:
        with self._lock:
            self._counts[name] += delta

    def stats(self) -> ServerStats:
        with self._lock:
            return ServerStats(**self._counts)

    # ------------------------------------------------------------------ running
    def serve_in_thread(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.serve_forever, name="agi-server", daemon=True)
        self._thread.start()
        return self._thread

    def serve_forever(self) -> None:
        log.info("FastAGI server on %s:%s (scripts: %s)", self.host, self.port, ", ".join(sorted(self.handlers)))
        self._sock.settimeout(0.5)
        while not self._stop.is_set():
            try:
                conn, addr = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    break
                raise
            peer = addr[0]
            if peer not in self.allowed:
                self._bump("refused")
                log.warning("FastAGI connection from %s refused: not a configured Asterisk server", peer)
                conn.close()
                continue
            with self._lock:
                busy = self._counts["active"] >= self.max_sessions
                if not busy:
                    self._counts["active"] += 1
            if busy:
                log.warning("FastAGI connection from %s refused: %s sessions active", peer, self.max_sessions)
                self._bump("refused")
                conn.close()
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._session, args=(conn, peer), name=f"agi-{peer}", daemon=True).start()

    def shutdown(self) -> None:
        self._stop.set()
        try:
            self._sock.close()
        except OSError:
            pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def __enter__(self) -> AgiServer:
        self.serve_in_thread()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # ------------------------------------------------------------------ one session
    def _session(self, conn: socket.socket, peer: str) -> None:
        session = AgiSession(conn) if self.reply_timeout is None else AgiSession(conn, reply_timeout=self.reply_timeout)
        try:
            try:
                env = session.read_environment()
            except AgiError as exc:
                self._bump("protocol_errors")
                log.warning("FastAGI from %s: no valid environment (%s): closed", peer, exc)
                session.abort()
                return
            self._bump("sessions")
            handler = self.handlers.get(env.script)
            if handler is None and self.default is not None:
                self._bump("unknown_scripts")
                log.warning("FastAGI script %r unknown: default %r serves it", env.script, self.default)
                handler = self.handlers[self.default]
            if handler is None:
                self._bump("unknown_scripts")
                log.warning("FastAGI script %r unknown (channel %s): session ended", env.script, env.channel)
                session.close()
                return
            try:
                handler(session)
                self._bump("completed")
            except AgiHangup as exc:
                self._bump("hangups")
                log.info("channel %s hung up in the IVR: %s", env.channel, exc)
            except (AgiProtocolError, AgiClosed) as exc:
                self._bump("protocol_errors")
                log.warning("FastAGI session %s closed: %s", env.channel, exc)
                session.abort()
                return
            except Exception:
                self._bump("handler_errors")
                log.exception("FastAGI handler %r failed on channel %s", env.script, env.channel)
            session.close()
        finally:
            self._bump("active", -1)
