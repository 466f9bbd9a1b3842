"""Render the prompt texts (`prompts.toml`) with espeak-ng into Asterisk's formats: for each
language and prompt `<out>/<lang>/<name>.wav` (8 kHz mono 16-bit PCM) and `<name>.sln` (the same
samples raw, signed linear), which the IVR plays as `hotline/<lang>/<name>` from Asterisk's sounds
folder. espeak-ng speaks Mandarin with `-v cmn`, English with `-v en`; sox converts to 8 kHz."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

from ivr.config import Prompts
from ivr.speech import WORDS

log = logging.getLogger(__name__)

VOICES = {"zh": "cmn", "en": "en"}


class PromptBuildError(Exception):
    """A tool is missing or failed to render a prompt."""


@dataclass(frozen=True, slots=True)
class BuiltPrompt:
    lang: str
    name: str
    wav: Path
    sln: Path
    seconds: float


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PromptBuildError(f"{name} is not installed (Debian package {name})")
    return path


def build_prompts(prompts: Prompts, out: Path, langs: tuple[str, ...] | None = None) -> list[BuiltPrompt]:
    espeak, sox = _tool("espeak-ng"), _tool("sox")
    built: list[BuiltPrompt] = []
    for lang in langs or tuple(prompts.texts):
        if lang not in prompts.texts:
            raise PromptBuildError(f"no prompt texts in language {lang!r}")
        folder = out / lang
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in sorted(prompts.texts[lang].items()):
            if not text.strip():
                continue  # a word this language does not say (ivr/speech.py)
            wav, sln = folder / f"{name}.wav", folder / f"{name}.sln"
            with tempfile.TemporaryDirectory() as tmp:
                raw = Path(tmp) / "espeak.wav"
                # a word of a number or date (ivr/speech.py) is played next to others: without espeak's
                # silence before and after it, 十二月六日 sounds like one date, not seven pauses
                trim = ["silence", "1", "0.01", "0.5%", "reverse", "silence", "1", "0.01", "0.5%", "reverse",
                        "pad", "0", "0.05"] if name in WORDS else []
                for cmd in ([espeak, "-v", VOICES[lang], "-s", "150", "-w", str(raw), text],
                            [sox, "-q", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
                             str(wav), *trim]):
                    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
                    if proc.returncode != 0:
                        raise PromptBuildError(f"{Path(cmd[0]).name} failed on {lang}/{name}: "
                                               f"{proc.stderr.strip()[:200]}")
            with wave.open(str(wav), "rb") as w:
                frames = w.readframes(w.getnframes())
                seconds = w.getnframes() / w.getframerate()
            sln.write_bytes(frames)
            built.append(BuiltPrompt(lang, name, wav, sln, seconds))
            log.debug("prompt %s/%s: %.2f s", lang, name, seconds)
    return built
