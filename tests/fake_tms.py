"""A fake transport-management system: a real HTTP server on loopback (http.server in a thread)
serving the shipments JSON contract of docs/shipments.md, with answers the test chooses.

`PATCH /api/v1/shipments/{waybill}` (a consignee change, cases.shipment_updates) changes the JSON the
waybill is answered with when its `from` value is the current one (409 otherwise, 404 for a waybill it
does not serve), or answers what `Tms.refuse_updates` set."""

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
    "consignee_address": "郑州市金水区花园路 8 号",
    "origin": "上海",
    "destination": "郑州",
    "status": "派送中",
    "events": [
        {"at": "2026-11-29T08:10:00+08:00", "place": "郑州分拨中心", "status": "派送中", "note": "派送员 王五"},
        {"at": "2026-11-28T09:00:00+08:00", "place": "上海营业部", "status": "已揽收"},
    ],
}


def _digits(value: object) -> str:
    return "".join(ch for ch in str(value) if ch.isdigit())


class Tms:
    """What the fake TMS answers for each waybill: (status code, content type, body, delay)."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, str, bytes, float]] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.updates: list[tuple[str, dict[str, object]]] = []  # (waybill, body) of every PATCH, in order
        self.update_answers: dict[str, tuple[int, bytes]] = {}  # waybill -> forced (status, JSON body)

    def refuse_updates(self, waybill: str, status: int = 422, message: str = "已签收，不能更改") -> None:
        self.update_answers[waybill] = (status, json.dumps({"error": "refused", "message": message}).encode())

    def current(self, waybill: str) -> dict[str, object]:
        return dict(json.loads(self.answers[waybill][2]))

    def update(self, waybill: str, body: dict[str, object]) -> tuple[int, bytes]:
        """A PATCH's answer: forced, or the change applied to the waybill's JSON (from must match)."""
        self.updates.append((waybill, body))
        if waybill in self.update_answers:
            return self.update_answers[waybill]
        answer = self.answers.get(waybill)
        if answer is None or answer[0] != 200:
            return 404, b'{"error": "unknown waybill"}'
        shipment = self.current(waybill)
        changes = body.get("changes")
        if not isinstance(changes, dict) or not changes:
            return 400, b'{"error": "bad request", "message": "no changes"}'
        for field, change in changes.items():
            if not isinstance(change, dict) or not isinstance(change.get("to"), str):
                return 400, b'{"error": "bad request", "message": "a change needs from and to"}'
            now = shipment.get(field) or ""
            same = _digits if field.endswith("phone") else str
            if same(now) != same(change.get("from") or "") and same(now) != same(change["to"]):
                return 409, json.dumps({"error": "conflict", "message": f"{field} is now {now}"}).encode()
            shipment[field] = change["to"]
        self.json(waybill, shipment, delay=answer[3])
        return 200, json.dumps(shipment).encode()

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

        def do_PATCH(self) -> None:  # noqa: N802
            state.requests.append((self.path, self.headers.get("Authorization")))
            prefix = "/api/v1/shipments/"
            waybill = self.path[len(prefix):] if self.path.startswith(prefix) else ""
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                body = None
            status, answer = state.update(waybill, body) if isinstance(body, dict) else (400, b'{"error": "json"}')
            delay = state.answers.get(waybill, (0, "", b"", 0.0))[3]
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    server.shutdown()
    server.server_close()
