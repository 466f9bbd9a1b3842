"""AMI framing: bytes from the socket -> messages.

Asterisk writes `Key: Value` lines ending in CRLF and ends each message with an empty line.
The parser works on complete lines only, so a multi-byte UTF-8 caller name split across two
reads is decoded whole. It tolerates what real links deliver: a stray CRLF between messages,
LF-only line ends, garbage lines without a colon (skipped and counted) and frames over a size
limit (dropped, counted, the stream goes on).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

BANNER_PREFIX = "Asterisk Call Manager/"
DEFAULT_MAX_FRAME = 1024 * 1024


class Message:
    """One AMI message: an ordered mapping of its keys (first value wins) plus repeats."""

    __slots__ = ("fields", "repeats", "received_at")

    def __init__(self, fields: dict[str, str], repeats: list[tuple[str, str]] | None = None,
                 received_at: float | None = None) -> None:
        self.fields = fields
        self.repeats = repeats
        self.received_at = received_at

    @property
    def event(self) -> str | None:
        return self.fields.get("Event")

    @property
    def response(self) -> str | None:
        """`Response:` of a reply. Events such as OriginateResponse carry one too: check event first."""
        if "Event" in self.fields:
            return None
        return self.fields.get("Response")

    @property
    def action_id(self) -> str | None:
        return self.fields.get("ActionID")

    def get(self, key: str, default: str = "") -> str:
        return self.fields.get(key, default)

    def __getitem__(self, key: str) -> str:
        return self.fields[key]

    def __contains__(self, key: str) -> bool:
        return key in self.fields

    def all(self, key: str) -> list[str]:
        """Every value of a key that may repeat (ChanVariable, Output)."""
        values = [self.fields[key]] if key in self.fields else []
        if self.repeats:
            values.extend(v for k, v in self.repeats if k == key)
        return values

    def keys_in_order(self) -> list[str]:
        """Keys as they appeared, repeats included (for comparing with recorded traces)."""
        keys = list(self.fields)
        if self.repeats:
            keys.extend(k for k, _ in self.repeats)
        return keys

    def to_bytes(self) -> bytes:
        lines = [f"{k}: {v}" for k, v in self.fields.items()]
        if self.repeats:
            lines.extend(f"{k}: {v}" for k, v in self.repeats)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")

    def __repr__(self) -> str:
        name = self.event or f"Response:{self.fields.get('Response', '?')}"
        return f"<Message {name} {len(self.fields)} keys>"


@dataclass(slots=True)
class FrameStats:
    messages: int = 0
    garbage_lines: int = 0
    oversized_frames: int = 0
    bytes_in: int = 0
    banner: str | None = None
    errors: list[str] = field(default_factory=list)


class FrameParser:
    """Incremental parser. `feed(bytes)` returns the messages completed by those bytes."""

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self._buf = b""
        self._max = max_frame
        self._skipping = False  # inside an oversized frame, dropping lines until its end
        self.stats = FrameStats()

    @property
    def pending_bytes(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes, received_at: float | None = None) -> list[Message]:
        self.stats.bytes_in += len(data)
        buf = self._buf + data if self._buf else data
        if buf.count(b"\n") != buf.count(b"\r\n"):  # LF-only line ends somewhere: normalise
            buf = buf.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        out: list[Message] = []
        start = 0
        end = buf.find(b"\r\n\r\n")
        while end != -1:
            frame = buf[start:end]
            start = end + 4
            if self._skipping:
                self._skipping = False
                continue
            if frame:
                msg = self._parse(frame, received_at)
                if msg is not None:
                    out.append(msg)
            end = buf.find(b"\r\n\r\n", start)
        rest = buf[start:]
        if len(rest) > self._max:
            if not self._skipping:
                self.stats.oversized_frames += 1
                log.warning("AMI frame over %s bytes dropped", self._max)
            # keep only a possible partial terminator; drop the rest until the frame ends
            self._skipping = True
            rest = rest[-3:]
        self._buf = rest
        self.stats.messages += len(out)
        return out

    def _parse(self, frame: bytes, received_at: float | None) -> Message | None:
        text = frame.decode("utf-8", errors="replace")
        fields: dict[str, str] = {}
        repeats: list[tuple[str, str]] | None = None
        for line in text.split("\r\n"):
            key, sep, value = line.partition(": ")
            if not sep:
                if not line:
                    continue  # a stray CRLF before a frame
                if line.startswith(BANNER_PREFIX):
                    self.stats.banner = line
                    continue
                key, sep, value = line.partition(":")
                if not sep or not key or " " in key:
                    self.stats.garbage_lines += 1
                    continue
                value = value.strip()
            if key in fields:
                if repeats is None:
                    repeats = []
                repeats.append((key, value))
            else:
                fields[key] = value
        if not fields:
            return None
        return Message(fields, repeats, received_at)


def parse_all(data: bytes) -> list[Message]:
    """Parse a whole captured stream (tests, tools)."""
    parser = FrameParser(max_frame=max(DEFAULT_MAX_FRAME, len(data) + 1))
    return parser.feed(data)
