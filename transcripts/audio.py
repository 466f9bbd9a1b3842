"""Reading recordings: 16-bit PCM WAV (mono or stereo, 8 or 16 kHz) into per-channel PCM bytes.

Standard library only. Every problem with the file becomes an `AudioFormatError` that names it.
"""

from __future__ import annotations

import array
import sys
import wave
from dataclasses import dataclass
from pathlib import Path

from transcripts.errors import AudioFormatError, RecordingNotFound

SUPPORTED_RATES = (8000, 16000)
SAMPLE_WIDTH = 2  # bytes: 16-bit signed little-endian PCM
# A data chunk this large is a "still being written / unknown length" marker, not a real length.
_STREAMING_SIZE = 0x7FFF0000


@dataclass(frozen=True, slots=True)
class WavAudio:
    """Decoded recording: one bytes object of 16-bit little-endian PCM per channel."""

    path: Path
    sample_rate: int
    channels: tuple[bytes, ...]

    @property
    def frames(self) -> int:
        return len(self.channels[0]) // SAMPLE_WIDTH

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


def read_wav(path: Path) -> WavAudio:
    """Read a whole WAV file; raise `AudioFormatError` (or `RecordingNotFound`) if it is not usable."""
    if not path.exists():
        raise RecordingNotFound(f"recording not found: {path}")
    if not path.is_file():
        raise AudioFormatError(f"{path}: not a regular file")
    try:
        with wave.open(str(path), "rb") as wav:
            n_channels = wav.getnchannels()
            width = wav.getsampwidth()
            rate = wav.getframerate()
            declared = wav.getnframes()
            if width != SAMPLE_WIDTH:
                raise AudioFormatError(f"{path}: {width * 8}-bit samples are not supported (need 16-bit PCM)")
            if n_channels not in (1, 2):
                raise AudioFormatError(f"{path}: {n_channels} channels are not supported (need mono or stereo)")
            if rate not in SUPPORTED_RATES:
                raise AudioFormatError(f"{path}: sample rate {rate} Hz is not supported (need 8000 or 16000 Hz)")
            data = wav.readframes(declared)
    except AudioFormatError:
        raise
    except wave.Error as exc:
        raise AudioFormatError(f"{path}: not a usable WAV file ({exc})") from exc
    except EOFError as exc:
        raise AudioFormatError(f"{path}: not a WAV file or truncated header (file too short)") from exc
    except OSError as exc:
        raise AudioFormatError(f"{path}: cannot read file ({exc.strerror or exc})") from exc

    frame_size = SAMPLE_WIDTH * n_channels
    got = len(data) // frame_size
    streaming = declared * frame_size >= _STREAMING_SIZE
    if got < declared and not streaming:
        raise AudioFormatError(f"{path}: truncated WAV file (header says {declared} frames, file holds {got})")
    if got == 0:
        raise AudioFormatError(f"{path}: WAV file contains no audio")
    data = data[: got * frame_size]
    if n_channels == 1:
        return WavAudio(path=path, sample_rate=rate, channels=(data,))
    return WavAudio(path=path, sample_rate=rate, channels=split_stereo(data))


def split_stereo(data: bytes) -> tuple[bytes, bytes]:
    """Interleaved 16-bit little-endian stereo -> (left, right) 16-bit little-endian mono."""
    samples = array.array("h")
    samples.frombytes(data)
    if sys.byteorder == "big":  # pragma: no cover - WAV is little-endian
        samples.byteswap()
    left, right = samples[0::2], samples[1::2]
    if sys.byteorder == "big":  # pragma: no cover
        left.byteswap()
        right.byteswap()
    return left.tobytes(), right.tobytes()
