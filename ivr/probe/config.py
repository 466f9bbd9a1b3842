"""What a probe is asked (`ProbeConfig`, validated when made) and the errors of bad input."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telephony.connection import AmiEndpoint

DTMF_KEYS = "0123456789*#ABCD"


class ProbeError(Exception):
    """The probe cannot run: bad settings, a busy local port, an AMI it cannot log in to."""


class ProbeConfigError(ProbeError):
    """A setting of the probe is invalid."""



@dataclass(frozen=True, slots=True)
class ProbeConfig:
    number: str
    pbx_host: str
    pbx_port: int = 5060
    username: str = "probe"
    password: str = ""
    local_host: str = "127.0.0.1"  # our address as the PBX reaches it (Via, Contact, SDP)
    local_port: int = 0  # 0: a free port
    rtp_low: int = 10000
    rtp_high: int = 20000
    keys: tuple[str, ...] = ()
    min_rms: float = 300.0  # 16-bit RMS of a 20 ms frame that counts as sound (≈ −41 dBFS)
    register_timeout: float = 5.0
    answer_timeout: float = 15.0
    prompt_timeout: float = 8.0  # answer or key → first sound
    prompt_gap: float = 0.4  # this much quiet after sound ends a prompt; the next key goes then
    max_prompt: float = 20.0  # a prompt still sounding after this long gets the key anyway
    dtmf_ms: int = 100
    queue: str | None = None
    ami: AmiEndpoint | None = None
    queue_timeout: float = 10.0
    caller_id: str = ""  # how the call shows in QueueStatus (CallerIDNum); default: username

    def __post_init__(self) -> None:
        if not self.number or not re.fullmatch(r"[0-9A-Za-z+*#._-]+", self.number):
            raise ProbeConfigError(f"bad number to dial: {self.number!r}")
        if not self.pbx_host:
            raise ProbeConfigError("no PBX host")
        if not re.fullmatch(r"[0-9A-Za-z._-]+", self.username):
            raise ProbeConfigError(f"bad SIP user name: {self.username!r}")
        for name in ("pbx_port", "local_port", "rtp_low", "rtp_high"):
            value = getattr(self, name)
            if not 0 <= value < 65536 or (value == 0 and name != "local_port"):
                raise ProbeConfigError(f"{name.replace('_', ' ')} {value} is not a UDP port")
        if self.rtp_low > self.rtp_high:
            raise ProbeConfigError(f"RTP port range {self.rtp_low}-{self.rtp_high} is empty")
        bad = [k for k in self.keys if len(k) != 1 or k not in DTMF_KEYS]
        if bad:
            raise ProbeConfigError(f"bad key(s) {', '.join(map(repr, bad))}: keys are one of {DTMF_KEYS}")
        if not self.min_rms > 0:
            raise ProbeConfigError("the sound threshold (min RMS) must be above 0")
        for name in ("register_timeout", "answer_timeout", "prompt_timeout", "prompt_gap", "max_prompt",
                     "queue_timeout"):
            if not getattr(self, name) > 0:
                raise ProbeConfigError(f"{name.replace('_', ' ')} must be above 0 s")
        if not 40 <= self.dtmf_ms <= 1000:
            raise ProbeConfigError("key length must be 40-1000 ms")
        if self.queue is not None and self.ami is None:
            raise ProbeConfigError(f"checking queue {self.queue!r} needs an AMI to ask")

