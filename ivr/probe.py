"""`hotline probe`: one real SIP call to a hotline through the PBX, to tell whether it is up.

The probe registers with the PBX (pyVoIP 1.6.8 cannot call without registering), dials the
hotline, measures the answer, listens for the menu prompt, walks the menu with RFC 2833 keys
(sent on pyVoIP's own RTP stream: same socket, SSRC, sequence and clock as its audio), checks
that every key brings a new prompt with sound in it, optionally checks on AMI that the call is
waiting in the expected queue, hangs up and unregisters. Everything it waits for is bounded.

What the probe takes from pyVoIP 1.6.8 and what it replaces (see docs/asterisk/probe.md):

- taken: the REGISTER exchange with digest auth, the INVITE and its SDP offer (PCMU + telephone-event),
  SIP parsing, the ACK and the BYE, the RTP receive/transmit threads and G.711 coding;
- replaced, because 1.6.8 has no way to do it or does it unboundedly:
  - ``register()``: one bounded attempt whose error is kept (1.6.8 retries on timer threads,
    swallows the error and leaves ``start()`` returning as if nothing happened);
  - ``invite()``: 1.6.8 holds the receive lock and reads the socket with no timeout until a
    100/180/401 arrives (a silent PBX blocks it for ever) and ignores final failures (486, 404 …
    leave the call "dialing" for ever). The probe sends the INVITE and lets the receive loop see
    every answer: provisional ones are timed, 401/407 are answered once with credentials, a final
    failure is ACKed and ends the probe, and a missing answer is CANCELled;
  - RFC 2833 *sending*: 1.6.8 can only receive DTMF; the probe's RTP client interleaves
    telephone-event packets into the transmit loop;
  - received audio is measured per RTP packet (16-bit decode of the G.711 payload, arrival time)
    instead of through ``read_audio``, whose 8-bit output and silence skipping blur both level
    and timing.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import socket
import struct
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # pyVoIP imports audioop (deprecated in 3.11)
    import pyVoIP.VoIP  # noqa: F401  (first: importing pyVoIP.SIP first fails on a circular import)
    from pyVoIP import RTP as _RTP
    from pyVoIP import SIP as _SIP
    from pyVoIP import __version__ as _pyvoip_version
    from pyVoIP.VoIP import CallState, VoIPCall, VoIPPhone
    from pyVoIP.VoIP.status import PhoneStatus

from telephony.actions import Actions, QueueEntryInfo
from telephony.connection import AmiConnection, AmiEndpoint, AmiError

log = logging.getLogger(__name__)

DTMF_KEYS = "0123456789*#ABCD"
SAMPLES_PER_FRAME = 160  # 20 ms at 8 kHz


class ProbeError(Exception):
    """The probe cannot run: bad settings, a busy local port, an AMI it cannot log in to."""


class ProbeConfigError(ProbeError):
    """A setting of the probe is invalid."""


# ---------------------------------------------------------------------------------------- audio


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


# ---------------------------------------------------------------------------------------- result


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


# ---------------------------------------------------------------------------------------- config


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


# ---------------------------------------------------------------------------------------- RTP


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


class _ProbeRTP(_RTP.RTPClient):
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


class _ProbeCall(VoIPCall):
    answered_at: float | None = None

    def create_rtp_clients(self, codecs: dict[int, Any], ip: str, port: int, request: Any, baseport: int) -> None:
        for ii in range(len(request.body["c"])):
            self.RTPClients.append(_ProbeRTP(codecs, ip, port, request.body["c"][ii]["address"], baseport + ii,
                                             self.sendmode, dtmf=self.dtmf_callback))

    def answered(self, request: Any) -> None:
        if self.state == CallState.DIALING:
            self.answered_at = time.monotonic()
        super().answered(request)

    @property
    def rtp(self) -> _ProbeRTP | None:
        first = self.RTPClients[0] if self.RTPClients else None
        return first if isinstance(first, _ProbeRTP) else None


# ---------------------------------------------------------------------------------------- SIP


@dataclass(slots=True)
class _InviteState:
    call_id: str
    text: str
    uri: str
    branch: str
    cseq: int
    sent_at: float
    provisional_at: float | None = None
    final_status: int | None = None
    final_reason: str = ""
    final_at: float | None = None
    auth_tried: bool = False


_REGISTER_ONCE: Callable[[_SIP.SIPClient], bool] = vars(_SIP.SIPClient)["_SIPClient__register"]
_STATUS_LINE = re.compile(rb"^SIP/2\.0 (\d{3}) ?([^\r\n]*)")


class _ProbeSIP(_SIP.SIPClient):
    """pyVoIP's SIP client with a bounded REGISTER and a non-blocking INVITE (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register_error: BaseException | None = None
        self.receiving = threading.Event()
        self.invite_state: _InviteState | None = None

    def recv_loop(self) -> None:
        self.receiving.set()
        try:
            super().recv_loop()
        except OSError:
            if self.NSD:  # 1.6.8 races stop(): the loop can touch the socket stop() just closed
                raise

    def register(self) -> bool:
        try:
            with self.recvLock:
                ok = bool(_REGISTER_ONCE(self))  # 1.6.8's one REGISTER exchange
        except BaseException as exc:  # kept and reported (1.6.8's own loop retries on a timer)
            self.register_error = exc
            return False
        if ok:
            self.phone._status = PhoneStatus.REGISTERED
        return ok

    def prepare_invite(self, number: str, ms: dict[int, dict[int, Any]]) -> tuple[str, str, int]:
        branch = self.gen_branch()
        call_id = self.gen_call_id()
        sess_id = self.sessID.next()
        text = self.gen_invite(number, str(sess_id), cast(Any, ms), _RTP.TransmitType.SENDRECV, branch, call_id)
        cseq = int(re.search(r"\r\nCSeq: (\d+) INVITE", text).group(1))  # type: ignore[union-attr]
        self.invite_state = _InviteState(call_id, text, f"sip:{number}@{self.server}", branch, cseq, 0.0)
        return text, call_id, sess_id

    def send_invite(self) -> None:
        st = self.invite_state
        assert st is not None
        st.sent_at = time.monotonic()
        self.out.sendto(st.text.encode("utf8"), (self.server, self.port))

    def parse_message(self, message: Any) -> None:
        st = self.invite_state
        if (st is not None and message.type == _SIP.SIPMessageType.RESPONSE
                and message.headers.get("Call-ID") == st.call_id
                and message.headers.get("CSeq", {}).get("method") == "CANCEL"):
            return  # 1.6.8 would take the 200 OK of our CANCEL for the answer to the INVITE
        if (st is not None and message.type == _SIP.SIPMessageType.RESPONSE
                and message.headers.get("Call-ID") == st.call_id
                and message.headers.get("CSeq", {}).get("method") == "INVITE"):
            m = _STATUS_LINE.match(message.raw)
            code = int(m.group(1)) if m else int(message.status)
            reason = m.group(2).decode("utf8", "replace") if m else ""
            if code < 200:
                if st.provisional_at is None:
                    st.provisional_at = time.monotonic()
                return
            if code in (401, 407) and not st.auth_tried and self.password:
                st.auth_tried = True
                self._ack_failure(message)
                self._resend_with_auth(message, code)
                return
            if code >= 300:
                if st.final_status is None:
                    st.final_status, st.final_reason, st.final_at = code, reason, time.monotonic()
                self._ack_failure(message)
                return
            if st.final_status is None:
                st.final_status, st.final_reason, st.final_at = code, reason, time.monotonic()
        super().parse_message(message)

    def gen_ack(self, request: Any) -> str:
        """ACK of a 200 OK: to the answer's Contact, the answer's To-tag, a new branch.

        1.6.8 puts a random To-tag in it (pyVoIP issues #272/#312), so a real PBX never matches the
        ACK and drops the call after ~30 s; it also reuses the INVITE's branch and sends it to the To URI."""
        tag = request.headers["To"]["tag"]
        contact = str(request.headers.get("Contact") or "").strip().strip("<").split(">")[0]
        target = contact or request.headers["To"]["raw"].strip("<").strip(">")
        return (f"ACK {target} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {self.myIP}:{self.myPort};branch={self.gen_branch()};rport\r\n"
                f"Max-Forwards: 70\r\n"
                f"To: {request.headers['To']['raw']};tag={tag}\r\n"
                f"From: {request.headers['From']['raw']};tag={request.headers['From']['tag']}\r\n"
                f"Call-ID: {request.headers['Call-ID']}\r\n"
                f"CSeq: {request.headers['CSeq']['check']} ACK\r\n"
                f"User-Agent: hotline-probe (pyVoIP {_pyvoip_version})\r\n"
                "Content-Length: 0\r\n\r\n")

    def gen_bye(self, request: Any) -> str:
        """1.6.8's BYE reuses the INVITE's Via branch; a BYE is a new transaction and needs its own."""
        text = str(super().gen_bye(request))
        return re.sub(r"(\r\nVia: [^\r\n]*;branch=)[^;\r\n]+", lambda m: m.group(1) + self.gen_branch(), text,
                      count=1)

    def _ack_failure(self, response: Any) -> None:
        """ACK a non-2xx final answer (same branch and To-tag as the answer, RFC 3261 17.1.1.3)."""
        st = self.invite_state
        assert st is not None
        raw = response.raw.decode("utf8", "replace")
        to = re.search(r"(?im)^(?:To|t):[^\r\n]*", raw)
        frm = re.search(r"(?im)^(?:From|f):[^\r\n]*", raw)
        via = re.search(r"(?im)^(?:Via|v):[^\r\n]*", raw)
        ack = (f"ACK {st.uri} SIP/2.0\r\n{via.group(0) if via else ''}\r\nMax-Forwards: 70\r\n"
               f"{to.group(0) if to else ''}\r\n{frm.group(0) if frm else ''}\r\nCall-ID: {st.call_id}\r\n"
               f"CSeq: {st.cseq} ACK\r\nContent-Length: 0\r\n\r\n")
        self.out.sendto(ack.encode("utf8"), (self.server, self.port))

    def _resend_with_auth(self, response: Any, code: int) -> None:
        """Answer a 401/407 to the INVITE with digest credentials (MD5, with qop=auth when offered)."""
        st = self.invite_state
        assert st is not None
        raw = response.raw.decode("utf8", "replace")
        name = "Proxy-Authenticate" if code == 407 else "WWW-Authenticate"
        m = re.search(rf"(?im)^{name}:\s*Digest\s+([^\r\n]*)", raw)
        params = {k.lower(): v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|[^\s,]+)', m.group(1) if m else "")}
        realm, nonce = params.get("realm", ""), params.get("nonce", "")
        ha1 = hashlib.md5(f"{self.username}:{realm}:{self.password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"INVITE:{st.uri}".encode()).hexdigest()
        fields = f'username="{self.username}",realm="{realm}",nonce="{nonce}",uri="{st.uri}"'
        if "auth" in [q.strip() for q in params.get("qop", "").split(",")]:
            cnonce = uuid.uuid4().hex[:16]
            digest = hashlib.md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}".encode()).hexdigest()
            fields += f',qop=auth,nc=00000001,cnonce="{cnonce}"'
        else:
            digest = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
        fields += f',response="{digest}",algorithm=MD5'
        if "opaque" in params:
            fields += f',opaque="{params["opaque"]}"'
        header = "Proxy-Authorization" if code == 407 else "Authorization"
        new_branch = self.gen_branch()
        text = st.text.replace(st.branch, new_branch).replace(f"CSeq: {st.cseq} INVITE", f"CSeq: {st.cseq + 1} INVITE")
        text = text.replace("\r\nContent-Length", f"\r\n{header}: Digest {fields}\r\nContent-Length", 1)
        st.text, st.branch, st.cseq = text, new_branch, st.cseq + 1
        self.out.sendto(text.encode("utf8"), (self.server, self.port))

    def cancel(self) -> bool:
        """CANCEL the INVITE that got a provisional answer but no final one (RFC 3261 9.1)."""
        st = self.invite_state
        if st is None or st.provisional_at is None or st.final_status is not None:
            return False
        head = st.text.split("\r\n\r\n", 1)[0].split("\r\n")
        keep = [h for h in head[1:] if h.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "max-forwards")]
        text = "\r\n".join([f"CANCEL {st.uri} SIP/2.0", *keep, f"CSeq: {st.cseq} CANCEL", "Content-Length: 0"])
        self.out.sendto((text + "\r\n\r\n").encode("utf8"), (self.server, self.port))
        return True


