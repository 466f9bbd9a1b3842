"""`hotline probe` against real sipp playing registrar + PBX on 127.0.0.1 (scenarios in tests/ivr/sipp/).

Each test starts its own sipp on a free port, with `-m N` so sipp ends by itself after the N SIP
dialogs the test expects (REGISTER, the call, the unregister); sipp's exit code then says whether
every dialog went the way its scenario demands (ACK after 486, CANCEL, 200 to its BYE …)."""

from __future__ import annotations

import json
import math
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from loopback import free_block

from cases.db import Database
from cases.probes import ProbeView, latest_probes, probe_history
from hotline_cli.main import main
from ivr.probe.config import ProbeConfig, ProbeConfigError, ProbeError
from ivr.probe.results import ProbeResult
from ivr.probe.rtp import ALAW_TO_LINEAR, ULAW_TO_LINEAR, g711_rms
from ivr.probe.rtp import ProbeRTP as _ProbeRTP
from ivr.probe.run import run_probe
from telephony.connection import AmiEndpoint
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.server import AmiServer

SIPP = Path("/usr/bin/sipp")
SCENARIOS = Path(__file__).resolve().parent / "sipp"
TONE = 8000.0  # amplitude of the prompt tone (RMS ≈ 5700)

# the menu as sipp plays it: prompt, pause, prompt, pause, prompt (seconds, amplitude)
MENU = [(0.8, TONE), (0.8, 0.0), (0.8, TONE), (0.8, 0.0), (0.8, TONE), (1.5, 0.0)]
SILENT = [(3.0, 0.0)]


# ------------------------------------------------------------------------------------- helpers

_ULAW = np.array(ULAW_TO_LINEAR)
_ORDER = np.argsort(_ULAW)
_SORTED = _ULAW[_ORDER]


def ulaw_encode(samples: np.ndarray) -> bytes:
    idx = np.clip(np.searchsorted(_SORTED, samples), 1, 255)
    left, right = _SORTED[idx - 1], _SORTED[idx]
    pick = np.where(np.abs(samples - left) <= np.abs(right - samples), idx - 1, idx)
    return bytes(_ORDER[pick].astype(np.uint8))


