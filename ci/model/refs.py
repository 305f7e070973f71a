"""The one parser of image references and digests: flags, the table, the lock, cache refs, results.

Why one: references reach the pipeline from six places (--publish/--from/--to, versions.yaml bases,
versions.lock.yaml, --cache-to/--cache-from, --base-mirror, index.json results), and three
hand-written copies used to disagree (a `user:pass@host/repo` was called a bad digest, an IPv6
registry passed one copy and failed in skopeo). The grammar is Docker's (distribution/reference),
restricted to what skopeo and the engine both accept:

    [HOST[:PORT]/]PATH[:TAG][@sha256:HEX64]

HOST is a DNS name with a dot, a port or `localhost` (else the reference names Docker Hub, which
only table bases may do); PATH components are lowercase; no IPv6 literals, no URL scheme, no
credentials. Whether a registry speaks plain HTTP is also decided here, once.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from dataclasses import dataclass

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")  # a sha256 as 64 lowercase hex digits
SHA256_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")  # an OCI digest: "sha256:" + 64 hex
DOCKER_HUB = "docker.io"
EXAMPLE = "ghcr.io/org/tensorflow"
MAX_NAME = 255  # distribution/reference: a repository name (host included) is at most 255 characters
MAX_REFERENCE = 1024

_HOST_LABEL = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_HOST = re.compile(rf"^{_HOST_LABEL}(?:\.{_HOST_LABEL})*$")
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
TAG_RULE = "letters, digits, _ . -; not starting with . or -; at most 128"
_PORT = re.compile(r"^[0-9]{1,5}$")  # ASCII digits only: str.isdigit() admits '²' and '١'


class ReferenceError(ValueError):
    """A reference that does not parse; the message names the problem and never the credentials."""


@dataclass(frozen=True)
class Reference:
    """registry/repository[:tag][@digest], split the way the distribution spec defines it."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def familiar(self) -> str:
        """The repository as `docker pull` shows it: Docker Hub's `library/` and host left out."""
        if self.registry != DOCKER_HUB:
            return self.name
        return self.repository.removeprefix("library/")

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.registry, self.repository, tag, None)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, None, digest)

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    @property
    def transport(self) -> str:
        """skopeo's name for it; with a digest the tag is dropped (the digest is what is meant)."""
        return f"docker://{self.name}@{self.digest}" if self.digest else f"docker://{self}"


def is_digest(text: str) -> bool:
    return bool(SHA256_DIGEST.fullmatch(text))


def is_tag(text: str) -> bool:
    """A valid tag (distribution/reference): what may follow the ':' of a reference."""
    return bool(_TAG.fullmatch(text))


def _credentials_like(text: str) -> bool:
    """An `@` that does not start a digest: `user:pass@host/...` (the password may hold `/`)."""
    _, at, tail = text.rpartition("@")
    return bool(at) and not tail.startswith("sha256:")


def shown(text: str) -> str:
    """The reference as messages may show it: whatever comes before a credentials-like `@` hidden."""
    if _credentials_like(text):
        text = "***@" + text.rpartition("@")[2]
    return text[:200] + ("..." if len(text) > 200 else "")


