"""The database away or locked is a 503 with Retry-After, never a 500.

SQLAlchemy's OperationalError family (SQLite "database is locked" once busy_timeout has passed,
PostgreSQL refusing connections or gone mid-query, the pool timing out) and cases' own
DatabaseUnavailable, wherever a route meets them: one handler, one log line, the error page or JSON
of the page's language (agent_console.app's HTTP error handler) with `Retry-After`. The routes that
answer 503 themselves (a case not saved, a search, a PBX or report queue away) get the same header.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import ServiceUnavailable

from cases.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5  # a lock is usually gone by then; a server that is down says so again


def _one_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def register_unavailable(app: Flask) -> None:
    """Map the database errors to 503 on `app` (after its HTTPException handler is registered)."""

    def unavailable(exc: Exception) -> ResponseReturnValue:
        reason = _one_line(exc)
        log.error("database unavailable: %s %s answered 503: %s", request.method, request.path, reason)
        return app.handle_http_exception(ServiceUnavailable(description=f"database unavailable: {reason}",
                                                            retry_after=RETRY_AFTER_S))

    for family in (OperationalError, PoolTimeout, DatabaseUnavailable):
        app.register_error_handler(family, unavailable)

    @app.after_request
    def retry_after(response: Response) -> Response:
        if response.status_code == 503 and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
