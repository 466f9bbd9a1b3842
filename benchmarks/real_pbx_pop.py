"""The screen pop on a real Asterisk: the agent's phone receiving the INVITE → the pop in the agent's console.

A real Asterisk 20 (HOTLINE_ASTERISK, DEVELOPERS.md) loaded with the generated configuration, `hotline serve`
(routing ami) and `hotline ivr serve` as a site runs them (tests/pbx/hotline_site.py), N agents' phones
(sipp: they log when each INVITE arrives) and N agents logged in to the console over Socket.IO (the pop's
arrival time). Each round, N callers (sipp) call the service hotline at once and press 0 for an agent; the
queue rings one free agent per caller, so N phones ring together. Latency = the pop's arrival − the INVITE's
arrival at that agent's phone, on the same clock; negative when the pop came first (Asterisk reports the
agent called as it sends the INVITE). The goal of issue #15: p99 ≤ 50 ms with many calls at once.

    HOTLINE_ASTERISK=/opt/asterisk-20 .venv/bin/python benchmarks/real_pbx_pop.py [--agents 10] [--rounds 3]
                                                                                  [--tech SIP|PJSIP]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

import requests  # noqa: E402
import socketio  # noqa: E402
from pbx.asterisk_lab import EXE, Key, asterisk_prefix, hotline_env  # noqa: E402
from pbx.hotline_site import WRAP_UP_S, Site, open_site  # noqa: E402

from cases.accounts import create_user  # noqa: E402
from cases.demo_data import DEMO_PASSWORD  # noqa: E402
from tests.test_roles import login  # noqa: E402


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tech", choices=("SIP", "PJSIP"), default="SIP")
    ap.add_argument("--keep", type=Path, help="keep the site's files (logs, sipp traces) in this folder")
    args = ap.parse_args(argv)
    prefix = asterisk_prefix()
    if prefix is None:
        print("real_pbx_pop: HOTLINE_ASTERISK does not name an Asterisk 20 install: nothing measured "
              "(DEVELOPERS.md builds one)")
        return 0
    agents = [f"agent{2001 + i}" for i in range(args.agents)]
    with tempfile.TemporaryDirectory(prefix="real-pbx-pop-") as tmp:
        root = args.keep or Path(tmp)
        prompts = root / "prompts"
        subprocess.run([*EXE, "prompts", "build", "--out", str(prompts), "--lang", "zh"], check=True,
                       capture_output=True, timeout=300, env=hotline_env())
        with open_site(prefix, prompts, root / "site", args.tech, agents, ring_ms=1500) as site:
            with site.db.session() as s:
                for agent in agents:
                    create_user(s, agent, DEMO_PASSWORD, "agent", agent)
            pops: dict[str, list[float]] = {a: [] for a in agents}
            lock = threading.Lock()
            clients = []
            for agent in agents:
                sio = socketio.Client(http_session=login(site.base, agent))
                sio.on("screen_pop", lambda data, a=agent: _arrived(pops, lock, a))
                sio.connect(site.base, transports=["websocket"])
                clients.append(sio)
            hops0 = _hop_buckets(site.base)
            alone = _round(site, agents[:1], 1, args.rounds)  # the reference: one call at a time
            hops1 = _hop_buckets(site.base)
            together = _round(site, agents, 2, args.rounds)
            hops2 = _hop_buckets(site.base)
            for sio in clients:
                sio.disconnect()
            first = _latencies(site, agents[:1], pops, alone)
            rest = _latencies(site, agents, pops, together)
    _report(args, first, rest)
    for name, before, after in (("one at a time", hops0, hops1), (f"{args.agents} at once", hops1, hops2)):
        print(f"  the console's hops, {name} (upper bound of the bucket holding p50 / p99): " + ", ".join(
            f"{hop} {_bucket_pct(before, after, hop, 50)} / {_bucket_pct(before, after, hop, 99)}"
            for hop in HOPS))
    return 0


def _round(site: Site, agents: list[str], phase: int, rounds: int) -> tuple[float, float]:
    """`rounds` rounds, each of one call per agent placed at once; (start, end) of the phase on the clock."""
    start = time.time()
    for r in range(rounds):
        procs = [site.sipp.call(f"13{phase}{r:03d}{i:05d}", "4008001", [Key(2.0, "0")], hangup_s=9.0)
                 for i in range(len(agents))]
        for p in procs:
            p.wait(120)
        time.sleep(WRAP_UP_S + 2)  # the agents' wrap-up ends before the next round
    return start, time.time()


def _latencies(site: Site, agents: list[str], pops: dict[str, list[float]], phase: tuple[float, float]) -> list[float]:
    """Each pop of the phase against the INVITE its agent's phone received last before it (within 1 s after)."""
    out: list[float] = []
    for agent in agents:
        invites = [i for i in site.sipp.invites(agent) if phase[0] <= i <= phase[1]]
        for at in (p for p in pops[agent] if phase[0] <= p <= phase[1]):
            before = [i for i in invites if i <= at + 1.0]
            if before:
                out.append(at - max(before))
    return out


HOPS = ("listener", "queue", "build", "emit")
Buckets = dict[tuple[str, float], float]


def _hop_buckets(base: str) -> Buckets:
    """The console's pop hop histogram (hotline_pop_hop_seconds, agent_console/metrics.py) from /metrics."""
    text = requests.get(f"{base}/metrics", timeout=10).text
    out: Buckets = {}
    for m in re.finditer(r'^hotline_pop_hop_seconds_bucket\{hop="(\w+)",le="([^"]+)"\} ([0-9.e+]+)$', text, re.M):
        out[(m.group(1), float(m.group(2)))] = float(m.group(3))
    return out


def _bucket_pct(before: Buckets, after: Buckets, hop: str, p: float) -> str:
    bounds = sorted(le for (h, le) in after if h == hop)
    counts = [after[(hop, le)] - before.get((hop, le), 0.0) for le in bounds]
    if not counts or counts[-1] <= 0:
        return "–"
    for le, n in zip(bounds, counts, strict=True):
        if n >= counts[-1] * p / 100:
            return f"≤{le * 1000:g} ms"
    return "–"


def _arrived(pops: dict[str, list[float]], lock: threading.Lock, agent: str) -> None:
    now = time.time()
    with lock:
        pops[agent].append(now)


def _figures(latencies: list[float]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in latencies)

    def pct(p: float) -> float:
        return ms[min(len(ms) - 1, int(round(p / 100 * (len(ms) - 1))))] if ms else float("nan")

    return {"n": len(ms), "p50": pct(50), "p90": pct(90), "p99": pct(99), "max": ms[-1] if ms else float("nan"),
            "mean": statistics.fmean(ms) if ms else float("nan")}


def _report(args: argparse.Namespace, alone: list[float], together: list[float]) -> None:
    a, t = _figures(alone), _figures(together)
    print(f"real Asterisk 20 ({args.tech}): the agent's phone receives the INVITE → the pop in the agent's console")
    for name, f in ((f"one call at a time ({args.rounds} calls), the reference", a),
                    (f"{args.agents} calls at once × {args.rounds} rounds", t)):
        print(f"  {name}: n={f['n']:.0f} p50 {f['p50']:.1f} ms, p90 {f['p90']:.1f} ms, p99 {f['p99']:.1f} ms, "
              f"max {f['max']:.1f} ms, mean {f['mean']:.1f} ms")
    if a["n"] and t["n"]:
        print(f"  ratio, {args.agents} at once / one at a time: p50 {t['p50'] / a['p50']:.2f}×, "
              f"p99 {t['p99'] / a['p99']:.2f}×")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
