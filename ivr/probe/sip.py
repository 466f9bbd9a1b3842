"""The probe's SIP side on pyVoIP 1.6.8: its phone, its SIP client (bounded REGISTER, non-blocking INVITE,
CANCEL, ACK and BYE fixed) and its call (see the package doc for what is taken and what is replaced)."""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # pyVoIP imports audioop (deprecated in 3.11)
    import pyVoIP.VoIP  # noqa: F401  (first: importing pyVoIP.SIP first fails on a circular import)
    from pyVoIP import RTP as _RTP
    from pyVoIP import SIP as _SIP
    from pyVoIP import __version__ as _pyvoip_version
    from pyVoIP.VoIP import CallState, VoIPCall, VoIPPhone
    from pyVoIP.VoIP.status import PhoneStatus

from ivr.probe.config import ProbeConfig, ProbeError
from ivr.probe.rtp import ProbeRTP


class ProbeCall(VoIPCall):
    answered_at: float | None = None

    def create_rtp_clients(self, codecs: dict[int, Any], ip: str, port: int, request: Any, baseport: int) -> None:
        for ii in range(len(request.body["c"])):
            self.RTPClients.append(ProbeRTP(codecs, ip, port, request.body["c"][ii]["address"], baseport + ii,
                                             self.sendmode, dtmf=self.dtmf_callback))

    def answered(self, request: Any) -> None:
        if self.state == CallState.DIALING:
            self.answered_at = time.monotonic()
        super().answered(request)

    @property
    def rtp(self) -> ProbeRTP | None:
        first = self.RTPClients[0] if self.RTPClients else None
        return first if isinstance(first, ProbeRTP) else None



@dataclass(slots=True)
class InviteState:
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


class ProbeSIP(_SIP.SIPClient):
    """pyVoIP's SIP client with a bounded REGISTER and a non-blocking INVITE (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register_error: BaseException | None = None
        self.receiving = threading.Event()
        self.invite_state: InviteState | None = None

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
        self.invite_state = InviteState(call_id, text, f"sip:{number}@{self.server}", branch, cseq, 0.0)
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


class ProbePhone(VoIPPhone):
    def __init__(self, cfg: ProbeConfig, local_port: int) -> None:
        super().__init__(cfg.pbx_host, cfg.pbx_port, cfg.username, cfg.password, myIP=cfg.local_host,
                         sipPort=local_port, rtpPortLow=cfg.rtp_low, rtpPortHigh=cfg.rtp_high)
        self.probe_sip = ProbeSIP(cfg.pbx_host, cfg.pbx_port, cfg.username, cfg.password, phone=self,
                                   myIP=cfg.local_host, myPort=local_port, callCallback=self.callback,
                                   fatalCallback=self.fatal)
        cast(Any, self.probe_sip).register_timeout = cfg.register_timeout  # 1.6.8 types it int; select takes float
        self.sip = self.probe_sip

    def call(self, number: str) -> ProbeCall:
        port = self._free_rtp_port()
        medias = {port: {0: _RTP.PayloadType.PCMU, 101: _RTP.PayloadType.EVENT}}
        text, call_id, sess_id = self.probe_sip.prepare_invite(number, medias)
        call = ProbeCall(self, CallState.DIALING, _SIP.SIPMessage(text.encode("utf8")), sess_id, self.myIP,
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

