"""Backup and restore of Hotline's data: every table of the database and the call recordings, in
one .tar.gz that restores into SQLite or PostgreSQL alike (a backup of one can restore into the
other).

Archive layout: `manifest.json` (format, schema revision, row counts, files), `tables/<table>.jsonl`
(one JSON object per row; dates, decimals and bytes tagged), `files/<name>/…` (folders given by the
caller, e.g. the recordings). Restore refuses a database that already holds data: nothing stored is
ever overwritten.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import logging
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import func, select, text

from cases.db import Database
from cases.errors import CasesError
from cases.models.base import Base

log = logging.getLogger(__name__)

FORMAT = "hotline-backup/1"


class BackupError(CasesError):
    """A backup that cannot be written or read, or a restore that would lose data."""


@dataclass(frozen=True, slots=True)
class BackupSummary:
    path: Path
    revision: str | None
    rows: dict[str, int]
    files: int
    seconds: float


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b": base64.b64encode(bytes(value)).decode()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        (tag, v), = value.items()
        if tag == "$dt":
            return dt.datetime.fromisoformat(v)
        if tag == "$d":
            return dt.date.fromisoformat(v)
        if tag == "$dec":
            return Decimal(v)
        if tag == "$b":
            return base64.b64decode(v)
    return value


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


def backup(db: Database, out: Path, folders: Mapping[str, Path] | None = None) -> BackupSummary:
    """Write the archive to `out` (written whole or not at all)."""
    t0 = time.monotonic()
    tmp = out.with_name(out.name + ".partial")
    rows: dict[str, int] = {}
    nfiles = 0
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            with db.engine.connect() as conn:
                for table in Base.metadata.sorted_tables:
                    buf = io.StringIO()
                    n = 0
                    for row in conn.execute(select(table)).mappings():
                        buf.write(json.dumps({k: _encode(v) for k, v in row.items()}, ensure_ascii=False) + "\n")
                        n += 1
                    rows[table.name] = n
                    _add_bytes(tar, f"tables/{table.name}.jsonl", buf.getvalue().encode())
            for name, folder in (folders or {}).items():
                if not folder.is_dir():
                    continue
                for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                    tar.add(path, arcname=f"files/{name}/{path.relative_to(folder).as_posix()}")
                    nfiles += 1
            manifest = {"format": FORMAT, "revision": db.current_revision(), "rows": rows, "files": nfiles,
                        "created_at": dt.datetime.now(dt.UTC).isoformat(), "dialect": db.dialect}
            _add_bytes(tar, "manifest.json", json.dumps(manifest, indent=1).encode())
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BackupError(f"cannot write the backup {out}: {exc.strerror or exc}") from None
    log.info("backup %s: %s rows, %s files", out, sum(rows.values()), nfiles)
    return BackupSummary(out, manifest["revision"], rows, nfiles, time.monotonic() - t0)  # type: ignore[arg-type]


def restore(db: Database, archive: Path, folders: Mapping[str, Path] | None = None) -> BackupSummary:
    """Restore into an empty database (migrated here first) and into the given folders."""
    t0 = time.monotonic()
    try:
        tar = tarfile.open(archive, "r:gz")
    except FileNotFoundError:
        raise BackupError(f"{archive}: no such file") from None
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{archive} is not a Hotline backup ({exc})") from None
    with tar:
        try:
            member = tar.extractfile("manifest.json")
            manifest = json.loads(member.read()) if member else None
        except (KeyError, ValueError, tarfile.TarError, EOFError, OSError):
            manifest = None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BackupError(f"{archive} is not a Hotline backup (no {FORMAT} manifest)")
        db.migrate()
        if manifest.get("revision") != db.current_revision():
            raise BackupError(f"the backup is of schema {manifest.get('revision')}, this Hotline has "
                              f"{db.current_revision()}: restore it with the Hotline version that made it")
        with db.engine.connect() as conn:
            busy = [t.name for t in Base.metadata.sorted_tables
                    if conn.execute(select(func.count()).select_from(t)).scalar_one()]
        if busy:
            raise BackupError(f"the database already holds data ({', '.join(busy[:4])}…): restore needs an "
                              "empty one, nothing was changed")
        rows: dict[str, int] = {}
        try:
            with db.engine.begin() as conn:
                for table in Base.metadata.sorted_tables:
                    f = tar.extractfile(f"tables/{table.name}.jsonl")
                    batch = [{k: _decode(v) for k, v in json.loads(line).items()}
                             for line in (f.read().decode().splitlines() if f else []) if line]
                    if batch:
                        conn.execute(table.insert(), batch)
                    rows[table.name] = len(batch)
                    if batch and db.dialect == "postgresql" and "id" in table.c:
                        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                          f"(SELECT max(id) FROM {table.name}))"))
        except (KeyError, ValueError, tarfile.TarError) as exc:
            raise BackupError(f"{archive} is damaged ({exc}); nothing was restored") from None
        nfiles = 0
        for m in tar.getmembers():
            parts = PurePosixPath(m.name).parts
            if len(parts) < 3 or parts[0] != "files" or not m.isfile():
                continue
            target_dir = (folders or {}).get(parts[1])
            if target_dir is None or ".." in parts:
                continue
            target = target_dir.joinpath(*parts[2:])
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(m)
            if src is not None:
                target.write_bytes(src.read())
                nfiles += 1
    expected = manifest.get("rows", {})
    if rows != expected:
        raise BackupError(f"restored rows {rows} differ from the manifest's {expected}")
    log.info("restored %s: %s rows, %s files", archive, sum(rows.values()), nfiles)
    return BackupSummary(archive, manifest.get("revision"), rows, nfiles, time.monotonic() - t0)
