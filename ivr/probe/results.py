"""What a probe reports: `ProbeResult` (up or down, where it stopped, the timings and levels)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class KeyResult:
    key: str
    sent_at_s: float  # since the answer, end of the key's RFC 2833 event
    response_s: float | None  # key end → first frame of the next prompt over the threshold


@dataclass(frozen=True, slots=True)
class ProbeResult:
    number: str
    pbx: str
    up: bool
    stage: str  # register | invite | prompt | key | queue | done — where it stopped
    reason: str  # empty when up
    started_at: str  # ISO 8601 UTC
    duration_s: float
    register_s: float | None = None  # REGISTER sent → 200 OK
    sip_status: int | None = None  # final answer to the INVITE
    sip_reason: str = ""
    ringing_s: float | None = None  # INVITE → first 1xx
    setup_s: float | None = None  # INVITE → 200 OK
    first_audio_s: float | None = None  # 200 OK → first frame over the threshold
    keys: tuple[KeyResult, ...] = ()
    queue: str | None = None
    queue_seen: bool | None = None
    queue_s: float | None = None  # last key → call seen in the queue on AMI
    queue_position: int | None = None
    rtp_frames: int = 0  # audio frames received from the PBX
    loud_frames: int = 0
    peak_rms: float = 0.0
    min_rms: float = 0.0
    codec: str = ""
    dtmf_echoed: str = ""  # RFC 2833 digits the far end sent back with our SSRC (sipp -rtp_echo)

    def to_json_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["keys"] = [asdict(k) for k in self.keys]
        return d

    def summary(self) -> str:
        def ms(v: float | None) -> str:
            return "-" if v is None else f"{v * 1000:.0f} ms"

        state = "UP" if self.up else f"DOWN at {self.stage}: {self.reason}"
        keys = " ".join(f"{k.key}→{ms(k.response_s)}" for k in self.keys) or "-"
        queue = ""
        if self.queue is not None:
            queue = f" queue {self.queue}: {'seen after ' + ms(self.queue_s) if self.queue_seen else 'not seen'}"
        return (f"{self.number} via {self.pbx}: {state} | register {ms(self.register_s)} setup {ms(self.setup_s)} "
                f"first audio {ms(self.first_audio_s)} keys {keys}{queue} | {self.rtp_frames} frames, "
                f"{self.loud_frames} over RMS {self.min_rms:.0f}, peak {self.peak_rms:.0f}")

