"""What every role of a site split over Redis needs before it starts (`--role listener|web|worker|live`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from cases.db import Database
from hotline_cli import jobqueue
from hotline_cli.config import Settings
from hotline_cli.foreground import sigterm_as_interrupt
from hotline_cli.jobqueue import JobQueueError
from hotline_cli.redisbus import RedisUnavailable
from hotline_cli.startup import StartupError, open_database


def job_retries(settings: Settings, role: str) -> tuple[int, ...]:
    """The job retry delays; `StartupError` without `redis_url` or with a bad `job_retry_s`."""
    if not settings.redis_url:
        raise StartupError(f"--role {role} needs Redis: set redis_url (HOTLINE_REDIS_URL)")
    try:
        return jobqueue.parse_retry(settings.job_retry_s)
    except JobQueueError as exc:
        raise StartupError(str(exc)) from None


RoleBody = Callable[[Settings, Database, tuple[int, ...], int | None], None]


def run_with_database(args: argparse.Namespace, role: str, body: RoleBody) -> int:
    """A role that needs the database and Redis (listener, worker): SIGTERM as Ctrl-C, the retries, the
    database opened and disposed around `body(settings, db, retries, metrics_port)`; Redis away at start is a
    `StartupError`."""
    sigterm_as_interrupt()
    settings: Settings = args.settings
    retry = job_retries(settings, role)
    db = open_database(settings)
    try:
        body(settings, db, retry, args.metrics_port)
    except RedisUnavailable as exc:
        raise StartupError(str(exc)) from None
    finally:
        db.dispose()
    return 0
