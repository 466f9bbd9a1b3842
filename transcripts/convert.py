"""Audio in any form Asterisk writes, as 16-bit mono PCM at the model's rate.

Reads WAV (PCM 8/16/24/32-bit, 32-bit float, µ-law, A-law, WAVE_FORMAT_EXTENSIBLE; mono or stereo)
and Asterisk's raw formats by file extension (`.sln` 8 kHz, `.sln16`, `.sln32`, `.sln48`, `.ul`/`.ulaw`/
`.pcm` µ-law, `.al`/`.alaw` A-law). `resample` is a windowed-sinc polyphase resampler (Kaiser window),
so energy above the new Nyquist frequency is removed instead of folding back as noise.
Every problem is an `AudioFormatError` (or `AudioTooLarge`) that names the file and the reason.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from transcripts.errors import AudioFormatError, RecordingNotFound

Int16Array = npt.NDArray[np.int16]
MAX_DURATION_S = 4 * 3600.0  # a recording longer than this is refused (a call does not last 4 hours)
MAX_FILE_BYTES = 2 * 1024**3
MAX_CHANNELS = 2

WAVE_PCM = 0x0001
WAVE_FLOAT = 0x0003
WAVE_ALAW = 0x0006
WAVE_MULAW = 0x0007
WAVE_EXTENSIBLE = 0xFFFE

RAW_FORMATS: dict[str, tuple[str, int]] = {
    ".sln": ("slin", 8000),
    ".slin": ("slin", 8000),
    ".raw": ("slin", 8000),
    ".sln12": ("slin", 12000),
    ".sln16": ("slin", 16000),
    ".sln24": ("slin", 24000),
    ".sln32": ("slin", 32000),
    ".sln44": ("slin", 44100),
    ".sln48": ("slin", 48000),
    ".ul": ("ulaw", 8000),
    ".ulaw": ("ulaw", 8000),
    ".pcm": ("ulaw", 8000),  # Asterisk's .pcm is µ-law
    ".al": ("alaw", 8000),
    ".alaw": ("alaw", 8000),
}


class AudioTooLarge(AudioFormatError):
    """The audio is longer (or the file bigger) than Hotline accepts."""


def _ulaw_table() -> Int16Array:
    table = np.zeros(256, dtype=np.int16)
    for i in range(256):
        u = ~i & 0xFF
        sign = u & 0x80
        exponent = (u >> 4) & 0x07
        mantissa = u & 0x0F
        magnitude = ((mantissa << 3) + 0x84) << exponent
        table[i] = -(magnitude - 0x84) if sign else magnitude - 0x84
    return table


def _alaw_table() -> Int16Array:
    table = np.zeros(256, dtype=np.int16)
    for i in range(256):
        a = i ^ 0x55
        sign = a & 0x80
        exponent = (a >> 4) & 0x07
        mantissa = a & 0x0F
        if exponent == 0:
            magnitude = (mantissa << 4) + 8
        else:
            magnitude = ((mantissa << 4) + 0x108) << (exponent - 1)
        table[i] = magnitude if sign else -magnitude
    return table


ULAW_TO_LINEAR = _ulaw_table()
ALAW_TO_LINEAR = _alaw_table()


@dataclass(frozen=True, slots=True)
class Audio:
    """Decoded audio: one int16 array per channel."""

    sample_rate: int
    channels: tuple[Int16Array, ...]
    source: str = ""

    @property
    def frames(self) -> int:
        return int(self.channels[0].shape[0])

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    def pcm(self, channel: int = 0) -> bytes:
        """16-bit little-endian PCM bytes of one channel."""
        return self.channels[channel].astype("<i2").tobytes()

    def at_rate(self, rate: int) -> Audio:
        if rate == self.sample_rate:
            return self
        return Audio(rate, tuple(resample(c, self.sample_rate, rate) for c in self.channels), self.source)


def decode(
    data: bytes, encoding: str, *, channels: int = 1, width: int = 2, name: str = "audio"
) -> tuple[Int16Array, ...]:
    """Raw interleaved samples -> one int16 array per channel. `encoding`: slin, ulaw, alaw, pcm, float."""
    if channels < 1 or channels > MAX_CHANNELS:
        raise AudioFormatError(f"{name}: {channels} channels are not supported (need mono or stereo)")
    if encoding in ("ulaw", "alaw"):
        table = ULAW_TO_LINEAR if encoding == "ulaw" else ALAW_TO_LINEAR
        samples = table[np.frombuffer(data, dtype=np.uint8)]
        frame = channels
    elif encoding in ("slin", "pcm"):
        frame = width * channels
        usable = len(data) - len(data) % frame
        raw = data[:usable]
        if width == 1:  # WAV 8-bit is unsigned
            samples = ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
        elif width == 2:
            samples = np.frombuffer(raw, dtype="<i2").astype(np.int16)
        elif width == 3:
            b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
            samples = (b[:, 2].astype(np.int8).astype(np.int16) << 8) | b[:, 1].astype(np.int16)
        elif width == 4:
            samples = (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)
        else:
            raise AudioFormatError(f"{name}: {width * 8}-bit samples are not supported")
        frame = channels
    elif encoding == "float":
        if width != 4:
            raise AudioFormatError(f"{name}: {width * 8}-bit float samples are not supported (need 32-bit)")
        raw = data[: len(data) - len(data) % (4 * channels)]
        floats = np.nan_to_num(np.frombuffer(raw, dtype="<f4"))
        samples = np.clip(np.round(floats * 32767.0), -32768, 32767).astype(np.int16)
        frame = channels
    else:
        raise AudioFormatError(f"{name}: unknown encoding {encoding!r}")
    n = samples.shape[0] - samples.shape[0] % frame
    samples = samples[:n]
    return tuple(np.ascontiguousarray(samples[c::channels]) for c in range(channels))


def _check_size(path: Path) -> int:
    if not path.exists():
        raise RecordingNotFound(f"recording not found: {path}")
    if not path.is_file():
        raise AudioFormatError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise AudioFormatError(f"{path}: empty file (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise AudioTooLarge(f"{path}: {size} bytes is more than the {MAX_FILE_BYTES} bytes accepted")
    return size


def _check_duration(path: Path, frames: int, rate: int) -> None:
    if frames == 0:
        raise AudioFormatError(f"{path}: contains no audio")
    if frames / rate > MAX_DURATION_S:
        raise AudioTooLarge(
            f"{path}: {frames / rate:.0f} s of audio is more than the {MAX_DURATION_S:.0f} s accepted"
        )


def read_audio(path: Path) -> Audio:
    """Read a WAV or Asterisk raw recording (see the module doc); raises `AudioFormatError` if unusable."""
    path = Path(path)
    _check_size(path)
    raw = RAW_FORMATS.get(path.suffix.lower())
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AudioFormatError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    if data[:4] == b"RIFF" or raw is None:
        return _read_wav(path, data)
    encoding, rate = raw
    channels = decode(data, encoding, name=str(path))
    _check_duration(path, int(channels[0].shape[0]), rate)
    return Audio(rate, channels, str(path))


def _read_wav(path: Path, data: bytes) -> Audio:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        kind = "empty file" if not data else "not a usable WAV file (no RIFF/WAVE header)"
        raise AudioFormatError(f"{path}: {kind}")
    offset = 12
    fmt: tuple[int, int, int, int] | None = None
    audio_data: bytes | None = None
    declared = 0
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        body = data[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise AudioFormatError(f"{path}: truncated WAV header (fmt chunk of {len(body)} bytes)")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == WAVE_EXTENSIBLE and len(body) >= 26:
                (tag,) = struct.unpack_from("<H", body, 24)
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            declared = size
            audio_data = body
            break
        offset += 8 + size + (size & 1)
    if fmt is None:
        raise AudioFormatError(f"{path}: not a usable WAV file (no fmt chunk, or it is truncated)")
    if audio_data is None:
        raise AudioFormatError(f"{path}: WAV file has no data chunk (truncated header?)")
    tag, n_channels, rate, bits = fmt
    if rate <= 0 or rate > 192000:
        raise AudioFormatError(f"{path}: sample rate {rate} Hz is not supported")
    encodings = {WAVE_PCM: "pcm", WAVE_FLOAT: "float", WAVE_ALAW: "alaw", WAVE_MULAW: "ulaw"}
    if tag not in encodings:
        raise AudioFormatError(
            f"{path}: WAV encoding 0x{tag:04x} is not supported (need PCM, float, µ-law or A-law)"
        )
    encoding = encodings[tag]
    width = max(1, bits // 8)
    if encoding in ("ulaw", "alaw") and bits != 8:
        raise AudioFormatError(f"{path}: {encoding} with {bits}-bit samples is not valid G.711")
    streaming = declared >= 0x7FFF0000  # Asterisk's "length unknown yet" marker
    if len(audio_data) < declared and not streaming:
        frame = width * max(n_channels, 1)
        raise AudioFormatError(
            f"{path}: truncated WAV file (header says {declared // frame} frames, "
            f"file holds {len(audio_data) // frame})"
        )
    channels = decode(audio_data, encoding, channels=n_channels, width=width, name=str(path))
    _check_duration(path, int(channels[0].shape[0]), rate)
    return Audio(rate, channels, str(path))


def _kaiser_sinc(length: int, cutoff: float, beta: float) -> npt.NDArray[np.float64]:
    center = (length - 1) / 2
    n = np.arange(length) - center
    window: npt.NDArray[np.float64] = np.kaiser(length, beta)
    taps: npt.NDArray[np.float64] = 2 * cutoff * np.sinc(2 * cutoff * n) * window
    return taps


def resample(samples: npt.NDArray[np.int16], src_rate: int, dst_rate: int, *, zeros: int = 16) -> Int16Array:
    """Resample int16 audio from `src_rate` to `dst_rate` (rational polyphase windowed sinc, no delay).

    Output length is ceil(len * dst / src). The pass band runs to 90 % of the lower Nyquist frequency;
    above it the filter attenuates by more than 60 dB.
    """
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive: {src_rate} -> {dst_rate}")
    x = np.asarray(samples, dtype=np.float64)
    if src_rate == dst_rate:
        return np.asarray(samples, dtype=np.int16).copy()
    g = math.gcd(src_rate, dst_rate)
    up, down = dst_rate // g, src_rate // g
    step = max(up, down)
    cutoff = 0.5 / step * 0.9  # cycles per sample at the upsampled rate
    half = zeros * step
    h = _kaiser_sinc(2 * half + 1, cutoff, beta=8.0) * up
    taps = -(-len(h) // up)
    h = np.concatenate([h, np.zeros(taps * up - len(h))])
    phases = h.reshape(taps, up).T  # phases[p, i] = h[p + i * up]
    n_out = -(-x.shape[0] * up // down)
    pad = taps + 1
    xp = np.concatenate([np.zeros(pad), x, np.zeros(pad + half // up + 2)])
    out = np.empty(n_out, dtype=np.float64)
    block = 32768
    i_idx = np.arange(taps)
    for start in range(0, n_out, block):
        m = np.arange(start, min(start + block, n_out))
        j = m * down + half
        p, q = j % up, j // up
        gathered = xp[(q[:, None] - i_idx[None, :]) + pad]
        out[start : start + m.shape[0]] = np.einsum("ij,ij->i", gathered, phases[p])
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)
