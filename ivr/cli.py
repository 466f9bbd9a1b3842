"""`hotline asterisk-config`, `hotline prompts build`, `hotline ivr serve`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from ivr.asterisk_conf import ROUTING_MODES, extensions_conf, phones_conf, queues_conf
from ivr.config import MenuFileError, MenuStore
from ivr.probe.cli import register_probe_cli
from ivr.prompts import PromptBuildError, build_prompts
from ivr.server import DEFAULT_PORT, AgiServer, AgiServerError
from telephony.ami_user import manager_conf

log = logging.getLogger(__name__)


def _fail(command: str, message: str) -> int:
    print(f"hotline {command}: error: {message}", file=sys.stderr)
    return 2


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT")
    return host or "127.0.0.1", int(port)


def _store(command: str, args: argparse.Namespace) -> MenuStore | str:
    """`--menus`, else the settings' `ivr_menus` (what the console's pops read too), else the shipped menus."""
    configured: str = getattr(getattr(args, "settings", None), "ivr_menus", "")
    try:
        return MenuStore(args.menus or (Path(configured) if configured else None))
    except MenuFileError as exc:
        return str(exc)


def cmd_asterisk_config(args: argparse.Namespace) -> int:
    store = _store("asterisk-config", args)
    if isinstance(store, str):
        return _fail("asterisk-config", store)
    menus = store.all()
    settings = getattr(args, "settings", None)
    interface = settings.agent_interface if settings is not None else "SIP/{agent}"
    tech = interface.split("/", 1)[0].upper()  # the agents' phones as the console and the keeper pause them
    agents = [a.strip() for a in (args.agents or "").split(",") if a.strip()]
    try:
        phones = phones_conf(tech, agents, carrier=args.carrier) if tech in ("PJSIP", "SIP") else None
    except ValueError as exc:
        return _fail("asterisk-config", str(exc))
    parts = {
        "extensions": lambda: extensions_conf(menus, args.agi_url, args.routing),
        "queues": lambda: queues_conf(menus, tech, agents),
        "manager": lambda: manager_conf(),
        "phones": lambda: phones or f"; agent_interface {interface}: no SIP phones to write",
    }
    files = {"phones": "pjsip" if tech == "PJSIP" else "sip"}
    chosen = list(parts) if args.section == "all" else [args.section]
    for name in chosen:
        print(f";;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;; {files.get(name, name)}.conf")
        print(parts[name]())
    return 0


def cmd_prompts_build(args: argparse.Namespace) -> int:
    store = _store("prompts", args)
    if isinstance(store, str):
        return _fail("prompts", store)
    langs = tuple(args.lang.split(",")) if args.lang else None
    try:
        built = build_prompts(store.prompts, args.out, langs)
    except PromptBuildError as exc:
        return _fail("prompts", str(exc))
    except OSError as exc:
        return _fail("prompts", f"cannot write to {args.out}: {exc.strerror or exc}")
    total = sum(b.seconds for b in built)
    print(f"{len(built)} prompts ({total:.0f} s of audio) in {args.out}: <lang>/<name>.wav (8 kHz) and .sln; "
          f"copy the folder to Asterisk's sounds directory as 'hotline'")
    return 0


def cmd_ivr_serve(args: argparse.Namespace) -> int:
    from cases.db import Database
    from cases.errors import CasesError
    from ivr.flow import IvrFlow

    store = _store("ivr", args)
    if isinstance(store, str):
        return _fail("ivr", store)
    settings = getattr(args, "settings", None)
    url = args.database or (settings.database_url if settings is not None else "sqlite:///var/hotline.db")
    try:
        db = Database(url)
        db.check()
    except CasesError as exc:
        return _fail("ivr", str(exc))
    flow = IvrFlow(store, db, shipments=getattr(args, "shipment_source", None))
    host, port = args.listen
    try:
        server = AgiServer(flow.handlers(), host=host, port=port, allowed_peers=args.allow or ["127.0.0.1"],
                           default=args.default)
    except AgiServerError as exc:
        return _fail("ivr", str(exc))
    server.serve_in_thread()
    print(f"FastAGI IVR on {host}:{server.port} (hotlines: {', '.join(store.hotlines())}; "
          f"Asterisk at {', '.join(args.allow or ['127.0.0.1'])}); Ctrl-C stops", flush=True)
    stop = threading.Event()

    def on_term(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    server.shutdown()
    db.dispose()
    return 0


def register_cli(sub: Any) -> None:
    p = sub.add_parser("asterisk-config", help="print the Asterisk dialplan, queues and AMI user for the hotlines")
    p.add_argument("--menus", type=Path, help="folder of menu TOML files (default: the shipped menus)")
    p.add_argument("--agi-url", default=f"agi://127.0.0.1:{DEFAULT_PORT}", help="where Asterisk finds the IVR")
    p.add_argument("--routing", choices=ROUTING_MODES, default="ami",
                   help="ami: holding step + Redirect by Hotline's listener; dialplan: straight into the IVR")
    p.add_argument("--section", choices=("all", "extensions", "queues", "manager", "phones"), default="all")
    p.add_argument("--agents", help="comma-separated agents' phones (SIP user names): queue members and phones")
    p.add_argument("--carrier", default="203.0.113.1", help="the carrier's address (phones section)")
    p.set_defaults(func=cmd_asterisk_config)

    p = sub.add_parser("prompts", help="IVR prompts")
    psub = p.add_subparsers(dest="prompts_command", required=True)
    b = psub.add_parser("build", help="render the prompt texts with espeak-ng into 8 kHz WAV and sln")
    b.add_argument("--out", type=Path, default=Path("var/prompts"), help="output folder (default var/prompts)")
    b.add_argument("--menus", type=Path, help="folder with prompts.toml (default: the shipped one)")
    b.add_argument("--lang", help="comma-separated languages (default: all)")
    b.set_defaults(func=cmd_prompts_build)

    p = sub.add_parser("ivr", help="the FastAGI IVR")
    isub = p.add_subparsers(dest="ivr_command", required=True)
    s = isub.add_parser("serve", help="run the FastAGI IVR server alone")
    s.add_argument("--listen", type=_listen, default=("127.0.0.1", DEFAULT_PORT), help="HOST:PORT (127.0.0.1:4573)")
    s.add_argument("--allow", action="append", metavar="IP", help="Asterisk address allowed to connect (repeat)")
    s.add_argument("--menus", type=Path, help="folder of menu TOML files (default: the shipped menus)")
    s.add_argument("--database", help="database URL (default: the settings' database_url)")
    s.add_argument("--default", default="service", help="hotline that serves unknown AGI scripts")
    s.set_defaults(func=cmd_ivr_serve)

    register_probe_cli(sub)
