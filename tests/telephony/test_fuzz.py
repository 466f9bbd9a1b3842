"""Fuzzing the framing, parser and call state with mutated frames seeded from the real captures:
no crash, bounded memory, and the stream goes on after a bad frame.

HOTLINE_FUZZ_FRAMES sets the number of mutated frames (default 1,000,000, as issue 3 asks)."""

from __future__ import annotations

import gzip
import os
import random
import resource
from pathlib import Path

from telephony.calls import CallTracker
from telephony.frames import FrameParser

FRAMES = int(os.environ.get("HOTLINE_FUZZ_FRAMES", "1000000"))
SENTINEL = b"Event: FuzzSentinel\r\nSeq: %d\r\n\r\n"
JUNK = [b"\r\n", b"\n", b"\x00", b"\xff\xfe", b": ", b":", b"Event: ", b"Linkedid: ", b"Uniqueid: 1.1",
        "홍길동".encode()[:4], b"A" * 3000, b"\r\n\r\n", b"Event: Hangup", b"Event: Newchannel"]


def seeds(traces: Path) -> list[bytes]:
    data = gzip.decompress((traces / "07-load-service-hotline.ami.gz").read_bytes())
    frames = data.split(b"\r\n\r\n")[1:-1]
    for name in ("02-claims-hotline-menu-timeout-agent-hangs-up.ami", "05-ami-actions.ami"):
        frames += (traces / name).read_bytes().split(b"\r\n\r\n")[1:-1]
    return frames


def mutate(rng: random.Random, frame: bytes) -> bytes:
    b = bytearray(frame)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randrange(len(b) + 1)
        if op == 0 and b:  # flip a byte
            b[min(pos, len(b) - 1)] = rng.randrange(256)
        elif op == 1:  # insert junk
            b[pos:pos] = rng.choice(JUNK)
        elif op == 2:  # cut a piece out
            del b[pos : pos + rng.randint(1, 40)]
        elif op == 3:  # duplicate a line
            lines = bytes(b).split(b"\r\n")
            lines.insert(rng.randrange(len(lines) + 1), rng.choice(lines))
            b = bytearray(b"\r\n".join(lines))
        elif op == 4:  # truncate
            del b[pos:]
        elif op == 5:  # a random Linkedid/Uniqueid so calls pile up
            b += b"\r\nLinkedid: %d.%d\r\nUniqueid: %d.%d" % ((rng.randrange(10**6),) * 2 + (rng.randrange(10**6),) * 2)
        else:  # LF-only line ends
            b = bytearray(bytes(b).replace(b"\r\n", b"\n"))
    if rng.random() < 0.0005:  # now and then a frame far over the size limit
        b += b"\r\nX: " + b"y" * 70000
    return bytes(b)


def test_mutated_frames_never_break_the_stream(traces: Path) -> None:
    rng = random.Random(1234)
    pool = seeds(traces)
    parser = FrameParser(max_frame=64 * 1024)
    tracker = CallTracker(lambda e: None)
    tracker.max_live_calls = 5000
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sentinels_sent = sentinels_seen = 0
    batch: list[bytes] = []
    for i in range(FRAMES):
        batch.append(mutate(rng, rng.choice(pool)) + b"\r\n\r\n")
        if len(batch) == 200:
            # a well-formed frame after bad ones must come through, whatever they were
            batch.append(SENTINEL % sentinels_sent)
            sentinels_sent += 1
            data = b"".join(batch)
            batch.clear()
            pos = 0
            while pos < len(data):  # random read sizes, as TCP gives them
                n = rng.randint(1, 65536)
                for msg in parser.feed(data[pos : pos + n], float(i)):
                    if msg.event == "FuzzSentinel":
                        sentinels_seen += 1
                    tracker.feed(msg)
                pos += n
        if i % 100_000 == 99_999:
            assert parser.pending_bytes <= 64 * 1024
            assert len(tracker.live_call_ids()) <= 5000
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    # every mutated frame still ends in a blank line, so every sentinel after it must come through
    assert sentinels_seen == sentinels_sent
    assert grown_kib < 200 * 1024, f"peak RSS grew {grown_kib / 1024:.0f} MiB"
    assert tracker.events_seen > FRAMES // 4
    print(f"\n{FRAMES} mutated frames: {tracker.events_seen} events parsed, {parser.stats.garbage_lines} garbage "
          f"lines, {parser.stats.oversized_frames} oversized, {sentinels_seen}/{sentinels_sent} sentinels, "
          f"peak RSS +{grown_kib / 1024:.0f} MiB")
