"""What every role of a site split over Redis needs before it starts (`--role listener|web|worker|live`)."""

from __future__ import annotations

from hotline_cli import jobqueue
from hotline_cli.config import Settings
from hotline_cli.jobqueue import JobQueueError
from hotline_cli.startup import StartupError


def job_retries(settings: Settings, role: str) -> tuple[int, ...]:
    """The job retry delays; `StartupError` without `redis_url` or with a bad `job_retry_s`."""
    if not settings.redis_url:
        raise StartupError(f"--role {role} needs Redis: set redis_url (HOTLINE_REDIS_URL)")
    try:
        return jobqueue.parse_retry(settings.job_retry_s)
    except JobQueueError as exc:
        raise StartupError(str(exc)) from None
