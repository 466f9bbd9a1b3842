"""AMI ingest on one core: the real load captures 07 + 07b through framing, parsing, call state and
domain events, against a bare split parser measured in the same run.

    .venv/bin/python benchmarks/ami_ingest.py [--rounds 5] [--traces DIR]

Prints events/s for both and their ratio. Goal (issue 3): >= 100k events/s, ratio >= 0.4.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telephony.calls import CallTracker  # noqa: E402
from telephony.events import CallEnded, DomainEvent  # noqa: E402
from telephony.frames import FrameParser  # noqa: E402

CHUNK = 16 * 1024


def load(traces: Path) -> list[bytes]:
    data = [gzip.decompress((traces / f"{n}.ami.gz").read_bytes())
            for n in ("07-load-service-hotline", "07b-burst-service-hotline-overload")]
    return [d[i : i + CHUNK] for d in data for i in range(0, len(d), CHUNK)]


def bare(chunks: list[bytes]) -> int:
    """Reference: split on the blank line, decode, split lines and keys into a dict; nothing else."""
    buf = b""
    n = 0
    for chunk in chunks:
        buf += chunk
        *frames, buf = buf.split(b"\r\n\r\n")
        for frame in frames:
            fields = dict(line.split(": ", 1) for line in frame.decode().split("\r\n") if ": " in line)
            if "Event" in fields:
                n += 1
    return n


def hotline(chunks: list[bytes]) -> tuple[int, int]:
    ended = 0

    def publish(event: DomainEvent) -> None:
        nonlocal ended
        if isinstance(event, CallEnded):
            ended += 1

    parser = FrameParser()
    tracker = CallTracker(publish)
    now = time.time()
    for chunk in chunks:
        for msg in parser.feed(chunk, now):
            tracker.feed(msg)
    return tracker.events_seen, ended


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--traces", type=Path, default=None)
    args = ap.parse_args()
    here = Path(__file__).resolve().parent.parent
    traces = args.traces or next(p for p in (here.parent / "shared" / "asterisk-traces",
                                             here / "tests" / "fixtures" / "asterisk-traces") if p.exists())
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    chunks = load(traces)
    ref_rates, our_rates = [], []
    events = calls = 0
    for _ in range(args.rounds):  # interleaved rounds: the machine is shared and noisy
        gc.collect()
        t = time.perf_counter()
        n_ref = bare(chunks)
        ref_rates.append(n_ref / (time.perf_counter() - t))
        gc.collect()
        t = time.perf_counter()
        events, calls = hotline(chunks)
        our_rates.append(events / (time.perf_counter() - t))
    ref, ours = statistics.median(ref_rates), statistics.median(our_rates)
    print(f"input: traces 07 + 07b, {events} events, {calls} calls, {len(chunks)} reads of {CHUNK} bytes")
    print(f"bare split parser (reference): {ref:,.0f} events/s (median of {args.rounds})")
    print(f"hotline framing+parse+call state+events: {ours:,.0f} events/s (median of {args.rounds})")
    print(f"ratio: {ours / ref:.2f}  (goal >= 100,000 events/s and ratio >= 0.4)")


if __name__ == "__main__":
    main()
