"""`hotline serve [--role ROLE]`: the wiring this process runs, picked from `ROLES`. Each role is a module of
wiring only: what it builds, in what order, and what it stops (the parts themselves live in their packages;
the shared pieces in hotline_cli/process.py and hotline_cli/site.py).

    all       embedded.py   the whole site in one process (the default)
    listener  listener.py   AMI links, call store, routing; events out over Redis
    web       web.py        a console fed from Redis (several behind nginx)
    worker    worker.py     RQ jobs: transcriptions and reports
    live      live.py       live transcripts: the speech model and the AudioSocket server
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from hotline_cli.process import apply_switch_interval
from hotline_cli.roles import embedded, listener, live, web, worker
from hotline_cli.startup import StartupError
from hotline_cli.webserver import Report

ROLES: dict[str, Callable[[argparse.Namespace, Report], int]] = {
    "all": embedded.run,
    "listener": listener.run,
    "web": web.run,
    "worker": worker.run,
    "live": live.run,
}


def run_serve(args: argparse.Namespace, report: Report) -> int:
    """`hotline serve`: the role's wiring; `StartupError` for a role that does not exist."""
    apply_switch_interval(args.settings)
    role = getattr(args, "role", "all")
    runner = ROLES.get(role)
    if runner is None:
        raise StartupError(f"unknown role {role!r}")
    return runner(args, report)
