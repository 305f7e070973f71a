"""URLs a user gives (mirrors, package indexes): validation, and how messages may show them.

Why one home: a mirror or index URL may carry credentials (https://user:token@host/...), and every
message, summary and JSON field that mentions a URL must show it redacted; build, verify and the
image's own runtime configuration all ask here.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ci.model.errors import UserError


def has_credentials(url: str) -> bool:
    """True when the URL carries a user or password (https://user:token@host/...)."""
    return "@" in urlsplit(url).netloc


def url_password(url: str) -> str | None:
    return urlsplit(url).password


def redact(url: str) -> str:
    """The URL as messages may show it: any user:password@ replaced by ***@."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


def check_url(flag: str, value: str, *, require_slash: bool = False) -> str:
    """Return value when it is an http(s) URL with a host and no whitespace, else UserError."""
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a non-numeric port
    except ValueError:
        host = None
    if re.search(r"\s", value) or parts.scheme not in ("http", "https") or not host:
        raise UserError(f"{flag} {redact(value)!r}: expected an http:// or https:// URL with a host name")
    if require_slash and not value.endswith("/"):
        value += "/"
    return value
