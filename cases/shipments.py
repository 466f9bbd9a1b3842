"""Shipments CSV import and export (`hotline shipments import|export`), layout in docs/shipments.md.

One row per waybill. Columns (header row required, any order; `waybill`, `origin`, `destination`
required, the others optional):

    waybill, shipper_phone, consignee_name, consignee_phone, origin, destination, status, history,
    consignee_address

A file without `consignee_address` leaves the addresses the table has as they are.

`history` holds the status history, one event per line (or separated by ``;``), each
``TIME | PLACE | STATUS [| NOTE]``; TIME is ``YYYY-MM-DD HH:MM[:SS]`` in the import's time zone
(Asia/Shanghai by default) or ISO 8601 with an offset. An empty `status` takes the latest event's.

Every row is checked before anything is written; the first errors (line and column named) are
reported together and nothing is imported. Rows are upserted by waybill: an existing shipment's
fields are replaced, and its history too when the row gives one. UTF-8 (with or without BOM) and
GBK files are read; anything else is refused.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from cases.audit import record_audit
from cases.customers import match_customer
from cases.errors import InvalidWaybill, ShipmentImportError
from cases.inputs import validate_waybill
from cases.models.base import utcnow
from cases.models.customers import CustomerPhone
from cases.models.shipments import Shipment, ShipmentEvent
from cases.phones import normalize_phone, phone_tail, phones_match

log = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = (
    "waybill",
    "shipper_phone",
    "consignee_name",
    "consignee_phone",
    "origin",
    "destination",
    "status",
    "history",
    "consignee_address",  # last: files written before it had the column still import
)
REQUIRED: tuple[str, ...] = ("waybill", "origin", "destination")
ENCODINGS: tuple[str, ...] = ("auto", "utf-8", "gbk")
DEFAULT_TZ = "Asia/Shanghai"
MAX_ERRORS_SHOWN = 20
MAX_ROWS = 1_000_000
BULK_TAIL_MATCH = 20  # more unmatched shipper phones than this: one pass over the customers' phones
_LIMITS = {"consignee_name": 100, "origin": 100, "destination": 100, "status": 50, "consignee_address": 200}
_PHONE_MAX = 32
_EVENT_SPLIT = re.compile(r"[\n;]")
_LOCAL_TIME = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class ImportedEvent:
    at: datetime
    place: str
    status: str
    note: str


@dataclass(frozen=True, slots=True)
class ImportedRow:
    line: int
    waybill: str
    shipper_phone: str
    consignee_name: str
    consignee_phone: str
    origin: str
    destination: str
    status: str
    history: tuple[ImportedEvent, ...] | None  # None: the file gives no history for this row
    consignee_address: str | None = None  # None: the file has no such column


@dataclass(frozen=True, slots=True)
class ImportSummary:
    encoding: str  # how the file was read: utf-8, utf-8-sig or gbk
    rows: int
    created: int
    updated: int
    events: int


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


def decode(data: bytes, encoding: str = "auto") -> tuple[str, str]:
    """The file's text and the encoding it was read with; `ShipmentImportError` if it is neither
    UTF-8 nor GBK (the message gives the first bad byte's offset)."""
    if encoding not in ENCODINGS:
        raise ShipmentImportError(f"encoding {encoding!r} is not supported; use one of {', '.join(ENCODINGS)}")
    if encoding in ("auto", "utf-8"):
        if data.startswith(UTF8_BOM):
            name, body = "utf-8-sig", data[len(UTF8_BOM):]
        else:
            name, body = "utf-8", data
        try:
            return body.decode("utf-8"), name
        except UnicodeDecodeError as exc:
            if encoding == "utf-8":
                raise ShipmentImportError(
                    f"the file is not UTF-8: byte {exc.start + (len(data) - len(body))} ({body[exc.start]:#04x}) "
                    "cannot be decoded; save it as UTF-8 or give --encoding gbk"
                ) from None
    try:
        return data.decode("gbk"), "gbk"
    except UnicodeDecodeError as exc:
        raise ShipmentImportError(
            f"the file is neither UTF-8 nor GBK: byte {exc.start} ({data[exc.start]:#04x}) cannot be decoded; "
            "save it as UTF-8"
        ) from None


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ShipmentImportError(f"unknown time zone {tz!r}") from None


def _parse_time(raw: str, zone: ZoneInfo) -> datetime:
    text = raw.strip()
    for fmt in _LOCAL_TIME:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=zone)
        except ValueError:
            continue
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"time {text!r} is not YYYY-MM-DD HH:MM[:SS] or ISO 8601") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=zone)


