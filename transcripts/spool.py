"""The transcription spool: one JSON file per job in a folder, so queued work survives restarts.

Layout of a spool folder:

    <spool>/<job file>.json   one per job (state queued, running, done or failed)
    <spool>/corrupt/          job files that could not be read, moved aside at start
    <spool>/.lock             held (flock) by the one queue using the spool

Every write is atomic: the new content goes to a temporary file in the same folder, is flushed to
disk, then renamed over the job file; a crash leaves the previous version intact (leftover
temporary files are deleted at start). Times in job files are wall-clock seconds since the epoch,
so a retry time stays right across restarts.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from transcripts.errors import CorruptJobFile, SpoolError, SpoolLocked

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
JOB_SUFFIX = ".json"
TMP_MARK = ".tmp-"
CORRUPT_DIR = "corrupt"
LOCK_NAME = ".lock"
MAX_NAME = 120  # characters of the job id kept readable in its file name


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One job as stored in its file. `attempts` counts started runs (a run the process died in counts)."""

    job_id: str
    recording: str
    state: JobState
    attempts: int = 0
    created_at: float = 0.0
    next_try_at: float = 0.0  # when a queued job may run (0 = at once)
    started_at: float | None = None  # start of the latest attempt
    finished_at: float | None = None  # end of the latest attempt
    elapsed_s: float | None = None  # duration of the latest attempt
    last_error: str | None = None  # "ErrorType: message" of the latest failed attempt
    error_type: str | None = None

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "job_id": self.job_id,
            "recording": self.recording,
            "state": self.state.value,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "next_try_at": self.next_try_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "elapsed_s": self.elapsed_s,
            "last_error": self.last_error,
            "error_type": self.error_type,
        }
        return json.dumps(data, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str, *, source: str) -> JobRecord:
        """Parse a job file; raises `CorruptJobFile` naming `source` and what is wrong."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CorruptJobFile(f"{source}: not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise CorruptJobFile(f"{source}: not a JSON object")
        if data.get("version") != FORMAT_VERSION:
            raise CorruptJobFile(f"{source}: unknown format version {data.get('version')!r}")

        def text_field(name: str, *, optional: bool = False) -> str | None:
            value = data.get(name)
            if value is None and optional:
                return None
            if not isinstance(value, str) or (not optional and not value):
                raise CorruptJobFile(f"{source}: field {name!r} must be a non-empty string, not {value!r}")
            return value

        def number(name: str, *, optional: bool = False) -> float | None:
            value = data.get(name)
            if value is None and optional:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise CorruptJobFile(f"{source}: field {name!r} must be a number >= 0, not {value!r}")
            return float(value)

        try:
            state = JobState(str(data.get("state")))
        except ValueError:
            raise CorruptJobFile(f"{source}: unknown state {data.get('state')!r}") from None
        attempts = data.get("attempts")
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
            raise CorruptJobFile(f"{source}: field 'attempts' must be a whole number >= 0, not {attempts!r}")
        job_id = text_field("job_id")
        recording = text_field("recording")
        assert job_id is not None and recording is not None
        return cls(
            job_id=job_id,
            recording=recording,
            state=state,
            attempts=attempts,
            created_at=number("created_at") or 0.0,
            next_try_at=number("next_try_at") or 0.0,
            started_at=number("started_at", optional=True),
            finished_at=number("finished_at", optional=True),
            elapsed_s=number("elapsed_s", optional=True),
            last_error=text_field("last_error", optional=True),
            error_type=text_field("error_type", optional=True),
        )

    def with_(self, **changes: Any) -> JobRecord:
        return replace(self, **changes)


def job_file_name(job_id: str) -> str:
    """The file name of a job: the id percent-encoded, long ids shortened with a hash."""
    name = quote(job_id, safe="-_.@+=,")
    if name.startswith("."):
        name = "%2E" + name[1:]  # no hidden files
    if len(name) > MAX_NAME:
        name = f"{name[:80]}~{hashlib.sha256(job_id.encode()).hexdigest()[:24]}"
    return name + JOB_SUFFIX


class JobSpool:
    """The job files of one spool folder. Holds the folder's lock from `open()` until `close()`."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._lock_file: IO[bytes] | None = None

    def open(self) -> None:
        """Create the folder if needed and take its lock; raises `SpoolLocked` if another queue has it."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            lock_file = open(self.directory / LOCK_NAME, "ab")  # noqa: SIM115 - held until close()
        except OSError as exc:
            raise SpoolError(f"transcription spool {self.directory} cannot be used: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock_file.close()
            raise SpoolLocked(f"transcription spool {self.directory} is in use by another queue") from None
        self._lock_file = lock_file

    def close(self) -> None:
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def path_of(self, job_id: str) -> Path:
        return self.directory / job_file_name(job_id)

    def write(self, record: JobRecord) -> None:
        """Write a job file atomically (temporary file, fsync, rename, fsync of the folder)."""
        target = self.path_of(record.job_id)
        tmp = target.with_name(f"{target.name}{TMP_MARK}{os.getpid()}-{time.monotonic_ns()}")
        data = record.to_json().encode("utf-8")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
            self._sync_dir()
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            reason = exc.strerror or exc
            raise SpoolError(f"cannot write transcription job {record.job_id} to {target}: {reason}") from exc

    def delete(self, job_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path_of(job_id).unlink()
        self._sync_dir()

    def read(self, path: Path) -> JobRecord:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise CorruptJobFile(f"{path}: not UTF-8 text") from None
        except OSError as exc:
            raise CorruptJobFile(f"{path}: cannot read ({exc.strerror or exc})") from exc
        record = JobRecord.from_json(text, source=str(path))
        if job_file_name(record.job_id) != path.name:
            raise CorruptJobFile(f"{path}: holds job {record.job_id!r}, whose file is {job_file_name(record.job_id)}")
        return record

    def load(self) -> Iterator[JobRecord]:
        """Every readable job; leftover temporary files are deleted, unreadable job files moved aside."""
        for path in sorted(self.directory.iterdir()):
            if TMP_MARK in path.name:
                log.warning("transcription spool: deleting %s, left by an interrupted write", path)
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            if not path.name.endswith(JOB_SUFFIX) or not path.is_file():
                continue
            try:
                yield self.read(path)
            except CorruptJobFile as exc:
                moved = self.move_aside(path)
                log.error("transcription spool: corrupt job file moved to %s: %s", moved, exc)

    def move_aside(self, path: Path) -> Path:
        """Move an unreadable job file into `corrupt/` (never overwriting an earlier one)."""
        folder = self.directory / CORRUPT_DIR
        folder.mkdir(exist_ok=True)
        target = folder / path.name
        n = 1
        while target.exists():
            n += 1
            target = folder / f"{path.stem}.{n}{path.suffix}"
        os.replace(path, target)
        self._sync_dir()
        return target

    def _sync_dir(self) -> None:
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


@dataclass(frozen=True, slots=True)
class SpoolSnapshot:
    """A read-only look at a spool folder (safe while a queue uses it): its jobs and unreadable files."""

    directory: Path
    jobs: tuple[JobRecord, ...]  # oldest first
    unreadable: tuple[tuple[Path, str], ...]  # job files that cannot be read, with the reason

    def count(self, state: JobState) -> int:
        return sum(1 for job in self.jobs if job.state is state)


def scan_spool(directory: Path) -> SpoolSnapshot:
    """Read every job file without locking or changing anything; `SpoolError` if there is no such folder."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SpoolError(f"transcription spool {directory} does not exist")
    reader = JobSpool(directory)
    jobs: list[JobRecord] = []
    unreadable: list[tuple[Path, str]] = []
    for path in sorted(directory.iterdir()):
        if TMP_MARK in path.name or not path.name.endswith(JOB_SUFFIX) or not path.is_file():
            continue
        try:
            jobs.append(reader.read(path))
        except FileNotFoundError:
            continue  # renamed or deleted by the queue meanwhile
        except CorruptJobFile as exc:
            if path.exists():
                unreadable.append((path, str(exc)))
    jobs.sort(key=lambda j: (j.created_at, j.job_id))
    return SpoolSnapshot(directory, tuple(jobs), tuple(unreadable))
