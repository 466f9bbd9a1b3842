"""Offline transcription of call recordings with Vosk (imports nothing else of Hotline's).

`VoskEngine(default_model_dir()).transcribe_wav(path) -> Transcript`; `recording_parts(path)` finds
Asterisk MixMonitor per-speaker files; `TranscriptionQueue` runs jobs on worker threads (durable
with a `spool_dir`: see `transcripts.spool`).
"""

from transcripts.engine import Transcript, VoskEngine, Word, default_model_dir, recording_parts
from transcripts.errors import (
    AudioFormatError,
    CorruptJobFile,
    GrammarError,
    JobInterrupted,
    ModelLoadError,
    ModelNotFound,
    QueueFull,
    QueueStopped,
    RecordingNotFound,
    SpoolError,
    SpoolLocked,
    TranscriptionError,
    TranscriptsError,
)
from transcripts.jobs import PendingJob, QueueProgress, TranscriptionQueue, TranscriptionResult

__all__ = [
    "AudioFormatError",
    "CorruptJobFile",
    "GrammarError",
    "JobInterrupted",
    "ModelLoadError",
    "ModelNotFound",
    "PendingJob",
    "QueueProgress",
    "QueueFull",
    "QueueStopped",
    "RecordingNotFound",
    "SpoolError",
    "SpoolLocked",
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
