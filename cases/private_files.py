"""Files and folders Hotline creates for itself are private to its account: folders 0700, files 0600.

The cases database (and SQLite's -wal and -shm files, which take the database file's mode), the
session key in data_dir, claim evidence, recordings and report folders hold callers' data or secrets;
with the usual umask 022 they were readable by every account on the host (#16, finding 8). Only what
is created here is made private: a folder or file that already exists keeps the mode its operator gave
it (a recordings folder shared with Asterisk's account, say), and a database file readable by others
is logged once.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """`path` and any missing parents created 0700 (existing ones left as they are)."""
    missing: list[Path] = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by another process
        os.chmod(folder, DIR_MODE)  # whatever the umask
    return path


def private_file(path: Path) -> bool:
    """Create `path` empty and 0600 (its folder private too) unless it exists; True if created here."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    os.chmod(path, FILE_MODE)
    return True


def write_private(path: Path, text: str) -> None:
    """A new file holding `text`, 0600 from its first byte (no moment readable by others)."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def warn_if_shared(path: Path) -> None:
    """Log (warning) when an existing file is readable or writable by group or others."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s is readable by other accounts (mode %o): chmod 600 it", path, stat.S_IMODE(mode))
