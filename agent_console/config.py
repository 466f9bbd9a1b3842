"""Settings of the web console (filled in by the `hotline` wiring)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LANGUAGES = ("zh-CN", "en")


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    secret_key: str
    demo: bool = False
    message_queue: str | None = None  # e.g. "redis://127.0.0.1:6379/0"; None = single process
    default_language: str = "zh-CN"
    recordings_dir: Path | None = None  # recordings are served only from below this folder
    wallboard_interval_s: float = 0.2  # at most ~5 wallboard pushes per second
    session_cookie_secure: bool = False  # set True behind HTTPS

    def __post_init__(self) -> None:
        if not self.secret_key:
            raise ValueError("ConsoleConfig.secret_key must not be empty")
        if self.default_language not in LANGUAGES:
            raise ValueError(f"default_language must be one of {LANGUAGES}, not {self.default_language!r}")
