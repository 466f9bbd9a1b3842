"""Offline transcription of call recordings with Vosk (imports nothing else of Hotline's).

`VoskEngine(default_model_dir()).transcribe_wav(path) -> Transcript`; `recording_parts(path)` finds
Asterisk MixMonitor per-speaker files; `TranscriptionQueue` runs jobs on worker threads.
"""

from transcripts.engine import Transcript, VoskEngine, Word, default_model_dir, recording_parts
from transcripts.errors import (
    AudioFormatError,
    GrammarError,
    ModelLoadError,
    ModelNotFound,
    QueueFull,
    QueueStopped,
    RecordingNotFound,
    TranscriptionError,
    TranscriptsError,
)
from transcripts.jobs import TranscriptionQueue, TranscriptionResult

__all__ = [
    "AudioFormatError",
    "GrammarError",
    "ModelLoadError",
    "ModelNotFound",
    "QueueFull",
    "QueueStopped",
    "RecordingNotFound",
    "Transcript",
    "TranscriptionError",
    "TranscriptionQueue",
    "TranscriptionResult",
    "TranscriptsError",
    "VoskEngine",
    "Word",
    "default_model_dir",
    "recording_parts",
]
