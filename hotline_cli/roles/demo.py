"""`hotline demo`: the PBX simulator, its IVR, calls every `--interval` s and the whole site in one process
(the web server's worker). Wiring only."""

from __future__ import annotations

import argparse
import dataclasses
import threading
from pathlib import Path

from cases.demo_data import DEMO_WAYBILLS
from cases.private_files import private_dir
from cases.redact import masked
from hotline_cli.config import Settings
from hotline_cli.foreground import sigterm_as_interrupt
from hotline_cli.process import apply_switch_interval, build_process, start_wait_limits
from hotline_cli.site import process_site, serve_site
from hotline_cli.startup import StartupError
from hotline_cli.webserver import ConsoleSite, Report
from telephony.connection import AmiEndpoint


def run(args: argparse.Namespace, report: Report) -> int:
    """`hotline demo`: the PBX simulator, its IVR and the whole site in the web server's process."""
    sigterm_as_interrupt()
    settings: Settings = args.settings
    apply_switch_interval(settings)
    if not getattr(args, "no_live", False):  # the demo shows live transcripts, on a free port
        settings = dataclasses.replace(settings, live_transcripts=True, audiosocket_port=0)
    if args.fresh and settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url[len("sqlite:///"):]).unlink(missing_ok=True)
    private_dir(settings.recordings_dir)
    port = args.port or settings.http_port
    serve_site(settings, port, lambda: demo_site(settings, args, port), report)
    print("Hotline demo stopped", flush=True)
    return 0


def demo_site(settings: Settings, args: argparse.Namespace, port: int) -> ConsoleSite:
    """The demo, built in the web server's process: simulator, AMI server, IVR, calls every `--interval` s."""
    from hotline_cli.demo_calls import attach_voice, call_stream, demo_callers
    from hotline_cli.demo_ivr import DemoIvr
    from telephony.simulator.pbx import SimulatedPbx
    from telephony.simulator.server import AmiServer, Credentials

    pbx = SimulatedPbx(recordings_dir=str(settings.recordings_dir.resolve()), seed=args.seed, callers=demo_callers())
    attach_voice(pbx)
    try:
        server = AmiServer(("127.0.0.1", args.ami_port), pbx, Credentials(settings.ami.username, settings.ami.secret))
    except OSError as exc:
        raise StartupError(f"the PBX simulator cannot listen on 127.0.0.1:{args.ami_port}: {exc.strerror} "
                           "(choose another with --ami-port)") from None
    endpoint = AmiEndpoint("127.0.0.1", server.port, settings.ami.username, settings.ami.secret, "simulator")
    proc = build_process(settings, [endpoint], seed=True)
    ivr = DemoIvr(proc.db, settings.data_dir)
    pbx.ivr_hook = ivr.visit
    limits = start_wait_limits(settings, proc.bus, lambda lid: proc.control.actions(proc.control.pbx_of_call(lid)))
    pbx.start()
    server.serve_in_thread()
    proc.start()
    stop = threading.Event()
    if args.interval > 0:
        threading.Thread(target=call_stream, args=(pbx, args.interval, stop, DEMO_WAYBILLS), daemon=True).start()

    def close() -> None:
        stop.set()
        if limits is not None:
            limits.stop()
        pbx.stop()
        server.shutdown_all()
        ivr.stop()
        proc.stop()

    print(f"Hotline demo: console http://{settings.http_host}:{port}  (agent1001/agent1002/agent1003/supervisor, "
          f"password hotline-demo); PBX simulator AMI on 127.0.0.1:{server.port}; IVR (FastAGI) on "
          f"127.0.0.1:{ivr.port}; database "
          f"{masked(settings.database_url)}; Ctrl-C stops", flush=True)
    return process_site(proc, demo=True, close=close)
