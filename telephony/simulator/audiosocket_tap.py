"""The simulator's answer to an AMI Originate of `AudioSocket/HOST:PORT/<uuid>` running `ChanSpy`.

What real Asterisk 20 did in ../shared/asterisk-traces/audiosocket/ (as-tap-queue-call.ami.*,
as-tap-*.from-asterisk.bin): chan_audiosocket connects to HOST:PORT when dialled and sends the
UUID message (kind 0x01, 16 bytes); the channel comes up, ChanSpy starts ~0.12 s later and from then
on one 20 ms audio message (kind 0x10, 320 bytes s16le 8 kHz) follows another; with the `E` option
the spy ends when the spied channel hangs up, and Asterisk then just closes the TCP connection (it
never sends the hang-up message). AMI events, field for field as captured: Newchannel
(`AudioSocket/HOST:PORT-<uuid>`, own Linkedid), VarSet AUDIOSOCKET_UUID / AUDIOSOCKET_SERVICE,
Newexten AppDial2, NewCallerid, NewConnectedLine, DialBegin, Newstate Up, DialEnd,
OriginateResponse (Reason 4), DeviceStateChange INUSE, ChanSpyStart ... ChanSpyStop, Cdr, Hangup
(Cause 0), DeviceStateChange UNKNOWN.

The voice: the simulated call's MixMonitor files (`<base>-rx.wav` the caller, `<base>-tx.wav` the
agent, `<base>.wav` both), written by the demo's espeak-ng voice while the call plays. ChanSpy option
`o` streams the spied party only (caller channel: rx, agent channel: tx), no `o` the mix, `D`
interleaved stereo (L the spied channel's voice, R what it hears) in 640-byte kind-0x10 messages.
Until the file is there, and after it ends, digital silence is sent (both phones send RTP all the
time, as in the captures). Not simulated (not captured either): a Failure when the AudioSocket server
cannot be reached (the simulator answers OriginateResponse `Response: Failure`, `Reason: 0`) and
channel options such as `c(slin16)` (refused the same way).

CoreShowChannels lists a tap's channel like any other from its Newchannel to its Hangup, with what its
events said of it (Up, CallerID `tap`, `default,s,1`, its own Linkedid, ChanVariable `HOTLINE=`),
Application `ChanSpy` with the Originate's Data, and no bridge (ChanSpy does not bridge).
"""

from __future__ import annotations

import logging
import re
import socket
import struct
import threading
import time
import uuid
import wave
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from telephony.frames import Message
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.scenario import CallScript, Fields
from telephony.simulator.snapshot import SimChannel, state_at

log = logging.getLogger(__name__)

FRAME_S = 0.02
SAMPLES = 160  # 20 ms at 8 kHz
SPY_START_S = 0.12  # first audio after the UUID message (ChanSpy polls every 100 ms)
CHECK_EVERY = 5  # frames between looks at whether the spied channel is still there
CONNECT_TIMEOUT_S = 3.0
_CHANNEL = re.compile(r"^AudioSocket/(?P<service>[^/]+)/(?P<uuid>[0-9a-fA-F-]{36})(?P<options>/.*)?$")
_CALLERID = re.compile(r'^\s*"?(?P<name>[^"<]*?)"?\s*<(?P<num>[^>]*)>\s*$')
_CHAN_KEYS = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
              "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority", "Uniqueid", "Linkedid")

VoiceSource = Callable[[CallScript, str], Path | None]  # (call, "rx"|"tx"|"mix") -> WAV file, None: none


def recording_voice(script: CallScript, part: str) -> Path | None:
    """The call's MixMonitor file of that part, as the demo voice writes it (None: not recorded)."""
    if not script.recording:
        return None
    base = Path(script.recording)
    stem = base.name[: -len(".wav")] if base.name.lower().endswith(".wav") else base.name
    return base.with_name(f"{stem}.wav" if part == "mix" else f"{stem}-{part}.wav")


@dataclass(frozen=True, slots=True)
class TapRequest:
    """An Originate the simulator can play as a live tap."""

    action_id: str
    channel: str  # as Asterisk names it: AudioSocket/HOST:PORT-<uuid>
    service: str  # HOST:PORT
    host: str
    port: int
    stream: uuid.UUID
    spied_uniqueid: str
    options: str
    data: str
    caller_num: str
    caller_name: str


