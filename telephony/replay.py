"""Feed recorded AMI bytes through the same code as live traffic (`hotline replay`).

A capture `NAME.ami[.gz]` may have a sidecar `NAME.timeline.tsv[.gz]` (one row per recv with its
unix time and byte offset, as our capture tool and the shared traces write). With it, every
message gets the time it was received, exactly as live. Without it, times come from the stream
itself (Timestamp fields when `timestampevents=yes`, else channel Uniqueids: 1 s resolution).
Several files are successive connections to the same Asterisk.

Snapshot answers in a capture (CoreShowChannels, QueueStatus: what the capturing client asked for,
whatever ActionID it gave) are applied where they stand in the stream with `CallTracker.reconcile`,
as the live listener's resync (`telephony.resync`) applies its own after every (re)connect: calls
that ended while no connection was open are closed, calls that began meanwhile are taken up. A
list answer's items are the answer's, never stream events (as live, where the connection hands
them to the action that asked).
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from telephony.actions import CHANNEL_LIST_EVENTS, QUEUE_STATUS_EVENTS, channels_of, queue_status_of
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


@dataclass(slots=True)
class _ListAnswer:
    """One list action's answer as it comes in: its response (`EventList: start`), then its items up
    to the one with `EventList: Complete`."""

    response: Message
    items: list[Message] = field(default_factory=list)
    completed_at: float = 0.0  # when its last item came: the time of what it tells

    @property
    def kind(self) -> str:
        """"channels" (CoreShowChannels), "queues" (QueueStatus) or "other", told by the items' names,
        since the capturing client's ActionIDs say nothing reliable."""
        names = {m.event for m in self.items}
        if names & CHANNEL_LIST_EVENTS:
            return "channels"
        if names & QUEUE_STATUS_EVENTS:
            return "queues"
        return "other"


class _SnapshotAnswers:
    """The list answers of one connection's stream, the snapshot ones applied as the live resync applies
    its own: the events after a snapshot's place in the stream (its response) are held
    (`begin_buffering`) until it is applied (`reconcile`, which processes them after). A CoreShowChannels
    answer followed by a QueueStatus one (the live resync's order) is one snapshot; either alone is
    applied alone. The items of any list answer are kept from the event stream, as live."""

    def __init__(self, tracker: CallTracker, path: Path) -> None:
        self._tracker = tracker
        self._path = path
        self._open: dict[str, _ListAnswer] = {}  # ActionID ("" when the client gave none) -> answer
        self._channels: _ListAnswer | None = None  # complete; applied with the QueueStatus answer if one follows
        self._asked_at: float | None = None  # where the held events begin: the snapshot's place in the stream
        self.applied = 0

    def _time(self, msg: Message) -> float:
        if msg.received_at is not None:
            return msg.received_at
        return self._tracker.last_event_at or 0.0

    def take(self, msg: Message) -> bool:
        """Whether `msg` is a response or an item of a list answer (never an event for the tracker)."""
        if msg.event is None:
            self._on_response(msg)
            return True
        aid = msg.action_id or ""
        answer = self._open.get(aid)
        if answer is None or (not aid and msg.event not in CHANNEL_LIST_EVENTS | QUEUE_STATUS_EVENTS):
            return False
        answer.items.append(msg)
        if msg.get("EventList").lower() == "complete":
            del self._open[aid]
            answer.completed_at = self._time(msg)
            self._complete(answer)
        return True

    def _on_response(self, msg: Message) -> None:
        if msg.response == "Success" and msg.get("EventList").lower() == "start":
            # which list this is shows only in its items: hold the stream from here, as the live
            # resync does from its CoreShowChannels response (released unchanged if it is no snapshot)
            if self._asked_at is None:
                self._asked_at = self._time(msg)
                self._tracker.begin_buffering()
            self._open[msg.action_id or ""] = _ListAnswer(msg)
        elif self._channels is not None:
            self._apply(self._channels, None)  # no QueueStatus answer follows the channels

    def _complete(self, answer: _ListAnswer) -> None:
        kind = answer.kind
        if kind == "channels":
            if self._channels is not None:
                self._apply(self._channels, None)
            self._channels = answer
        elif kind == "queues":
            self._apply(self._channels, answer)
        elif self._channels is not None:
            self._apply(self._channels, None)
        self._release()

    def _apply(self, channels: _ListAnswer | None, queues: _ListAnswer | None) -> None:
        """`reconcile` as the live resync calls it: `asked_at` where the held events begin (the first
        answer's response), `now` when the last answer was complete."""
        answers = [a for a in (channels, queues) if a is not None]
        now = max(a.completed_at for a in answers)
        self._tracker.reconcile(channels_of(channels.items) if channels is not None else None,
                                queue_status_of(queues.items) if queues is not None else None,
                                self._asked_at if self._asked_at is not None else now, now=now)
        self._channels = None
        self._asked_at = None  # reconcile processed the held events
        self.applied += 1

    def _release(self) -> None:
        """Nothing left to wait for: the held events go on to the tracker."""
        if not self._open and self._channels is None and self._asked_at is not None:
            self._asked_at = None
            self._tracker.end_buffering()

    def end(self) -> None:
        """The connection ended. An answer it cut off is dropped, and a CoreShowChannels answer still
        waiting for its QueueStatus one with it, as the live resync drops a snapshot when its connection
        is lost; the held events go on to the tracker."""
        if self._open or self._channels is not None:
            log.warning("%s: the connection ends inside the answer to an action (%s); a snapshot it belongs to "
                        "is not applied", self._path,
                        ", ".join(a.kind for a in self._open.values()) or "no QueueStatus after CoreShowChannels")
        self._open.clear()
        self._channels = None
        self._asked_at = None
        self._tracker.end_buffering()