class _ProbePhone(VoIPPhone):
    def __init__(self, cfg: ProbeConfig, local_port: int) -> None:
        super().__init__(cfg.pbx_host, cfg.pbx_port, cfg.username, cfg.password, myIP=cfg.local_host,
                         sipPort=local_port, rtpPortLow=cfg.rtp_low, rtpPortHigh=cfg.rtp_high)
        self.probe_sip = _ProbeSIP(cfg.pbx_host, cfg.pbx_port, cfg.username, cfg.password, phone=self,
                                   myIP=cfg.local_host, myPort=local_port, callCallback=self.callback,
                                   fatalCallback=self.fatal)
        cast(Any, self.probe_sip).register_timeout = cfg.register_timeout  # 1.6.8 types it int; select takes float
        self.sip = self.probe_sip

    def call(self, number: str) -> _ProbeCall:
        port = self._free_rtp_port()
        medias = {port: {0: _RTP.PayloadType.PCMU, 101: _RTP.PayloadType.EVENT}}
        text, call_id, sess_id = self.probe_sip.prepare_invite(number, medias)
        call = _ProbeCall(self, CallState.DIALING, _SIP.SIPMessage(text.encode("utf8")), sess_id, self.myIP,
                          ms=cast(Any, medias), sendmode=self.sendmode)
        self.calls[call_id] = call
        self.probe_sip.send_invite()
        return call

    def _free_rtp_port(self) -> int:
        """A port of the range nobody holds (1.6.8 picks one at random without looking)."""
        for _ in range(50):
            port = self.request_port()
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                probe.bind((self.myIP, port))
                return port
            except OSError:
                continue
            finally:
                probe.close()
        raise ProbeError(f"no free RTP port in {self.rtpPortLow}-{self.rtpPortHigh} on {self.myIP}")


