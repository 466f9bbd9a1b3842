"""The `hotline` command: wires telephony, cases, transcripts and the console together."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hotline_cli.config import ConfigError, load_settings, shipment_source
from telephony.replay import ReplayError, replay_files

log = logging.getLogger("hotline")


class OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text.replace("\n", " | ")


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record comes (not the stream of the moment logging was
    set up): threads that outlive a redirected or captured stderr never write to a closed file."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def setup_logging(verbose: bool) -> None:
    handler = StderrHandler()
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def fail(command: str, message: str, code: int = 2) -> int:
    print(f"hotline {command}: error: {message}", file=sys.stderr)
    return code


def cmd_replay(args: argparse.Namespace) -> int:
    logging.getLogger().setLevel(logging.WARNING)
    try:
        records = replay_files([Path(p) for p in args.files])
    except ReplayError as exc:
        return fail("replay", str(exc))
    for rec in records:
        d = rec.to_json_dict()
        if args.json:
            print(json.dumps(d, ensure_ascii=False))
        else:
            print(f"{d['started_at']} {rec.linkedid} {rec.caller or '-'} -> {rec.hotline or rec.dialed} "
                  f"keys={rec.digits or '-'} queue={rec.queue or '-'} {rec.outcome} "
                  f"agent={rec.agent or '-'} wait={rec.wait_s} talk={rec.talk_s}"
                  + (f" ivr={rec.ivr_path}" if rec.ivr_path else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="Hotline contact centre")
    parser.add_argument("--config", type=Path, help="settings TOML file (also HOTLINE_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("replay", help="replay recorded AMI captures, one call record per line")
    p.add_argument("files", nargs="+", help="FILE.ami or FILE.ami.gz; several = successive connections")
    p.add_argument("--json", action="store_true", help="one JSON object per call")
    p.set_defaults(func=cmd_replay)

    from hotline_cli import commands

    commands.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        args.settings = load_settings(args.config)
        args.shipment_source = shipment_source(args.settings.shipments)  # where waybills are looked up
    except (ConfigError, ValueError) as exc:
        return fail(args.command, str(exc))
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
