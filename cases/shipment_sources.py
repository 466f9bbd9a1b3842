"""Where a waybill is looked up: the embedded shipments table or a transport-management system (TMS).

`ShipmentSource` is the interface; `EmbeddedShipmentSource` reads the `shipments` table,
`HttpShipmentSource` asks a TMS over HTTP JSON (contract: docs/shipments.md) and may fall back to
the embedded table when the TMS cannot be reached or answers badly. `make_source` builds
one from the `[shipments]` settings table. Used by the screen pop (`cases.caller_context`)
and the IVR's tracking lookup.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from cases.errors import (
    ShipmentSourceBadAnswer,
    ShipmentSourceError,
    ShipmentSourceUnreachable,
    UnknownWaybill,
)
from cases.inputs import validate_waybill
from cases.phones import normalize_phone
from cases.redact import masked
from cases.shipment_records import create_shipment, find_shipment
from cases.views import ShipmentEventInput, ShipmentEventView, ShipmentInput, ShipmentView

log = logging.getLogger(__name__)

SOURCE_KINDS = ("embedded", "http")
MAX_ANSWER_BYTES = 1024 * 1024


@runtime_checkable
class ShipmentSource(Protocol):
    """Looks a waybill up. `lookup` raises `InvalidWaybill` for an ill-formed waybill,
    `UnknownWaybill` when the source has no such shipment and `ShipmentSourceError` (unreachable,
    bad answer) when the source cannot say."""

    name: str

    def lookup(self, s: Session, waybill: str) -> ShipmentView: ...


def find_via(source: ShipmentSource, s: Session, waybill: str) -> ShipmentView | None:
    """`source.lookup`, with an unknown waybill as None."""
    try:
        return source.lookup(s, waybill)
    except UnknownWaybill:
        return None


class EmbeddedShipmentSource:
    """The `shipments` table (filled by `hotline shipments import`, the demo seed or the API)."""

    name = "embedded"

    def lookup(self, s: Session, waybill: str) -> ShipmentView:
        found = find_shipment(s, waybill)
        if found is None:
            raise UnknownWaybill(f"no shipment with waybill {waybill.strip()}")
        return found


EMBEDDED = EmbeddedShipmentSource()


def copy_into_table(s: Session, source: ShipmentSource, waybill: str) -> bool:
    """A case is opened on a shipment of the table; a waybill that only the transport-management
    system knows is copied in first, as the system gives it (history too), so the case keeps it even
    when the system later forgets it. True if a copy was made; a waybill the table has, or that no one
    knows, is left alone (the case then gets its usual clear error). `ShipmentSourceError` when the
    system cannot say."""
    wb = validate_waybill(waybill)
    if source.name == EMBEDDED.name or find_shipment(s, wb) is not None:
        return False
    view = find_via(source, s, wb)
    if view is None or view.id:  # unknown, or the source's fallback found it in the table
        return False
    create_shipment(s, ShipmentInput(
        waybill=view.waybill, origin=view.origin, destination=view.destination, shipper_phone=view.shipper_phone,
        consignee_name=view.consignee_name, consignee_phone=view.consignee_phone,
        consignee_address=view.consignee_address,
        events=tuple(ShipmentEventInput(at=e.at, status=e.status, place=e.place, note=e.note) for e in view.events)))
    log.info("shipment %s copied from the %s source for a case", wb, source.name)
    return True


@dataclass(frozen=True, slots=True)
class HttpSourceSettings:
    base_url: str  # e.g. "https://tms.example.com/api/v1"
    timeout_s: float = 2.0
    token: str = ""  # sent as "Authorization: Bearer <token>" when set
    fallback: bool = False  # unreachable or bad answer: look in the embedded table instead

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"shipments base_url {masked(self.base_url)!r} is not an http(s) URL")
        if not 0 < self.timeout_s <= 60:
            raise ValueError(f"shipments timeout_s {self.timeout_s!r} must be in (0, 60]")


def _text(obj: dict[str, Any], key: str, url: str, *, required: bool = False) -> str:
    value = obj.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ShipmentSourceBadAnswer(f"{url}: field {key!r} is not a string")
    if required and not value.strip():
        raise ShipmentSourceBadAnswer(f"{url}: field {key!r} is missing")
    return value.strip()


def _time(value: Any, url: str, where: str) -> datetime:
    if not isinstance(value, str):
        raise ShipmentSourceBadAnswer(f"{url}: {where} is not an ISO 8601 time string")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ShipmentSourceBadAnswer(f"{url}: {where} {value!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise ShipmentSourceBadAnswer(f"{url}: {where} {value!r} has no UTC offset")
    return at


def parse_answer(body: Any, waybill: str, url: str) -> ShipmentView:
    """The contract's JSON object as a `ShipmentView` (id 0: not a row of the embedded table)."""
    if not isinstance(body, dict):
        raise ShipmentSourceBadAnswer(f"{url}: the answer is not a JSON object")
    got = _text(body, "waybill", url, required=True)
    if got != waybill:
        raise ShipmentSourceBadAnswer(f"{url}: answered waybill {got!r}, asked for {waybill}")
    raw_events = body.get("events", [])
    if not isinstance(raw_events, list):
        raise ShipmentSourceBadAnswer(f"{url}: 'events' is not a list")
    events: list[ShipmentEventView] = []
    for i, e in enumerate(raw_events):
        if not isinstance(e, dict):
            raise ShipmentSourceBadAnswer(f"{url}: events[{i}] is not an object")
        events.append(
            ShipmentEventView(
                at=_time(e.get("at"), url, f"events[{i}].at"),
                place=_text(e, "place", url),
                status=_text(e, "status", url, required=True),
                note=_text(e, "note", url),
            )
        )
    events.sort(key=lambda ev: ev.at)
    status = _text(body, "status", url) or (events[-1].status if events else "")
    first = events[0].at if events else None
    last = events[-1].at if events else None
    updated = _time(body["updated_at"], url, "updated_at") if body.get("updated_at") else last
    if updated is None or first is None:
        updated = first = _time(body.get("created_at"), url, "created_at (needed when there are no events)")
    return ShipmentView(
        id=0,
        waybill=got,
        shipper_customer_id=None,
        shipper_name=_text(body, "shipper_name", url),
        shipper_phone=normalize_phone(_text(body, "shipper_phone", url)),
        consignee_name=_text(body, "consignee_name", url),
        consignee_phone=normalize_phone(_text(body, "consignee_phone", url)),
        consignee_address=_text(body, "consignee_address", url),
        origin=_text(body, "origin", url),
        destination=_text(body, "destination", url),
        status=status,
        created_at=first,
        updated_at=updated,
        events=tuple(events),
    )


