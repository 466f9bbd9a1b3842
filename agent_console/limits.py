"""How large a request body the console reads: `max_request_bytes` for every route, more only where
claim evidence is uploaded (`evidence_max_bytes` per upload, plus the multipart framing).

A body announced larger (Content-Length) is refused with 413 before a byte of it is read: before the
CSRF check reads the form and before the route checks the login, so nobody makes the console parse
30 MiB without an account. A body without a length (chunked) is cut at the same limit as it is read
(Flask's per-request `max_content_length`), which is a 413 too.
"""

from __future__ import annotations

import logging

from flask import abort, request

from agent_console.config import ConsoleConfig

log = logging.getLogger(__name__)

UPLOAD_FRAMING_BYTES = 64 * 1024  # multipart boundaries, headers and the form's other fields
# (endpoint, the <action> it takes or None for any): the routes that take evidence files
EVIDENCE_ROUTES = {("claims.claim_step", "add_evidence"), ("branch.branch_evidence", None)}


def body_limit(config: ConsoleConfig, endpoint: str | None, action: object) -> int:
    """The largest body the route may be sent."""
    if (endpoint, action) in EVIDENCE_ROUTES or (endpoint, None) in EVIDENCE_ROUTES:
        return max(config.max_request_bytes, config.evidence_max_bytes + UPLOAD_FRAMING_BYTES)
    return config.max_request_bytes


def refuse_oversized_body(config: ConsoleConfig) -> None:
    """A `before_request` hook, first of all: 413 for a body over the route's limit."""
    action = (request.view_args or {}).get("action")
    limit = body_limit(config, request.endpoint, action)
    request.max_content_length = limit
    length = request.content_length
    if length is not None and length > limit:
        log.info("request body refused unread: %s %s announced %s bytes, at most %s", request.method,
                 request.path, length, limit)
        abort(413, description=f"the request body is {length} bytes; this address takes at most {limit}")
