"""Feed recorded AMI bytes through the same code as live traffic (`hotline replay`).

A capture `NAME.ami[.gz]` may have a sidecar `NAME.timeline.tsv[.gz]` (one row per recv with its
unix time and byte offset, as our capture tool and the shared traces write). With it, every
message gets the time it was received, exactly as live. Without it, times come from the stream
itself (Timestamp fields when `timestampevents=yes`, else channel Uniqueids: 1 s resolution).
Several files are successive connections to the same Asterisk.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from telephony.calls import CallTracker
from telephony.events import CallEnded, DomainEvent
from telephony.frames import FrameParser, Message
from telephony.records import CallRecord

log = logging.getLogger(__name__)

CHUNK = 64 * 1024


class ReplayError(Exception):
    """A capture that cannot be replayed (missing, unreadable, not AMI, truncated)."""


def _open_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ReplayError(f"{path}: no such file") from None
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read ({exc.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ReplayError(f"{path}: corrupt gzip data ({exc})") from None
    return raw


def _timeline_for(path: Path) -> list[tuple[int, int, float]] | None:
    name = path.name
    for suffix in (".ami.gz", ".ami"):
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            break
    else:
        return None
    for cand in (path.with_name(stem + ".timeline.tsv"), path.with_name(stem + ".timeline.tsv.gz")):
        if cand.exists():
            try:
                text = _open_bytes(cand).decode("utf-8")
                rows = []
                for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
                    if row.get("direction") == "recv":
                        rows.append((int(row["offset"]), int(row["length"]), float(row["unix_time"])))
                return rows
            except (ValueError, KeyError, UnicodeDecodeError, ReplayError) as exc:
                log.warning("ignoring unreadable timeline %s: %s", cand, exc)
                return None
    return None


def _chunks(data: bytes, timeline: list[tuple[int, int, float]] | None) -> Iterator[tuple[bytes, float | None]]:
    if timeline:
        pos = 0
        for offset, length, at in timeline:
            if offset != pos or offset + length > len(data):
                log.warning("timeline does not match the capture at byte %s; times from the stream", pos)
                break
            yield data[offset : offset + length], at
            pos = offset + length
        else:
            if pos < len(data):
                yield data[pos:], None
            return
        data = data[pos:]
    for i in range(0, len(data), CHUNK):
        yield data[i : i + CHUNK], None


def replay_files(paths: Sequence[Path], hotlines: dict[str, str] | None = None,
                 only: Callable[[Message], bool] | None = None) -> list[CallRecord]:
    """Replay captures in order; return every call, ended or not, in order of its end. `only`: the events
    to feed (e.g. what an AMI user would have received of a capture taken by one reading everything)."""
    records: list[CallRecord] = []

    def publish(event: DomainEvent) -> None:
        if isinstance(event, CallEnded):
            records.append(event.record)

    tracker = CallTracker(publish, hotlines=hotlines, clock=lambda: 0.0)
    for path in paths:
        data = _open_bytes(path)
        if not data.startswith(b"Asterisk Call Manager/"):
            head = data[:40].decode("utf-8", errors="replace").splitlines()[0] if data else "empty file"
            raise ReplayError(f"{path}: not an AMI capture (it should start with the "
                              f"'Asterisk Call Manager/' banner, found {head!r})")
        parser = FrameParser(max_frame=max(len(data) + 1, 1 << 20))
        for chunk, at in _chunks(data, _timeline_for(path)):
            for msg in parser.feed(chunk, at):
                if only is None or msg.event is None or only(msg):
                    tracker.feed(msg)
        if parser.pending_bytes:
            log.warning("%s: ends inside a message (%s bytes after the last complete one)",
                        path, parser.pending_bytes)
        if parser.stats.garbage_lines:
            log.warning("%s: %s garbage lines skipped", path, parser.stats.garbage_lines)
    tracker.close_all()
    return records
