"""`hotline probe`: one SIP call to a hotline; exit 0 when it is up, 1 when down, 2 on bad input.

Each run is stored in the database (`cases.probes`, table probe_runs) for the supervisors'
wallboard; `--every SECONDS` repeats it until stopped (exit code of the last run)."""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from telephony.connection import AmiEndpoint

if TYPE_CHECKING:
    from cases.probes import ProbeInput
    from ivr.probe.config import ProbeConfig
    from ivr.probe.results import ProbeResult

log = logging.getLogger(__name__)


def _hostport(value: str, default_port: int = 5060) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = value, str(default_port)
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST[:PORT]")
    return host, int(port)


def _ami_hostport(value: str) -> tuple[str, int]:
    return _hostport(value, 5038)


def _route_to(host: str, port: int) -> str:
    """Our address on the way to the PBX (what goes into Via, Contact and SDP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect((host, port or 5060))
            return str(s.getsockname()[0])
        except OSError as exc:
            raise argparse.ArgumentTypeError(f"no route to the PBX {host}: {exc.strerror or exc}") from None


def _ports(value: str) -> tuple[int, int]:
    low, sep, high = value.partition("-")
    if not sep or not low.isdigit() or not high.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not LOW-HIGH")
    return int(low), int(high)


def _keys(value: str) -> tuple[str, ...]:
    return tuple(value.replace(",", "").replace(" ", ""))


def _fail(message: str) -> int:
    print(f"hotline probe: error: {message}", file=sys.stderr)
    return 2


def probe_input(result: ProbeResult, hotline: str) -> ProbeInput:
    """A probe result as cases stores it."""
    from cases.probes import ProbeInput

    return ProbeInput(
        hotline=hotline, number=result.number, pbx=result.pbx, up=result.up, stage=result.stage,
        reason=result.reason, started_at=datetime.fromisoformat(result.started_at.replace("Z", "+00:00")),
        duration_s=result.duration_s, register_s=result.register_s, setup_s=result.setup_s,
        first_audio_s=result.first_audio_s, queue=result.queue, queue_s=result.queue_s,
        detail=result.to_json_dict())


def failed_input(cfg: ProbeConfig, hotline: str, started: datetime, duration_s: float, reason: str) -> ProbeInput:
    """A repeated probe that could not run at all (AMI unreachable, local port taken): stored as down."""
    from cases.probes import ProbeInput

    return ProbeInput(hotline=hotline, number=cfg.number, pbx=f"{cfg.pbx_host}:{cfg.pbx_port}", up=False,
                      stage="error", reason=reason, started_at=started, duration_s=round(duration_s, 3),
                      queue=cfg.queue, detail={"error": reason})


class ProbeStore:
    """Where each run goes: the cases database (migrated on first use)."""

    def __init__(self, url: str) -> None:
        from cases.db import Database

        self.db = Database(url)
        self.db.migrate()

    def store(self, p: ProbeInput) -> None:
        from cases.probes import record_probe

        with self.db.session() as s:
            record_probe(s, p)

    def close(self) -> None:
        self.db.dispose()


def hotline_of(number: str) -> str:
    """The hotline a number belongs to (service, claims), else the number itself."""
    from telephony.ami_reads import DEFAULT_HOTLINES

    return DEFAULT_HOTLINES.get(number, number)


def cmd_probe(args: argparse.Namespace) -> int:
    from cases.errors import CasesError
    from ivr.probe.config import ProbeConfig, ProbeConfigError, ProbeError
    from ivr.probe.run import run_probe

    settings = getattr(args, "settings", None)
    ami: AmiEndpoint | None = None
    if args.queue:
        s_ami = getattr(settings, "ami", None)
        host, port = args.ami or ((s_ami.host, s_ami.port) if s_ami is not None else ("127.0.0.1", 5038))
        ami = AmiEndpoint(host, port, args.ami_user or (s_ami.username if s_ami is not None else "hotline"),
                          args.ami_secret or (s_ami.secret if s_ami is not None else "hotline"))
    pbx_host, pbx_port = args.pbx
    if pbx_port == 0:
        return _fail("the PBX port cannot be 0")
    if args.every is not None and not args.every > 0:
        return _fail(f"--every must be above 0 seconds, not {args.every:g}")
    if args.count is not None and args.count < 1:
        return _fail(f"--count must be 1 or more, not {args.count}")
    try:
        local_host, local_port = args.local if args.local else (_route_to(pbx_host, pbx_port), 0)
    except argparse.ArgumentTypeError as exc:
        return _fail(str(exc))
    try:
        cfg = ProbeConfig(
            number=args.number, pbx_host=pbx_host, pbx_port=pbx_port, username=args.user, password=args.password,
            local_host=local_host, local_port=local_port, rtp_low=args.rtp_ports[0], rtp_high=args.rtp_ports[1],
            keys=args.keys, min_rms=args.min_rms, register_timeout=args.register_timeout,
            answer_timeout=args.answer_timeout, prompt_timeout=args.prompt_timeout, prompt_gap=args.prompt_gap,
            queue=args.queue or None, ami=ami, queue_timeout=args.queue_timeout, caller_id=args.caller_id or "")
    except ProbeConfigError as exc:
        return _fail(str(exc))
    hotline = args.hotline or hotline_of(cfg.number)
    store: ProbeStore | None = None
    url = args.database or getattr(settings, "database_url", "") or "sqlite:///var/hotline.db"
    repeat = args.every is not None
    if repeat and not args.no_store:  # a monitor finds out at once that it cannot store (one run: after it)
        try:
            store = ProbeStore(url)
        except CasesError as exc:
            return _fail(f"cannot store probe results: {exc}")
    runs = 0
    code = 0
    try:
        while True:
            started, t0 = datetime.now(UTC), time.monotonic()
            try:
                result = run_probe(cfg)
            except ProbeError as exc:
                if not repeat:
                    return _fail(str(exc))
                # a monitor keeps going: the run is stored as down, so supervisors see it
                log.warning("probe of %s could not run: %s", cfg.number, exc)
                print(f"{cfg.number} via {cfg.pbx_host}:{cfg.pbx_port}: DOWN at error: {exc}", flush=True)
                record = failed_input(cfg, hotline, started, time.monotonic() - t0, str(exc))
                code = 1
            else:
                if args.json:
                    print(json.dumps(result.to_json_dict(), ensure_ascii=False), flush=True)
                else:
                    print(result.summary(), flush=True)
                record = probe_input(result, hotline)
                code = 0 if result.up else 1
            if not args.no_store:
                try:
                    if store is None:
                        store = ProbeStore(url)
                    store.store(record)
                except CasesError as exc:
                    if not repeat:
                        return _fail(f"result not stored: {exc}")
                    log.error("probe result of %s not stored: %s", hotline, exc)
            runs += 1
            if not repeat or (args.count is not None and runs >= args.count):
                return code
            time.sleep(max(0.0, args.every - (time.monotonic() - t0)))
    except KeyboardInterrupt:
        return code
    finally:
        if store is not None:
            store.close()


def register_probe_cli(sub: Any) -> None:
    p = sub.add_parser("probe", help="call a hotline through the PBX and report whether it is up (exit 0 up, 1 down)")
    p.add_argument("number", help="the hotline number to dial, e.g. 4008001")
    p.add_argument("--pbx", type=_hostport, required=True, help="the PBX's SIP address HOST[:PORT] (registrar)")
    p.add_argument("--user", default="probe", help="SIP account of the probe (default probe)")
    p.add_argument("--password", default="", help="its SIP password")
    p.add_argument("--local", type=_hostport, help="our SIP address as the PBX reaches it, HOST:PORT (0 = free port)")
    p.add_argument("--rtp-ports", type=_ports, default=(10000, 20000), help="RTP port range LOW-HIGH")
    p.add_argument("--keys", type=_keys, default=(), help="keys to press, one per prompt, e.g. 1,2 or 12")
    p.add_argument("--min-rms", type=float, default=300.0,
                   help="16-bit RMS of a 20 ms frame that counts as sound (default 300, about -41 dBFS)")
    p.add_argument("--register-timeout", type=float, default=5.0, help="seconds (default 5)")
    p.add_argument("--answer-timeout", type=float, default=15.0, help="INVITE to answer, seconds (default 15)")
    p.add_argument("--prompt-timeout", type=float, default=8.0,
                   help="answer or key to the next sound, seconds (default 8)")
    p.add_argument("--prompt-gap", type=float, default=0.4,
                   help="quiet that ends a prompt before the next key, seconds (default 0.4)")
    p.add_argument("--queue", help="check on AMI that the call waits in this queue after the keys")
    p.add_argument("--caller-id", help="the probe's CallerIDNum in the queue (default: --user)")
    p.add_argument("--queue-timeout", type=float, default=10.0, help="seconds (default 10)")
    p.add_argument("--ami", type=_ami_hostport, help="AMI HOST:PORT for --queue (default from settings)")
    p.add_argument("--ami-user", help="AMI user (default from settings)")
    p.add_argument("--ami-secret", help="AMI secret (default from settings)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--hotline", help="the hotline the result is stored under (default: service/claims by number)")
    p.add_argument("--every", type=float, metavar="SECONDS",
                   help="probe again every SECONDS until stopped; runs that cannot be made are stored as down")
    p.add_argument("--count", type=int, help="with --every: stop after this many runs")
    p.add_argument("--database", help="where results are stored (default: the settings' database_url)")
    p.add_argument("--no-store", action="store_true", help="do not store the result")
    p.set_defaults(func=cmd_probe)