def _parse_history(raw: str, zone: ZoneInfo) -> tuple[ImportedEvent, ...]:
    events: list[ImportedEvent] = []
    for n, chunk in enumerate((c.strip() for c in _EVENT_SPLIT.split(raw)), 1):
        if not chunk:
            continue
        parts = [p.strip() for p in chunk.split("|")]
        if len(parts) not in (3, 4):
            raise ValueError(f"event {n} {chunk!r} is not 'TIME | PLACE | STATUS [| NOTE]'")
        try:
            at = _parse_time(parts[0], zone)
        except ValueError as exc:
            raise ValueError(f"event {n}: {exc}") from None
        if not parts[2]:
            raise ValueError(f"event {n} has no status")
        if len(parts[1]) > 100 or len(parts[2]) > 50:
            raise ValueError(f"event {n}: place at most 100, status at most 50 characters")
        events.append(ImportedEvent(at, parts[1], parts[2], parts[3] if len(parts) == 4 else ""))
    events.sort(key=lambda e: e.at)
    return tuple(events)


def parse_csv(text: str, *, tz: str = DEFAULT_TZ) -> tuple[ImportedRow, ...]:
    """Every row checked; `ShipmentImportError` listing the first errors if any row is bad."""
    zone = _zone(tz)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    errors: list[RowError] = []
    try:
        header = next(reader)
    except StopIteration:
        raise ShipmentImportError("the file is empty: it needs a header row naming the columns") from None
    except csv.Error as exc:
        raise ShipmentImportError(f"line 1: not valid CSV ({exc})") from None
    names = [h.strip().lower() for h in header]
    unknown = [h for h in names if h not in COLUMNS]
    if unknown:
        raise ShipmentImportError(
            f"line 1: unknown column(s) {', '.join(repr(u) for u in unknown)}; known: {', '.join(COLUMNS)}"
        )
    dupes = sorted({h for h in names if names.count(h) > 1})
    if dupes:
        raise ShipmentImportError(f"line 1: column(s) named twice: {', '.join(dupes)}")
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ShipmentImportError(f"line 1: required column(s) missing: {', '.join(missing)}")
    rows: list[ImportedRow] = []
    seen: dict[str, int] = {}
    line = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(line, "-", f"not valid CSV ({exc})"))
            break
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue
        if len(rows) >= MAX_ROWS:
            raise ShipmentImportError(f"more than {MAX_ROWS} rows: split the file")
        if len(record) != len(names):
            errors.append(RowError(start, "-", f"has {len(record)} fields, the header has {len(names)}"))
            continue
        cells = dict(zip(names, (c.strip() for c in record), strict=True))
        row_errors: list[RowError] = []

        def bad(column: str, message: str, at: int = start, sink: list[RowError] = row_errors) -> None:
            sink.append(RowError(at, column, message))

        waybill = cells["waybill"]
        try:
            waybill = validate_waybill(waybill)
        except InvalidWaybill:
            bad("waybill", f"{waybill!r} is not a waybill (10-14 digits)")
        else:
            if waybill in seen:
                bad("waybill", f"{waybill} is already on line {seen[waybill]}")
            else:
                seen[waybill] = start
        for column in REQUIRED[1:]:
            if not cells[column]:
                bad(column, "is required")
        for column, limit in _LIMITS.items():
            if len(cells.get(column, "")) > limit:
                bad(column, f"is too long ({len(cells[column])} characters, at most {limit})")
        phones: dict[str, str] = {}
        for column in ("shipper_phone", "consignee_phone"):
            raw = cells.get(column, "")
            norm = normalize_phone(raw)
            if raw and (not norm or len(norm) > _PHONE_MAX or re.search(r"[^\d\s+()\-]", raw)):
                bad(column, f"{raw!r} is not a phone number")
            phones[column] = norm
        history: tuple[ImportedEvent, ...] | None = None
        if cells.get("history", ""):
            try:
                history = _parse_history(cells["history"], zone)
            except ValueError as exc:
                bad("history", str(exc))
        status = cells.get("status", "") or (history[-1].status if history else "")
        if row_errors:
            errors.extend(row_errors)
            continue
        rows.append(
            ImportedRow(
                line=start,
                waybill=waybill,
                shipper_phone=phones["shipper_phone"],
                consignee_name=cells.get("consignee_name", ""),
                consignee_phone=phones["consignee_phone"],
                origin=cells["origin"],
                destination=cells["destination"],
                status=status,
                history=history,
                consignee_address=cells.get("consignee_address"),
            )
        )
    if errors:
        shown = "; ".join(str(e) for e in errors[:MAX_ERRORS_SHOWN])
        more = f" (and {len(errors) - MAX_ERRORS_SHOWN} more)" if len(errors) > MAX_ERRORS_SHOWN else ""
        raise ShipmentImportError(f"{len(errors)} error(s), nothing imported: {shown}{more}")
    return tuple(rows)


