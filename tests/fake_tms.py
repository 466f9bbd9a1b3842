"""A fake transport-management system: a real HTTP server on loopback (http.server in a thread)
serving the shipments JSON contract of docs/shipments.md, with answers the test chooses."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TMS_SHIPMENT = {
    "waybill": "800012345678",
    "shipper_name": "华通电子",
    "shipper_phone": "+86 21 5555 1003",
    "consignee_name": "李娜",
    "consignee_phone": "139-0013-9002",
    "origin": "上海",
    "destination": "郑州",
    "status": "派送中",
    "events": [
        {"at": "2026-11-29T08:10:00+08:00", "place": "郑州分拨中心", "status": "派送中", "note": "派送员 王五"},
        {"at": "2026-11-28T09:00:00+08:00", "place": "上海营业部", "status": "已揽收"},
    ],
}


class Tms:
    """What the fake TMS answers for each waybill: (status code, content type, body, delay)."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, str, bytes, float]] = {}
        self.requests: list[tuple[str, str | None]] = []

    def json(self, waybill: str, body: object, status: int = 200, delay: float = 0.0) -> None:
        self.answers[waybill] = (status, "application/json; charset=utf-8", json.dumps(body).encode(), delay)

    def raw(self, waybill: str, status: int, ctype: str, body: bytes, delay: float = 0.0) -> None:
        self.answers[waybill] = (status, ctype, body, delay)


@contextmanager
def serve_tms() -> Iterator[tuple[Tms, str]]:
    """The fake TMS and its base URL (`http://127.0.0.1:PORT/api/v1`)."""
    state = Tms()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            state.requests.append((self.path, self.headers.get("Authorization")))
            prefix = "/api/v1/shipments/"
            waybill = self.path[len(prefix):] if self.path.startswith(prefix) else ""
            status, ctype, body, delay = state.answers.get(
                waybill, (404, "application/json", b'{"error": "unknown waybill"}', 0.0)
            )
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (timeout)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    server.shutdown()
    server.server_close()
