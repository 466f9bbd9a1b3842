"""The AudioSocket server against the real Asterisk 20 captures, with the real Vosk model."""

from __future__ import annotations

import json
import math
import random
import socket
import struct
import threading
import uuid
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
import vosk

from tests.transcripts.audiosocket_replay import FIX, replay, vosk_reference
from transcripts.audiosocket import (
    DEFAULT_CHUNK_MS,
    KIND_HANGUP,
    KIND_SLIN,
    KIND_UUID,
    AudioSocketServer,
    LiveResult,
    Message,
    MessageDecoder,
    PoolExhausted,
    RecognizerPool,
    StreamSummary,
    StreamTranscriber,
    decode_all,
    encode_message,
    warm_up_pcm,
)
from transcripts.engine import StreamRecognizer, VoskEngine, VoskStream
from transcripts.errors import AudioFormatError

CAPTURES = [
    "as-tap-1-caller-only-chanspy-o",
    "as-tap-2-agent-only-chanspy-o",
    "as-app-01-listen-caller-hangs-up",
    "as-tap-overlap-1-caller-only-chanspy-o",
    "as-tap-overlap-2-agent-only-chanspy-o",
]


def expected_messages(name: str) -> list[tuple[str, int, str]]:
    """(kind hex, payload length, detail) per row of the capture's messages.tsv."""
    rows = (FIX / f"{name}.messages.tsv").read_text().splitlines()[1:]
    out = []
    for row in rows:
        cols = row.split("\t")
        assert cols[2] == "asterisk->server"
        out.append((cols[3], int(cols[5]), cols[6]))
    return out


def describe(msg: Message) -> tuple[str, int, str]:
    """The same three columns computed from a parsed message."""
    if msg.kind == KIND_UUID:
        detail = str(uuid.UUID(bytes=msg.payload))
    elif msg.kind == 0x03:
        detail = f"digit '{msg.payload.decode()}'"
    else:
        samples = struct.unpack(f"<{len(msg.payload) // 2}h", msg.payload)
        rms = round(math.sqrt(sum(s * s for s in samples) / len(samples)))
        detail = f"samples16={len(samples)} rms={rms}"
    return (f"0x{msg.kind:02x}", len(msg.payload), detail)