class HttpShipmentSource:
    """A TMS answering `GET {base_url}/shipments/{waybill}` with the JSON of docs/shipments.md."""

    name = "http"

    def __init__(self, settings: HttpSourceSettings, fallback: ShipmentSource | None = None) -> None:
        self.settings = settings
        self.fallback = fallback if fallback is not None else (EMBEDDED if settings.fallback else None)

    def url_for(self, waybill: str) -> str:
        return f"{self.settings.base_url.rstrip('/')}/shipments/{urllib.parse.quote(waybill)}"

    def fetch(self, waybill: str) -> ShipmentView:
        """Ask the TMS only (no fallback)."""
        wb = validate_waybill(waybill)
        url = self.url_for(wb)
        shown = masked(url)  # in messages: a user:password in base_url stays out of the logs
        headers = {"Accept": "application/json", "User-Agent": "hotline"}
        if self.settings.token:
            headers["Authorization"] = f"Bearer {self.settings.token}"
        request = urllib.request.Request(url, headers=headers, method="GET")
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as answer:  # noqa: S310
                raw = answer.read(MAX_ANSWER_BYTES + 1)
                ctype = answer.headers.get_content_type()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise UnknownWaybill(f"{shown}: the transport-management system has no waybill {wb}") from None
            raise ShipmentSourceBadAnswer(f"{shown}: HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            what = "timed out" if isinstance(reason, TimeoutError) else str(reason)
            raise ShipmentSourceUnreachable(f"{shown}: {what}") from None
        except TimeoutError:
            raise ShipmentSourceUnreachable(f"{shown}: timed out after {self.settings.timeout_s} s") from None
        except (OSError, ValueError, http.client.HTTPException) as exc:  # connection reset, bad status line, ...
            raise ShipmentSourceUnreachable(f"{shown}: {exc}") from None
        return parse_answer(json_answer(raw, ctype, shown), wb, shown)

    def lookup(self, s: Session, waybill: str) -> ShipmentView:
        try:
            return self.fetch(waybill)
        except ShipmentSourceError as exc:
            if self.fallback is None:
                raise
            log.warning("shipment lookup %s: %s; looking in the %s table instead", waybill, exc, self.fallback.name)
            return self.fallback.lookup(s, waybill)


def make_source(kind: str, http: HttpSourceSettings | None = None) -> ShipmentSource:
    """The source named by the settings: "embedded" or "http" (which needs `http`)."""
    if kind == "embedded":
        return EMBEDDED
    if kind == "http":
        if http is None:
            raise ValueError("shipments source 'http' needs base_url")
        return HttpShipmentSource(http)
    raise ValueError(f"shipments source {kind!r} is not one of {', '.join(SOURCE_KINDS)}")


def json_answer(raw: bytes, ctype: str, shown: str) -> object:
    """The TMS's JSON answer (to a lookup or an update): `ShipmentSourceBadAnswer` if it is too large, not
    application/json, or not valid JSON."""
    if len(raw) > MAX_ANSWER_BYTES:
        raise ShipmentSourceBadAnswer(f"{shown}: answer larger than {MAX_ANSWER_BYTES} bytes")
    if ctype != "application/json":
        raise ShipmentSourceBadAnswer(f"{shown}: answer is {ctype}, not application/json")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ShipmentSourceBadAnswer(f"{shown}: answer is not valid JSON ({exc})") from None
