"""Audio decoding (G.711, raw Asterisk formats, WAV variants) and resampling, checked against sox."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from transcripts.convert import AudioTooLarge, read_audio, resample
from transcripts.engine import KALDI_DEFAULT_RATE, VoskEngine, decode_rate, model_sample_rate
from transcripts.errors import AudioFormatError, ModelNotFound, RecordingNotFound


def sox(*args: str) -> None:
    if shutil.which("sox") is None:
        pytest.fail("sox is needed (Debian package sox) to make the reference files")
    subprocess.run(["sox", *args], check=True, capture_output=True)


def samples_of(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


@pytest.fixture
def speech(recordings: Path) -> Path:
    return recordings / "mm-1796029431.41-rx.wav"  # real 8 kHz caller audio


@pytest.mark.parametrize("encoding", ["u-law", "a-law"])
def test_g711_wav_decodes_like_sox(tmp_path: Path, speech: Path, encoding: str) -> None:
    g711 = tmp_path / f"{encoding}.wav"
    back = tmp_path / "back.wav"
    sox(str(speech), "-e", encoding, str(g711))
    sox(str(g711), "-e", "signed-integer", "-b", "16", str(back))
    audio = read_audio(g711)
    assert audio.sample_rate == 8000
    assert np.array_equal(audio.channels[0], samples_of(back))
    assert np.abs(audio.channels[0].astype(int) - samples_of(speech)).max() > 0  # lossy, so really decoded


@pytest.mark.parametrize(
    ("ext", "sox_type", "rate"), [(".ul", "ul", 8000), (".al", "al", 8000), (".sln16", "raw", 16000)]
)
def test_raw_asterisk_formats(tmp_path: Path, speech: Path, ext: str, sox_type: str, rate: int) -> None:
    raw = tmp_path / f"call{ext}"
    ref = tmp_path / "ref.wav"
    if sox_type == "raw":
        sox(str(speech), "-t", "raw", "-e", "signed-integer", "-b", "16", "-r", str(rate), str(raw))
        sox("-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-r", str(rate), str(raw), str(ref))
    else:
        sox(str(speech), "-t", sox_type, str(raw))
        sox("-t", sox_type, "-r", "8000", "-c", "1", str(raw), "-e", "signed-integer", "-b", "16", str(ref))
    audio = read_audio(raw)
    assert audio.sample_rate == rate
    assert np.array_equal(audio.channels[0], samples_of(ref))


def test_stereo_24_bit_and_float_wav(tmp_path: Path, recordings: Path) -> None:
    stereo = recordings / "mm-1796029431.41-stereo.converted-by-sox.wav"
    with wave.open(str(stereo)) as w:
        inter = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    for args in (["-b", "24"], ["-e", "floating-point", "-b", "32"]):
        out = tmp_path / "x.wav"
        sox(str(stereo), *args, str(out))
        audio = read_audio(out)
        assert len(audio.channels) == 2
        assert np.abs(audio.channels[0].astype(int) - inter[0::2]).max() <= 1
        assert np.abs(audio.channels[1].astype(int) - inter[1::2]).max() <= 1


def test_resample_keeps_the_pass_band_and_removes_what_would_alias() -> None:
    t = np.arange(8000) / 8000
    tone = (10000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    up = resample(tone, 8000, 16000)
    assert up.shape[0] == 16000
    ideal = 10000 * np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)
    assert np.abs(up[200:-200] - ideal[200:-200]).max() < 3  # same tone, no delay
    t48 = np.arange(48000) / 48000
    high = (10000 * np.sin(2 * np.pi * 10000 * t48)).astype(np.int16)  # above the 8 kHz Nyquist of 16 kHz
    assert np.abs(resample(high, 48000, 16000)[100:-100]).max() < 10  # removed, not folded to 6 kHz
    low = (10000 * np.sin(2 * np.pi * 3000 * t48)).astype(np.int16)
    down = resample(low, 48000, 16000).astype(float)
    assert np.sqrt(np.mean(down[100:-100] ** 2)) == pytest.approx(10000 / np.sqrt(2), rel=0.01)
    assert resample(tone[:441], 44100, 16000).shape[0] == 160
    with pytest.raises(ValueError):
        resample(tone, 0, 16000)


def test_model_rate_is_read_from_the_model(model_dir: Path, tmp_path: Path, engine: VoskEngine) -> None:
    assert model_sample_rate(model_dir) == KALDI_DEFAULT_RATE == engine.sample_rate  # no --sample-frequency
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "mfcc.conf").write_text("--use-energy=false\n--sample-frequency=8000\n")
    assert model_sample_rate(tmp_path) == 8000
    (tmp_path / "conf" / "mfcc.conf").write_text("--sample-frequency=fast\n")
    with pytest.raises(ModelNotFound, match="bad --sample-frequency"):
        model_sample_rate(tmp_path)
    assert decode_rate(8000, 16000) == 8000  # Vosk upsamples telephone audio itself
    assert decode_rate(44100, 16000) == 16000 and decode_rate(16000, 8000) == 8000
    assert decode_rate(11025, 16000) == 16000


def test_a_44k_stereo_recording_is_transcribed_at_the_model_rate(
    engine: VoskEngine, tmp_path: Path, recordings: Path
) -> None:
    src = recordings / "mm-1796029431.41-stereo.converted-by-sox.wav"
    cd = tmp_path / "cd.wav"
    sox(str(src), "-r", "44100", str(cd))
    transcript = engine.transcribe_wav(cd, stereo_speakers=("caller", "agent"))
    assert transcript.sample_rate == 44100
    assert transcript.duration_s == pytest.approx(10.0, abs=0.01)
    caller, agent = transcript.channels
    assert caller.words and agent.words
    assert min(w.start for w in agent.words) < 2.0 < 4.5 < min(w.start for w in caller.words)


def test_bad_audio_gets_a_named_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = {
        "empty.wav": (b"", "empty file"),
        "text.wav": (b"hello, this is not audio" * 20, "not a usable WAV file"),
        "png.wav": (b"\x89PNG\r\n\x1a\n" + bytes(100), "not a usable WAV file"),
        "nofmt.wav": (b"RIFF\x10\x00\x00\x00WAVEdata\x04\x00\x00\x00\x00\x00\x00\x00", "no fmt chunk"),
        "half.wav": (b"RIFF\x10\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00", "truncated WAV header"),
        "nodata.wav": (
            b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"
            b"\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00",
            "no data chunk",
        ),
        "odd.ul": (b"", "empty file"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(AudioFormatError, match=message):
            read_audio(path)
    with pytest.raises(RecordingNotFound):
        read_audio(tmp_path / "missing.wav")
    # too long: the limit (4 h) lowered so the test needs no 4-hour file
    huge = tmp_path / "huge.ul"
    huge.write_bytes(bytes(10))
    monkeypatch.setattr("transcripts.convert.MAX_DURATION_S", 0.0005)
    with pytest.raises(AudioTooLarge, match="more than"):
        read_audio(huge)
