"""Security headers on every response of the console.

- Content-Security-Policy: scripts, styles, images, media and connections from the console itself only;
  no inline script or on* attribute runs (the pages have none: their JavaScript is in /static; the JSON
  blocks `<script type="application/json">` are data, never executed), no plugins, no framing
  (`frame-ancestors 'none'`), forms post only here, `<base>` cannot move the page's links.
- X-Frame-Options: DENY (frame-ancestors for browsers without CSP 2)
- X-Content-Type-Options: nosniff (an uploaded evidence file or a JSON answer is never run as script)
- Referrer-Policy: same-origin (case and call ids in URLs do not leave the site)
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",  # data: for the empty favicon of base.html
    "media-src 'self'",  # call recordings
    "connect-src 'self'",  # fetch and Socket.IO (same host, ws/wss included)
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def register_security_headers(app: Flask) -> None:
    """Every response of `app` (pages, JSON, files, errors, redirects) gets SECURITY_HEADERS."""

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
