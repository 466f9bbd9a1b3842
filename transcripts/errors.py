"""Named errors of the transcripts package. Each str() is one clear line."""

from __future__ import annotations


class TranscriptsError(Exception):
    """Base class of every error raised by `transcripts`."""


class ModelNotFound(TranscriptsError):
    """No usable Vosk model folder (not configured, missing, or not a Vosk model)."""


class ModelLoadError(TranscriptsError):
    """The folder looks like a Vosk model but Vosk could not load it (corrupt or incompatible)."""


class AudioFormatError(TranscriptsError):
    """The audio file cannot be used: unreadable, not WAV, empty, truncated or unsupported format."""


class RecordingNotFound(AudioFormatError):
    """The recording file does not exist."""


class GrammarError(TranscriptsError):
    """A grammar was given but none of its phrases can be recognised by the model."""


class TranscriptionError(TranscriptsError):
    """Vosk failed while decoding audio that was read correctly."""


class QueueFull(TranscriptsError):
    """The transcription queue is at capacity; the job was not accepted."""


class QueueStopped(TranscriptsError):
    """The transcription queue was stopped; the job was not (or will not be) processed."""


class SpoolError(TranscriptsError):
    """The transcription spool folder cannot be used (not writable, disk full)."""


class SpoolLocked(SpoolError):
    """Another transcription queue is using the spool folder."""


class CorruptJobFile(SpoolError):
    """A job file in the spool cannot be read (not JSON, missing fields, unknown state)."""


class JobInterrupted(TranscriptsError):
    """The process stopped while the job ran, more times than the job may be attempted."""
