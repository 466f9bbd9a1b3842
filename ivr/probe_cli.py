"""`hotline probe`: one SIP call to a hotline; exit 0 when it is up, 1 when down, 2 on bad input."""

from __future__ import annotations

import argparse
import json
import socket
import sys
from typing import Any

from telephony.connection import AmiEndpoint


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


def cmd_probe(args: argparse.Namespace) -> int:
    from ivr.probe import ProbeConfig, ProbeError, run_probe

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
        result = run_probe(cfg)
    except ProbeError as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps(result.to_json_dict(), ensure_ascii=False))
    else:
        print(result.summary())
    return 0 if result.up else 1


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
    p.set_defaults(func=cmd_probe)