def _shippers(s: Session, phones: set[str]) -> dict[str, int | None]:
    """Each shipper phone's customer (as `cases.customers` matches phones): exact matches in one
    query per 500 phones, the tail match only for the others."""
    found: dict[str, int | None] = {}
    wanted = sorted(phones)
    with s.no_autoflush:
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            stmt = select(CustomerPhone.phone, CustomerPhone.customer_id).where(CustomerPhone.phone.in_(chunk))
            found.update({phone: cid for phone, cid in s.execute(stmt)})
        rest = [phone for phone in wanted if phone not in found]
        if len(rest) <= BULK_TAIL_MATCH:
            for phone in rest:
                customer = match_customer(s, phone)
                found[phone] = customer.id if customer is not None else None
            return found
        # many phones: one pass over the customers' phones, grouped by the 8-digit tail they share
        by_tail: dict[str, list[tuple[str, int]]] = {}
        for phone, cid in s.execute(select(CustomerPhone.phone, CustomerPhone.customer_id)):
            tail = phone_tail(phone)
            if tail is not None:
                by_tail.setdefault(tail, []).append((phone, cid))
        for phone in rest:
            tail = phone_tail(phone)
            found[phone] = _closest(phone, by_tail.get(tail, [])) if tail is not None else None
    return found


def _closest(norm: str, candidates: list[tuple[str, int]]) -> int | None:
    """`cases.customers.match_customer`'s rule: the longest shared tail wins; a tie links nobody."""
    digits = len(norm.lstrip("0"))
    scored = [(min(len(p.lstrip("0")), digits), cid) for p, cid in candidates if phones_match(p, norm)]
    if not scored:
        return None
    best = max(score for score, _ in scored)
    top = {cid for score, cid in scored if score == best}
    return top.pop() if len(top) == 1 else None


def import_rows(s: Session, rows: Sequence[ImportedRow], *, by: str, encoding: str = "utf-8") -> ImportSummary:
    """Upsert the checked rows by waybill in the caller's transaction (flushes, never commits)."""
    wanted = [r.waybill for r in rows]
    existing: dict[str, Shipment] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        stmt = select(Shipment).where(Shipment.waybill.in_(chunk)).options(selectinload(Shipment.events))
        existing.update({sh.waybill: sh for sh in s.scalars(stmt).all()})
    created = updated = events = 0
    now = utcnow()
    shippers = _shippers(s, {r.shipper_phone for r in rows if r.shipper_phone})
    for r in rows:
        sh = existing.get(r.waybill)
        if sh is None:
            first = r.history[0].at if r.history else now
            sh = Shipment(waybill=r.waybill, created_at=first)
            s.add(sh)
            created += 1
        else:
            updated += 1
        sh.shipper_phone = r.shipper_phone
        sh.shipper_customer_id = shippers.get(r.shipper_phone)
        sh.consignee_name = r.consignee_name
        sh.consignee_phone = r.consignee_phone
        if r.consignee_address is not None:
            sh.consignee_address = r.consignee_address
        sh.origin, sh.destination, sh.status = r.origin, r.destination, r.status
        if r.history is not None:
            sh.events = [ShipmentEvent(at=e.at, place=e.place, status=e.status, note=e.note) for e in r.history]
            events += len(r.history)
        sh.updated_at = r.history[-1].at if r.history else now
    s.flush()
    summary = ImportSummary(encoding=encoding, rows=len(rows), created=created, updated=updated, events=events)
    record_audit(s, by, "shipments.import", "shipment", "*",
                 {"rows": len(rows), "created": created, "updated": updated})
    log.info("shipments import: %s rows (%s new, %s updated, %s events)", len(rows), created, updated, events)
    return summary


def import_csv(
    s: Session, data: bytes, *, by: str, encoding: str = "auto", tz: str = DEFAULT_TZ
) -> ImportSummary:
    """Decode, check every row, then upsert: all of it in the caller's transaction, or nothing."""
    text, used = decode(data, encoding)
    rows = parse_csv(text, tz=tz)
    return import_rows(s, rows, by=by, encoding=used)


def _format_time(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def export_csv(s: Session, *, tz: str = DEFAULT_TZ, bom: bool = True) -> bytes:
    """Every shipment in the import layout (UTF-8, with a BOM for spreadsheet programs by default);
    importing the result gives the same shipments back."""
    zone = _zone(tz)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    stmt = select(Shipment).options(selectinload(Shipment.events)).order_by(Shipment.waybill)
    for sh in s.scalars(stmt).yield_per(1000):
        history = "\n".join(
            " | ".join([_format_time(e.at, zone), e.place, e.status] + ([e.note] if e.note else []))
            for e in sh.events
        )
        writer.writerow(
            [
                sh.waybill,
                sh.shipper_phone,
                sh.consignee_name,
                sh.consignee_phone,
                sh.origin,
                sh.destination,
                sh.status,
                history,
                sh.consignee_address,
            ]
        )
    body = out.getvalue().encode("utf-8")
    return UTF8_BOM + body if bom else body
