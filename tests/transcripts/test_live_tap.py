"""Live taps end to end: a simulated call is answered, our listener sends one AudioSocket/ChanSpy
Originate per speaker over AMI, the PBX simulator connects to our AudioSocket server like Asterisk
does and streams each speaker's voice in real time, the real Vosk model transcribes, and the lines
reach the live bus mapped to (call, speaker). The transcript equals what Vosk itself returns for the
very bytes that arrived; the tap channel's AMI events have the field sets of the real capture."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import vosk

from hotline_cli.livetap import LiveTap, LiveTapSettings
from telephony.connection import AmiEndpoint
from telephony.events import CallAnswered, CallEnded, CallStarted, DomainEvent, EventBus
from telephony.frames import FrameParser
from telephony.pbxlink import PbxControl, PbxLink, make_links
from telephony.simulator.pbx import SimulatedPbx
from telephony.simulator.scenario import CallScript, Fields
from telephony.simulator.server import AmiServer, Credentials
from telephony.simulator.voice import make_call_recording
from tests.transcripts.audiosocket_replay import FIX, vosk_reference, wav_pcm
from transcripts.engine import VoskEngine
from transcripts.live_events import LiveAlert, LiveBus, LiveEvent, LiveLine, LiveWatcher
from transcripts.standard import load_rules

CAPTURE_UUID = "6deb6439-bfda-46cf-84d6-f026d9c346e7"  # as-tap-1-caller-only-chanspy-o
CAPTURE_UID = "1796029404.31"  # its AudioSocket channel's Uniqueid


def capture_field_sets() -> dict[str, list[str]]:
    """Field names, in order, of every AMI event real Asterisk sent for one AudioSocket tap channel."""
    parser = FrameParser(max_frame=1 << 20)
    out: dict[str, list[str]] = {}
    for msg in parser.feed((FIX / "as-tap-queue-call.ami.ami").read_bytes()):
        text = "\n".join(f"{k}: {v}" for k, v in msg.fields.items())
        device = "Device: AudioSocket/127.0.0.1:9092-6deb6439-bfda-46cf-84d6\n"
        mine = CAPTURE_UUID in text or f"Uniqueid: {CAPTURE_UID}" in text or device in text + "\n"
        if "Event" not in msg.fields or not mine:
            continue
        name = msg.fields["Event"]
        if name == "DeviceStateChange":
            name += ":" + msg.fields["State"]
        keys = [k.replace(f"AudioSocket/127.0.0.1:9092-{CAPTURE_UUID}", "CHANNEL") for k in msg.fields]
        out.setdefault(name, keys)
    return out


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[DomainEvent] = []
        self.live: list[LiveEvent] = []
        self.audio: dict[str, bytearray] = defaultdict(bytearray)
        self.ami: list[Fields] = []
        self.links: list[PbxLink] = []

    def on_event(self, e: DomainEvent) -> None:
        with self.lock:
            self.events.append(e)

    def on_live(self, e: LiveEvent) -> None:
        with self.lock:
            self.live.append(e)

    def on_audio(self, stream: str, rate: int, pcm: bytes) -> None:
        with self.lock:
            self.audio[stream] += pcm

    def on_ami(self, batch: list[Fields]) -> None:
        with self.lock:
            self.ami.extend(batch)


@pytest.fixture
def rig(tmp_path: Path, steady_engine: VoskEngine, voice_cache: Path) -> Iterator[tuple[SimulatedPbx, LiveTap,
                                                                                       Recorder]]:
    pbx = SimulatedPbx(recordings_dir=str(tmp_path / "rec"), seed=1)
    (tmp_path / "rec").mkdir()

    def voice(script: CallScript) -> None:  # the caller and the agent say different things
        if script.recording:
            make_call_recording(Path(script.recording), "택배가 아직 안 왔어요",
                                "안녕하세요 상담원입니다 무엇을 도와드릴까요", cache_dir=voice_cache)

    pbx.on_script(voice)
    server = AmiServer(("127.0.0.1", 0), pbx, Credentials("hotline", "hotline"))
    rec = Recorder()
    pbx.add_listener(rec.on_ami)
    pbx.start()
    server.serve_in_thread()
    bus = EventBus()
    bus.subscribe(rec.on_event)
    links = make_links([AmiEndpoint("127.0.0.1", server.port, "hotline", "hotline", "pbx1")], bus)
    rec.links = links
    live_bus = LiveBus()
    live_bus.subscribe(rec.on_live)
    tap = LiveTap(LiveTapSettings(listen_port=0, prewarm=2), PbxControl(links), lambda: steady_engine, live_bus)
    bus.subscribe(tap.on_event)
    tap.start(wait=True)
    assert tap.server is not None
    tap.server.on_audio = rec.on_audio
    for link in links:
        link.client.start()
    deadline = time.time() + 10
    while not links[0].client.connected.is_set() and time.time() < deadline:
        time.sleep(0.05)
    yield pbx, tap, rec
    for link in links:
        link.client.stop()
    tap.stop()
    pbx.stop()
    server.shutdown_all()


def test_simulated_call_is_tapped_per_speaker_and_transcribed_like_vosk(
    rig: tuple[SimulatedPbx, LiveTap, Recorder], vosk_model: vosk.Model
) -> None:
    pbx, tap, rec = rig
    deadline = time.time() + 120  # the tap made two recognisers ready at start (LiveTapSettings.prewarm)
    while time.time() < deadline and tap.status()["recognisers_prewarmed"] < 2:
        time.sleep(0.2)
    assert tap.status()["recognisers_prewarmed"] == 2
    script = pbx.start_call("service_answered", agents=["agent1001"], talk_s=12)
    deadline = time.time() + 60
    while time.time() < deadline and not (tap.streams_ended >= 2 and any(isinstance(e, CallEnded)
                                                                          for e in rec.events)):
        time.sleep(0.2)
    assert tap.streams_ended == 2, tap.status()
    answered = [e for e in rec.events if isinstance(e, CallAnswered)]
    assert len(answered) == 1 and answered[0].customer_uniqueid == script.uniqueids[0]
    assert answered[0].agent_uniqueid and answered[0].agent_uniqueid != answered[0].customer_uniqueid
    # the tap channels are not calls: one call started and ended, no phantom "internal" call
    assert [e.linkedid for e in rec.events if isinstance(e, CallStarted)] == [script.linkedid]
    assert [e.record.outcome for e in rec.events if isinstance(e, CallEnded)] == ["answered"]
    assert tap.originates_sent == 2 and tap.originates_failed == 0

    lines = [e for e in rec.live if isinstance(e, LiveLine)]
    streams = {e.speaker: e.stream for e in lines}
    assert set(streams) == {"customer", "agent"}, lines
    assert all(e.linkedid == script.linkedid and e.agent == "agent1001" for e in lines)
    # each stream carried exactly that speaker's recorded voice (the MixMonitor rx / tx file)
    assert script.recording
    base = Path(script.recording)
    rx, tx = (wav_pcm(base.with_name(f"{base.stem}-{p}.wav")) for p in ("rx", "tx"))
    got_customer, got_agent = bytes(rec.audio[streams["customer"]]), bytes(rec.audio[streams["agent"]])
    assert rx in got_customer and tx in got_agent
    assert tx.strip(b"\0") not in got_customer and rx.strip(b"\0") not in got_agent
    # partials and finals equal what Vosk itself returns for the same bytes in the same pieces
    for speaker, stream in streams.items():
        got = [(e.final, e.text) for e in lines if e.stream == stream]
        assert got == vosk_reference(vosk_model, bytes(rec.audio[stream])), speaker
        assert any(final for final, _ in got) and any(not final for final, _ in got), speaker
        seqs = [e.seq for e in lines if e.stream == stream]
        assert seqs == list(range(1, len(seqs) + 1))
    assert tap.server is not None and tap.server.pool.in_use == 0  # recognisers released at hang-up
    assert tap.server.pool.idle == 2  # the two streams ran on the prewarmed ones: no third was made


def test_tap_channel_events_have_the_field_sets_of_real_asterisk(rig: tuple[SimulatedPbx, LiveTap, Recorder]) -> None:
    pbx, tap, rec = rig
    pbx.start_call("service_answered", agents=["agent1002"], talk_s=3)
    deadline = time.time() + 30
    while time.time() < deadline and tap.streams_ended < 2:
        time.sleep(0.1)
    assert tap.streams_ended == 2
    time.sleep(0.3)
    expected = capture_field_sets()
    assert set(expected) >= {"Newchannel", "VarSet", "OriginateResponse", "ChanSpyStart", "ChanSpyStop", "Cdr",
                             "Hangup", "DeviceStateChange:INUSE"}
    seen: dict[str, list[list[str]]] = defaultdict(list)
    order: list[str] = []
    stream = tap.status()
    assert stream["originates_sent"] == 2
    with rec.lock:
        ami = list(rec.ami)
    taps = {dict(f).get("Channel", "") for f in ami if dict(f).get("Event") == "Newchannel"
            and dict(f).get("Channel", "").startswith("AudioSocket/")}
    assert len(taps) == 2
    one = sorted(taps)[0]
    uid = next(dict(f)["Uniqueid"] for f in ami if dict(f).get("Event") == "Newchannel" and dict(f)["Channel"] == one)
    for f in ami:
        text = "\n".join(f"{k}: {v}" for k, v in f)
        if one not in text and f"Uniqueid: {uid}" not in text and one.rsplit("-", 1)[0] not in text:
            continue
        d = dict(f)
        name = d["Event"] + (":" + d["State"] if d["Event"] == "DeviceStateChange" else "")
        order.append(name)
        seen[name].append([k.replace(one, "CHANNEL") for k, _ in f])
    assert set(seen) == set(expected), (sorted(seen), sorted(expected))
    for name, keys in seen.items():
        for k in keys:
            assert k == expected[name], name
    assert order[0] == "Newchannel" and order[-1] == "DeviceStateChange:UNKNOWN"
    assert order.index("OriginateResponse") < order.index("ChanSpyStart") < order.index("ChanSpyStop") \
        < order.index("Hangup")
    response = next(dict(f) for f in ami if dict(f).get("Event") == "OriginateResponse" and dict(f)["Channel"] == one)
    assert response["Response"] == "Success" and response["Reason"] == "4" and response["Data"].endswith(",qEuo")


def test_originate_for_a_channel_that_is_not_live_gets_the_plain_answer(
    rig: tuple[SimulatedPbx, LiveTap, Recorder]
) -> None:
    pbx, tap, rec = rig
    from transcripts.live import tap_call

    cust, _agent = tap_call("1.1", "1796000000.1", "1796000000.2")
    tap.transcriber.register(cust, "agent1001")
    tap._originate(cust)
    time.sleep(0.5)
    assert tap.server is not None and tap.server.counters.accepted == 0
    responses = [dict(f) for f in rec.ami if dict(f).get("Event") == "OriginateResponse"]
    assert responses and responses[-1]["Channel"].startswith("AudioSocket/")


def test_live_watcher_alerts_once_per_call_speaker_and_phrase() -> None:
    rules = load_rules()
    watcher = LiveWatcher(rules)

    def line(speaker: str, text: str, linkedid: str = "c.1", final: bool = False) -> LiveLine:
        return LiveLine(linkedid, "agent1001", speaker, "s", 1, final, text, 1.0, 0.0)

    assert watcher.check(line("customer", "我 要 投诉 要 赔偿")) == []  # the hotlines' business: no alert
    [alert] = watcher.check(line("customer", "我 要 找 律师"))
    assert (alert.rule, alert.phrase, alert.speaker) == ("escalation", "律师", "customer")
    assert watcher.check(line("customer", "我要找律师", final=True)) == []  # once per call and phrase
    assert watcher.check(line("agent", "律师")) == []  # escalation words count when the customer says them
    assert [a.phrase for a in watcher.check(line("customer", "打 一 二 三 一 五"))] == ["12315"]
    [taboo] = watcher.check(line("agent", "这个 不归我管"))
    assert taboo.rule == "taboo:bad_attitude" and isinstance(taboo, LiveAlert)
    assert watcher.check(line("customer", "不归我管")) == []
    assert len(watcher.check(line("customer", "律师", linkedid="c.2"))) == 1
    watcher.forget("c.1")
    assert len(watcher.check(line("customer", "律师"))) == 1


def test_a_call_answered_again_keeps_its_customer_stream_for_the_new_agent(
    rig: tuple[SimulatedPbx, LiveTap, Recorder]
) -> None:
    """A second AgentConnect on the same call (a transfer): the customer's channel is not tapped twice;
    its stream's lines go to the new agent; the new agent's channel gets its own Originate."""
    pbx, tap, rec = rig
    script = pbx.start_call("service_answered", agents=["agent1003"], talk_s=8)
    deadline = time.time() + 20
    while time.time() < deadline and tap.originates_sent < 2:
        time.sleep(0.05)
    assert tap.originates_sent == 2
    customer_uid = script.uniqueids[0]
    [customer] = [t for t in tap.transcriber.streams_of(script.linkedid) if t.spied_uniqueid == customer_uid]
    assert tap.transcriber.agent_of(customer.stream_uuid) == "agent1003"
    tap._tap(CallAnswered(script.linkedid, "agent1002", "service", time.time(), customer_uid, "1796000099.99"))
    assert tap.originates_sent + tap.originates_failed == 3  # only the new agent's channel
    assert tap.transcriber.agent_of(customer.stream_uuid) == "agent1002"
    spied = [t.spied_uniqueid for t in tap.transcriber.streams_of(script.linkedid)]
    assert spied.count(customer_uid) == 1 and "1796000099.99" in spied
    deadline = time.time() + 30
    while time.time() < deadline and tap.streams_ended < 2:
        time.sleep(0.1)
    time.sleep(0.5)
    late = [e for e in rec.live if isinstance(e, LiveLine) and e.stream == customer.stream_uuid]
    assert late and late[-1].agent == "agent1002"


def test_a_resync_during_a_tapped_call_sees_the_tap_channels_and_takes_them_for_no_call(
    rig: tuple[SimulatedPbx, LiveTap, Recorder]
) -> None:
    """On real Asterisk a tap is a channel like any other: CoreShowChannels lists it (its own Linkedid,
    ChanSpy on the spied Uniqueid). A resync while a call is tapped keeps the call as it is, with its
    caller and agent legs, and starts no call for the tap channels; once the call ends they are gone."""
    from telephony.resync import resync

    pbx, tap, rec = rig
    script = pbx.start_call("service_answered", agents=["agent1001"], talk_s=8)
    deadline = time.time() + 30
    while time.time() < deadline and not (tap.server is not None and tap.server.active_streams == 2):
        time.sleep(0.05)
    assert tap.server is not None and tap.server.active_streams == 2, tap.status()
    [link] = rec.links
    actions = PbxControl([link]).actions()
    channels = actions.core_show_channels()
    taps = [c for c in channels if c.channel.startswith("AudioSocket/")]
    legs = [c for c in channels if not c.channel.startswith("AudioSocket/")]
    streams = {t.stream_uuid: t for t in tap.transcriber.streams_of(script.linkedid)}
    assert len(taps) == 2
    for c in taps:
        stream = next(s for s in streams if c.channel.endswith(s))
        assert c.channel == f"AudioSocket/127.0.0.1:{tap.port}-{stream}"
        assert (c.state, c.application, c.application_data) == ("Up", "ChanSpy",
                                                               f"{streams[stream].spied_uniqueid},qEuo")
        assert c.linkedid == c.uniqueid and c.uniqueid not in script.uniqueids  # a call of its own
        assert (c.caller, c.context, c.exten, c.bridge_id, c.hotline) == ("tap", "default", "s", "", "")
    assert {c.uniqueid for c in legs} >= {streams[s].spied_uniqueid for s in streams}
    assert {c.linkedid for c in legs} == {script.linkedid}

    before = link.tracker.snapshot()
    report = resync(link.client.conn, link.tracker)
    assert (report.closed, report.taken_up) == ([], [])
    assert link.tracker.live_call_ids() == [script.linkedid]
    after = link.tracker.snapshot()
    assert [(a.agent, a.status, a.linkedid) for a in after.agents] == [(a.agent, a.status, a.linkedid)
                                                                        for a in before.agents]
    assert any(a.agent == "agent1001" and a.status == "busy" and a.linkedid == script.linkedid
               for a in after.agents), after.agents

    deadline = time.time() + 60
    while time.time() < deadline and tap.streams_ended < 2:
        time.sleep(0.1)
    assert tap.streams_ended == 2
    time.sleep(0.3)
    assert not [c for c in actions.core_show_channels() if c.channel.startswith("AudioSocket/")]
    assert [e.linkedid for e in rec.events if isinstance(e, CallStarted)] == [script.linkedid]
