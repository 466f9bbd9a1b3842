"""Wallboard push latency: a caller joins a queue at the simulated Asterisk (QueueCallerJoin bytes
handed to the AMI session) → the supervisor's console receives the wallboard update listing that
caller, under 10 calls/s with many agents connected (issue 5's goal: p99 <= 250 ms).

    .venv/bin/python benchmarks/wallboard.py [--agents 30] [--rate 10] [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screen_pop import PASSWORD, client_for, pct, serve  # noqa: E402

from agent_console.app import create_app, dispatcher  # noqa: E402
from agent_console.config import ConsoleConfig  # noqa: E402
from cases import services  # noqa: E402
from cases.db import Database  # noqa: E402
from telephony.connection import AmiEndpoint  # noqa: E402
from telephony.events import EventBus  # noqa: E402
from telephony.pbxlink import CombinedLive, PbxControl, make_links  # noqa: E402
from telephony.simulator.pbx import SimulatedPbx, make_agents  # noqa: E402
from telephony.simulator.server import AmiServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=30)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    db = Database(f"sqlite:///{tmp / 'b.db'}")
    db.migrate()
    with db.session() as s:
        services.seed_demo(s)
        services.create_user(s, "boss", PASSWORD, "supervisor", "主管")
        for a in make_agents(args.agents)[3:]:
            services.create_user(s, a.peer, PASSWORD, "agent", a.member_name)
    pbx = SimulatedPbx(recordings_dir=str(tmp), agents=make_agents(args.agents), time_scale=10.0, seed=4,
                       wrap_up_s=0.2)
    joined: dict[str, float] = {}

    def on_batch(batch: list[list[tuple[str, str]]]) -> None:
        now = time.time()
        for fields in batch:
            if fields and fields[0] == ("Event", "QueueCallerJoin"):
                joined.setdefault(dict(fields).get("Linkedid", ""), now)

    server = AmiServer(("127.0.0.1", 0), pbx)
    pbx.add_listener(on_batch)
    pbx.start()
    server.serve_in_thread()
    bus = EventBus()
    links = make_links([AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline", "sim")], bus)
    for link in links:
        link.client.start()
    app, _ = create_app(ConsoleConfig(secret_key="bench", wrap_up_s=0), db, bus,
                        CombinedLive([lk.tracker for lk in links]), control=PbxControl(links))
    base, web = serve(app)
    seen: dict[str, float] = {}

    def on_board(data: object) -> None:
        now = time.time()
        text = json.dumps(data, ensure_ascii=False)
        for lid in joined:
            if lid not in seen and lid in text:
                seen[lid] = now

    sup = client_for(base, "boss", lambda pop: None)
    sup.on("wallboard", on_board)  # type: ignore[arg-type]
    sup.on("wallboard_delta", on_board)  # type: ignore[arg-type]
    agents = [client_for(base, a.peer, lambda pop: None) for a in make_agents(args.agents)[3:]]
    print(f"1 supervisor and {len(agents)} agents connected; calls at {args.rate}/s for {args.seconds} s", flush=True)
    end = time.time() + args.seconds
    calls = 0
    while time.time() < end:
        try:
            pbx.start_load_call(talk_s=3.0)
            calls += 1
        except Exception:
            pass
        time.sleep(1 / args.rate)
    time.sleep(3)
    lat = [seen[k] - joined[k] for k in seen if k in joined]
    print(f"calls {calls}, queue joins {len(joined)}, shown on the wallboard {len(lat)}")
    print(f"queue change -> wallboard  p50 {pct(lat, 50):.1f} ms  p99 {pct(lat, 99):.1f} ms "
          "(goal p99 <= 250 ms; updates are coalesced to at most one per 0.2 s)")
    for c in [sup, *agents]:
        c.disconnect()
    dispatcher(app).stop()
    for link in links:
        link.client.stop()
    server.shutdown_all()
    pbx.stop()
    web.shutdown()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
