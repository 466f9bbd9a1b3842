"""The probe's RTP: G.711 levels per received packet and RFC 2833 keys sent on pyVoIP's own stream."""

from __future__ import annotations

import logging
import math
import struct
import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # pyVoIP imports audioop (deprecated in 3.11)
    import pyVoIP.VoIP  # noqa: F401  (first: importing pyVoIP.SIP first fails on a circular import)
    from pyVoIP import RTP as _RTP

from ivr.probe.config import DTMF_KEYS

log = logging.getLogger(__name__)

SAMPLES_PER_FRAME = 160  # 20 ms at 8 kHz


def _ulaw_decode(byte: int) -> int:
    b = ~byte & 0xFF
    exponent = (b >> 4) & 0x07
    magnitude = ((((b & 0x0F) << 3) + 0x84) << exponent) - 0x84
    return -magnitude if b & 0x80 else magnitude


def _alaw_decode(byte: int) -> int:
    b = byte ^ 0x55
    exponent = (b >> 4) & 0x07
    mantissa = b & 0x0F
    magnitude = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return magnitude if b & 0x80 else -magnitude


ULAW_TO_LINEAR: tuple[int, ...] = tuple(_ulaw_decode(i) for i in range(256))
ALAW_TO_LINEAR: tuple[int, ...] = tuple(_alaw_decode(i) for i in range(256))


def g711_rms(payload: bytes, table: tuple[int, ...] = ULAW_TO_LINEAR) -> float:
    """RMS of a G.711 payload on the 16-bit linear scale (0 … 32767)."""
    if not payload:
        return 0.0
    return math.sqrt(sum(table[b] ** 2 for b in payload) / len(payload))



@dataclass(slots=True)
class _Dtmf:
    """One key being sent: its packets go out one per 20 ms tick of the transmit loop."""

    code: int
    packets: int  # event packets before the 3 end packets
    sent: int = 0
    start_ts: int | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def total(self) -> int:
        return self.packets + 3


@dataclass(frozen=True, slots=True)
class _Frame:
    at: float  # time.monotonic() of arrival
    rms: float


class ProbeRTP(_RTP.RTPClient):
    """pyVoIP's RTP client plus RFC 2833 sending and per-packet level measurement."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.frames: list[_Frame] = []
        self.echoed: list[str] = []
        self._dtmf: deque[_Dtmf] = deque()
        self._dtmf_lock = threading.Lock()
        self.event_pt: int | None = next(
            (pt for pt, kind in self.assoc.items() if kind == _RTP.PayloadType.EVENT), None)

    # ---- receive
    def parse_packet(self, packet: bytes) -> None:
        now = time.monotonic()
        if len(packet) >= 12 and packet[0] >> 6 == 2:
            pt = packet[1] & 0x7F
            ssrc = struct.unpack_from("!I", packet, 8)[0]
            start = 12 + 4 * (packet[0] & 0x0F)
            payload = packet[start:]
            if ssrc == self.outSSRC:  # our own packet sent back (an echo test)
                if pt == self.event_pt and packet[1] & 0x80 and payload and payload[0] < len(DTMF_KEYS):
                    self.echoed.append(DTMF_KEYS[payload[0]])
                return
            kind = self.assoc.get(pt)
            if kind is None and pt in (0, 8):
                kind = _RTP.PayloadType(pt)
            if kind == _RTP.PayloadType.PCMU:
                self.frames.append(_Frame(now, g711_rms(payload, ULAW_TO_LINEAR)))
            elif kind == _RTP.PayloadType.PCMA:
                self.frames.append(_Frame(now, g711_rms(payload, ALAW_TO_LINEAR)))
        try:
            super().parse_packet(packet)
        except _RTP.RTPParseError:
            raise
        except Exception:  # a malformed packet must not kill the receive thread
            log.debug("RTP packet not parsed", exc_info=True)

    # ---- send
    def send_dtmf(self, key: str, duration_ms: int, timeout: float) -> bool:
        """Queue one RFC 2833 event and wait until its last packet is out."""
        if self.event_pt is None:
            return False
        ev = _Dtmf(DTMF_KEYS.index(key), max(1, duration_ms // 20))
        with self._dtmf_lock:
            self._dtmf.append(ev)
        return ev.done.wait(timeout)

    def _next_dtmf_packet(self) -> tuple[int, bool, int, bytes, _Dtmf | None] | None:
        with self._dtmf_lock:
            if not self._dtmf:
                return None
            ev = self._dtmf[0]
            if ev.start_ts is None:
                ev.start_ts = self.outTimestamp
            ev.sent += 1
            end = ev.sent > ev.packets
            duration = min(ev.sent, ev.packets) * SAMPLES_PER_FRAME
            payload = struct.pack("!BBH", ev.code, (0x80 if end else 0) | 10, duration)
            marker = ev.sent == 1
            last = ev.sent >= ev.total
            if last:
                self._dtmf.popleft()
            assert self.event_pt is not None
            return self.event_pt, marker, ev.start_ts, payload, ev if last else None

    def trans(self) -> None:
        delay = SAMPLES_PER_FRAME / 8000
        while self.NSD:
            last_sent = time.monotonic()
            audio = self.pmout.read()
            dtmf = self._next_dtmf_packet()
            finished: _Dtmf | None = None
            if dtmf is None:
                pt, marker, ts, payload = int(self.preference), False, self.outTimestamp, self.encode_packet(audio)
            else:
                pt, marker, ts, payload, finished = dtmf
            header = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, self.outSequence & 0xFFFF,
                                 ts & 0xFFFFFFFF, self.outSSRC)
            try:
                self.sout.sendto(header + payload, (self.outIP, self.outPort))
            except OSError:
                if not self.NSD:
                    return
            self.outSequence = (self.outSequence + 1) & 0xFFFF
            self.outTimestamp = (self.outTimestamp + SAMPLES_PER_FRAME) & 0xFFFFFFFF
            if finished is not None:
                finished.done.set()
            time.sleep(max(0.0, delay - (time.monotonic() - last_sent)))

