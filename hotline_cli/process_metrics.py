"""This process's metrics: calls from the bus, the AMI links' counters, the RQ backlog; and the loopback
HTTP server of the listener, worker and live processes (`--metrics-port`: /metrics and /status)."""

from __future__ import annotations

import json
import logging
import threading
from http.server import ThreadingHTTPServer
from typing import Any

from agent_console import metrics
from agent_console.context import StatusProvider
from hotline_cli import jobqueue
from hotline_cli.startup import StartupError
from telephony.events import CallEnded, DomainEvent, EventBus
from telephony.pbxlink import PbxLink

log = logging.getLogger("hotline")


def record_metrics(bus: EventBus, links: list[PbxLink], sources: metrics.MetricSources) -> None:
    """Calls and queue waits from the bus, AMI counters from the links, into this process's metrics."""

    def on_event(event: DomainEvent) -> None:
        if isinstance(event, CallEnded):
            rec = event.record
            metrics.call_ended(rec.outcome, rec.hotline, rec.wait_s)

    bus.subscribe(on_event)
    if links:
        sources.ami = lambda: [(link.endpoint.name, link.client.stats.events, link.client.connected.is_set())
                               for link in links]


def serve_metrics(port: int | None, status: StatusProvider | None = None,
                  sources: metrics.MetricSources | None = None) -> ThreadingHTTPServer | None:
    """Listener, worker and live process: this process's metrics (and what `sources` read) on
    http://127.0.0.1:PORT/metrics and, given `status` (a callable returning a JSON-able mapping), its
    health on /status (loopback only; 503 when the mapping says `"ok": false`). Returns the HTTP server
    (None without a port)."""
    if not port:
        return None
    from http.server import BaseHTTPRequestHandler

    from prometheus_client import CONTENT_TYPE_LATEST

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                body, ctype, code = metrics.exposition(sources), CONTENT_TYPE_LATEST, 200
            elif path == "/status" and status is not None:
                try:
                    state = dict(status())
                    body = json.dumps(state, ensure_ascii=False, default=str).encode()
                    code = 503 if state.get("ok") is False else 200
                except Exception as exc:  # a part that cannot say how it is: the others still answer
                    log.exception("status failed")
                    body, code = json.dumps({"error": str(exc)}).encode(), 500
                ctype = "application/json"
            else:
                body, ctype, code = b"not found\n", "text/plain", 404
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    except OSError as exc:
        raise StartupError(f"cannot serve metrics on 127.0.0.1:{port}: {exc.strerror}") from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server


def rq_backlog(redis_url: str, queue_name: str) -> metrics.BacklogSource:
    conn = jobqueue.connect(redis_url)

    def read() -> tuple[int, int]:
        try:
            c = jobqueue.counts(conn, queue_name)
        except Exception as exc:  # Redis down: no figure rather than a failed scrape
            log.warning("transcription backlog unknown: %s", exc)
            return (-1, -1)
        return (c.backlog, c.failed)

    return read