def wav_frames(name: str) -> bytes:
    with wave.open(str(FIX / f"{name}.audio.wav"), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        return wav.readframes(wav.getnframes())


class Collector:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.results: dict[str, list[LiveResult]] = {}
        self.messages: list[tuple[str | None, Message]] = []
        self.audio: dict[str, bytearray] = {}
        self.ended: list[StreamSummary] = []
        self.ended_event = threading.Condition(self.lock)

    def on_result(self, r: LiveResult) -> None:
        with self.lock:
            self.results.setdefault(r.stream, []).append(r)

    def on_message(self, stream: str | None, m: Message) -> None:
        with self.lock:
            self.messages.append((stream, m))

    def on_audio(self, stream: str, rate: int, pcm: bytes) -> None:
        with self.lock:
            self.audio.setdefault(stream, bytearray()).extend(pcm)

    def on_end(self, s: StreamSummary) -> None:
        with self.lock:
            self.ended.append(s)
            self.ended_event.notify_all()

    def wait_ended(self, n: int, timeout: float = 60) -> list[StreamSummary]:
        with self.lock:
            assert self.ended_event.wait_for(lambda: len(self.ended) >= n, timeout), f"only {len(self.ended)} ended"
            return list(self.ended)


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def server(steady_engine: VoskEngine, collector: Collector) -> Iterator[AudioSocketServer]:
    srv = AudioSocketServer(
        RecognizerPool(steady_engine, max_streams=4),
        collector.on_result,
        on_stream_end=collector.on_end,
        on_message=collector.on_message,
        on_audio=collector.on_audio,
    )
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.parametrize("name", CAPTURES)
def test_decoder_parses_the_real_captures_as_asterisk_sent_them(name: str) -> None:
    data = (FIX / f"{name}.from-asterisk.bin").read_bytes()
    messages, rest = decode_all(data)
    assert rest == 0
    assert [describe(m) for m in messages] == expected_messages(name)
    # the same when the bytes arrive in arbitrary pieces, one byte at a time at the start
    decoder = MessageDecoder()
    rng = random.Random(7)
    pieces: list[Message] = []
    i = 0
    while i < len(data):
        n = 1 if i < 50 else rng.randint(1, 700)
        pieces += decoder.feed(data[i : i + n])
        i += n
    assert pieces == messages and decoder.buffered == 0


@pytest.mark.parametrize("name", ["as-tap-1-caller-only-chanspy-o", "as-app-01-listen-caller-hangs-up"])
def test_server_replays_a_real_capture(
    server: AudioSocketServer, collector: Collector, vosk_model: vosk.Model, name: str
) -> None:
    data = (FIX / f"{name}.from-asterisk.bin").read_bytes()
    replay(server.port, data)
    (summary,) = collector.wait_ended(1)
    expected = expected_messages(name)
    stream_id = expected[0][2]
    # every message parsed over TCP equals the capture's messages.tsv
    assert [describe(m) for _, m in collector.messages] == expected
    # the audio fed to the recogniser is exactly the captured audio
    assert bytes(collector.audio[stream_id]) == wav_frames(name)
    assert summary.stream == stream_id
    assert summary.ended_by == "close"  # Asterisk never sends the hang-up message
    assert summary.messages == len(expected)
    assert summary.sample_rate == 8000
    assert summary.truncated_bytes == 0
    assert summary.audio_s == pytest.approx(len(wav_frames(name)) / 2 / 8000)
    assert summary.dtmf == ("3" if name.startswith("as-app-01") else "")
    # partial and final results equal what Vosk returns for the same audio in the same pieces
    got = [(r.final, r.text) for r in collector.results.get(stream_id, [])]
    assert got == vosk_reference(vosk_model, wav_frames(name))
    assert got, "Vosk heard nothing at all in the capture"
    assert got[-1][0] is True
    assert server.pool.in_use == 0 and server.pool.idle == 1


def test_two_speakers_at_once_and_recogniser_reuse(
    server: AudioSocketServer, collector: Collector, vosk_model: vosk.Model
) -> None:
    names = ["as-tap-overlap-1-caller-only-chanspy-o", "as-tap-overlap-2-agent-only-chanspy-o"]
    threads = [
        threading.Thread(target=replay, args=(server.port, (FIX / f"{n}.from-asterisk.bin").read_bytes()))
        for n in names
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    collector.wait_ended(2)
    # the pooled recognisers are reused: a third stream gets a reset one and still matches Vosk
    replay(server.port, (FIX / f"{names[0]}.from-asterisk.bin").read_bytes(), chunks=[5, 3, 1000, 77] * 50)
    ended = collector.wait_ended(3)
    assert server.pool.idle == 2 and server.pool.in_use == 0
    for name in names:
        stream_id = expected_messages(name)[0][2]
        assert bytes(collector.audio[stream_id]).startswith(wav_frames(name))
    first = expected_messages(names[0])[0][2]
    ref = vosk_reference(vosk_model, wav_frames(names[0]))
    results = [(r.final, r.text) for r in collector.results[first]]
    assert results == ref + ref  # the same stream UUID twice: both runs gave Vosk's own results
    # and the reused recogniser times its words from the start of its new stream, as a new one does
    # (Vosk's own clock runs on across Reset())
    finals = [r.words for r in collector.results[first] if r.final]
    assert finals[: len(finals) // 2] == finals[len(finals) // 2 :] and finals[0]
    assert {s.ended_by for s in ended} == {"close"}


def test_hangup_message_ends_the_stream(server: AudioSocketServer, collector: Collector) -> None:
    stream_id = uuid.uuid4()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(encode_message(KIND_UUID, stream_id.bytes) + encode_message(KIND_SLIN, bytes(320)) * 10)
    sock.sendall(encode_message(KIND_HANGUP))
    (summary,) = collector.wait_ended(1)
    sock.close()
    assert summary.ended_by == "hangup" and summary.stream == str(stream_id)
    assert summary.audio_s == pytest.approx(0.2)


def test_slin16_stream_runs_at_16k(server: AudioSocketServer, collector: Collector) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(encode_message(KIND_UUID, uuid.uuid4().bytes) + encode_message(0x12, bytes(640)) * 5)
    sock.close()
    (summary,) = collector.wait_ended(1)
    assert summary.sample_rate == 16000 and summary.audio_s == pytest.approx(0.1)


def test_protocol_errors_end_the_stream_with_a_reason(server: AudioSocketServer, collector: Collector) -> None:
    replay(server.port, encode_message(KIND_SLIN, bytes(320)))  # audio before the UUID
    replay(server.port, encode_message(KIND_UUID, b"short"))
    replay(server.port, encode_message(KIND_UUID, uuid.uuid4().bytes) + encode_message(KIND_SLIN, bytes(33)))
    ended = collector.wait_ended(3)
    assert [s.ended_by for s in ended] == ["protocol"] * 3
    assert any("16-byte UUID" in (s.error or "") for s in ended)
    assert any("odd length" in (s.error or "") for s in ended)
    assert server.counters.protocol_errors == 3
    assert server.pool.in_use == 0


def test_truncated_stream_is_reported(server: AudioSocketServer, collector: Collector) -> None:
    data = (FIX / "as-tap-1-caller-only-chanspy-o.from-asterisk.bin").read_bytes()
    replay(server.port, data[:-100], chunks=[4096] * 10)
    (summary,) = collector.wait_ended(1)
    assert summary.ended_by == "close"
    assert summary.truncated_bytes == 323 - 100  # the last message was cut
    assert summary.messages == len(expected_messages("as-tap-1-caller-only-chanspy-o")) - 1


def test_peer_not_allowed_is_refused(steady_engine: VoskEngine, collector: Collector) -> None:
    srv = AudioSocketServer(RecognizerPool(steady_engine), collector.on_result, allowed_peers=("192.0.2.1",))
    srv.start()
    try:
        assert srv.host == "127.0.0.1"
        sock = socket.create_connection(("127.0.0.1", srv.port))
        sock.settimeout(5)
        sock.sendall(encode_message(KIND_UUID, uuid.uuid4().bytes))
        try:
            got = sock.recv(10)
        except ConnectionResetError:  # closed with our UUID unread: a reset
            got = b""
        assert got == b""  # closed without a word
        sock.close()
    finally:
        srv.stop()
    assert srv.counters.refused_peer == 1 and srv.counters.accepted == 0


def test_pool_limit_refuses_a_stream_with_hangup(steady_engine: VoskEngine, collector: Collector) -> None:
    pool = RecognizerPool(steady_engine, max_streams=1)
    srv = AudioSocketServer(pool, collector.on_result, on_stream_end=collector.on_end)
    srv.start()
    try:
        first = socket.create_connection(("127.0.0.1", srv.port))
        first.sendall(encode_message(KIND_UUID, uuid.uuid4().bytes) + encode_message(KIND_SLIN, bytes(320)))
        while srv.pool.in_use == 0:
            threading.Event().wait(0.01)
        second = socket.create_connection(("127.0.0.1", srv.port))
        second.settimeout(10)
        second.sendall(encode_message(KIND_UUID, uuid.uuid4().bytes) + encode_message(KIND_SLIN, bytes(320)))
        assert second.recv(10) == bytes([KIND_HANGUP, 0, 0])
        second.close()
        first.close()
        ended = collector.wait_ended(2)
    finally:
        srv.stop()
    assert sorted(s.ended_by for s in ended) == ["close", "refused"]
    assert srv.counters.refused_busy == 1


def test_pool_acquire_and_release(steady_engine: VoskEngine) -> None:
    pool = RecognizerPool(steady_engine, max_streams=2)
    a = pool.acquire(8000)
    b = pool.acquire(16000)
    with pytest.raises(PoolExhausted):
        pool.acquire(8000)
    pool.release(a)
    assert pool.acquire(8000) is a  # reused, not rebuilt
    pool.release(b)
    assert (pool.in_use, pool.idle) == (1, 1)


class WatchedStream(VoskStream):
    """A real Vosk recogniser that also keeps what it was given and what it said."""

    def __init__(self, model: vosk.Model, sample_rate: int) -> None:
        super().__init__(model, sample_rate)
        self.fed = 0
        self.said: list[str] = []

    def accept(self, pcm: bytes) -> bool:
        self.fed += len(pcm)
        return super().accept(pcm)

    def result(self) -> str:
        raw = super().result()
        self.said.append(raw)
        return raw

    def final(self) -> str:
        raw = super().final()
        self.said.append(raw)
        return raw


class WatchedEngine(VoskEngine):
    def stream_recognizer(self, sample_rate: int) -> WatchedStream:
        return WatchedStream(self._model, sample_rate)


def test_warm_up_audio_is_the_shipped_call_at_the_rate_asked_for(tmp_path: Path) -> None:
    pcm = warm_up_pcm(8000)
    assert len(pcm) == 20 * 8000 * 2 and any(pcm)  # 20 s of the recorded call, not silence
    assert len(warm_up_pcm(16000)) == 2 * len(pcm)  # resampled, not padded
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    with pytest.raises(AudioFormatError, match="notes.wav"):
        warm_up_pcm(8000, bad)


def test_prewarm_decodes_the_speech_on_recognisers_kept_for_the_streams(steady_engine: VoskEngine) -> None:
    engine = WatchedEngine(steady_engine.model_dir)
    pool = RecognizerPool(engine, max_streams=3)
    busy = pool.acquire(8000)
    pcm = warm_up_pcm(8000)
    assert pool.prewarm(8000, pcm, count=5) == 2  # never more than max_streams in all
    assert (pool.in_use, pool.idle, pool.warmed) == (1, 2, 2)
    warm = [pool.acquire(8000), pool.acquire(8000)]
    assert busy not in warm
    for rec in warm:
        assert isinstance(rec, WatchedStream)
        assert rec.fed == len(pcm)  # the whole clip went through Vosk
        assert any(json.loads(raw).get("text") for raw in rec.said)  # and it heard words in it
        assert json.loads(rec.partial()).get("partial", "") == ""  # reset: nothing of the clip is left
    with pytest.raises(PoolExhausted):
        pool.acquire(8000)


def test_a_prewarmed_recogniser_gives_the_words_of_a_fresh_one(steady_engine: VoskEngine, vosk_model: vosk.Model,
                                                               collector: Collector) -> None:
    pool = RecognizerPool(steady_engine, max_streams=1)
    assert pool.prewarm(8000, warm_up_pcm(8000)) == 1
    srv = AudioSocketServer(pool, collector.on_result, on_stream_end=collector.on_end)
    srv.start()
    try:
        name = "as-tap-1-caller-only-chanspy-o"
        replay(srv.port, (FIX / f"{name}.from-asterisk.bin").read_bytes())
        collector.wait_ended(1)
    finally:
        srv.stop()
    got = [(r.final, r.text) for r in collector.results[expected_messages(name)[0][2]]]
    assert got and got == vosk_reference(vosk_model, wav_frames(name))
    assert pool.warmed == 1 and pool.idle == 1  # the stream used the warm one: no second recogniser


def test_prewarm_stops_when_told(steady_engine: VoskEngine) -> None:
    pool = RecognizerPool(steady_engine, max_streams=4)
    stop = threading.Event()
    stop.set()
    assert pool.prewarm(8000, warm_up_pcm(8000), stop=stop) == 0
    assert (pool.idle, pool.warmed) == (0, 0)
    with pytest.raises(ValueError, match="16-bit"):
        pool.prewarm(8000, b"\x00\x01\x02")


def test_server_port_in_use_is_a_named_error(steady_engine: VoskEngine) -> None:
    from transcripts.audiosocket import AudioSocketError

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        srv = AudioSocketServer(RecognizerPool(steady_engine), lambda r: None, port=holder.getsockname()[1])
        with pytest.raises(AudioSocketError, match="cannot listen"):
            srv.start()
    finally:
        holder.close()


class PieceSizes:
    """A real recogniser that notes the size of every piece of audio handed to it."""

    def __init__(self, inner: StreamRecognizer) -> None:
        self.inner = inner
        self.sample_rate = inner.sample_rate
        self.sizes: list[int] = []

    def accept(self, pcm: bytes) -> bool:
        self.sizes.append(len(pcm))
        return self.inner.accept(pcm)

    def partial(self) -> str:
        return self.inner.partial()

    def result(self) -> str:
        return self.inner.result()

    def final(self) -> str:
        return self.inner.final()

    def reset(self) -> None:
        self.inner.reset()


@pytest.mark.parametrize("chunk_ms", [20, DEFAULT_CHUNK_MS, 200])
def test_audio_goes_to_vosk_in_pieces_of_chunk_ms(steady_engine: VoskEngine, vosk_model: vosk.Model,
                                                   chunk_ms: int) -> None:
    """Asterisk's 20 ms messages are handed to Vosk `chunk_ms` at a time, the shorter rest at the end;
    the results are Vosk's own for the same pieces, each partial stamped with the audio fed so far."""
    pcm = wav_frames("as-tap-1-caller-only-chanspy-o") + bytes(6)  # a rest shorter than any piece
    rec = PieceSizes(steady_engine.stream_recognizer(8000))
    results: list[LiveResult] = []
    transcriber = StreamTranscriber("s", rec, results.append, chunk_ms)
    for i in range(0, len(pcm), 320):
        transcriber.feed(pcm[i : i + 320])
    transcriber.finish()
    piece = 8000 * chunk_ms // 1000 * 2
    assert rec.sizes[:-1] == [piece] * (len(rec.sizes) - 1) and 0 < rec.sizes[-1] <= piece
    assert sum(rec.sizes) == len(pcm)
    assert [(r.final, r.text) for r in results] == vosk_reference(vosk_model, pcm, chunk_ms=chunk_ms)
    partials = [r for r in results if not r.final]
    assert partials and all(round(r.audio_s * 8000 * 2) % piece == 0 for r in partials[:-1])
    assert results[-1].final and results[-1].audio_s == pytest.approx(len(pcm) / 2 / 8000)
