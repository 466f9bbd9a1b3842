"""Changing a shipment's consignee where shipments are kept (cases.changes on approval).

With the embedded table there is nothing to tell. With a transport-management system (TMS, the `http`
shipment source) the change is sent to it first, as `PATCH {base_url}/shipments/{waybill}` with

    {"changes": {"consignee_phone": {"from": "13800138000", "to": "13900139000"}},
     "reference": "change_request:12", "changed_by": "supervisor"}

(docs/shipments.md). The TMS answers 200 with the shipment's JSON as it now is (the new value must be in
it) or 204; any 4xx is a refusal (`ShipmentUpdateRefused`, its JSON `message` shown to the approver),
anything else a bad answer, and no answer in `timeout_s` unreachable. A write never falls back to the
embedded table: the caller changes its table copy only after the TMS has taken the change.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from cases.errors import ShipmentSourceBadAnswer, ShipmentSourceUnreachable, ShipmentUpdateRefused
from cases.inputs import validate_waybill
from cases.phones import normalize_phone
from cases.redact import masked
from cases.shipment_sources import (
    MAX_ANSWER_BYTES,
    HttpShipmentSource,
    ShipmentSource,
    json_answer,
    parse_answer,
)

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 300  # of a refusal's message, as shown to the approver


@dataclass(frozen=True, slots=True)
class ShipmentChange:
    waybill: str
    field: str  # a cases.vocab.ChangeField value: a column of `shipments` and a field of the TMS contract
    from_value: str
    to_value: str
    reference: str  # "change_request:<id>": lets the TMS recognise a retried update
    changed_by: str

    def body(self) -> dict[str, Any]:
        return {"changes": {self.field: {"from": self.from_value, "to": self.to_value}},
                "reference": self.reference, "changed_by": self.changed_by}


def _refusal_message(raw: bytes) -> str:
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return ""
    if not isinstance(body, dict):
        return ""
    message = body.get("message") or body.get("error")
    return message.strip()[:MAX_MESSAGE_CHARS] if isinstance(message, str) else ""


def _same(field: str, a: str, b: str) -> bool:
    if field == "consignee_phone":
        return normalize_phone(a) == normalize_phone(b)
    return a.strip() == b.strip()


def push_to_tms(source: HttpShipmentSource, change: ShipmentChange) -> None:
    """Send the change to the TMS; returns when it took it, else raises `ShipmentUpdateRefused`,
    `ShipmentSourceUnreachable` or `ShipmentSourceBadAnswer` (one line each)."""
    wb = validate_waybill(change.waybill)
    url = source.url_for(wb)
    shown = masked(url)
    settings = source.settings
    headers = {"Accept": "application/json", "Content-Type": "application/json; charset=utf-8",
               "User-Agent": "hotline"}
    if settings.token:
        headers["Authorization"] = f"Bearer {settings.token}"
    data = json.dumps(change.body(), ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers=headers, method="PATCH")
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout_s) as answer:  # noqa: S310
            status = answer.status
            raw = answer.read(MAX_ANSWER_BYTES + 1)
            ctype = answer.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500:
            said = _refusal_message(exc.read(MAX_ANSWER_BYTES))
            what = "has no such waybill" if exc.code == 404 and not said else said or exc.reason
            raise ShipmentUpdateRefused(f"{shown}: the transport-management system refused "
                                        f"(HTTP {exc.code}): {what}") from None
        raise ShipmentSourceBadAnswer(f"{shown}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        what = "timed out" if isinstance(reason, TimeoutError) else str(reason)
        raise ShipmentSourceUnreachable(f"{shown}: {what}") from None
    except TimeoutError:
        raise ShipmentSourceUnreachable(f"{shown}: timed out after {settings.timeout_s} s") from None
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise ShipmentSourceUnreachable(f"{shown}: {exc}") from None
    if status == 204:
        return
    if status != 200:
        raise ShipmentSourceBadAnswer(f"{shown}: HTTP {status} to an update (200 or 204 expected)")
    view = parse_answer(json_answer(raw, ctype, shown), wb, shown)
    now = str(getattr(view, change.field))
    if not _same(change.field, now, change.to_value):
        raise ShipmentSourceBadAnswer(f"{shown}: answered the update with {change.field} {now!r}, "
                                      f"not {change.to_value!r}")


def push_change(source: ShipmentSource | None, change: ShipmentChange) -> str:
    """Tell the shipment source of `change` before the table copy is changed: the TMS when the source is
    one (raises as `push_to_tms`), nothing for the embedded table. The name of the source told."""
    if isinstance(source, HttpShipmentSource):
        push_to_tms(source, change)
        log.info("shipment %s: %s changed in the transport-management system (%s)", change.waybill, change.field,
                 change.reference)
        return source.name
    return "embedded"
