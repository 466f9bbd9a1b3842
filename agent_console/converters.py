"""URL converters of the console: `<int:...>` in every route takes only ids the database can hold.

Werkzeug's own `int` matches any run of digits (Unicode ones too), so `/cases/10**30` reached the
database and failed there with a 500; this one matches ASCII digits of a row id (cases.ids) and
anything else is no route (404)."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import BaseConverter, ValidationError

from cases.ids import parse_row_id


class RowIdConverter(BaseConverter):
    """`<int:name>`: 1 .. cases.ids.MAX_ID in ASCII digits."""

    regex = r"[0-9]{1,19}"
    weight = 50
    part_isolating = True

    def to_python(self, value: str) -> int:
        found = parse_row_id(value)
        if found is None:
            raise ValidationError()
        return found

    def to_url(self, value: Any) -> str:
        return str(int(value))