# ---------------------------------------------------------------------------------------- probe


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class _Down(Exception):
    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason


@contextmanager
def _ami_session(endpoint: AmiEndpoint) -> Iterator[Actions]:
    conn = AmiConnection(endpoint, lambda m: None, connect_timeout=5.0)
    try:
        conn.connect_and_login()
    except AmiError as exc:
        raise ProbeError(str(exc)) from None
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set() and conn.read_once():
            pass

    reader = threading.Thread(target=read, name="probe-ami", daemon=True)
    reader.start()
    try:
        yield Actions(conn, timeout=5.0)
    finally:
        stop.set()
        try:
            conn._send("Action: Logoff\r\nActionID: logoff\r\n\r\n")
        except AmiError:
            pass
        conn.close()
        reader.join(timeout=3.0)


class Probe:
    """One probe call. `run()` returns a `ProbeResult`; it raises `ProbeError` only for bad input."""

    POLL = 0.01

    def __init__(self, cfg: ProbeConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.clock = clock
        self.values: dict[str, Any] = {}
        self.keys: list[KeyResult] = []

    def run(self) -> ProbeResult:
        cfg = self.cfg
        started_wall = datetime.now(UTC)
        t0 = self.clock()
        if cfg.queue is not None and cfg.ami is not None:
            with _ami_session(cfg.ami) as actions:
                stage, reason = self._call(actions)
        else:
            stage, reason = self._call(None)
        v = self.values
        return ProbeResult(
            number=cfg.number, pbx=f"{cfg.pbx_host}:{cfg.pbx_port}", up=stage == "done", stage=stage, reason=reason,
            started_at=started_wall.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            duration_s=round(self.clock() - t0, 3), keys=tuple(self.keys), queue=cfg.queue,
            min_rms=cfg.min_rms, **v)

    # ------------------------------------------------------------------ the call
    def _call(self, actions: Actions | None) -> tuple[str, str]:
        cfg = self.cfg
        local_port = cfg.local_port or _free_udp_port(cfg.local_host)
        phone = _ProbePhone(cfg, local_port)
        sip = phone.probe_sip
        call: _ProbeCall | None = None
        registered = False
        try:
            t_reg = self.clock()
            try:
                phone.start()
            except OSError as exc:
                raise ProbeError(f"cannot use local SIP port {cfg.local_host}:{local_port}: "
                                 f"{exc.strerror or exc}") from None
            if phone.get_status() != PhoneStatus.REGISTERED:
                err = sip.register_error
                if isinstance(err, TimeoutError) or err is None:
                    why = (f"no answer to REGISTER from {cfg.pbx_host}:{cfg.pbx_port} within "
                           f"{cfg.register_timeout:g} s (nothing listening, or a registrar that does not answer)")
                else:
                    why = f"REGISTER refused by {cfg.pbx_host}:{cfg.pbx_port}: {type(err).__name__}: {err}"
                raise _Down("register", why)
            registered = True
            self.values["register_s"] = round(self.clock() - t_reg, 4)
            if not sip.receiving.wait(3.0):
                raise _Down("register", "pyVoIP's SIP receive loop did not start")
            call = phone.call(cfg.number)
            self._wait_answer(sip, call)
            self._walk(call)
            if actions is not None and cfg.queue is not None:
                self._check_queue(actions, call)
            return "done", ""
        except _Down as down:
            return down.stage, down.reason
        finally:
            self._finish(phone, call, registered)

    def _wait_answer(self, sip: _ProbeSIP, call: _ProbeCall) -> None:
        cfg = self.cfg
        st = sip.invite_state
        assert st is not None
        deadline = st.sent_at + cfg.answer_timeout
        while call.state != CallState.ANSWERED:
            if st.final_status is not None and st.final_status >= 300:
                self.values.update(sip_status=st.final_status, sip_reason=st.final_reason)
                self._ring_time(st)
                raise _Down("invite", f"the PBX refused the call: {st.final_status} {st.final_reason}".rstrip())
            if self.clock() > deadline:
                self._ring_time(st)
                if sip.cancel():  # wait for the 487 and ACK it before anything else uses the socket
                    end = self.clock() + 2.0
                    while st.final_status is None and self.clock() < end:
                        time.sleep(self.POLL)
                heard = "a provisional answer but no final one" if st.provisional_at else "no answer at all"
                raise _Down("invite", f"INVITE to {cfg.number} got {heard} within {cfg.answer_timeout:g} s")
            time.sleep(self.POLL)
        self._ring_time(st)
        self.values.update(sip_status=st.final_status or 200, sip_reason=st.final_reason or "OK")
        assert call.answered_at is not None
        self.values["setup_s"] = round(call.answered_at - st.sent_at, 4)
        rtp = call.rtp
        if rtp is not None:
            self.values["codec"] = str(rtp.preference)

    def _ring_time(self, st: _InviteState) -> None:
        if st.provisional_at is not None:
            self.values["ringing_s"] = round(st.provisional_at - st.sent_at, 4)

    def _alive(self, call: _ProbeCall, what: str) -> None:
        if call.state != CallState.ANSWERED:
            assert call.answered_at is not None
            raise _Down(what, f"the PBX hung up {self.clock() - call.answered_at:.1f} s after answering")

    def _first_sound_after(self, call: _ProbeCall, since: float, timeout: float, what: str) -> float | None:
        rtp = call.rtp
        deadline = self.clock() + timeout
        seen = 0
        while True:
            if rtp is not None:
                frames = rtp.frames
                for i in range(seen, len(frames)):
                    f = frames[i]
                    if f.at >= since and f.rms >= self.cfg.min_rms:
                        return f.at
                seen = len(frames)
            if self.clock() > deadline:
                return None
            self._alive(call, what)
            time.sleep(self.POLL)

    def _end_of_prompt(self, call: _ProbeCall, sound_at: float) -> None:
        """Wait until the prompt that started at `sound_at` has been quiet for `prompt_gap`."""
        cfg = self.cfg
        rtp = call.rtp
        assert rtp is not None
        last_loud = sound_at
        seen = 0
        while True:
            frames = rtp.frames
            for i in range(seen, len(frames)):
                if frames[i].rms >= cfg.min_rms and frames[i].at > last_loud:
                    last_loud = frames[i].at
            seen = len(frames)
            now = self.clock()
            if now - last_loud >= cfg.prompt_gap or now - sound_at >= cfg.max_prompt:
                return
            self._alive(call, "key")
            time.sleep(self.POLL)

    def _no_sound(self, call: _ProbeCall, since: float, after: str) -> str:
        rtp = call.rtp
        frames = [f for f in (rtp.frames if rtp else []) if f.at >= since]
        if not frames:
            return f"no prompt audio {after}: no RTP at all"
        peak = max(f.rms for f in frames)
        return (f"no prompt audio {after}: {len(frames)} RTP frames, loudest RMS {peak:.0f} "
                f"< threshold {self.cfg.min_rms:g}")

    def _walk(self, call: _ProbeCall) -> None:
        cfg = self.cfg
        assert call.answered_at is not None
        answered = call.answered_at
        first = self._first_sound_after(call, answered, cfg.prompt_timeout, "prompt")
        if first is None:
            raise _Down("prompt", self._no_sound(call, answered, f"within {cfg.prompt_timeout:g} s of the answer"))
        self.values["first_audio_s"] = round(first - answered, 4)
        sound_at = first
        rtp = call.rtp
        assert rtp is not None
        for key in cfg.keys:
            self._end_of_prompt(call, sound_at)
            if rtp.event_pt is None:
                raise _Down("key", "the PBX's SDP answer has no telephone-event: RFC 2833 keys cannot be sent")
            if not rtp.send_dtmf(key, cfg.dtmf_ms, timeout=cfg.dtmf_ms / 1000 + 2.0):
                raise _Down("key", f"key {key!r} could not be sent (RTP transmit loop stalled)")
            key_end = self.clock()
            nxt = self._first_sound_after(call, key_end, cfg.prompt_timeout, "key")
            response = None if nxt is None else round(nxt - key_end, 4)
            self.keys.append(KeyResult(key, round(key_end - answered, 4), response))
            if nxt is None:
                raise _Down("key", self._no_sound(call, key_end, f"within {cfg.prompt_timeout:g} s of key {key!r}"))
            sound_at = nxt

    def _check_queue(self, actions: Actions, call: _ProbeCall) -> None:
        cfg = self.cfg
        assert cfg.queue is not None
        caller = cfg.caller_id or cfg.username
        start = self.clock()
        deadline = start + cfg.queue_timeout
        while True:
            try:
                status = actions.queue_status(cfg.queue)
            except AmiError as exc:
                self.values["queue_seen"] = False
                raise _Down("queue", f"AMI QueueStatus {cfg.queue} failed: {exc}") from None
            entry = _find_entry(status.entries, cfg.queue, caller)
            if entry is not None:
                self.values.update(queue_seen=True, queue_s=round(self.clock() - start, 4),
                                   queue_position=entry.position)
                return
            if self.clock() > deadline:
                self.values["queue_seen"] = False
                raise _Down("queue", f"the call did not show in queue {cfg.queue} (caller {caller}) within "
                                     f"{cfg.queue_timeout:g} s")
            self._alive(call, "queue")
            time.sleep(0.25)

    def _finish(self, phone: _ProbePhone, call: _ProbeCall | None, registered: bool) -> None:
        sip = phone.probe_sip
        if call is not None:
            rtp = call.rtp
            if rtp is not None:
                frames = list(rtp.frames)
                self.values.update(rtp_frames=len(frames),
                                   loud_frames=sum(1 for f in frames if f.rms >= self.cfg.min_rms),
                                   peak_rms=round(max((f.rms for f in frames), default=0.0), 1),
                                   dtmf_echoed="".join(rtp.echoed))
            if call.state == CallState.ANSWERED:
                try:
                    call.hangup()
                except Exception:  # the BYE is best effort: the result is already known
                    log.warning("probe: BYE failed", exc_info=True)
        if registered:
            try:
                sip.deregister()
            except Exception:
                log.debug("probe: unregister failed", exc_info=True)
        try:
            phone.stop()
        except Exception:
            log.debug("probe: pyVoIP stop failed", exc_info=True)
        for c in list(getattr(call, "RTPClients", []) or []):
            if c.NSD:
                c.stop()


def _find_entry(entries: tuple[QueueEntryInfo, ...], queue: str, caller: str) -> QueueEntryInfo | None:
    for e in entries:
        if e.queue == queue and (e.caller == caller or f"/{caller}-" in e.channel):
            return e
    return None


def run_probe(cfg: ProbeConfig) -> ProbeResult:
    """Place one probe call; see `Probe`."""
    return Probe(cfg).run()
