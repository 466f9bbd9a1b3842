"""Vosk model folders: install (offline, from a .zip or a folder, checksum), list, and derive.

Models live in one folder (`models_dir()`: `$HOTLINE_MODELS_DIR`, else `var/models`), one
sub-folder per model. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from transcripts.engine import check_model_dir, model_sample_rate
from transcripts.errors import ModelNotFound, TranscriptsError

MODELS_ENV = "HOTLINE_MODELS_DIR"
DEFAULT_MODELS_DIR = Path("var/models")
MAX_UNPACKED_BYTES = 8 * 1024**3  # a zip that unpacks to more than this is refused


class ModelInstallError(TranscriptsError):
    """A model could not be installed (bad archive, checksum mismatch, not a model, already there)."""


@dataclass(frozen=True, slots=True)
class InstalledModel:
    name: str
    path: Path
    sample_rate: int
    size_bytes: int
    dithered: bool


def models_dir() -> Path:
    configured = os.environ.get(MODELS_ENV, "").strip()
    return Path(configured).expanduser() if configured else DEFAULT_MODELS_DIR


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _model_root(folder: Path) -> Path:
    """The model folder inside an unpacked archive: the folder itself or its single sub-folder."""
    try:
        check_model_dir(folder)
        return folder
    except ModelNotFound:
        pass
    subdirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("__MACOSX", "."))]
    if len(subdirs) == 1:
        check_model_dir(subdirs[0])
        return subdirs[0]
    check_model_dir(folder)  # raises with the list of missing files
    return folder


def _unzip(archive: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            total = 0
            for info in zf.infolist():
                target = (into / info.filename).resolve()
                if not str(target).startswith(str(into.resolve()) + os.sep) and target != into.resolve():
                    raise ModelInstallError(f"{archive}: unsafe path in archive: {info.filename!r}")
                total += info.file_size
            if total > MAX_UNPACKED_BYTES:
                raise ModelInstallError(f"{archive}: unpacks to {total} bytes, more than {MAX_UNPACKED_BYTES}")
            zf.extractall(into)
    except zipfile.BadZipFile as exc:
        raise ModelInstallError(f"{archive}: not a zip archive ({exc})") from exc


def install_model(
    source: Path,
    *,
    sha256: str | None = None,
    name: str | None = None,
    dest_dir: Path | None = None,
    dither: bool = True,
) -> InstalledModel:
    """Install a model from a `.zip` or a folder into `dest_dir` (default `models_dir()`).

    `sha256` (of the zip file; not accepted for a folder) is checked before anything is unpacked.
    `dither=False` writes `--dither=0.0` into the installed mfcc.conf: Kaldi's default dither adds random
    noise, so the same audio can give different words run to run; without it results are repeatable.
    Nothing is changed if anything fails.
    """
    source = Path(source)
    dest_dir = Path(dest_dir) if dest_dir is not None else models_dir()
    if not source.exists():
        raise ModelInstallError(f"{source} does not exist")
    is_zip = source.is_file()
    if sha256 is not None:
        if not is_zip:
            raise ModelInstallError("--sha256 checks a .zip archive; the source is a folder")
        actual = sha256_of(source)
        if actual.lower() != sha256.strip().lower():
            raise ModelInstallError(f"{source}: sha256 is {actual}, expected {sha256.strip().lower()}")
    model_name = name or (source.name[: -len(".zip")] if source.name.lower().endswith(".zip") else source.name)
    if not model_name or "/" in model_name or model_name.startswith("."):
        raise ModelInstallError(f"bad model name {model_name!r}")
    target = dest_dir / model_name
    if target.exists():
        raise ModelInstallError(f"a model named {model_name!r} is already installed at {target}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".installing-") as tmp:
        staging = Path(tmp) / "unpacked"
        if is_zip:
            staging.mkdir()
            _unzip(source, staging)
            try:
                root = _model_root(staging)
            except ModelNotFound as exc:
                raise ModelInstallError(f"{source}: {exc}") from exc
        else:
            try:
                check_model_dir(source)
            except ModelNotFound as exc:
                raise ModelInstallError(str(exc)) from exc
            shutil.copytree(source, staging, symlinks=False)
            root = staging
        if not dither:
            _write_no_dither(root)
        model_sample_rate(root)  # a bad --sample-frequency is refused here
        root.rename(target)
    return describe_model(target)


def _write_no_dither(root: Path) -> None:
    conf = root / "conf" / "mfcc.conf"
    if not conf.is_file():
        conf = root / "mfcc.conf"
    lines = [ln for ln in conf.read_text(encoding="utf-8").splitlines() if not ln.strip().startswith("--dither")]
    conf.unlink()  # may be a hard link or a symlink into the source: never write through it
    conf.write_text("\n".join([*lines, "--dither=0.0"]) + "\n", encoding="utf-8")


def undithered_view(source: Path, dest: Path) -> Path:
    """A model folder at `dest` that links to `source`'s files but decodes without dither (repeatable).

    Uses symlinks, so it costs no disk space; only conf/mfcc.conf is a new file.
    """
    check_model_dir(source)
    dest.mkdir(parents=True, exist_ok=False)
    for item in source.iterdir():
        if item.name != "conf":
            (dest / item.name).symlink_to(item.resolve())
    conf_src = source / "conf"
    if conf_src.is_dir():
        (dest / "conf").mkdir()
        for item in conf_src.iterdir():
            (dest / "conf" / item.name).symlink_to(item.resolve())
    _write_no_dither(dest)
    return dest


def _dithered(path: Path) -> bool:
    for name in ("conf/mfcc.conf", "mfcc.conf"):
        conf = path / name
        if conf.is_file():
            for line in conf.read_text(encoding="utf-8", errors="replace").splitlines():
                key, _, value = line.strip().partition("=")
                if key == "--dither":
                    try:
                        return float(value) != 0.0
                    except ValueError:
                        return True
            return True
    return True


def describe_model(path: Path) -> InstalledModel:
    check_model_dir(path)
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return InstalledModel(
        name=path.name,
        path=path,
        sample_rate=model_sample_rate(path),
        size_bytes=size,
        dithered=_dithered(path),
    )


def list_models(dest_dir: Path | None = None) -> list[InstalledModel]:
    """Installed models (folders that are Vosk models), by name; other folders are skipped."""
    folder = Path(dest_dir) if dest_dir is not None else models_dir()
    if not folder.is_dir():
        return []
    out: list[InstalledModel] = []
    for sub in sorted(folder.iterdir()):
        if sub.is_dir() and not sub.name.startswith("."):
            try:
                out.append(describe_model(sub))
            except ModelNotFound:
                continue
    return out
