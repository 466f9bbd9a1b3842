"""One probe call (`Probe`, `run_probe`): register, dial, measure the answer and the prompts, walk the
menu with keys, check the queue on AMI, hang up; everything it waits for is bounded."""

from __future__ import annotations

import logging
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # pyVoIP imports audioop (deprecated in 3.11)
    import pyVoIP.VoIP  # noqa: F401  (first: importing pyVoIP.SIP first fails on a circular import)
    from pyVoIP.VoIP import CallState
    from pyVoIP.VoIP.status import PhoneStatus

from ivr.probe.config import ProbeConfig, ProbeError
from ivr.probe.results import KeyResult, ProbeResult
from ivr.probe.sip import InviteState, ProbeCall, ProbePhone, ProbeSIP
from telephony.actions import Actions, QueueEntryInfo
from telephony.connection import AmiConnection, AmiEndpoint, AmiError

log = logging.getLogger(__name__)


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
            conn.logoff()
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
        phone = ProbePhone(cfg, local_port)
        sip = phone.probe_sip
        call: ProbeCall | None = None
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

    def _wait_answer(self, sip: ProbeSIP, call: ProbeCall) -> None:
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

    def _ring_time(self, st: InviteState) -> None:
        if st.provisional_at is not None:
            self.values["ringing_s"] = round(st.provisional_at - st.sent_at, 4)

    def _alive(self, call: ProbeCall, what: str) -> None:
        if call.state != CallState.ANSWERED:
            assert call.answered_at is not None
            raise _Down(what, f"the PBX hung up {self.clock() - call.answered_at:.1f} s after answering")

    def _first_sound_after(self, call: ProbeCall, since: float, timeout: float, what: str) -> float | None:
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

    def _end_of_prompt(self, call: ProbeCall, sound_at: float) -> None:
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

    def _no_sound(self, call: ProbeCall, since: float, after: str) -> str:
        rtp = call.rtp
        frames = [f for f in (rtp.frames if rtp else []) if f.at >= since]
        if not frames:
            return f"no prompt audio {after}: no RTP at all"
        peak = max(f.rms for f in frames)
        return (f"no prompt audio {after}: {len(frames)} RTP frames, loudest RMS {peak:.0f} "
                f"< threshold {self.cfg.min_rms:g}")

    def _walk(self, call: ProbeCall) -> None:
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

    def _check_queue(self, actions: Actions, call: ProbeCall) -> None:
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

    def _finish(self, phone: ProbePhone, call: ProbeCall | None, registered: bool) -> None:
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
