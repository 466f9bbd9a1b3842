"""Phone numbers: normalising, and the one rule that says which stored numbers may be the same line as a caller's.

`phones_match` treats two numbers as the same line when, ignoring leading zeros, the
shorter (at least `MIN_SUFFIX_DIGITS` digits) is the tail of the longer; every such pair shares the
last `MIN_SUFFIX_DIGITS` digits after the leading zeros are stripped. That tail is stored, indexed,
next to each call's caller (`Call.caller_tail`) and each customer phone (`CustomerPhone.tail`), set by
the ORM models whenever the number is set, so a lookup is an index equality instead of a
leading-wildcard LIKE that scans the table. Equal tails are a superset of matches: callers still
check `phones_match` on the rows found.
"""

from __future__ import annotations

MIN_SUFFIX_DIGITS = 8


def phone_tail(norm: str | None) -> str | None:
    """The last 8 digits every suffix-match partner of the normalised number `norm` shares, or None
    if it has fewer than 8 digits after its leading zeros (such a number only matches itself)."""
    stripped = (norm or "").lstrip("0")
    return stripped[-MIN_SUFFIX_DIGITS:] if len(stripped) >= MIN_SUFFIX_DIGITS else None


def normalize_phone(raw: str | None) -> str:
    """Digits only: '+86 138-0013-8000' -> '8613800138000'."""
    return "".join(ch for ch in (raw or "") if ch.isascii() and ch.isdigit())


def phones_match(a: str, b: str) -> bool:
    """Whether two phone numbers are the same line.

    Equal after normalising, or, ignoring leading zeros (trunk '0' / international '00' prefixes),
    the shorter one (at least 8 digits) is the tail of the longer one: '13800138000' matches
    '+86 138 0013 8000', '010 5555 1001' matches '+86 10 5555 1001'; '010 12345678' does not match
    '021 12345678' (same 8-digit local number, other city).
    """
    a, b = normalize_phone(a), normalize_phone(b)
    if not a or not b:
        return False
    if a == b:
        return True
    a, b = a.lstrip("0"), b.lstrip("0")
    short, long = sorted((a, b), key=len)
    return len(short) >= MIN_SUFFIX_DIGITS and long.endswith(short)
