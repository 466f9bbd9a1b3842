"""The phone tail key: the one rule that says which stored numbers may be the same line as a caller's.

`cases.services.phones_match` treats two numbers as the same line when, ignoring leading zeros, the
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
