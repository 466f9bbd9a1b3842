"""`hotline report NAME [--from DAY] [--until DAY] [--tz Asia/Shanghai] [--format xlsx|pdf|json] --out FILE`.

NAME: complaints-weekly, claims-monthly, inspections-monthly, self-settled-monthly, calls. `--from` is
the first local day, `--until` the day after the last (exclusive); without them the last complete
week or month. The file is written whole or not at all. Errors: one line, exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from cases.errors import CasesError

EXIT_ERROR = 2


def _fail(message: str) -> int:
    print(f"hotline report: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def register_cli(subparsers: Any) -> None:
    from cases.reports import FORMATS, REPORTS

    p = subparsers.add_parser(
        "report",
        help="render a report of the service standard (XLSX, PDF or JSON)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", choices=tuple(REPORTS), help="which report")
    p.add_argument("--from", dest="from_day", type=_day, default=None, help="first day (local), YYYY-MM-DD")
    p.add_argument("--until", dest="until_day", type=_day, default=None, help="day after the last (exclusive)")
    p.add_argument("--tz", default="Asia/Shanghai", help="time zone of the days (default Asia/Shanghai)")
    p.add_argument("--format", choices=FORMATS, default=None, help="default: from the --out extension")
    p.add_argument("--out", type=Path, required=True, help="file to write ('-' for standard output, JSON only)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from cases import reports
    from cases.db import Database

    fmt = args.format or (args.out.suffix.lstrip(".").lower() if str(args.out) != "-" else "json")
    if fmt not in reports.FORMATS:
        return _fail(f"cannot tell the format from {args.out}; give --format {'|'.join(reports.FORMATS)}")
    if str(args.out) == "-" and fmt != "json":
        return _fail("only JSON can go to standard output")
    try:
        if args.from_day is None and args.until_day is None:
            period = reports.default_period(args.name, args.tz)
        elif args.from_day is None or args.until_day is None:
            return _fail("give both --from and --until, or neither")
        else:
            period = reports.make_period(args.from_day, args.until_day, args.tz)
        db = Database(args.settings.database_url)
        try:
            from alembic.script import ScriptDirectory

            from cases.db import MIGRATIONS_DIR

            head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
            if db.current_revision() != head:
                return _fail(f"database {db.display_url} is not at schema {head}: run `hotline db` first")
            with db.session() as s:
                data = reports.render(s, args.name, period, fmt)
        finally:
            db.dispose()
    except CasesError as exc:
        return _fail(str(exc))
    if str(args.out) == "-":
        sys.stdout.write(data.decode("utf-8") + "\n")
        return 0
    out: Path = args.out
    try:
        fd, tmp = tempfile.mkstemp(dir=out.parent if str(out.parent) else ".", prefix=f".{out.name}.")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, out)
    except OSError as exc:
        return _fail(f"cannot write {out}: {exc.strerror}")
    print(f"{args.name} {period.label}: {out} ({len(data)} bytes)")
    return 0
