"""The objects one console app works with, reachable from any request as `console()`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app

from agent_console.calls import CallMemory
from agent_console.config import ConsoleConfig
from agent_console.login_limiter import LoginLimiter
from agent_console.password_checks import PasswordChecks
from agent_console.sessions import SessionPolicy
from agent_console.socket_sessions import SocketSessions
from cases.db import Database
from telephony.events import EventBus
from telephony.live import LiveView

StatusProvider = Callable[[], Mapping[str, Any]]
EXTENSION_KEY = "hotline_console"


@dataclass(slots=True)
class ConsoleContext:
    config: ConsoleConfig
    db: Database
    bus: EventBus
    live: LiveView
    calls: CallMemory
    limiter: LoginLimiter
    password_checks: PasswordChecks
    sessions: SessionPolicy
    sockets: SocketSessions
    status_provider: StatusProvider | None = None


def console() -> ConsoleContext:
    ctx: ConsoleContext = current_app.extensions[EXTENSION_KEY]
    return ctx