def split(text: str, *, hub: bool = False) -> Reference:
    """Parse a reference; raises ReferenceError. `hub`: a name without a host means Docker Hub."""
    if not text or len(text) > MAX_REFERENCE or any(c.isspace() or not c.isprintable() for c in text):
        raise ReferenceError(f"must be non-empty, printable and without whitespace; expected e.g. {EXAMPLE}")
    if "://" in text:
        raise ReferenceError(f"give REGISTRY/REPOSITORY without a URL scheme, e.g. {EXAMPLE}")
    if _credentials_like(text):
        raise ReferenceError(
            "credentials do not belong in an image reference ('@' only starts a sha256 digest); give "
            "the user with the --*-user flag and the password in its environment variable or file"
        )
    rest, at, digest = text.partition("@")
    if at and not SHA256_DIGEST.fullmatch(digest):
        raise ReferenceError("the digest must be 'sha256:' and 64 hex digits (64 lowercase hex digits)")
    host, slash, path = rest.partition("/")
    if slash and not path:
        raise ReferenceError(f"must be REGISTRY/REPOSITORY, e.g. {EXAMPLE}")
    if slash and ("." in host or ":" in host or host == "localhost" or host.startswith("[")):
        registry = _host(host)
    elif hub:
        registry, path = DOCKER_HUB, rest if "/" in rest else f"library/{rest}"
    elif not slash or not path:
        raise ReferenceError(f"must be REGISTRY/REPOSITORY, e.g. {EXAMPLE}")
    else:
        raise ReferenceError(
            f"must start with a registry host (a name with a dot or a port, or localhost), e.g. {EXAMPLE}"
        )
    tag: str | None = None
    if ":" in path.rsplit("/", 1)[-1]:
        path, _, tag = path.rpartition(":")
        if not _TAG.fullmatch(tag):
            raise ReferenceError(f"the tag {tag[:140]!r} is not valid ({TAG_RULE})")
    for component in path.split("/"):
        if not component:
            raise ReferenceError("the repository path has an empty component (a doubled or trailing /)")
        if not _PATH_COMPONENT.fullmatch(component):
            raise ReferenceError(
                f"repository component {component[:80]!r} must be lowercase letters, digits and . _ -"
            )
    if len(registry) + 1 + len(path) > MAX_NAME:
        raise ReferenceError(f"the repository name is longer than {MAX_NAME} characters")
    return Reference(registry, path, tag, digest or None)


def _host(host: str) -> str:
    if host.startswith("["):
        raise ReferenceError(
            "IPv6 registry addresses are not supported (skopeo cannot name them); use a host name"
        )
    name, colon, port = host.partition(":")
    if colon:
        if not _PORT.fullmatch(port):
            raise ReferenceError(f"the registry port {port[:12]!r} is not a number")
        if not 0 < int(port) < 65536:
            raise ReferenceError(f"the registry port {port} is out of range")
    if not _HOST.fullmatch(name) or len(name) > 253:
        raise ReferenceError(f"{name[:80]!r} is not a valid registry host")
    return host


def parse(text: str, *, what: str = "image reference", hub: bool = False) -> Reference:
    """split(), with a failure as the one-line error the CLI prints (exit 2)."""
    from ci.model.errors import UserError

    try:
        return split(text, hub=hub)
    except ReferenceError as exc:
        raise UserError(f"{what} {shown(text)!r}: {exc}") from None


def parse_repository(text: str, flag: str) -> Reference:
    """REGISTRY/REPO for --from/--to/--publish: a registry host is required, a tag is not allowed."""
    from ci.model.errors import UserError

    ref = parse(text, what=flag)
    if ref.tag or ref.digest:
        raise UserError(f"{flag} {shown(text)!r}: give a repository without :tag or @digest, e.g. {EXAMPLE}")
    return ref


def parse_registry(text: str, what: str) -> str:
    """HOST[:PORT] alone (--plain-http, --base-mirror's MIRROR), by the same host rules."""
    from ci.model.errors import UserError

    try:
        if "://" in text:
            raise ReferenceError("give HOST[:PORT] without a URL scheme, e.g. ghcr.io or 127.0.0.1:5000")
        if not text or "/" in text or any(c.isspace() or not c.isprintable() for c in text):
            raise ReferenceError("expected a registry HOST[:PORT] alone, e.g. ghcr.io or 127.0.0.1:5000")
        if "@" in text:
            raise ReferenceError("credentials do not belong in a registry address; give HOST[:PORT] alone")
        if not ("." in text or ":" in text or text == "localhost" or text.startswith("[")):
            raise ReferenceError(
                "must start with a registry host (a name with a dot or a port, or localhost)"
            )
        return _host(text)
    except ReferenceError as exc:
        raise UserError(f"{what} {shown(text)!r}: {exc}") from None


def is_loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http(registry: str, declared: Collection[str]) -> bool:
    """Does the pipeline speak plain HTTP to `registry`? Only when the user named it (--plain-http).

    Why not guess from a loopback address: a local registry may well serve TLS (the test stack's
    token registries do), and sending a password over plain HTTP because of a guess is worse than
    an error that names the flag.
    """
    return registry in declared
