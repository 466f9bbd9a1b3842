"""Synthetic call audio for the simulator, demo and tests: espeak-ng speech, sox resampling.

Standard library only; needs the `espeak-ng` and `sox` programs. `make_call_recording` writes the
files Asterisk MixMonitor writes for a call recorded on the caller's channel
(`MixMonitor(<base>.wav,r(<base>-rx.wav)t(<base>-tx.wav))`): the mix, the caller's voice (rx) and
the agent's voice (tx), all 8 kHz 16-bit mono and sample-aligned.

Synthesised phrases are cached by a hash of (text, voice, rate) in `$HOTLINE_VOICE_CACHE`
(default: `<tempdir>/hotline-voice-cache`), so a demo pays for espeak-ng once per phrase.
"""

from __future__ import annotations

import array
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_ENV = "HOTLINE_VOICE_CACHE"
PAD_S = 0.3  # silence added before and after each synthesised phrase
GAP_S = 0.5  # silence between the two speakers of a call recording
_TIMEOUT_S = 60.0
_CACHE_VERSION = "2"


class VoiceError(Exception):
    """Base class of the simulator's voice errors."""


class VoiceUnavailable(VoiceError):
    """espeak-ng or sox is not installed."""


class SynthesisError(VoiceError):
    """espeak-ng or sox ran but did not produce usable audio."""


def default_cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path(tempfile.gettempdir()) / "hotline-voice-cache"


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise VoiceUnavailable(f"{name} is not installed (apt-get install {package}); cannot synthesise speech")
    return found


def _run(cmd: list[str]) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    except OSError as exc:
        raise VoiceUnavailable(f"cannot run {cmd[0]}: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise SynthesisError(f"{Path(cmd[0]).name} did not finish within {_TIMEOUT_S:.0f} s") from exc
    if proc.returncode != 0:
        detail = " ".join(proc.stderr.split()) or f"exit code {proc.returncode}"
        raise SynthesisError(f"{Path(cmd[0]).name} failed: {detail}")


def synthesize(
    text: str,
    out_wav: Path,
    *,
    voice: str = "ko",
    rate: int = 8000,
    cache_dir: Path | None = None,
) -> Path:
    """Speak `text` with espeak-ng into `out_wav`: `rate` Hz, 16-bit signed, mono, 0.3 s silence each side."""
    if not text.strip():
        raise SynthesisError("cannot synthesise empty text")
    if rate <= 0:
        raise SynthesisError(f"invalid sample rate: {rate}")
    out_wav = Path(out_wav)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = hashlib.sha256(f"{_CACHE_VERSION}\0{voice}\0{rate}\0{PAD_S}\0{text}".encode()).hexdigest()[:32]
    cached = cache / f"{key}.wav"
    if not cached.is_file():
        espeak = _tool("espeak-ng", "espeak-ng")
        sox = _tool("sox", "sox")
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="hotline-voice-") as tmp:
            text_file = Path(tmp) / "text.txt"
            text_file.write_text(text, encoding="utf-8")
            raw = Path(tmp) / "espeak.wav"
            _run([espeak, "-v", voice, "-w", str(raw), "-f", str(text_file)])
            if not raw.is_file() or raw.stat().st_size <= 44:
                raise SynthesisError(f"espeak-ng produced no audio for {text!r} (voice {voice!r})")
            converted = Path(tmp) / "converted.wav"
            _run(
                [
                    sox,
                    "-D",  # no dither: the padding stays digital silence, output is deterministic
                    str(raw),
                    "-r",
                    str(rate),
                    "-b",
                    "16",
                    "-e",
                    "signed-integer",
                    "-c",
                    "1",
                    str(converted),
                    "pad",
                    str(PAD_S),
                    str(PAD_S),
                ]
            )
            # Atomic publish: concurrent synthesisers of the same phrase never see a half file.
            fd, staged = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=cache)
            os.close(fd)
            shutil.copyfile(converted, staged)
            os.replace(staged, cached)
        log.debug("synthesised %r (voice %s, %s Hz) into cache %s", text, voice, rate, cached)
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    if out_wav.resolve() != cached.resolve():
        shutil.copyfile(cached, out_wav)
    return out_wav


def _read_mono16(path: Path) -> tuple[array.array[int], int]:
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise SynthesisError(f"{path}: expected 16-bit mono audio")
        rate = wav.getframerate()
        samples = array.array("h")
        samples.frombytes(wav.readframes(wav.getnframes()))
    if sys.byteorder == "big":  # pragma: no cover - WAV is little-endian
        samples.byteswap()
    return samples, rate


def _write_mono16(path: Path, samples: array.array[int], rate: int) -> None:
    out = array.array("h", samples)
    if sys.byteorder == "big":  # pragma: no cover
        out.byteswap()
    fd, staged = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    with wave.open(staged, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(out.tobytes())
    os.replace(staged, path)


def call_recording_paths(base: Path) -> tuple[Path, Path, Path]:
    """(mix, rx, tx) file names for a recording base such as `/rec/service-1796026732.0`."""
    base = Path(base)
    stem = base.name[: -len(".wav")] if base.name.lower().endswith(".wav") else base.name
    return (
        base.with_name(f"{stem}.wav"),
        base.with_name(f"{stem}-rx.wav"),
        base.with_name(f"{stem}-tx.wav"),
    )


def make_call_recording(
    base: Path,
    caller_text: str,
    agent_text: str,
    *,
    voice: str = "ko",
    rate: int = 8000,
    cache_dir: Path | None = None,
) -> Path:
    """Write a MixMonitor-like recording of a call: `<base>.wav`, `<base>-rx.wav`, `<base>-tx.wav`.

    Recorded on the caller's channel: rx holds the caller only, tx the agent only, the mix both.
    The agent answers first (as in a queue call), then the caller speaks after a 0.5 s gap; the
    other file holds digital silence meanwhile, so all three are the same length and aligned.
    `base` may be given with or without `.wav`; returns the mix file path `<base>.wav` (what
    Asterisk puts in MIXMONITOR_FILENAME and Hotline stores as the call's recording).
    """
    mix_path, rx_path, tx_path = call_recording_paths(base)
    mix_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hotline-call-") as tmp:
        agent_wav = synthesize(agent_text, Path(tmp) / "agent.wav", voice=voice, rate=rate, cache_dir=cache_dir)
        caller_wav = synthesize(caller_text, Path(tmp) / "caller.wav", voice=voice, rate=rate, cache_dir=cache_dir)
        agent, _ = _read_mono16(agent_wav)
        caller, _ = _read_mono16(caller_wav)
    gap = int(GAP_S * rate)
    total = len(agent) + gap + len(caller)
    tx = array.array("h", bytes(2 * total))
    rx = array.array("h", bytes(2 * total))
    tx[0 : len(agent)] = agent
    caller_start = len(agent) + gap
    rx[caller_start : caller_start + len(caller)] = caller
    mix = array.array("h", (max(-32768, min(32767, a + b)) for a, b in zip(rx, tx, strict=True)))
    _write_mono16(rx_path, rx, rate)
    _write_mono16(tx_path, tx, rate)
    _write_mono16(mix_path, mix, rate)
    log.info("wrote call recording %s (+ -rx/-tx, %.1f s)", mix_path, total / rate)
    return mix_path
