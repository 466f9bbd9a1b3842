"""The AMI side of a live tap, as data: the Originate actions that stream each speaker to us.

Verified on Asterisk 20 (../shared/asterisk-traces/audiosocket/README.md): on `AgentConnect`, one
Originate per speaker, `Channel: AudioSocket/HOST:PORT/<uuid>`, `Application: ChanSpy`,
`Data: <that party's Uniqueid>,qEuo`, `Async: true`, gives a stream carrying only that party's voice.
`q` no beep, `E` end when the spied channel hangs up, `u` the argument is a Uniqueid (not a prefix),
`o` only the audio coming from the spied channel. Pure functions: the telephony side sends them.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from transcripts.errors import TranscriptsError
from transcripts.turns import AGENT, CUSTOMER

CHANSPY_OPTIONS = "qEuo"
DEFAULT_TIMEOUT_MS = 10000
_UNIQUEID = re.compile(r"^[0-9]+\.[0-9]+$")
_CHANNEL_UUID = re.compile(r"AudioSocket/[^/]+[-/]([0-9a-fA-F-]{36})")


class LiveTapError(TranscriptsError):
    """Bad input for a live tap (a Uniqueid or address Asterisk would not accept)."""


@dataclass(frozen=True, slots=True)
class TapStream:
    """One speaker's stream of a call: what to originate and how to map the stream back."""

    linkedid: str
    speaker: str  # "customer" or "agent"
    spied_uniqueid: str
    stream_uuid: str
    action_id: str

    def originate_fields(self, host: str, port: int, *, slin16: bool = False) -> list[tuple[str, str]]:
        """The AMI Originate action's fields, in order (send as `Name: value` lines)."""
        channel = f"AudioSocket/{_hostport(host, port)}/{self.stream_uuid}"
        if slin16:
            channel += "/c(slin16)"
        return [
            ("Action", "Originate"),
            ("ActionID", self.action_id),
            ("Channel", channel),
            ("Application", "ChanSpy"),
            ("Data", f"{self.spied_uniqueid},{CHANSPY_OPTIONS}"),
            ("CallerID", f'"tap-{self.speaker}" <tap>'),
            ("Timeout", str(DEFAULT_TIMEOUT_MS)),
            ("Async", "true"),
        ]


def _hostport(host: str, port: int) -> str:
    if not 0 < port < 65536:
        raise LiveTapError(f"bad AudioSocket port {port}")
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        if not host or any(c in host for c in "/,:| \r\n"):
            raise LiveTapError(f"bad AudioSocket host {host!r}") from None
        return f"{host}:{port}"
    return f"[{addr}]:{port}" if addr.version == 6 else f"{addr}:{port}"


def _check_uniqueid(value: str, what: str) -> str:
    value = value.strip()
    if not _UNIQUEID.match(value):
        raise LiveTapError(f"{what} {value!r} is not an Asterisk Uniqueid (like 1796029404.29)")
    return value


def tap_call(
    linkedid: str,
    customer_uniqueid: str,
    agent_uniqueid: str,
    *,
    new_uuid: Callable[[], uuid.UUID] = uuid.uuid4,
) -> tuple[TapStream, TapStream]:
    """The two streams of a call on `AgentConnect` (`Uniqueid` = customer, `DestUniqueid` = agent)."""
    streams = []
    for speaker, uid in ((CUSTOMER, customer_uniqueid), (AGENT, agent_uniqueid)):
        uid = _check_uniqueid(uid, f"{speaker} Uniqueid")
        stream = str(new_uuid())
        streams.append(
            TapStream(
                linkedid=linkedid,
                speaker=speaker,
                spied_uniqueid=uid,
                stream_uuid=stream,
                action_id=f"tap-{speaker}-{stream}",
            )
        )
    if streams[0].spied_uniqueid == streams[1].spied_uniqueid:
        raise LiveTapError("customer and agent Uniqueids are the same channel")
    return streams[0], streams[1]


def originate_text(fields: list[tuple[str, str]]) -> str:
    """The action as it goes on the wire: `Name: value` CRLF lines and a blank line."""
    for name, value in fields:
        if "\r" in value or "\n" in value:
            raise LiveTapError(f"AMI field {name} contains a line break")
    return "".join(f"{name}: {value}\r\n" for name, value in fields) + "\r\n"


def stream_uuid_of_channel(channel: str) -> str | None:
    """The stream UUID in an AudioSocket channel name (`AudioSocket/127.0.0.1:9092-<uuid>` in events)."""
    m = _CHANNEL_UUID.search(channel)
    return m.group(1).lower() if m else None