def write_prompt_pcap(path: Path, segments: list[tuple[float, float]]) -> None:
    """A pcap of G.711 µ-law RTP (PT 0, 20 ms) for sipp's play_pcap_audio: 440 Hz tone or silence."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]  # pcap, Ethernet
    n = seq = ts = t_us = 0
    for seconds, amplitude in segments:
        for _ in range(round(seconds * 50)):
            samples = amplitude * np.sin(2 * math.pi * 440 * np.arange(n, n + 160) / 8000)
            n += 160
            rtp = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, ts, 0x51BB) + ulaw_encode(samples)
            seq, ts = seq + 1, ts + 160
            udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                             bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
            frame = b"\0" * 12 + b"\x08\x00" + ip
            out.append(struct.pack("<IIII", t_us // 1_000_000, t_us % 1_000_000, len(frame), len(frame)) + frame)
            t_us += 20_000
    path.write_bytes(b"".join(out))


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sipp:
    proc: subprocess.Popen[bytes]
    port: int
    folder: Path

    def wait(self, timeout: float = 15.0) -> int:
        """sipp's exit code once it has seen its -m dialogs (0: every one went by the scenario)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            pytest.fail(f"sipp did not finish its dialogs; its log:\n{self.log()}")

    def log(self) -> str:
        parts = []
        for f in sorted(self.folder.glob("*.log")):
            parts.append(f"== {f.name}\n{f.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


@pytest.fixture
def sipp(tmp_path: Path) -> Iterator[Callable[..., Sipp]]:
    if not SIPP.exists():
        pytest.fail("sipp is missing: install the Debian package sip-tester (/usr/bin/sipp)")
    started: list[Sipp] = []

    def start(scenario: str, dialogs: int, prompt: list[tuple[float, float]] | None = None,
              echo: bool = False) -> Sipp:
        folder = tmp_path / f"sipp{len(started)}"
        folder.mkdir()
        shutil.copy(SCENARIOS / scenario, folder / scenario)
        if prompt is not None:
            write_prompt_pcap(folder / "prompt.pcap", prompt)
        port, media = free_udp_port(), free_udp_port()
        cmd = [str(SIPP), "-sf", scenario, "-i", "127.0.0.1", "-p", str(port), "-mi", "127.0.0.1",
               "-mp", str(media), "-m", str(dialogs), "-nostdin", "-trace_err", "-trace_msg",
               "-timeout", "40s", "-timeout_error"]
        if echo:
            cmd.append("-rtp_echo")
        proc = subprocess.Popen(cmd, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        s = Sipp(proc, port, folder)
        started.append(s)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # sipp is up once its SIP port is taken
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    return s
            if proc.poll() is not None:
                pytest.fail(f"sipp exited at start ({proc.returncode}):\n{s.log()}")
            time.sleep(0.05)
        pytest.fail("sipp did not bind its SIP port within 5 s")

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
        s.proc.wait(5)


def config(port: int, **kw: object) -> ProbeConfig:
    base: dict[str, object] = dict(number="4008001", pbx_host="127.0.0.1", pbx_port=port, register_timeout=2.0,
                                   answer_timeout=3.0, prompt_timeout=3.0, rtp_low=31000, rtp_high=31999)
    base.update(kw)
    return ProbeConfig(**base)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------- up


def test_probe_walks_the_menu_and_reports_up_with_timings(sipp: Callable[..., Sipp]) -> None:
    pbx = sipp("pbx_answer.xml", dialogs=3, prompt=MENU, echo=True)
    result = run_probe(config(pbx.port, keys=("1", "2")))
    assert result.up, result.summary()
    assert result.stage == "done" and result.reason == ""
    assert result.sip_status == 200 and result.codec == "PCMU"
    for name in ("register_s", "ringing_s", "setup_s", "first_audio_s"):
        value = getattr(result, name)
        assert value is not None and 0 <= value < 2.0, (name, value)
    assert result.ringing_s is not None and result.setup_s is not None and result.ringing_s <= result.setup_s
    # each key went after a prompt ended and was answered by the next prompt of sipp's menu
    assert [k.key for k in result.keys] == ["1", "2"]
    assert all(k.response_s is not None and 0 < k.response_s < 0.8 for k in result.keys), result.keys
    assert result.keys[0].sent_at_s > 0.8 and result.keys[1].sent_at_s > result.keys[0].sent_at_s + 0.8
    # sipp got the RFC 2833 events and sent them back with our SSRC (-rtp_echo)
    assert result.dtmf_echoed == "12"
    assert result.loud_frames >= 80 and result.peak_rms > 4000  # two whole prompts + the start of the third
    assert result.rtp_frames > result.loud_frames
    # REGISTER, the call (ACK, BYE answered) and the unregister all went by the scenario
    assert pbx.wait() == 0, pbx.log()
    messages = next(pbx.folder.glob("*_messages.log")).read_text()
    assert "BYE sip:" in messages and "Expires: 0" in messages
    ack = messages[messages.index("ACK sip:"):]
    assert ";tag=" in ack.split("To:", 1)[1].split("\n", 1)[0]  # the ACK carries sipp's To-tag …
    to_tag = messages.split("SIP/2.0 200 OK", 2)[2].split("To:", 1)[1].split("tag=", 1)[1].split()[0]
    assert f"tag={to_tag}" in ack.split("\n\n", 1)[0]  # … the real one (1.6.8 sends a random one)


def test_probe_without_keys_only_needs_the_first_prompt(sipp: Callable[..., Sipp]) -> None:
    pbx = sipp("pbx_answer.xml", dialogs=3, prompt=MENU)
    result = run_probe(config(pbx.port))
    assert result.up and result.keys == () and result.first_audio_s is not None
    assert pbx.wait() == 0, pbx.log()


# ------------------------------------------------------------------------------------- down


def test_silent_prompt_is_down(sipp: Callable[..., Sipp]) -> None:
    pbx = sipp("pbx_answer.xml", dialogs=3, prompt=SILENT)
    result = run_probe(config(pbx.port, keys=("1",), prompt_timeout=1.5))
    assert not result.up and result.stage == "prompt"
    assert result.reason.startswith("no prompt audio within 1.5 s of the answer:")
    assert "loudest RMS 0 < threshold 300" in result.reason  # RTP came, but it was silence
    assert result.rtp_frames > 30 and result.loud_frames == 0 and result.setup_s is not None
    assert result.first_audio_s is None and result.keys == ()
    assert pbx.wait() == 0, pbx.log()  # still hung up properly


def test_a_key_that_brings_no_prompt_is_down(sipp: Callable[..., Sipp]) -> None:
    pbx = sipp("pbx_answer.xml", dialogs=3, prompt=[(0.8, TONE), (3.0, 0.0)])
    result = run_probe(config(pbx.port, keys=("1",), prompt_timeout=1.5))
    assert not result.up and result.stage == "key"
    assert result.reason.startswith("no prompt audio within 1.5 s of key '1':")
    assert result.first_audio_s is not None and [(k.key, k.response_s) for k in result.keys] == [("1", None)]
    assert pbx.wait() == 0, pbx.log()


def test_busy_hotline_is_down_and_the_486_is_acked(sipp: Callable[..., Sipp]) -> None:
    pbx = sipp("pbx_busy.xml", dialogs=3)
    result = run_probe(config(pbx.port))
    assert not result.up and result.stage == "invite"
    assert result.sip_status == 486 and result.reason == "the PBX refused the call: 486 Busy Here"
    assert result.ringing_s is not None and result.setup_s is None
    assert pbx.wait() == 0, pbx.log()  # sipp's scenario ends only after our ACK of the 486


def test_unanswered_invite_is_down_and_cancelled(sipp: Callable[..., Sipp]) -> None:
    pbx = sipp("pbx_no_answer.xml", dialogs=3)
    t = time.monotonic()
    result = run_probe(config(pbx.port, answer_timeout=1.0))
    assert time.monotonic() - t < 10  # bounded: 1 s answer timeout + pyVoIP's 1 s receive-loop start
    assert not result.up and result.stage == "invite"
    assert result.reason == "INVITE to 4008001 got a provisional answer but no final one within 1 s"
    assert result.sip_status is None
    assert pbx.wait() == 0, pbx.log()  # CANCEL → 200, 487 → our ACK


def test_pbx_hanging_up_mid_menu_is_down(sipp: Callable[..., Sipp]) -> None:
    pbx = sipp("pbx_hangs_up.xml", dialogs=3, prompt=[(0.5, TONE), (0.6, 0.0)] * 4)
    result = run_probe(config(pbx.port, keys=("1", "2", "3", "4", "5"), prompt_gap=0.3))
    assert not result.up and result.stage == "key"
    assert result.reason.startswith("the PBX hung up 1.") and result.reason.endswith(" s after answering")
    assert pbx.wait() == 0, pbx.log()  # its BYE got our 200 OK


def test_nothing_listening_is_down_within_the_register_timeout() -> None:
    port = free_udp_port()
    t = time.monotonic()
    result = run_probe(config(port, register_timeout=1.0))
    assert time.monotonic() - t < 5  # pyVoIP's own start() would block 30 s, then retry for ~2 min
    assert not result.up and result.stage == "register"
    assert result.reason == (f"no answer to REGISTER from 127.0.0.1:{port} within 1 s "
                             "(nothing listening, or a registrar that does not answer)")
    assert result.register_s is None and result.setup_s is None


def test_refused_registration_is_down(sipp: Callable[..., Sipp]) -> None:
    pbx = sipp("pbx_register_refused.xml", dialogs=1)
    result = run_probe(config(pbx.port))
    assert not result.up and result.stage == "register"
    assert result.reason.startswith(f"REGISTER refused by 127.0.0.1:{pbx.port}: InvalidAccountInfoError")
    assert pbx.wait() == 0, pbx.log()


# ------------------------------------------------------------------------------------- AMI queue


@pytest.fixture
def ami_pbx(tmp_path: Path) -> Iterator[tuple[SimulatedPbx, AmiServer]]:
    pbx = SimulatedPbx(recordings_dir=str(tmp_path), time_scale=1.0, seed=3)
    pbx.start()
    server = AmiServer(("127.0.0.1", 0), pbx)
    server.serve_in_thread()
    yield pbx, server
    server.shutdown_all()
    pbx.stop()


def _wait_in_queue(pbx: SimulatedPbx, server: AmiServer, queue: str) -> None:
    """The simulator's call from CallerID 'probe' is waiting in `queue`: what the PBX would show
    for the probe's call (the simulator has no SIP side to route the sipp call)."""
    from telephony.actions import Actions
    from telephony.connection import AmiConnection

    pbx.start_call("complaints_abandoned", caller=("probe", "Hotline probe"), abandon_after_s=30)
    conn = AmiConnection(AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline"), lambda m: None)
    conn.connect_and_login()
    reader = threading.Thread(target=lambda: [None for _ in iter(conn.read_once, False)], daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if any(e.caller == "probe" for e in Actions(conn).queue_status(queue).entries):
                return
            time.sleep(0.2)
        pytest.fail(f"the simulated call never waited in {queue}")
    finally:
        conn.close()
        reader.join(3)


def test_queue_check_on_ami(sipp: Callable[..., Sipp], ami_pbx: tuple[SimulatedPbx, AmiServer]) -> None:
    pbx, server = ami_pbx
    _wait_in_queue(pbx, server, "complaints")
    ami = AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline")
    up = sipp("pbx_answer.xml", dialogs=3, prompt=MENU)
    result = run_probe(config(up.port, keys=("2",), queue="complaints", ami=ami, queue_timeout=2.0))
    assert result.up, result.summary()
    assert result.queue == "complaints" and result.queue_seen is True
    assert result.queue_s is not None and result.queue_position == 1
    assert up.wait() == 0, up.log()
    down = sipp("pbx_answer.xml", dialogs=3, prompt=MENU)
    result = run_probe(config(down.port, keys=("1",), queue="service", ami=ami, queue_timeout=1.0))
    assert not result.up and result.stage == "queue" and result.queue_seen is False
    assert result.reason == "the call did not show in queue service (caller probe) within 1 s"
    assert down.wait() == 0, down.log()


def test_unreachable_ami_is_bad_input_and_places_no_call() -> None:
    ami = AmiEndpoint("127.0.0.1", free_udp_port(), "hotline", "hotline")
    with pytest.raises(ProbeError, match="cannot reach Asterisk AMI"):
        run_probe(config(free_udp_port(), queue="service", ami=ami))


# ------------------------------------------------------------------------------------- RFC 2833


def test_rfc2833_events_ride_on_the_audio_stream() -> None:
    """The key's packets share the audio's socket, SSRC, sequence and clock (RFC 4733 2.5)."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(0.5)
    from pyVoIP.RTP import PayloadType, TransmitType

    rtp = _ProbeRTP({0: PayloadType.PCMU, 101: PayloadType.EVENT}, "127.0.0.1", free_udp_port(), "127.0.0.1",
                    sink.getsockname()[1], TransmitType.SENDRECV)
    rtp.start()
    try:
        assert rtp.send_dtmf("#", 100, timeout=3.0)
        time.sleep(0.1)
    finally:
        rtp.stop()
    packets = []
    while True:
        try:
            packets.append(sink.recv(2048))
        except TimeoutError:
            break
    sink.close()
    heads = [struct.unpack("!BBHII", p[:12]) for p in packets]
    assert len({h[4] for h in heads}) == 1  # one SSRC
    assert all((b[2] - a[2]) & 0xFFFF == 1 for a, b in zip(heads, heads[1:], strict=False))  # no gap in sequence
    events = [(h, p[12:]) for h, p in zip(heads, packets, strict=True) if h[1] & 0x7F == 101]
    assert len(events) == 8  # 100 ms: 5 updates + the end packet 3 times
    assert events[0][0][1] & 0x80 and not any(h[1] & 0x80 for h, _ in events[1:])  # marker on the first only
    assert {h[3] for h, _ in events} == {events[0][0][3]}  # all carry the event's start timestamp
    codes = [struct.unpack("!BBH", p) for _, p in events]
    assert {c[0] for c in codes} == {11}  # '#'
    assert [c[2] for c in codes] == [160, 320, 480, 640, 800, 800, 800, 800]
    assert [bool(c[1] & 0x80) for c in codes] == [False] * 5 + [True] * 3
    audio_after = [h for h in heads if h[1] & 0x7F == 0 and h[2] > events[-1][0][2]]
    if audio_after:  # the audio clock kept running through the key
        assert audio_after[0][3] > events[0][0][3] + 800


def test_g711_levels() -> None:
    assert g711_rms(b"\xff" * 160) == 0.0 and g711_rms(b"\x7f" * 160) == 0.0  # µ-law silence
    tone = ulaw_encode(TONE * np.sin(2 * math.pi * 440 * np.arange(160) / 8000))
    assert abs(g711_rms(tone) - TONE / math.sqrt(2)) < 150
    assert ALAW_TO_LINEAR[0xD5] == 8 and ALAW_TO_LINEAR[0x55] == -8  # A-law near-zero codes
    assert ULAW_TO_LINEAR[0x00] == -32124 and ULAW_TO_LINEAR[0x80] == 32124


# ------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("change", "message"), [
    ({"keys": ("1", "x")}, "bad key(s) 'x'"),
    ({"number": "40 08"}, "bad number"),
    ({"pbx_port": 0}, "pbx port 0 is not a UDP port"),
    ({"rtp_low": 2000, "rtp_high": 1000}, "RTP port range 2000-1000 is empty"),
    ({"min_rms": 0}, "min RMS"),
    ({"queue": "service"}, "needs an AMI"),
    ({"answer_timeout": -1}, "answer timeout must be above 0 s"),
])
def test_bad_settings_are_named_errors(change: dict[str, object], message: str) -> None:
    with pytest.raises(ProbeConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config(5060, **change)


def test_busy_local_sip_port_is_bad_input() -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(ProbeError, match="cannot use local SIP port 127.0.0.1:"):
            run_probe(config(free_udp_port(), local_port=holder.getsockname()[1]))
    finally:
        holder.close()


# ------------------------------------------------------------------------------------- CLI


@pytest.fixture(autouse=True)
def _probe_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the CLI stores its results in these tests (never the working folder's var/)."""
    path = tmp_path / "probes.db"
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{path}")
    return path


def stored_probes(url: str) -> list[ProbeView]:
    db = Database(url)
    try:
        with db.session() as s:
            return list(probe_history(s, "service", limit=100))
    finally:
        db.dispose()


def test_cli_up_json_exit_0(sipp: Callable[..., Sipp], capsys: pytest.CaptureFixture[str]) -> None:
    pbx = sipp("pbx_answer.xml", dialogs=3, prompt=MENU)
    code = main(["probe", "4008001", "--pbx", f"127.0.0.1:{pbx.port}", "--keys", "1", "--json",
                 "--register-timeout", "2", "--rtp-ports", "31000-31999"])
    out = capsys.readouterr().out
    assert code == 0, out
    d = json.loads(out)
    assert d["up"] is True and d["number"] == "4008001" and d["keys"][0]["key"] == "1"
    assert set(d) >= {"setup_s", "first_audio_s", "register_s", "duration_s", "started_at"}
    assert ProbeResult(**{**d, "keys": ()}).up  # the JSON is the typed result, field for field
    assert pbx.wait() == 0, pbx.log()


def test_cli_down_exit_1(sipp: Callable[..., Sipp], capsys: pytest.CaptureFixture[str]) -> None:
    pbx = sipp("pbx_busy.xml", dialogs=3)
    code = main(["probe", "4008001", "--pbx", f"127.0.0.1:{pbx.port}", "--register-timeout", "2"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith(f"4008001 via 127.0.0.1:{pbx.port}: DOWN at invite: the PBX refused the call: 486 Busy")
    assert pbx.wait() == 0, pbx.log()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_cli_stores_each_result_for_the_wallboard(sipp: Callable[..., Sipp], backend: str, tmp_path: Path,
                                                  request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'wb.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    up = sipp("pbx_answer.xml", dialogs=3, prompt=MENU)
    rtp = free_block(100)  # this worker's own: not a range another worker's probe uses at the same time
    assert main(["probe", "4008001", "--pbx", f"127.0.0.1:{up.port}", "--keys", "1", "--database", url,
                 "--register-timeout", "2", "--rtp-ports", f"{rtp}-{rtp + 99}"]) == 0
    assert up.wait() == 0, up.log()
    busy = sipp("pbx_busy.xml", dialogs=3)
    assert main(["probe", "4008001", "--pbx", f"127.0.0.1:{busy.port}", "--database", url,
                 "--register-timeout", "2"]) == 1
    assert busy.wait() == 0, busy.log()
    down, first = stored_probes(url)  # newest first
    assert (first.hotline, first.number, first.up, first.stage) == ("service", "4008001", True, "done")
    assert first.reason == ""
    assert first.setup_s is not None and first.first_audio_s is not None and first.register_s is not None
    assert (down.up, down.stage) == (False, "invite")
    assert down.reason.startswith("the PBX refused the call: 486 Busy")
    assert down.started_at > first.started_at and down.started_at.tzinfo is not None
    db = Database(url)
    with db.session() as s:
        assert [(p.hotline, p.up) for p in latest_probes(s)] == [("service", False)]
    db.dispose()


def test_cli_every_repeats_and_stores_runs_that_cannot_be_made(capsys: pytest.CaptureFixture[str],
                                                               _probe_database: Path) -> None:
    port = free_udp_port()
    argv = ["probe", "4008001", "--pbx", f"127.0.0.1:{port}", "--register-timeout", "0.5", "--every", "0.1",
            "--count", "2"]
    assert main(argv) == 1
    # AMI unreachable: a monitor stores the run as down (stage error) and keeps going
    assert main([*argv, "--queue", "service", "--ami", "127.0.0.1:1", "--count", "1"]) == 1
    runs = stored_probes(f"sqlite:///{_probe_database}")
    assert [(r.stage, r.up) for r in runs] == [("error", False), ("register", False), ("register", False)]
    assert "127.0.0.1:1" in runs[0].reason
    out = capsys.readouterr().out
    assert out.count("DOWN at register") == 2 and out.count("DOWN at error") == 1


@pytest.mark.parametrize("argv", [
    ["probe", "4008001", "--pbx", "127.0.0.1:5060", "--every", "0"],
    ["probe", "4008001", "--pbx", "127.0.0.1:5060", "--every", "5", "--count", "0"],
    ["probe", "4008001", "--pbx", "127.0.0.1:5060", "--database", "mysql://x/y"],
    ["probe", "4008001", "--pbx", "127.0.0.1:5060", "--keys", "1,x"],
    ["probe", "4008001", "--pbx", "127.0.0.1:5060", "--queue", "service", "--ami", "127.0.0.1:1"],
    ["probe", "4008001", "--pbx", "127.0.0.1:0"],
])
def test_cli_bad_input_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str], _probe_database: Path) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hotline probe: error: ") and err.count("\n") == 1
    if _probe_database.exists():  # a single run with bad input stores nothing
        assert stored_probes(f"sqlite:///{_probe_database}") == []


def test_cli_bad_pbx_address_exit_2() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["probe", "4008001", "--pbx", "127.0.0.1:notaport"])
    assert exc.value.code == 2


# ------------------------------------------------------------------------------------- INVITE auth


def test_invite_challenge_is_answered_with_digest_credentials(sipp: Callable[..., Sipp]) -> None:
    """sipp challenges the INVITE (401, qop=auth, opaque) and verifies the digest (verifyauth)."""
    pbx = sipp("pbx_auth.xml", dialogs=3, prompt=MENU)
    result = run_probe(config(pbx.port, password="s3cret"))
    assert result.up, result.summary()
    assert pbx.wait() == 0, pbx.log()
    messages = next(pbx.folder.glob("*_messages.log")).read_text()
    assert 'Authorization: Digest username="probe",realm="hotline"' in messages
    assert 'uri="sip:4008001@127.0.0.1",qop=auth,nc=00000001' in messages and 'opaque="op42"' in messages
    wrong = sipp("pbx_auth.xml", dialogs=3, prompt=MENU)
    result = run_probe(config(wrong.port, password="wrong"))
    assert not result.up and result.stage == "invite" and result.sip_status == 403
    assert wrong.wait() == 0, wrong.log()
