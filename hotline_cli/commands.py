"""Subcommands: simulator, demo, serve, transcribe, ami-check, db."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cases.redact import masked
from hotline_cli.config import AmiSettings, Settings

if TYPE_CHECKING:
    from telephony.simulator.pbx import SimulatedPbx

log = logging.getLogger("hotline")


def _fail(command: str, message: str, code: int = 2) -> int:
    print(f"hotline {command}: error: {message}", file=sys.stderr)
    return code


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT")
    return host or "127.0.0.1", int(port)


def _wait_for_stop(stop: threading.Event) -> None:
    def handler(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        stop.set()


# ---------------------------------------------------------------------------- simulator
def cmd_simulator(args: argparse.Namespace) -> int:
    from telephony.simulator.pbx import SimulatedPbx
    from telephony.simulator.people import LOAD_CALLERS, make_agents
    from telephony.simulator.scenario import ScenarioError
    from telephony.simulator.server import AmiServer, Credentials

    settings: Settings = args.settings
    recordings = Path(args.recordings or settings.recordings_dir)
    try:
        agents = make_agents(args.agents)
    except ValueError as exc:
        return _fail("simulator", str(exc))
    if args.rate is not None and args.rate <= 0:
        return _fail("simulator", f"--rate must be positive, not {args.rate}")
    load_callers = LOAD_CALLERS if args.load_callers is None else args.load_callers
    if not 0 <= load_callers <= 10**8:
        return _fail("simulator", f"--load-callers must be between 0 and 100000000, not {load_callers}")
    pbx = SimulatedPbx(recordings_dir=str(recordings.resolve()), time_scale=args.speed, seed=args.seed,
                       agents=agents, wrap_up_s=0.0 if args.mix == "load" else 2.0, routing=args.routing,
                       load_callers=load_callers)
    manager = None
    if args.manager_conf is not None:  # the users and rights of a site's manager.conf instead of the generated
        from telephony.manager_rights import ManagerConfError, parse_manager_conf

        try:
            manager = parse_manager_conf(args.manager_conf.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ManagerConfError) as exc:
            return _fail("simulator", f"{args.manager_conf}: {exc}")
    if args.voice:
        from hotline_cli.demo_calls import attach_voice

        attach_voice(pbx)
    try:
        server = AmiServer(args.listen, pbx, Credentials(args.user, args.secret),
                           allowed_peers=tuple(args.allow or ["127.0.0.1"]), manager=manager)
    except OSError as exc:
        return _fail("simulator", f"cannot listen on {args.listen[0]}:{args.listen[1]}: {exc.strerror}")
    pbx.start()
    server.serve_in_thread()
    if args.rate:
        pace = f"{args.rate:g} calls/s ({args.mix} mix)" + (f", {args.calls} calls" if args.calls else "")
    else:
        pace = f"a call every {args.interval:.0f} s" if args.interval > 0 else "calls on SimulateCall only"
    print(f"PBX simulator: AMI on {args.listen[0]}:{server.port} (user {args.user}); {pace}; Ctrl-C stops",
          flush=True)
    stop = threading.Event()
    if args.rate:
        threading.Thread(target=_load_stream, args=(pbx, args, stop), daemon=True).start()
    elif args.interval > 0:
        from hotline_cli.demo_calls import call_stream

        threading.Thread(target=call_stream, args=(pbx, args.interval, stop, ()), daemon=True).start()
    try:
        if args.scenarios:
            for scenario in args.scenarios.split(","):
                pbx.start_call(scenario.strip())
    except ScenarioError as exc:
        server.shutdown_all()
        pbx.stop()
        return _fail("simulator", str(exc))
    _wait_for_stop(stop)
    server.shutdown_all()
    pbx.stop()
    return 0


def _load_stream(pbx: SimulatedPbx, args: argparse.Namespace, stop: threading.Event) -> None:
    """`--rate R [--calls N]`: R calls a second (of PBX time), N in all (0: until stopped)."""
    started = 0
    t0 = time.monotonic()
    while not stop.is_set() and (not args.calls or started < args.calls):
        due = t0 + started / args.rate / pbx.time_scale
        if stop.wait(max(0.0, due - time.monotonic())):
            break
        try:
            if args.mix == "load":
                pbx.start_load_call(talk_s=args.talk)
            else:
                pbx.start_random_call()
        except Exception as exc:  # a busy PBX: this caller gets no line
            log.warning("simulated call not started: %s", exc)
        started += 1
    if args.calls:
        while pbx.calls or pbx.pending():
            if stop.wait(0.2):
                return
        print(f"simulator: {started} calls played, {pbx.events_sent} events sent", flush=True)


# ---------------------------------------------------------------------------- ami-check
def cmd_ami_check(args: argparse.Namespace) -> int:
    """Log in; report the write rights Hotline lacks (ListCommands) and, given the PBX's manager.conf,
    the read classes and filtered events it lacks. Exit 0: all there, 1: something lacking, 2: bad input."""
    from telephony.ami_user import RightsReport, read_rights, write_rights
    from telephony.connection import AmiEndpoint, AmiError, list_commands
    from telephony.manager_rights import ManagerConfError, parse_manager_conf

    ami: AmiSettings = args.settings.ami
    host, port = args.ami or (ami.host, ami.port)
    ep = AmiEndpoint(host, port, args.user or ami.username, args.secret or ami.secret)
    reading = RightsReport()
    if args.manager_conf is not None:
        try:
            conf = parse_manager_conf(args.manager_conf.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ManagerConfError) as exc:
            return _fail("ami-check", f"{args.manager_conf}: {exc}")
        user = conf.user(ep.username)
        if user is None:
            return _fail("ami-check", f"{args.manager_conf} has no [{ep.username}] section")
        reading = read_rights(user)
    try:
        banner, listed = list_commands(ep)
    except AmiError as exc:
        return _fail("ami-check", str(exc))
    writing = write_rights(listed)
    print(f"AMI {host}:{port}: logged in as {ep.username} ({banner})")
    if writing.refused_actions:
        print(f"missing write rights: {', '.join(writing.missing_write)} "
              f"(refused: {', '.join(writing.refused_actions)})")
    else:
        print("write rights: every action Hotline sends is allowed")
    if writing.dangerous_write:
        print(f"more than Hotline needs: write {', '.join(writing.dangerous_write)} (Hotline never sends "
              "Command; remove it: see `hotline asterisk-config --section manager`)")
    if args.manager_conf is None:
        print("read rights: not checked (give --manager-conf with the PBX's manager.conf)")
    else:
        if reading.missing_read:
            print(f"missing read rights: {', '.join(reading.missing_read)}")
        if reading.filtered_events:
            print(f"events Hotline reads that the user's eventfilter lines drop: {', '.join(reading.filtered_events)}")
        if not reading.lacking:
            print("read rights: every event Hotline reads is sent")
    return 1 if writing.lacking or reading.lacking else 0


# ---------------------------------------------------------------------------- demo / serve
def cmd_demo(args: argparse.Namespace) -> int:
    from hotline_cli.roles.demo import run as run_demo
    from hotline_cli.startup import StartupError
    from hotline_cli.webserver import SiteBuildFailed

    try:
        return run_demo(args, lambda message: _fail("demo", message))
    except SiteBuildFailed:  # its worker said why
        return 2
    except StartupError as exc:
        return _fail("demo", str(exc))


def cmd_serve(args: argparse.Namespace) -> int:
    from hotline_cli.roles import run_serve
    from hotline_cli.startup import StartupError
    from hotline_cli.webserver import SiteBuildFailed

    try:
        return run_serve(args, lambda message: _fail("serve", message))
    except SiteBuildFailed:  # its worker said why
        return 2
    except StartupError as exc:
        return _fail("serve", str(exc))


def cmd_db(args: argparse.Namespace) -> int:
    from hotline_cli.startup import StartupError, open_database

    try:
        open_database(args.settings, seed_demo=args.seed_demo).dispose()
    except StartupError as exc:
        return _fail("db", str(exc))
    print(f"database {masked(args.settings.database_url)}: migrated{' and demo data seeded' if args.seed_demo else ''}")
    return 0


def _backup_folders(settings: Settings) -> dict[str, Path]:
    return {"recordings": settings.recordings_dir, "ivr-recordings": settings.data_dir / "ivr-recordings",
            "evidence": settings.data_dir / "evidence"}  # claim evidence uploaded in the claims console


def cmd_backup(args: argparse.Namespace) -> int:
    from cases.backup import backup
    from cases.errors import CasesError
    from hotline_cli.startup import StartupError, open_database

    try:
        with open_database(args.settings) as db:
            summary = backup(db, Path(args.out), _backup_folders(args.settings))
    except (StartupError, CasesError) as exc:
        return _fail("backup", str(exc))
    print(f"backup {summary.path}: {sum(summary.rows.values())} rows in {len(summary.rows)} tables, "
          f"{summary.files} files, schema {summary.revision}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from cases.backup import restore
    from cases.errors import CasesError
    from hotline_cli.startup import StartupError, open_database

    try:
        with open_database(args.settings) as db:
            summary = restore(db, Path(args.archive), _backup_folders(args.settings))
    except (StartupError, CasesError) as exc:
        return _fail("restore", str(exc))
    print(f"restored {summary.path}: {sum(summary.rows.values())} rows, {summary.files} files")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("simulator", help="run the PBX simulator: an AMI server playing hotline calls")
    p.add_argument("--listen", type=parse_listen, default=("127.0.0.1", 5038),
                   help="HOST:PORT (default 127.0.0.1:5038)")
    p.add_argument("--user", default="hotline")
    p.add_argument("--secret", default="hotline")
    p.add_argument("--manager-conf", type=Path, default=None, metavar="FILE",
                   help="answer every AMI user as this manager.conf says (read/write classes, eventfilter, "
                        "[general] channelvars); default: the user `hotline asterisk-config` generates, with "
                        "--user and --secret")
    p.add_argument("--allow", action="append", metavar="IP",
                   help="address allowed to connect (repeat; default 127.0.0.1), as manager.conf's permit")
    p.add_argument("--interval", type=float, default=15.0, help="mean seconds between calls; 0: none")
    p.add_argument("--scenarios", default="", help="comma list of scenarios to play at start")
    p.add_argument("--calls", type=int, default=0, help="with --rate: how many calls in all (0: until stopped)")
    p.add_argument("--rate", type=float, default=None, help="calls per second (load and soak runs)")
    p.add_argument("--agents", type=int, default=3, help="number of agent phones (agent1001, …)")
    p.add_argument("--mix", choices=("load", "demo"), default="load",
                   help="with --rate: load = trace 07's calls (service, key 1, answered); demo = all scenarios")
    p.add_argument("--talk", type=float, default=4.8, help="talk seconds of load calls")
    p.add_argument("--load-callers", type=int, default=None, metavar="N",
                   help="distinct caller numbers of load calls (default: a few thousand, the simulator's "
                        "LOAD_CALLERS; 0: its 8 demo callers)")
    p.add_argument("--routing", choices=("dialplan", "ami"), default="dialplan",
                   help="ami: calls wait in the holding step for Hotline's Redirect (3 s, then the default IVR)")
    p.add_argument("--speed", type=float, default=1.0, help="play calls this many times faster")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--recordings", default="", help="folder for the calls' recordings")
    p.add_argument("--voice", action="store_true", help="write speech recordings (espeak-ng) for answered calls")
    p.set_defaults(func=cmd_simulator)

    p = sub.add_parser("ami-check", help="log in to an Asterisk AMI once and report")
    p.add_argument("--ami", type=parse_listen, default=None, help="HOST:PORT (default from settings)")
    p.add_argument("--user", default="")
    p.add_argument("--secret", default="")
    p.add_argument("--manager-conf", type=Path, default=None, metavar="FILE",
                   help="the PBX's manager.conf: also check the user's read classes and event filters")
    p.set_defaults(func=cmd_ami_check)

    p = sub.add_parser("demo", help="everything in one process on embedded defaults (simulator, SQLite, console)")
    p.add_argument("--port", type=int, default=None, help="console HTTP port (default 8000)")
    p.add_argument("--ami-port", type=int, default=5038, help="port of the built-in PBX simulator's AMI")
    p.add_argument("--interval", type=float, default=20.0, help="mean seconds between simulated calls; 0: none")
    p.add_argument("--fresh", action="store_true", help="start from an empty demo database")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--no-live", action="store_true", help="no live transcripts (AudioSocket taps of answered calls)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="run Hotline against a real Asterisk (settings: AMI, database, console)")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--role", choices=("all", "listener", "web", "worker", "live"), default="all",
                   help="all: one process; listener/web/worker/live: one job each, sharing events over Redis "
                        "(live: live transcripts, the speech model kept out of the listener)")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="listener/worker/live: serve Prometheus /metrics on 127.0.0.1:PORT (listener and live: "
                        "/status there too; web: both on --port)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("backup", help="the database and the recordings into one .tar.gz")
    p.add_argument("out", help="FILE.tar.gz")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="a backup into an empty database (SQLite or PostgreSQL) and its folders")
    p.add_argument("archive", help="FILE.tar.gz made by hotline backup")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("db", help="create or upgrade the database schema")
    p.add_argument("--seed-demo", action="store_true", help="also seed the demo customers, shipments and users")
    p.set_defaults(func=cmd_db)

    from transcripts.cli import add_transcribe_parser

    add_transcribe_parser(sub)
    # Each package may add its own subcommands: a `cli.py` with `register_cli(subparsers)`.
    import importlib

    for module in PLUGIN_MODULES:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue
            raise
        hook = getattr(mod, "register_cli", None)
        if hook is not None:
            hook(sub)


PLUGIN_MODULES = ("cases.cli", "ivr.cli", "transcripts.cli", "agent_console.cli", "telephony.cli")
