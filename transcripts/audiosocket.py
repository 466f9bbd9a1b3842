"""An AudioSocket server that transcribes live call audio, one stream per speaker.

Asterisk's AudioSocket sends messages of 1 byte kind, 2 bytes payload length (big-endian) and the
payload: 0x01 the stream's UUID (16 bytes, first), 0x10 slin audio (8 kHz s16le, 20 ms), 0x11-0x18
slin at 12/16/24/32/44.1/48/96/192 kHz, 0x03 a DTMF digit, 0x00 hang-up, 0xff an error. Real
Asterisk never sends the hang-up message: the TCP close ends the stream.

`AudioSocketServer` listens (127.0.0.1 by default), accepts only its allowed peers, takes one
recogniser per stream from a `RecognizerPool` (one shared model), and delivers every new partial and
every final result to `on_result` with the stream's UUID. The recogniser goes back to the pool when
the stream ends.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transcripts.engine import SpeechEngine, StreamRecognizer, Word
from transcripts.errors import TranscriptsError

log = logging.getLogger(__name__)

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_SLIN = 0x10
KIND_ERROR = 0xFF
# Audio kinds -> sample rate (Asterisk res_audiosocket: 0x10 slin ... 0x18 slin192).
AUDIO_RATES = {
    0x10: 8000,
    0x11: 12000,
    0x12: 16000,
    0x13: 24000,
    0x14: 32000,
    0x15: 44100,
    0x16: 48000,
    0x17: 96000,
    0x18: 192000,
}
KIND_NAMES = {KIND_HANGUP: "hangup", KIND_UUID: "uuid", KIND_DTMF: "dtmf", KIND_ERROR: "error"}
HEADER = struct.Struct(">BH")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_ALLOWED_PEERS = ("127.0.0.1", "::1")
RECV_SIZE = 65536
# Audio handed to Vosk per call. Asterisk sends 20 ms; Vosk's cost per audio second is the same for
# 20-200 ms pieces (benchmarks/transcribe.py), our per-piece Python work is not, and a partial still
# comes within 0.1 s of the audio it is decoded from.
DEFAULT_CHUNK_MS = 100


class AudioSocketError(TranscriptsError):
    """An AudioSocket stream or server problem."""


class AudioSocketProtocolError(AudioSocketError):
    """Bytes that are not AudioSocket messages (bad first message, wrong UUID size, odd audio length)."""


class PoolExhausted(AudioSocketError):
    """Every recogniser of the pool is in use: the stream is refused."""


@dataclass(frozen=True, slots=True)
class Message:
    kind: int
    payload: bytes

    @property
    def name(self) -> str:
        if self.kind in AUDIO_RATES:
            return "audio"
        return KIND_NAMES.get(self.kind, f"unknown-0x{self.kind:02x}")

    def encode(self) -> bytes:
        return HEADER.pack(self.kind, len(self.payload)) + self.payload


def encode_message(kind: int, payload: bytes = b"") -> bytes:
    """One AudioSocket message as bytes (for a client, a test, or the hang-up we send)."""
    if len(payload) > 0xFFFF:
        raise ValueError(f"payload too long for one message: {len(payload)} bytes")
    return HEADER.pack(kind, len(payload)) + payload


class MessageDecoder:
    """Incremental AudioSocket decoder: `feed(bytes) -> [Message]`, messages split across reads are whole."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.messages = 0

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete message waiting for more data (non-zero at EOF = truncated stream)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Message]:
        self._buf += data
        out: list[Message] = []
        offset = 0
        while len(self._buf) - offset >= HEADER.size:
            kind, length = HEADER.unpack_from(self._buf, offset)
            end = offset + HEADER.size + length
            if end > len(self._buf):
                break
            out.append(Message(kind, bytes(self._buf[offset + HEADER.size : end])))
            offset = end
        del self._buf[:offset]
        self.messages += len(out)
        return out


def decode_all(data: bytes) -> tuple[list[Message], int]:
    """Every whole message of a captured stream, and the number of trailing bytes left over."""
    decoder = MessageDecoder()
    messages = decoder.feed(data)
    return messages, decoder.buffered


