"""Memory per live call: 1,000 concurrent simulated calls held in the call tracker.

    .venv/bin/python benchmarks/memory_per_call.py [--calls 1000]

The simulator's scripts are played up to the moment each call is talking to its agent (every
call live, none ended) into one CallTracker; tracemalloc measures what the tracker holds.
Goal (issue 3): <= 20 KB per live call.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telephony.calls import CallTracker  # noqa: E402
from telephony.frames import Message  # noqa: E402
from telephony.simulator.pbx import SimulatedPbx  # noqa: E402
from telephony.simulator.people import make_agents  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=1000)
    args = ap.parse_args()
    pbx = SimulatedPbx(recordings_dir="/tmp", agents=make_agents(args.calls), seed=1)
    scripts = [pbx.start_call("service_answered", talk_s=600) for _ in range(args.calls)]
    # every call's events up to (not including) its first HangupRequest: all calls are live
    feeds = []
    for s in scripts:
        for t, fields in s.messages:
            d = dict(fields)
            if d.get("Event") == "HangupRequest":
                break
            feeds.append((t, d))
    feeds.sort(key=lambda x: x[0])
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    tracker = CallTracker(lambda e: None)
    now = time.time()
    for _, d in feeds:
        tracker.feed(Message(d, None, now))
    after = tracemalloc.take_snapshot()
    live = len(tracker.live_call_ids())
    held = sum(s.size_diff for s in after.compare_to(before, "filename"))
    del feeds, scripts
    print(f"live calls in the tracker: {live}")
    print(f"memory held by the tracker: {held / 1024:,.0f} KiB, {held / live / 1024:.1f} KiB per live call "
          "(goal <= 20 KB)")


if __name__ == "__main__":
    main()
