"""Transcript catch-up: the answered, recorded calls that have no transcript are queued again (a
process that was down, or a job that never made it, missed their end)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cases.call_records import calls_needing_transcripts
from cases.db import Database
from pipeline.transcription_jobs import TranscriptionJobs
from transcripts.errors import TranscriptsError

log = logging.getLogger("hotline")


def queue_missing_transcripts(db: Database, jobs: TranscriptionJobs, recording_path: Callable[[str], Path],
                              since_s: float) -> int:
    """Queue the answered, recorded calls of the last `since_s` that have no transcript; `recording_path`
    turns the path Asterisk stored into this machine's. Returns how many were queued."""
    since = datetime.now(UTC) - timedelta(seconds=since_s)
    with db.session() as s:
        missing = calls_needing_transcripts(s, since)
    n = 0
    for call in missing:
        if call.recording:
            try:
                if jobs.submit(call.linkedid, recording_path(call.recording)):
                    n += 1
            except TranscriptsError as exc:
                log.warning("catch-up transcription of %s not queued: %s", call.linkedid, exc)
    if n:
        log.info("%s recorded calls without a transcript queued", n)
    return n
