"""Checks of the input every writer in `cases` shares, raising before anything is written: enum values,
text lengths, timezone-aware dates within the years the cases accept, usernames and waybills."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from cases.errors import InvalidCaseInput, InvalidWaybill

YEARS = (1900, 2999)  # dates the cases accept (deadlines, inspections, follow-ups)
_WAYBILL_RE = re.compile(r"[0-9]{10,14}")
USERNAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")

E = TypeVar("E", bound=StrEnum)


def validate_waybill(raw: str) -> str:
    """A waybill (运单号) is 10-14 digits; surrounding whitespace is ignored."""
    waybill = (raw or "").strip()
    if not _WAYBILL_RE.fullmatch(waybill):
        raise InvalidWaybill(f"waybill {raw!r} is not valid: a waybill is 10-14 digits")
    return waybill


def parse_enum(cls: type[E], value: str, what: str, error: type[Exception] = InvalidCaseInput) -> E:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise error(f"unknown {what} {value!r}; expected one of: {allowed}") from None


def clean_text(value: str | None, what: str, *, max_len: int, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidCaseInput(f"{what} is required")
    if len(text) > max_len:
        raise InvalidCaseInput(f"{what} is too long ({len(text)} characters, at most {max_len})")
    return text


def aware_utc(value: datetime, what: str) -> datetime:
    """In UTC, and within YEARS (a date far outside names no real deadline, and one at datetime's edge
    cannot be shown in another time zone: 9999-12-31T23:59-12:00 is past year 9999 in UTC)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidCaseInput(f"{what} must be timezone-aware (got {value.isoformat()})")
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not YEARS[0] <= in_utc.year <= YEARS[1]:
        raise InvalidCaseInput(f"{what} {value.isoformat()} is not between the years {YEARS[0]} and {YEARS[1]}")
    return in_utc


def clean_username(by: str, what: str = "user") -> str:
    name = (by or "").strip()
    if not USERNAME_RE.fullmatch(name):
        raise InvalidCaseInput(f"{what} {by!r} is not a valid username (1-64 letters, digits, _ . -)")
    return name