@dataclass(frozen=True, slots=True)
class LiveResult:
    """A partial or final recognition result of one live stream."""

    stream: str  # the stream's UUID as a string (the one given to Asterisk)
    final: bool
    text: str
    words: tuple[Word, ...]
    audio_s: float  # seconds of stream audio fed when the result was produced
    monotonic: float  # time.monotonic() when it was produced
    # time.monotonic() when the stream's audio began (its first audio message's arrival less that
    # message's length); None when not known
    stream_started: float | None = None

    @property
    def lag_s(self) -> float | None:
        """How far recognition runs behind the call: when the result came less when the audio it covers
        ended (Asterisk sends audio as it is heard). Negative when audio came faster than real time (a
        replay); None without the stream's start."""
        if self.stream_started is None:
            return None
        return self.monotonic - (self.stream_started + self.audio_s)


@dataclass(frozen=True, slots=True)
class StreamSummary:
    """How a stream went, given to `on_stream_end`."""

    stream: str | None
    peer: str
    messages: int
    audio_s: float
    sample_rate: int | None
    dtmf: str
    ended_by: str  # "close", "hangup", "error", "protocol", "stop", "refused"
    error: str | None = None
    truncated_bytes: int = 0
    results: int = 0


WARM_UP_AUDIO = Path(__file__).with_name("data") / "warm-up.wav"


def warm_up_pcm(sample_rate: int, path: Path | None = None) -> bytes:
    """Speech for `RecognizerPool.prewarm` as 16-bit mono at `sample_rate` (the first channel of a
    stereo file). Default: 20 s of one real call as Asterisk's MixMonitor recorded it, the agent's
    side then the caller's. Raises `transcripts.convert.AudioFormatError` for a file that is not usable
    audio."""
    from transcripts.convert import read_audio

    return read_audio(path or WARM_UP_AUDIO).at_rate(sample_rate).pcm(0)