class _Tap:
    def __init__(self, taps: AudioSocketTaps, req: TapRequest, linkedid: str, spyee: SimChannel, part: str,
                 sock: socket.socket, uniqueid: str) -> None:
        self.taps = taps
        self.req = req
        self.linkedid = linkedid
        self.spyee = spyee
        self.part = part  # rx, tx, mix or stereo
        self.sock = sock
        self.uniqueid = uniqueid
        self.started = time.time()
        self.stop = threading.Event()
        self.frames_sent = 0
        self.voice_frames = 0
        self.listed = False  # in CoreShowChannels: from its Newchannel to its Hangup

    def sim_channel(self) -> SimChannel:
        """The tap's channel as CoreShowChannels reports it while it is up."""
        fields = dict(self.chan())
        return SimChannel({k: fields[k] for k in _CHAN_KEYS}, chan_variable=fields["ChanVariable"],
                          application="ChanSpy", application_data=self.req.data, started=self.started)

    # ------------------------------------------------------------------ AMI
    def chan(self, prefix: str = "", state: str = "6", cid: bool = True) -> Fields:
        num, name = (self.req.caller_num, self.req.caller_name) if cid else ("<unknown>", "<unknown>")
        values = {"Channel": self.req.channel, "ChannelState": state,
                  "ChannelStateDesc": "Up" if state == "6" else "Down", "CallerIDNum": num, "CallerIDName": name,
                  "ConnectedLineNum": num if cid else "<unknown>", "ConnectedLineName": name if cid else "<unknown>",
                  "Language": "en", "AccountCode": "", "Context": "default", "Exten": "s", "Priority": "1",
                  "Uniqueid": self.uniqueid, "Linkedid": self.uniqueid}
        return [(prefix + k, values[k]) for k in _CHAN_KEYS] + [(prefix + "ChanVariable", "HOTLINE=")]

    def spyee_fields(self) -> Fields:
        f = self.spyee.fields
        return ([("Spyee" + k, f.get(k, "")) for k in _CHAN_KEYS]
                + [("SpyeeChanVariable", self.spyee.chan_variable)])

    def spy_event(self, event: str) -> Fields:
        return [("Event", event), ("Privilege", "call,all"), *self.chan("Spyer"), *self.spyee_fields()]

    def device(self, state: str) -> Fields:
        return [("Event", "DeviceStateChange"), ("Privilege", "call,all"),
                ("Device", self.req.channel.rsplit("-", 1)[0]), ("State", state)]

    def up_events(self) -> list[Fields]:
        r = self.req
        down_unknown = self.chan(state="0", cid=False)
        down = self.chan(state="0")
        newcid = [(k, v if k not in ("ConnectedLineNum", "ConnectedLineName") else "<unknown>") for k, v in down]
        dial_string = r.channel[len("AudioSocket/"):].replace(f"-{r.stream}", f"/{r.stream}", 1)
        base: Fields = [("ActionID", r.action_id)] if r.action_id else []
        return [
            [("Event", "Newchannel"), ("Privilege", "call,all"), *down_unknown],
            [("Event", "VarSet"), ("Privilege", "dialplan,all"), *down_unknown, ("Variable", "AUDIOSOCKET_UUID"),
             ("Value", str(r.stream))],
            [("Event", "VarSet"), ("Privilege", "dialplan,all"), *down_unknown,
             ("Variable", "AUDIOSOCKET_SERVICE"), ("Value", r.service)],
            [("Event", "Newexten"), ("Privilege", "dialplan,all"), *down_unknown, ("Extension", "s"),
             ("Application", "AppDial2"), ("AppData", "(Outgoing Line)")],
            [("Event", "NewCallerid"), ("Privilege", "call,all"), *newcid,
             ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")],
            [("Event", "NewConnectedLine"), ("Privilege", "call,all"), *down],
            [("Event", "DialBegin"), ("Privilege", "call,all"), *self.chan("Dest", state="0"),
             ("DialString", dial_string)],
            [("Event", "Newstate"), ("Privilege", "call,all"), *self.chan()],
            [("Event", "DialEnd"), ("Privilege", "call,all"), *self.chan("Dest"), ("DialStatus", "ANSWER")],
            [("Event", "OriginateResponse"), ("Privilege", "call,all"), *base, ("Response", "Success"),
             ("Channel", r.channel), ("Application", "ChanSpy"), ("Data", r.data), ("Reason", "4"),
             ("Uniqueid", self.uniqueid), ("CallerIDNum", r.caller_num), ("CallerIDName", r.caller_name),
             (f"ChanVariable({r.channel})", "HOTLINE=")],
            self.device("INUSE"),
        ]

    def end_events(self, ended: float) -> list[Fields]:
        r = self.req

        def clock(ts: float) -> str:
            return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")

        secs = str(int(ended - self.started))
        cdr: Fields = [("Event", "Cdr"), ("Privilege", "cdr,all"), ("AccountCode", ""), ("Source", r.caller_num),
                       ("Destination", "s"), ("DestinationContext", "default"),
                       ("CallerID", f'"{r.caller_name}" <{r.caller_num}>'), ("Channel", r.channel),
                       ("DestinationChannel", ""), ("LastApplication", "ChanSpy"), ("LastData", r.data),
                       ("StartTime", clock(self.started)), ("AnswerTime", clock(self.started)),
                       ("EndTime", clock(ended)), ("Duration", secs), ("BillableSeconds", secs),
                       ("Disposition", "ANSWERED"), ("AMAFlags", "DOCUMENTATION"), ("UniqueID", self.uniqueid),
                       ("UserField", "")]
        return [cdr, [("Event", "Hangup"), ("Privilege", "call,all"), *self.chan(), ("Cause", "0"),
                      ("Cause-txt", "Unknown")], self.device("UNKNOWN")]

    # ------------------------------------------------------------------ audio
    def run(self) -> None:
        pbx = self.taps.pbx
        try:
            if self.stop.wait(SPY_START_S):
                return
            pbx.emit([self.spy_event("ChanSpyStart")])
            self._stream()
            pbx.emit([self.spy_event("ChanSpyStop")])
        except Exception:
            log.exception("simulated AudioSocket tap %s failed", self.req.stream)
        finally:
            try:
                self.sock.close()  # Asterisk never sends the hang-up message: a plain TCP close
            except OSError:
                pass
            ended = time.time()
            self.listed = False
            pbx.emit(self.end_events(ended))
            self.taps.finished(self)

    def _stream(self) -> None:
        voice: bytes | None = None
        offset = 0
        channels = 2 if self.part.startswith("stereo") else 1
        frame_bytes = SAMPLES * 2 * channels
        header = struct.pack(">BH", 0x10, frame_bytes)
        silence = bytes(frame_bytes)
        next_at = time.monotonic()
        n = 0
        while not self.stop.is_set():
            if n % CHECK_EVERY == 0:
                if self.taps.spied_gone(self.linkedid, self.req.spied_uniqueid):
                    return
                if voice is None:
                    voice = self.taps.load_voice(self.linkedid, self.part)
            if voice is not None and offset < len(voice):
                frame = voice[offset : offset + frame_bytes]
                frame += bytes(frame_bytes - len(frame))
                offset += frame_bytes
                self.voice_frames += 1
            else:
                frame = silence
            try:
                self.sock.sendall(header + frame)
            except OSError:
                return  # the AudioSocket server hung up: Asterisk ends the channel
            self.frames_sent += 1
            n += 1
            next_at += FRAME_S
            delay = next_at - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)


