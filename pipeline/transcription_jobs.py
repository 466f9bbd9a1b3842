"""Transcription jobs as the call pipeline submits them: one small protocol, two queues behind it.

The embedded process queues on `transcripts.jobs.TranscriptionQueue` (a spool below `data_dir`, the
speech model in this process); processes by role queue on RQ (`hotline_cli.jobqueue.RqTranscriber`,
transcribed by `hotline serve --role worker`). Which one is chosen at wiring. A job's id is the
call's linkedid, or `ivr:<case id>:<linkedid>` for the caller's own words recorded in the IVR.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

IVR_JOB = "ivr:"  # transcription jobs of IVR descriptions: "ivr:<case id>:<linkedid>"


class TranscriptionJobs(Protocol):
    """Where recordings are queued for transcription. Either method raises `TranscriptsError` (of
    `transcripts.errors`) when the job cannot be queued."""

    def submit(self, job_id: str, recording: Path) -> bool:
        """Queue the transcription of a recording that is written. Whether a job was queued (False:
        one for `job_id` is queued, running or done already)."""
        ...

    def submit_when_written(self, job_id: str, recording: Path) -> None:
        """Queue the recording of a call that just ended, which Asterisk may still be writing; returns
        at once (the queue, or the job itself, waits for the file)."""
        ...


def ivr_job_id(case_id: str, linkedid: str) -> str:
    """The job of a case's IVR description, recorded during call `linkedid`."""
    return f"{IVR_JOB}{case_id}:{linkedid}"


def linkedid_of_job(job_id: str) -> str:
    """The call a job transcribes: the job id itself, or the linkedid after an IVR job's case id."""
    return job_id[len(IVR_JOB):].partition(":")[2] if job_id.startswith(IVR_JOB) else job_id
