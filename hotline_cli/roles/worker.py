"""`hotline serve --role worker`: an RQ worker rendering reports and transcribing recordings (the Vosk model kept
between jobs), with RQ's scheduler for retries and a transcript catch-up every 30 s. Wiring only."""

from __future__ import annotations

import argparse
import logging
import threading
import time
from pathlib import Path

import redis

from agent_console import metrics
from cases.db import Database
from cases.redact import masked
from hotline_cli import jobqueue
from hotline_cli.config import Settings
from hotline_cli.jobqueue import RqTranscriber
from hotline_cli.process_metrics import rq_backlog, serve_metrics
from hotline_cli.roles.redis_roles import run_with_database
from hotline_cli.startup import model_folder, standard_rules
from hotline_cli.webserver import Report
from pipeline.catch_up import queue_missing_transcripts

log = logging.getLogger("hotline")

CATCH_UP_EVERY_S = 30.0
CATCH_UP_SINCE_S = 86400.0  # the worker's catch-up: calls of the last day


def run(args: argparse.Namespace, report: Report) -> int:
    return run_with_database(args, "worker", run_rq_worker)


def run_rq_worker(settings: Settings, db: Database, retry: tuple[int, ...], metrics_port: int | None) -> None:
    """An RQ worker (in this process, the Vosk model kept between jobs) with RQ's scheduler for
    retries, plus a catch-up every 30 s: recorded calls without a transcript (their job never made
    it: a listener killed before enqueueing, Redis down) and jobs of dead workers on this machine."""
    model_dir = model_folder(settings)
    recordings = settings.recordings_dir.resolve()
    context = jobqueue.WorkerContext(db, model_dir, recordings, rules=standard_rules(settings),
                                     recording_wait_s=settings.recording_wait_s)
    conn = jobqueue.connect(settings.redis_url)
    jobs = RqTranscriber(settings.redis_url, settings.job_queue, retry)
    worker_metrics = metrics.MetricSources()
    worker_metrics.backlog = rq_backlog(settings.redis_url, settings.job_queue)
    serve_metrics(metrics_port, sources=worker_metrics)
    stop = threading.Event()

    def catch_up() -> None:
        while True:
            try:
                jobqueue.requeue_jobs_of_dead_workers(conn, settings.job_queue)
                jobqueue.requeue_jobs_of_dead_workers(conn, settings.report_queue)
                queue_missing_transcripts(db, jobs, Path, CATCH_UP_SINCE_S)
            except Exception as exc:  # Redis or the database down: next round
                log.warning("transcription catch-up failed: %s", exc)
            if stop.wait(CATCH_UP_EVERY_S):
                return

    threading.Thread(target=catch_up, name="transcript-catch-up", daemon=True).start()
    print(f"Hotline worker: report jobs from RQ queue {settings.report_queue}, transcription jobs from "
          f"{settings.job_queue} at {masked(settings.redis_url)} (worker {jobqueue.worker_name()})", flush=True)
    try:
        while True:
            worker = jobqueue.make_worker(jobqueue.worker_connection(settings.redis_url), settings.report_queue,
                                          settings.job_queue, context=context)  # reports first
            try:
                worker.work(with_scheduler=True, logging_level="WARNING")
            except (redis.RedisError, ValueError) as exc:  # Redis away at start; a name still registered
                log.warning("RQ worker could not start: %s", exc)
            if worker._shutdown_requested_date is not None:  # SIGTERM/SIGINT: RQ's warm shutdown
                break
            # RQ's loop quits on a Redis timeout or an unexpected error: start again, do not die
            log.warning("RQ worker stopped (Redis slow or away?); starting again in 2 s")
            time.sleep(2)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