def _read_wav(path: Path) -> bytes | None:
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != 2 or wav.getframerate() != 8000:
                log.warning("simulated tap: %s is not 8 kHz 16-bit mono; not streamed", path)
                return None
            return wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error):
        return None


class AudioSocketTaps:
    """The live taps of one simulated PBX (`AmiServer.taps`)."""

    def __init__(self, pbx: SimulatedPbx, voice: VoiceSource = recording_voice) -> None:
        self.pbx = pbx
        self.voice = voice
        self._lock = threading.Lock()
        self._taps: dict[str, _Tap] = {}
        self.started = 0
        self.failed = 0

    @staticmethod
    def parse(msg: Message) -> TapRequest | None:
        """The request if the Originate is an AudioSocket channel running ChanSpy, else None."""
        m = _CHANNEL.match(msg.get("Channel").strip())
        if m is None or msg.get("Application").lower() != "chanspy":
            return None
        service = m.group("service")
        host, _, port = service.rpartition(":")
        try:
            port_n = int(port)
        except ValueError:
            return None
        stream = uuid.UUID(m.group("uuid"))
        data = msg.get("Data")
        target, _, options = data.partition(",")
        cid = _CALLERID.match(msg.get("CallerID"))
        num, name = (cid.group("num"), cid.group("name")) if cid else ("<unknown>", "<unknown>")
        options = options.strip() + (m.group("options") or "")
        return TapRequest(msg.get("ActionID"), f"AudioSocket/{service}-{stream}", service, host.strip("[]"), port_n,
                          stream, target.strip(), options, data, num or "<unknown>", name or "<unknown>")

    def originate(self, msg: Message, base: Fields, send: Callable[[Fields], None]) -> bool:
        """Play the Originate as a tap if it is one on a live call's channel; False: not a tap."""
        req = self.parse(msg)
        if req is None:
            return False
        found = self._spied(req.spied_uniqueid)
        if found is None:
            return False  # nothing to spy on: the canned OriginateResponse
        linkedid, script, spyee = found
        send([("Response", "Success"), *base, ("Message", "Originate successfully queued")])
        part = self._part(script, req)
        if part is None:
            self._fail(req, base, f"options {req.options!r} not simulated")
            return True
        try:
            sock = socket.create_connection((req.host, req.port), timeout=CONNECT_TIMEOUT_S)
            sock.settimeout(None)
            sock.sendall(struct.pack(">BH", 0x01, 16) + req.stream.bytes)
        except OSError as exc:
            self._fail(req, base, f"cannot connect to {req.service}: {exc}")
            return True
        tap = _Tap(self, req, linkedid, spyee, part, sock, self.pbx.next_uniqueid())
        with self._lock:
            self._taps[str(req.stream)] = tap
            self.started += 1
        self.pbx.emit(tap.up_events())
        tap.listed = True  # up (Newstate Up is among those events)
        threading.Thread(target=tap.run, name=f"sim-tap-{req.stream}", daemon=True).start()
        return True

    def _fail(self, req: TapRequest, base: Fields, why: str) -> None:
        self.failed += 1
        log.warning("simulated AudioSocket tap %s failed: %s", req.stream, why)
        self.pbx.emit([[("Event", "OriginateResponse"), ("Privilege", "call,all"), *base, ("Response", "Failure"),
                        ("Channel", req.channel), ("Context", ""), ("Exten", ""), ("Application", "ChanSpy"),
                        ("Data", req.data), ("Reason", "0"), ("Uniqueid", "<null>"),
                        ("CallerIDNum", req.caller_num), ("CallerIDName", req.caller_name)]])

    def _spied(self, uniqueid: str) -> tuple[str, CallScript, SimChannel] | None:
        pbx = self.pbx
        calls = [(lid, script) for lid, script in pbx.live_scripts().items() if uniqueid in script.uniqueids]
        for lid, script in calls:
            state = state_at(pbx, time.time(), only=lid)
            for ch in state.channels:
                if ch.fields.get("Uniqueid") == uniqueid:
                    return lid, script, ch
        return None

    @staticmethod
    def _part(script: CallScript, req: TapRequest) -> str | None:
        opts = req.options
        if "/" in opts:  # channel options such as /c(slin16)
            return None
        caller_uid = script.uniqueids[0]
        agent_uid = ""
        for _, f in list(script.messages):
            if f[0] == ("Event", "AgentConnect"):
                agent_uid = dict(f).get("DestUniqueid", "")
        if "D" in opts:
            return "stereo" if req.spied_uniqueid == caller_uid else "stereo-agent"
        if "o" not in opts:
            return "mix"
        if req.spied_uniqueid == caller_uid:
            return "rx"
        return "tx" if req.spied_uniqueid == agent_uid else "silence"

    def load_voice(self, linkedid: str, part: str) -> bytes | None:
        """The PCM to stream for that part of the call, or None while its file is not written yet."""
        call = self.pbx.calls.get(linkedid)
        if call is None or part == "silence":
            return None if call is not None else b""
        script = call.script
        if part in ("rx", "tx", "mix"):
            path = self.voice(script, part)
            return _read_wav(path) if path is not None and path.is_file() else None
        # D: interleaved stereo, L = the spied channel's own voice, R = what it hears
        rx_path, tx_path = self.voice(script, "rx"), self.voice(script, "tx")
        if rx_path is None or tx_path is None or not rx_path.is_file() or not tx_path.is_file():
            return None
        rx, tx = _read_wav(rx_path), _read_wav(tx_path)
        if rx is None or tx is None:
            return None
        left, right = (rx, tx) if part == "stereo" else (tx, rx)
        n = min(len(left), len(right)) // 2
        out = bytearray(n * 4)
        for i in range(n):
            out[4 * i : 4 * i + 2] = left[2 * i : 2 * i + 2]
            out[4 * i + 2 : 4 * i + 4] = right[2 * i : 2 * i + 2]
        return bytes(out)

    def spied_gone(self, linkedid: str, uniqueid: str) -> bool:
        """Has the spied channel hung up (its Hangup played), or its call ended?"""
        call = self.pbx.calls.get(linkedid)
        if call is None:
            return True
        played = self.pbx.played_until
        for t, f in list(call.script.messages):
            if t <= played and f[0] == ("Event", "Hangup") and dict(f).get("Uniqueid") == uniqueid:
                return True
        return False

    def finished(self, tap: _Tap) -> None:
        with self._lock:
            self._taps.pop(str(tap.req.stream), None)

    def channels(self) -> list[SimChannel]:
        """The channels of the taps now up, for CoreShowChannels."""
        with self._lock:
            taps = list(self._taps.values())
        return [tap.sim_channel() for tap in taps if tap.listed]

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._taps)

    def stop(self) -> None:
        with self._lock:
            taps = list(self._taps.values())
        for tap in taps:
            tap.stop.set()
