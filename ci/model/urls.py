"""URLs a user gives (mirrors, package indexes): validation, and how messages may show them.

Why one home: a mirror or index URL may carry credentials (https://user:token@host/...), and every
message, summary and JSON field that mentions a URL must show it redacted; build, verify and the
image's own runtime configuration all ask here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

from ci.model.errors import UserError


def _after_scheme(url: str) -> str:
    return url.partition("://")[2]


def has_credentials(url: str) -> bool:
    """True when the URL may carry a user or password (https://user:token@host/...).

    Any `@` after the scheme counts: a password with an unencoded `/`, `?` or `#`
    (https://ci:a/b@host/) ends the URL's authority early, so its `@` looks like part of a path;
    refusing a rare `@` in a path as a flag value is the price of never taking such a password.
    """
    return "@" in _after_scheme(url)


def url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def secret_parts(url: str) -> list[str]:
    """What an output scrubber must hide for this URL: the userinfo, the password, encoded or not."""
    if not has_credentials(url):
        return []
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        netloc = ""
    userinfo = (netloc if "@" in netloc else _after_scheme(url)).rpartition("@")[0]
    password = userinfo.partition(":")[2]
    parts = [userinfo, password, unquote(password)]
    return [p for p in dict.fromkeys(parts) if len(p) >= 3]


def redact(url: str) -> str:
    """The URL as messages may show it: any user:password@ replaced by ***@.

    When the authority holds the `@` (the usual case) only the userinfo goes; otherwise everything
    between the scheme and the last `@` does, since a password with an unencoded `/`, `?` or `#`
    puts its `@` after what looks like the authority.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        netloc = ""
    if "@" in netloc:
        return parts._replace(netloc="***@" + netloc.rpartition("@")[2]).geturl()
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


def scrub(text: str, urls: Iterable[str]) -> str:
    """`text` with every credential of `urls` (whole URL, userinfo, password) replaced."""
    for url in urls:
        if not has_credentials(url):
            continue
        text = text.replace(url, redact(url))
        for part in sorted(secret_parts(url), key=len, reverse=True):
            text = text.replace(part, "***")
    return text


def check_url(flag: str, value: str, *, require_slash: bool = False) -> str:
    """Return value when it is an http(s) URL with a host and no whitespace, else UserError."""
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a non-numeric port
        scheme = parts.scheme
    except ValueError:  # a non-numeric port, `http://[::1/`
        host, scheme = None, ""
    if re.search(r"\s", value) or scheme not in ("http", "https") or not host:
        hint = ""
        if has_credentials(value):
            hint = (
                " (characters such as / ? # @ in a user or password must be percent-encoded: %2F %3F %23 %40)"
            )
        raise UserError(
            f"{flag} {redact(value)[:300]!r}: expected an http:// or https:// URL with a host name{hint}"
        )
    if require_slash and not value.endswith("/"):
        value += "/"
    return value
