"""What the AudioSocket tests share: the real Asterisk captures, replaying them over TCP, and what
Vosk itself returns for the same audio (the reference our live transcripts must equal)."""

from __future__ import annotations

import json
import socket
import wave
from pathlib import Path

import vosk

from transcripts.audiosocket import DEFAULT_CHUNK_MS, decode_all

FIX = Path(__file__).parent / "fixtures" / "audiosocket"


def capture(name: str) -> bytes:
    """The bytes Asterisk sent in a capture (`as-tap-1-caller-only-chanspy-o`, …)."""
    return (FIX / f"{name}.from-asterisk.bin").read_bytes()


def wav_pcm(path: Path) -> bytes:
    """The 16-bit PCM frames of a WAV file, read independently of the code under test."""
    with wave.open(str(path), "rb") as w:
        return w.readframes(w.getnframes())


def vosk_reference(model: vosk.Model, pcm: bytes, rate: int = 8000,
                   chunk_ms: int = DEFAULT_CHUNK_MS) -> list[tuple[bool, str]]:
    """What Vosk itself returns for `pcm` fed in `chunk_ms` pieces (the server's default): every new
    non-empty partial and every final, as (final, text)."""
    rec = vosk.KaldiRecognizer(model, float(rate))
    rec.SetWords(True)
    chunk = rate * chunk_ms // 1000 * 2
    out: list[tuple[bool, str]] = []
    last = ""
    for i in range(0, len(pcm), chunk):
        if rec.AcceptWaveform(pcm[i : i + chunk]):
            last = ""
            text = json.loads(rec.Result())["text"].strip()
            if text:
                out.append((True, text))
        else:
            text = json.loads(rec.PartialResult())["partial"].strip()
            if text and text != last:
                last = text
                out.append((False, text))
    text = json.loads(rec.FinalResult())["text"].strip()
    if text:
        out.append((True, text))
    return out


def replay(port: int, data: bytes, *, chunks: list[int] | None = None, close: bool = True) -> socket.socket:
    """Send captured bytes to an AudioSocket server over TCP (message by message, or in the given
    chunk sizes, then the rest)."""
    sock = socket.create_connection(("127.0.0.1", port))
    if chunks is None:
        messages, rest = decode_all(data)
        assert rest == 0
        for m in messages:
            sock.sendall(m.encode())
    else:
        i = 0
        for n in chunks:
            sock.sendall(data[i : i + n])
            i += n
        sock.sendall(data[i:])
    if close:
        sock.close()
    return sock
