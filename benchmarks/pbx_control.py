"""PBX control round trip: a QueuePause (pause, then unpause) from the console's `ConsoleControl`
on the listener's own AMI link (one process) vs from a web process over Redis to the listener's
`ControlServer` (processes by role), against the PBX simulator, in the same run.

    PYTHONPATH=. .venv/bin/python benchmarks/pbx_control.py [--n 300] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_console.config import ConsoleConfig  # noqa: E402
from agent_console.control import ConsoleControl  # noqa: E402
from hotline_cli.pbxrpc import ControlServer, RemotePbx  # noqa: E402
from telephony.connection import AmiEndpoint  # noqa: E402
from telephony.events import EventBus  # noqa: E402
from telephony.pbxlink import PbxControl, make_links  # noqa: E402
from telephony.simulator.pbx import SimulatedPbx  # noqa: E402
from telephony.simulator.server import AmiServer  # noqa: E402


def timed(control: ConsoleControl, n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        if i % 2:
            control.ready("agent1001")
        else:
            control.pause("agent1001", "meal")
        out.append((time.perf_counter() - t0) * 1000)
    return out


def report(name: str, ms: list[float]) -> float:
    ms = sorted(ms)
    med = statistics.median(ms)
    print(f"{name:>26}: median {med:6.2f} ms  p95 {ms[int(len(ms) * 0.95) - 1]:6.2f} ms  max {ms[-1]:6.2f} ms")
    return med


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pbx = SimulatedPbx(recordings_dir=tmp, time_scale=4.0, seed=11)
        server = AmiServer(("127.0.0.1", 0), pbx)
        pbx.start()
        server.serve_in_thread()
        links = make_links([AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline", "sim")], EventBus())
        for link in links:
            link.client.start()
        deadline = time.time() + 10
        while not all(link.client.connected.is_set() for link in links) and time.time() < deadline:
            time.sleep(0.02)
        key = f"bench-pbxctl-{uuid.uuid4().hex}"
        local = PbxControl(links)
        control_server = ControlServer(args.redis, local, key)
        control_server.ready.wait(5)
        config = ConsoleConfig(secret_key="bench", recordings_dir=Path(tmp))
        try:
            timed(ConsoleControl(config, local), 20)  # warm-up
            one = report("one process (AMI link)", timed(ConsoleControl(config, local), args.n))
            timed(ConsoleControl(config, RemotePbx(args.redis, key)), 20)
            web = report("web process (over Redis)", timed(ConsoleControl(config, RemotePbx(args.redis, key)), args.n))
            print(f"{'ratio':>26}: {web / one:.2f}x the one-process round trip ({args.n} actions each)")
            st = control_server.status()  # what the listener's /status shows of the same requests
            print(f"{'control server':>26}: {st['served']} served, {st['errors']} errors, {st['expired']} expired; "
                  f"last {st['last_latency_ms']} ms, max {st['max_latency_ms']} ms taken off Redis to answer ready")
        finally:
            control_server.stop()
            for link in links:
                link.client.stop()
            server.shutdown_all()
            pbx.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
