"""What may be logged or printed of a setting: `masked` hides secrets, in one place for every process.

A URL keeps its scheme, user, host, port, path and harmless query parameters; its password (the
userinfo after the colon) and any query parameter named like a secret become `***`:

    redis://:pw@host:6379/0                        -> redis://:***@host:6379/0
    postgresql+psycopg://user:pw@h/db?password=x   -> postgresql+psycopg://user:***@h/db?password=***

A setting whose name says it is a secret (secret, password, token, key ...) is `***` whatever it
holds. Everything that shows a URL or a setting (start-up banners, `hotline db`, warnings while a
server is away, error messages that end up in logs) goes through `masked`; tests/test_secrets_not_logged.py
runs the processes and looks for the passwords in what they wrote.
"""

from __future__ import annotations

import re

MASK = "***"

# the last word of a setting's name that makes its value a secret (secret_key, metrics_token, ami.secret)
_SECRET_WORDS = frozenset({"secret", "password", "passwd", "pwd", "token", "key", "credentials"})
# URL query parameters whose values are secrets (password=, sslpassword=, token=, api_key= ...)
_QUERY_SECRET = re.compile(r"([?&;][^=&;#]*(?:pass|pwd|secret|token|key|credential)[^=&;#]*=)[^&;#]*", re.IGNORECASE)
_QUERY_MASK = r"\g<1>" + MASK


def masked(value: object, name: str = "") -> str:
    """`value` as it may be shown: `***` if `name` (a setting's name) says it is a secret, else with
    any URL's password and secret query parameters replaced by `***`."""
    if name and re.split(r"[._-]", name.lower())[-1] in _SECRET_WORDS:
        return MASK if value not in (None, "") else ""
    text = str(value)
    if "://" not in text:
        return text
    return _mask_url(text)


def _mask_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    query_at = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    path_at = min((i for i in (rest.find("/"), query_at) if i >= 0), default=len(rest))
    at = rest.rfind("@", 0, query_at)  # the end of a user:password (which may hold an unescaped '/' or '@')
    if at >= 0 and ("@" in rest[:path_at] or ":" in rest[:path_at]):
        user, colon, _password = rest[:at].partition(":")
        if colon or at > path_at:
            rest = f"{user.partition('/')[0]}:{MASK}{rest[at:]}"
    return f"{scheme}://{_QUERY_SECRET.sub(_QUERY_MASK, rest)}"
