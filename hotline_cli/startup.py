"""What a Hotline process needs before it runs: its database, its session key, the speech model, the
service-standard rules. Each is checked at start; `StartupError` says what is missing."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.db import Database
from cases.demo_seed import seed_demo
from cases.errors import CasesError
from cases.local_time import CHINA_TZ
from cases.private_files import private_dir, write_private
from hotline_cli.config import Settings
from transcripts.engine import default_model_dir
from transcripts.errors import TranscriptsError
from transcripts.standard import Rules, load_rules

log = logging.getLogger("hotline")


class StartupError(Exception):
    """Something the process needs is not there; the message says what."""


def open_database(settings: Settings, *, seed_demo: bool = False) -> Database:
    url = settings.database_url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        private_dir(Path(url[len("sqlite:///"):]).parent)
    try:
        db = Database(url)
        db.migrate()
        if seed_demo:
            with db.session() as s:
                seed_demo_data(s)
            with db.session() as s:
                seed_demo_workflows(s, (settings.data_dir / "evidence").resolve())
    except CasesError as exc:
        raise StartupError(str(exc)) from None
    return db


def seed_demo_data(s: Session) -> None:
    summary = seed_demo(s)
    log.info("demo data: %s", summary)


def seed_demo_workflows(s: Session, evidence_root: Path) -> bool:
    """Last month's complaints, claims, inspections and self-settled business, so the desks and the
    reports of a new demo have work to show; once per database (nothing if any claim exists)."""
    from cases.demo_workflows import seed_month
    from cases.models.workflows import Claim

    if s.scalars(select(Claim.id).limit(1)).first() is not None:
        return False
    first_of_this_month = datetime.now(CHINA_TZ).date().replace(day=1)
    last_month = (first_of_this_month - timedelta(days=1)).replace(day=1)
    seed_month(s, last_month, evidence_root=evidence_root)
    log.info("demo data: workflows of %s seeded", last_month.strftime("%Y-%m"))
    return True


def secret_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret_key"
    try:
        if path.exists():
            return path.read_text().strip()
        key = secrets.token_hex(32)
        write_private(path, key)  # data_dir 0700 if made here, the key 0600 from its first byte
        return key
    except OSError as exc:
        raise StartupError(f"cannot keep the session key in {path}: {exc.strerror}") from None


def standard_rules(settings: Settings) -> Rules:
    """The service-standard rules file of the settings (`standard_rules`), or the built-in one."""
    try:
        return load_rules(Path(settings.standard_rules) if settings.standard_rules else None)
    except TranscriptsError as exc:
        raise StartupError(str(exc)) from None


def model_folder(settings: Settings) -> Path:
    try:
        model_dir = Path(settings.vosk_model) if settings.vosk_model else default_model_dir()
    except TranscriptsError as exc:
        raise StartupError(str(exc)) from None
    if not model_dir.is_dir():
        raise StartupError(f"Vosk model folder {model_dir} does not exist (set HOTLINE_VOSK_MODEL)")
    return model_dir

