"""The range of the database's row ids: what a URL, a form or a JSON body may name as one.

Every table's id is an `Integer` column: 32 bits signed on PostgreSQL (SQLite stores up to 64). A
number outside 1..MAX_ID names no row, and sent to the database it fails there (SQLite: an
OverflowError before the query; PostgreSQL: "integer out of range"), so it is refused first.
"""

from __future__ import annotations

MAX_ID = 2**31 - 1


def is_row_id(value: object) -> bool:
    """An int (not a bool) that may be a row's id."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def parse_row_id(text: str) -> int | None:
    """The id that `text` (ASCII digits only) names, or None when it names none."""
    raw = text.strip()
    if not raw or len(raw) > len(str(MAX_ID)) or not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if is_row_id(value) else None
