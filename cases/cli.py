"""`hotline report ...` and `hotline shipments import|export ...`.

`hotline report NAME [--from DAY] [--until DAY] [--tz Asia/Shanghai] [--format xlsx|pdf|json] --out FILE`.

NAME: complaints-weekly, claims-monthly, inspections-monthly, self-settled-monthly, calls. `--from` is
the first local day, `--until` the day after the last (exclusive); without them the last complete
week or month. The file is written whole or not at all. Errors: one line, exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from cases.cli_args import EXIT_ERROR, day_arg
from cases.errors import CasesError
from cases.search_cli import register_search_cli
from cases.users_cli import register_users_cli


def _fail(message: str) -> int:
    print(f"hotline report: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _write_whole(out: Path, data: bytes) -> None:
    """`data` in `out` whole or not at all: written beside it, then renamed over it (OSError if not)."""
    fd, tmp = tempfile.mkstemp(dir=out.parent if str(out.parent) else ".", prefix=f".{out.name}.")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, out)


def register_cli(subparsers: Any) -> None:
    from cases.reports import FORMATS, REPORTS

    p = subparsers.add_parser(
        "report",
        help="render a report of the service standard (XLSX, PDF or JSON)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", choices=tuple(REPORTS), help="which report")
    p.add_argument("--from", dest="from_day", type=day_arg, default=None, help="first day (local), YYYY-MM-DD")
    p.add_argument("--until", dest="until_day", type=day_arg, default=None, help="day after the last (exclusive)")
    p.add_argument("--tz", default="Asia/Shanghai", help="time zone of the days (default Asia/Shanghai)")
    p.add_argument("--format", choices=FORMATS, default=None, help="default: from the --out extension")
    p.add_argument("--out", type=Path, required=True, help="file to write ('-' for standard output, JSON only)")
    p.set_defaults(func=cmd_report)

    p = subparsers.add_parser("shipments", help="import or export the embedded shipments table (CSV)")
    ssub = p.add_subparsers(dest="shipments_command", required=True)
    imp = ssub.add_parser(
        "import",
        help="upsert shipments by waybill from a CSV file (docs/shipments.md); a bad file imports nothing",
    )
    imp.add_argument("file", type=Path, help="CSV file ('-' for standard input)")
    imp.add_argument("--encoding", choices=("auto", "utf-8", "gbk"), default="auto",
                     help="auto: UTF-8 (with or without BOM), else GBK")
    imp.add_argument("--tz", default="Asia/Shanghai", help="time zone of history times without an offset")
    imp.add_argument("--by", default="import", help="username recorded in the audit trail")
    imp.set_defaults(func=cmd_shipments_import)
    exp = ssub.add_parser("export", help="write every shipment in the import layout (UTF-8 with BOM)")
    exp.add_argument("--out", type=Path, default=Path("-"), help="file to write (default: standard output)")
    exp.add_argument("--tz", default="Asia/Shanghai", help="time zone of the history times")
    exp.add_argument("--no-bom", action="store_true", help="leave out the UTF-8 byte order mark")
    exp.set_defaults(func=cmd_shipments_export)

    register_search_cli(subparsers)
    register_users_cli(subparsers)


def cmd_report(args: argparse.Namespace) -> int:
    from cases import reports
    from cases.db import open_migrated

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
        with open_migrated(args.settings.database_url) as db, db.session() as s:
            data = reports.render(s, args.name, period, fmt)
    except CasesError as exc:
        return _fail(str(exc))
    if str(args.out) == "-":
        sys.stdout.write(data.decode("utf-8") + "\n")
        return 0
    out: Path = args.out
    try:
        _write_whole(out, data)
    except OSError as exc:
        return _fail(f"cannot write {out}: {exc.strerror}")
    print(f"{args.name} {period.label}: {out} ({len(data)} bytes)")
    return 0


def _shipments_fail(message: str) -> int:
    print(f"hotline shipments: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def cmd_shipments_import(args: argparse.Namespace) -> int:
    from cases.shipments import import_csv

    try:
        data = sys.stdin.buffer.read() if str(args.file) == "-" else args.file.read_bytes()
    except OSError as exc:
        return _shipments_fail(f"cannot read {args.file}: {exc.strerror}")
    from cases.db import open_migrated

    try:
        with open_migrated(args.settings.database_url) as db, db.session() as s:
            summary = import_csv(s, data, by=args.by, encoding=args.encoding, tz=args.tz)
    except CasesError as exc:
        return _shipments_fail(f"{args.file}: {exc}")
    print(f"{args.file} ({summary.encoding}): {summary.rows} rows, {summary.created} new, "
          f"{summary.updated} updated, {summary.events} history events")
    return 0


def cmd_shipments_export(args: argparse.Namespace) -> int:
    from cases.db import open_migrated
    from cases.shipments import export_csv

    try:
        with open_migrated(args.settings.database_url) as db, db.reading() as s:
            data = export_csv(s, tz=args.tz, bom=not args.no_bom)
    except CasesError as exc:
        return _shipments_fail(str(exc))
    if str(args.out) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    out: Path = args.out
    try:
        _write_whole(out, data)
    except OSError as exc:
        return _shipments_fail(f"cannot write {out}: {exc.strerror}")
    print(f"shipments: {out} ({len(data)} bytes)")
    return 0
