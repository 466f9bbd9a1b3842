"""telephony.simulator.voice: espeak-ng + sox synthesis, cache, MixMonitor-like call recordings."""

from __future__ import annotations

import array
import wave
from pathlib import Path

import pytest

from telephony.simulator import voice
from telephony.simulator.voice import SynthesisError, VoiceUnavailable, make_call_recording, synthesize


def _read(path: Path) -> tuple[wave._wave_params, array.array[int]]:
    with wave.open(str(path)) as wav:
        params = wav.getparams()
        samples = array.array("h")
        samples.frombytes(wav.readframes(wav.getnframes()))
    return params, samples


def test_synthesize_8k_16bit_mono_with_padding(tmp_path: Path, voice_cache: Path) -> None:
    out = synthesize("상담원", tmp_path / "a.wav", cache_dir=voice_cache)
    params, samples = _read(out)
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 8000)
    assert params.nframes / 8000 > 0.9
    pad = int(0.3 * 8000)
    assert not any(samples[: pad - 10]) and not any(samples[-(pad - 10) :])  # 0.3 s silence each side
    assert any(samples[pad:-pad])


def test_synthesize_uses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    first = synthesize("배송 조회", tmp_path / "1.wav", rate=16000, cache_dir=cache)
    assert len(list(cache.glob("*.wav"))) == 1

    def no_tools(cmd: list[str]) -> None:
        raise AssertionError(f"should have come from the cache: {cmd}")

    monkeypatch.setattr(voice, "_run", no_tools)
    second = synthesize("배송 조회", tmp_path / "2.wav", rate=16000, cache_dir=cache)
    assert first.read_bytes() == second.read_bytes()
    with pytest.raises(AssertionError):  # another rate is another cache entry
        synthesize("배송 조회", tmp_path / "3.wav", rate=8000, cache_dir=cache)


def test_missing_tools_raise_voice_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(VoiceUnavailable, match="espeak-ng is not installed") as info:
        synthesize("상담원", tmp_path / "a.wav", cache_dir=tmp_path / "cache")
    assert "\n" not in str(info.value)


def test_bad_input_raises_synthesis_error(tmp_path: Path) -> None:
    with pytest.raises(SynthesisError, match="empty text"):
        synthesize("  ", tmp_path / "a.wav", cache_dir=tmp_path)
    with pytest.raises(SynthesisError, match="espeak-ng failed"):
        synthesize("hello", tmp_path / "a.wav", voice="zz", cache_dir=tmp_path)


def test_call_recording_like_mixmonitor(tmp_path: Path, voice_cache: Path) -> None:
    mix = make_call_recording(
        tmp_path / "rec" / "service-service-1796026732.0", "상담원", "배송 조회", cache_dir=voice_cache
    )
    assert mix == tmp_path / "rec" / "service-service-1796026732.0.wav"
    mix_params, mixed = _read(mix)
    rx_params, rx = _read(tmp_path / "rec" / "service-service-1796026732.0-rx.wav")
    tx_params, tx = _read(tmp_path / "rec" / "service-service-1796026732.0-tx.wav")
    for params in (mix_params, rx_params, tx_params):
        assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 8000)
    assert len(mixed) == len(rx) == len(tx)  # sample-aligned, like one MixMonitor's files
    assert list(mixed) == [a + b for a, b in zip(rx, tx, strict=True)]
    agent_end = max(i for i, s in enumerate(tx) if s)
    caller_start = min(i for i, s in enumerate(rx) if s)
    assert agent_end < caller_start  # agent (tx) speaks first, then the caller (rx)
    assert make_call_recording(tmp_path / "rec" / "x.wav", "상담원", "상담원", cache_dir=voice_cache) == (
        tmp_path / "rec" / "x.wav"
    )