class RecognizerPool:
    """Live recognisers from one engine (one shared model), at most `max_streams` in use at once.

    Released recognisers are reset and kept (per sample rate) for the next stream.
    """

    def __init__(self, engine: SpeechEngine, *, max_streams: int = 16) -> None:
        if max_streams < 1:
            raise ValueError(f"max_streams must be at least 1, not {max_streams}")
        self.engine = engine
        self.max_streams = max_streams
        self._lock = threading.Lock()
        self._idle: dict[int, list[StreamRecognizer]] = {}
        self._in_use = 0
        self._warmed = 0
        self._warming = 0

    @property
    def in_use(self) -> int:
        with self._lock:
            return self._in_use

    @property
    def idle(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._idle.values())

    def acquire(self, sample_rate: int) -> StreamRecognizer:
        with self._lock:
            if self._in_use >= self.max_streams:
                raise PoolExhausted(f"all {self.max_streams} live recognisers are in use")
            self._in_use += 1
            idle = self._idle.get(sample_rate)
            if idle:
                return idle.pop()
        try:
            return self.engine.stream_recognizer(sample_rate)
        except BaseException:
            with self._lock:
                self._in_use -= 1
            raise

    @property
    def warmed(self) -> int:
        """Recognisers made ready by `prewarm` so far."""
        with self._lock:
            return self._warmed

    def prewarm(self, sample_rate: int, pcm: bytes, count: int | None = None,
                stop: threading.Event | None = None) -> int:
        """Make up to `count` (default `max_streams`) recognisers ahead of the calls and decode `pcm`
        (16-bit mono at `sample_rate`) on each, then keep them idle; returns how many it made.

        A fresh Vosk recogniser builds its decoding graph as the audio needs it (the model's lookahead
        composition, cached per recogniser), which makes its first seconds of audio several times
        dearer than later ones; a recogniser that has decoded some speech before keeps that cache.
        Prewarming puts that cost at start-up instead of on the first calls, so a live process that
        restarts with calls running keeps up with them at once. Never more recognisers than
        `max_streams` in all; streams may start meanwhile (they take a warm one if there is one).
        `stop` ends it early (the process is stopping)."""
        if len(pcm) % 2:
            raise ValueError(f"prewarm audio must be 16-bit samples, got {len(pcm)} bytes")
        piece = max(2, sample_rate * DEFAULT_CHUNK_MS // 1000 * 2)
        made = 0
        while (count is None or made < count) and not (stop is not None and stop.is_set()):
            with self._lock:
                if self._in_use + self._warming + sum(len(v) for v in self._idle.values()) >= self.max_streams:
                    break
                self._warming += 1
            try:
                recognizer = self.engine.stream_recognizer(sample_rate)
                for i in range(0, len(pcm), piece):
                    if stop is not None and stop.is_set():
                        return made
                    if recognizer.accept(pcm[i : i + piece]):
                        recognizer.result()
                recognizer.final()
                recognizer.reset()
            finally:
                with self._lock:
                    self._warming -= 1
            with self._lock:
                self._idle.setdefault(sample_rate, []).append(recognizer)
                self._warmed += 1
            made += 1
        return made

    def release(self, recognizer: StreamRecognizer) -> None:
        try:
            recognizer.reset()
            keep = True
        except Exception:
            log.exception("could not reset a live recogniser; dropping it")
            keep = False
        with self._lock:
            self._in_use -= 1
            if keep:
                self._idle.setdefault(recognizer.sample_rate, []).append(recognizer)


ResultCallback = Callable[[LiveResult], None]
MessageCallback = Callable[[str | None, Message], None]
AudioCallback = Callable[[str, int, bytes], None]
EndCallback = Callable[[StreamSummary], None]


def parse_words(result: dict[str, Any]) -> tuple[Word, ...]:
    return tuple(
        Word(
            word=str(w["word"]),
            start=round(float(w["start"]), 3),
            end=round(float(w["end"]), 3),
            conf=float(w.get("conf", 1.0)),
        )
        for w in result.get("result", [])
    )


class StreamTranscriber:
    """Feeds one stream's audio to a recogniser and reports new partials and finals.

    Audio goes to the recogniser in pieces of `chunk_ms` (Asterisk sends 20 ms messages; a longer
    piece is collected first, so Vosk and our per-piece work run less often). After each piece: a
    final when the recogniser ends an utterance, else a partial when its text changed and is not
    empty; at `finish()` what is left. Used by the server; usable on its own. `cpu_s` is the CPU
    time the recogniser took (this thread's, around its calls).
    """

    def __init__(self, stream: str, recognizer: StreamRecognizer, on_result: ResultCallback,
                 chunk_ms: int = DEFAULT_CHUNK_MS) -> None:
        if chunk_ms <= 0:
            raise ValueError(f"chunk_ms must be positive, not {chunk_ms}")
        self.stream = stream
        self.recognizer = recognizer
        self.on_result = on_result
        self.chunk_bytes = max(2, recognizer.sample_rate * chunk_ms // 1000 * 2)
        self.samples = 0
        self.results = 0
        self.started: float | None = None  # time.monotonic() when the stream's audio began
        self.cpu_s = 0.0
        self._pending = bytearray()
        self._fed = 0  # samples handed to the recogniser
        self._last_raw = ""
        self._last_partial = ""

    @property
    def audio_s(self) -> float:
        return self.samples / self.recognizer.sample_rate

    def feed(self, pcm: bytes) -> None:
        if len(pcm) % 2:
            raise AudioSocketProtocolError(f"stream {self.stream}: audio payload of odd length {len(pcm)}")
        if self.started is None:  # this piece was heard over the time it lasts, before it came
            self.started = time.monotonic() - len(pcm) / 2 / self.recognizer.sample_rate
        self.samples += len(pcm) // 2
        if not self._pending and len(pcm) == self.chunk_bytes:
            self._accept(pcm)
            return
        self._pending += pcm
        while len(self._pending) >= self.chunk_bytes:
            piece = bytes(self._pending[: self.chunk_bytes])
            del self._pending[: self.chunk_bytes]
            self._accept(piece)

    def _accept(self, piece: bytes) -> None:
        self._fed += len(piece) // 2
        cpu = time.thread_time()
        ended = self.recognizer.accept(piece)
        raw = self.recognizer.result() if ended else self.recognizer.partial()
        self.cpu_s += time.thread_time() - cpu
        if ended:
            self._final(raw)
            return
        if raw == self._last_raw:  # nothing new: no need to parse it
            return
        self._last_raw = raw
        text = str(json.loads(raw).get("partial", "")).strip()
        if text and text != self._last_partial:
            self._last_partial = text
            self._emit(LiveResult(self.stream, False, text, (), self._fed / self.recognizer.sample_rate,
                                  time.monotonic(), self.started))

    def finish(self) -> None:
        if self._pending:  # the last, shorter piece: like any other, then what is left
            piece = bytes(self._pending)
            self._pending.clear()
            self._accept(piece)
        cpu = time.thread_time()
        raw = self.recognizer.final()
        self.cpu_s += time.thread_time() - cpu
        self._final(raw)

    def _final(self, raw: str) -> None:
        self._last_raw = self._last_partial = ""
        result = json.loads(raw)
        text = str(result.get("text", "")).strip()
        if text:
            self._emit(LiveResult(self.stream, True, text, parse_words(result), self._fed / self.recognizer.sample_rate,
                                  time.monotonic(), self.started))

    def _emit(self, result: LiveResult) -> None:
        self.results += 1
        try:
            self.on_result(result)
        except Exception:
            log.exception("live result callback failed for stream %s", self.stream)


@dataclass
class _Counters:
    accepted: int = 0
    refused_peer: int = 0
    refused_busy: int = 0
    protocol_errors: int = 0
    active: set[str] = field(default_factory=set)


class AudioSocketServer:
    """Threaded AudioSocket TCP server feeding live recognisers. `start()`, then `stop()`.

    `port=0` picks a free port (read `.port` after `start()`). Connections from peers not in
    `allowed_peers` are closed at once. Callbacks run on the connection's thread. Audio goes to the
    recogniser `chunk_ms` at a time (see `StreamTranscriber`).
    """

    def __init__(
        self,
        pool: RecognizerPool,
        on_result: ResultCallback,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        allowed_peers: Iterable[str] = DEFAULT_ALLOWED_PEERS,
        on_stream_end: EndCallback | None = None,
        on_message: MessageCallback | None = None,
        on_audio: AudioCallback | None = None,
        idle_timeout_s: float = 30.0,
        chunk_ms: int = DEFAULT_CHUNK_MS,
    ) -> None:
        if chunk_ms <= 0:
            raise ValueError(f"chunk_ms must be positive, not {chunk_ms}")
        self.pool = pool
        self.chunk_ms = chunk_ms
        self.on_result = on_result
        self.host = host
        self.port = port
        self.allowed_peers = frozenset(allowed_peers)
        self.on_stream_end = on_stream_end
        self.on_message = on_message
        self.on_audio = on_audio
        self.idle_timeout_s = idle_timeout_s
        self.counters = _Counters()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._conns: dict[int, socket.socket] = {}
        self._transcribers: dict[int, StreamTranscriber] = {}  # the streams being recognised
        self._cpu_done = 0.0  # recogniser CPU seconds of the streams that ended
        self._conn_threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def start(self) -> None:
        if self._sock is not None:
            raise AudioSocketError("AudioSocket server already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise AudioSocketError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from exc
        sock.listen(64)
        self.port = sock.getsockname()[1]
        self._sock = sock
        self._thread = threading.Thread(target=self._accept_loop, name="audiosocket-accept", daemon=True)
        self._thread.start()
        log.info("AudioSocket server listening on %s:%s", self.host, self.port)

    @property
    def active_streams(self) -> int:
        with self._lock:
            return len(self.counters.active)

    @property
    def listening(self) -> bool:
        """Started, not stopped, and its accept loop running."""
        return (self._sock is not None and not self._stopping.is_set() and self._thread is not None
                and self._thread.is_alive())

    @property
    def recognizer_cpu_s(self) -> float:
        """CPU seconds the recognisers took, over every stream so far (those still open included)."""
        with self._lock:
            return self._cpu_done + sum(t.cpu_s for t in self._transcribers.values())

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, close open streams (their final results are still delivered), join threads."""
        self._stopping.set()
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
        with self._lock:
            conns = list(self._conns.values())
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        for thread in list(self._conn_threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> AudioSocketServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, addr = self._sock.accept()
            except OSError:
                return
            peer = str(addr[0])
            if peer not in self.allowed_peers:
                self.counters.refused_peer += 1
                log.warning("AudioSocket connection from %s refused: not an allowed peer", peer)
                conn.close()
                continue
            thread = threading.Thread(target=self._serve, args=(conn, peer), name=f"audiosocket-{peer}", daemon=True)
            self._conn_threads = [t for t in self._conn_threads if t.is_alive()]
            self._conn_threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, peer: str) -> None:
        with self._lock:
            self._conns[id(conn)] = conn
            self.counters.accepted += 1
        try:
            summary = self._run_stream(conn, peer)
        finally:
            with self._lock:
                self._conns.pop(id(conn), None)
            conn.close()
        if summary.stream is not None:
            with self._lock:
                self.counters.active.discard(summary.stream)
        if summary.ended_by == "protocol":
            self.counters.protocol_errors += 1
        log.info(
            "AudioSocket stream %s from %s ended (%s): %.1f s audio, %d results",
            summary.stream,
            peer,
            summary.ended_by,
            summary.audio_s,
            summary.results,
        )
        if self.on_stream_end is not None:
            try:
                self.on_stream_end(summary)
            except Exception:
                log.exception("on_stream_end callback failed for stream %s", summary.stream)

    def _run_stream(self, conn: socket.socket, peer: str) -> StreamSummary:
        decoder = MessageDecoder()
        conn.settimeout(self.idle_timeout_s)
        stream: str | None = None
        transcriber: StreamTranscriber | None = None
        rate: int | None = None
        dtmf: list[str] = []
        ended_by = "close"
        error: str | None = None
        try:
            while True:
                try:
                    data = conn.recv(RECV_SIZE)
                except TimeoutError:
                    ended_by, error = "error", f"no data for {self.idle_timeout_s:g} s"
                    break
                except OSError as exc:
                    ended_by = "stop" if self._stopping.is_set() else "error"
                    error = None if self._stopping.is_set() else str(exc)
                    break
                if not data:
                    ended_by = "stop" if self._stopping.is_set() else "close"
                    break
                done = False
                for msg in decoder.feed(data):
                    if self.on_message is not None:
                        self.on_message(stream, msg)
                    if stream is None:
                        if msg.kind != KIND_UUID or len(msg.payload) != 16:
                            raise AudioSocketProtocolError(
                                f"first message must be a 16-byte UUID, got kind 0x{msg.kind:02x} "
                                f"with {len(msg.payload)} bytes"
                            )
                        stream = str(uuid.UUID(bytes=msg.payload))
                        with self._lock:
                            self.counters.active.add(stream)
                        continue
                    if msg.kind in AUDIO_RATES:
                        msg_rate = AUDIO_RATES[msg.kind]
                        if transcriber is None:
                            rate = msg_rate
                            try:
                                recognizer = self.pool.acquire(rate)
                            except PoolExhausted as exc:
                                self.counters.refused_busy += 1
                                log.warning("AudioSocket stream %s refused: %s", stream, exc)
                                conn.sendall(encode_message(KIND_HANGUP))
                                return StreamSummary(stream, peer, decoder.messages, 0.0, rate, "", "refused", str(exc))
                            transcriber = StreamTranscriber(stream, recognizer, self.on_result, self.chunk_ms)
                            with self._lock:
                                self._transcribers[id(transcriber)] = transcriber
                        elif msg_rate != rate:
                            raise AudioSocketProtocolError(
                                f"stream {stream}: audio changed from {rate} Hz to {msg_rate} Hz mid-stream"
                            )
                        if self.on_audio is not None:
                            self.on_audio(stream, msg_rate, msg.payload)
                        transcriber.feed(msg.payload)
                    elif msg.kind == KIND_DTMF:
                        dtmf.append(msg.payload.decode("ascii", "replace"))
                    elif msg.kind == KIND_HANGUP:
                        ended_by, done = "hangup", True
                        break
                    elif msg.kind == KIND_ERROR:
                        ended_by, done = "error", True
                        error = f"Asterisk sent an error message ({msg.payload.hex() or 'no code'})"
                        break
                    elif msg.kind == KIND_UUID:
                        raise AudioSocketProtocolError(f"stream {stream}: a second UUID message")
                    else:
                        log.debug("AudioSocket stream %s: ignoring message kind 0x%02x", stream, msg.kind)
                if done:
                    break
        except AudioSocketProtocolError as exc:
            ended_by, error = "protocol", str(exc)
            log.warning("AudioSocket stream from %s: %s", peer, exc)
        finally:
            if transcriber is not None:
                try:
                    transcriber.finish()
                finally:
                    self.pool.release(transcriber.recognizer)
                    with self._lock:
                        self._transcribers.pop(id(transcriber), None)
                        self._cpu_done += transcriber.cpu_s
        return StreamSummary(
            stream=stream,
            peer=peer,
            messages=decoder.messages,
            audio_s=transcriber.audio_s if transcriber else 0.0,
            sample_rate=rate,
            dtmf="".join(dtmf),
            ended_by=ended_by,
            error=error,
            truncated_bytes=decoder.buffered,
            results=transcriber.results if transcriber else 0,
        )
