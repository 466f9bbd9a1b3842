"""`hotline serve` (role `all`): the AMI links, the call store, transcription, routing and the console in one
process. Wiring only."""

from __future__ import annotations

import argparse

from hotline_cli.config import Settings
from hotline_cli.foreground import sigterm_as_interrupt
from hotline_cli.process import build_process, start_router, start_wait_limits
from hotline_cli.site import process_site, serve_site
from hotline_cli.webserver import ConsoleSite, Report
from telephony.connection import AmiEndpoint


def run(args: argparse.Namespace, report: Report) -> int:
    """`hotline serve`: one process for the whole site, the console on the settings' web server."""
    sigterm_as_interrupt()
    settings: Settings = args.settings
    endpoints = [AmiEndpoint(a.host, a.port, a.username, a.secret, a.name) for a in settings.pbxs()]
    pbxs = ", ".join(f"{e.name} {e.host}:{e.port}" for e in endpoints)
    print(f"Hotline: console http://{settings.http_host}:{args.port or settings.http_port}; AMI {pbxs}", flush=True)
    serve_site(settings, args.port, lambda: embedded_site(settings, endpoints), report)
    return 0


def embedded_site(settings: Settings, endpoints: list[AmiEndpoint]) -> ConsoleSite:
    """`hotline serve`: the AMI links, the call store, transcription, routing and the console in one process."""
    proc = build_process(settings, endpoints, seed=False)
    router = start_router(settings, proc.bus, proc.control)
    limits = start_wait_limits(settings, proc.bus, lambda lid: proc.control.actions(proc.control.pbx_of_call(lid)))
    proc.start()

    def close() -> None:
        if router is not None:
            router.stop()
        if limits is not None:
            limits.stop()
        proc.stop()

    return process_site(proc, demo=False, close=close)
