"""Platforms (os/architecture) images are built for: one grammar, one order, one OCI image index.

Why one module: a platform reaches the pipeline from versions.yaml, `--platform`, the matrix, the
engine and the registries' indexes, and each must read it the same way. An image built for several
platforms is published as one OCI image index; its manifests are listed in one canonical order
(os, architecture, variant) and the index is serialised here, byte for byte the same for the same
per-platform manifests. Why: the engine (Dagger v0.19.10) lists the platforms of a published index
in a random order (it walks a Go map), so the index digest of unchanged images would flip between
builds, and an "already promoted" check by digest would flap. Every index this pipeline publishes
(build --publish, assemble) is the one `image_index` writes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_MEDIA_TYPES = frozenset({INDEX_MEDIA_TYPE, DOCKER_LIST_MEDIA_TYPE})

# os/architecture[/variant], lowercase, as OCI and the engine write them ("linux/arm64").
_GRAMMAR = re.compile(r"^(?P<os>[a-z0-9]+)/(?P<architecture>[a-z0-9_]+)(?:/(?P<variant>[a-z0-9]+))?$")


class PlatformError(ValueError):
    """A platform that does not parse; the message says what a valid one looks like."""


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")

    @property
    def key(self) -> tuple[str, str, str]:
        """The canonical order: os, then architecture, then variant."""
        return (self.os, self.architecture, self.variant)

    @property
    def slug(self) -> str:
        """A name for files, directories and tags: 'linux-arm64'."""
        return str(self).replace("/", "-")


def parse(text: str, what: str = "platform") -> Platform:
    match = _GRAMMAR.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise PlatformError(f"{what} {text!r} is not a platform; expected OS/ARCH such as 'linux/arm64'")
    return Platform(match["os"], match["architecture"], match["variant"] or "")


def canonical(platforms: Iterable[str]) -> tuple[str, ...]:
    """The platforms, each once, in the canonical (index) order."""
    unique = {str(parse(p)): parse(p) for p in platforms}
    return tuple(str(p) for p in sorted(unique.values(), key=lambda p: p.key))


def slug(platform: str) -> str:
    return parse(platform).slug


def arch(platform: str) -> str:
    return parse(platform).architecture


# --------------------------------------------------------------------------- the image index


@dataclass(frozen=True)
class IndexEntry:
    """One platform's manifest in an image index (what a descriptor of it says)."""

    platform: str
    digest: str
    size: int
    media_type: str


def image_index(entries: Sequence[IndexEntry]) -> bytes:
    """The OCI image index of these manifests: canonical order, fixed keys, compact JSON.

    A pure function of the per-platform manifests, so every path that publishes an index (one
    build session, or the workflow assembling two runners' pushes) writes the same bytes.
    """
    if not entries:
        raise ValueError("an image index needs at least one manifest")
    seen = [entry.platform for entry in entries]
    if len(set(seen)) != len(seen):
        raise ValueError(f"two manifests for one platform: {', '.join(seen)}")
    manifests = []
    for entry in sorted(entries, key=lambda e: parse(e.platform).key):
        platform = parse(entry.platform)
        described: dict[str, str] = {"architecture": platform.architecture, "os": platform.os}
        if platform.variant:
            described["variant"] = platform.variant
        manifests.append(
            {"mediaType": entry.media_type, "digest": entry.digest, "size": entry.size, "platform": described}
        )
    index = {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": manifests}
    return json.dumps(index, separators=(",", ":")).encode()


def digest_of(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def index_entries(raw: bytes | str | Mapping[str, object]) -> list[IndexEntry]:
    """The platform manifests an index lists (any order), each as an IndexEntry.

    Entries without a platform (attestations, which BuildKit marks unknown/unknown) are left out.
    """
    data = json.loads(raw) if isinstance(raw, bytes | str) else raw
    listed = data.get("manifests") if isinstance(data, Mapping) else None
    if not isinstance(listed, list):
        raise ValueError("not an image index: no 'manifests' list")
    out: list[IndexEntry] = []
    for item in listed:
        described = item.get("platform") if isinstance(item, Mapping) else None
        if not isinstance(described, Mapping) or described.get("os") in (None, "unknown"):
            continue
        text = f"{described['os']}/{described['architecture']}"
        if described.get("variant"):
            text += f"/{described['variant']}"
        out.append(IndexEntry(text, str(item["digest"]), int(item["size"]), str(item["mediaType"])))
    return out


def find(entries: Sequence[IndexEntry], platform: str) -> IndexEntry | None:
    """The entry for `platform`; an entry without a variant serves any variant (arm64 = arm64/v8)."""
    wanted = parse(platform)
    for entry in entries:
        have = parse(entry.platform)
        if (have.os, have.architecture) == (wanted.os, wanted.architecture) and (
            not have.variant or not wanted.variant or have.variant == wanted.variant
        ):
            return entry
    return None