def replay_files(paths: Sequence[Path], hotlines: dict[str, str] | None = None,
                 only: Callable[[Message], bool] | None = None) -> list[CallRecord]:
    """Replay captures in order; return every call, ended or not, in order of its end. Each file is one
    connection: the snapshot answers it holds are applied as the live listener's resync applies its own
    (module docstring). `only`: the events to feed (e.g. what an AMI user would have received of a capture
    taken by one reading everything); list answers are not filtered, as no AMI filter applies to them."""
    records: list[CallRecord] = []

    def publish(event: DomainEvent) -> None:
        if isinstance(event, CallEnded):
            records.append(event.record)

    tracker = CallTracker(publish, hotlines=hotlines, clock=lambda: 0.0)
    for index, path in enumerate(paths):
        data = _open_bytes(path)
        if not data.startswith(b"Asterisk Call Manager/"):
            head = data[:40].decode("utf-8", errors="replace").splitlines()[0] if data else "empty file"
            raise ReplayError(f"{path}: not an AMI capture (it should start with the "
                              f"'Asterisk Call Manager/' banner, found {head!r})")
        parser = FrameParser(max_frame=max(len(data) + 1, 1 << 20))
        answers = _SnapshotAnswers(tracker, path)  # ActionIDs belong to one connection
        carried = len(tracker.live_call_ids()) if index else 0
        for chunk, at in _chunks(data, _timeline_for(path)):
            for msg in parser.feed(chunk, at):
                # list answers go to the client that asked whatever its user's filters (as `only` knows)
                if not answers.take(msg) and (only is None or only(msg)):
                    tracker.feed(msg)
        answers.end()
        if carried and not answers.applied:
            log.info("%s: no snapshot answer in this connection; %s calls of the one before are followed "
                     "by their events only", path, carried)
        if parser.pending_bytes:
            log.warning("%s: ends inside a message (%s bytes after the last complete one)",
                        path, parser.pending_bytes)
        if parser.stats.garbage_lines:
            log.warning("%s: %s garbage lines skipped", path, parser.stats.garbage_lines)
    tracker.close_all()
    return records
