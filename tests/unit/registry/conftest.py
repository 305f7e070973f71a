"""A registry in memory, standing in for ci.registry.skopeo.Registries (skopeo itself is tests/e2e).

Tags map to digests; a manifest is there by digest once pushed or copied. A copy to a target named
in `refuse` fails like a registry answering 503.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import cast

from ci.model.refs import Reference
from ci.registry.skopeo import Credentials, Registries, RegistryError, Transport


class FakeRegistries:
    def __init__(self, tags: Mapping[str, str] | None = None, refuse: Iterable[str] = ()) -> None:
        self.tags: dict[str, str] = {}  # "host/repo:tag" -> digest
        self.manifests: set[str] = set()  # "host/repo@digest"
        for ref, digest in (tags or {}).items():
            self.push(ref, digest)
        self.refuse = set(refuse)
        self.copies: list[tuple[str, str]] = []
        self.logins: list[tuple[str, Credentials]] = []
        self.closed = False

    def push(self, ref: str, digest: str) -> None:
        self.tags[ref] = digest
        self.manifests.add(f"{ref.rpartition(':')[0]}@{digest}")

    def forget(self, ref: str) -> None:
        """The tag and its manifest are gone (a registry's garbage collection)."""
        digest = self.tags.pop(ref)
        self.manifests.discard(f"{ref.rpartition(':')[0]}@{digest}")

    def digest(self, ref: Reference) -> str | None:
        if ref.digest is not None:
            return ref.digest if f"{ref.name}@{ref.digest}" in self.manifests else None
        return self.tags.get(f"{ref.name}:{ref.tag}")

    def copy(self, source: Reference, target: Reference) -> str:
        assert source.digest is not None, "promotion copies by digest"
        if str(target) in self.refuse:
            raise RegistryError(f"copy to {target}: 503 Service Unavailable")
        self.copies.append((str(source), str(target)))
        self.push(str(target), source.digest)
        return source.digest

    def login(self, registry: str, credentials: Credentials) -> None:
        self.logins.append((registry, credentials))

    def __enter__(self) -> FakeRegistries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed = True


class FakeTransport:
    """What a command's Transport opens: always the one fake registry."""

    def __init__(self, registries: FakeRegistries) -> None:
        self.registries = registries

    def open(self, timeout: float | None = None) -> FakeRegistries:
        return self.registries


def as_registries(fake: FakeRegistries) -> Registries:
    """The fake where the code expects Registries (it implements what the code calls)."""
    return cast(Registries, fake)


def as_transport(fake: FakeRegistries) -> Transport:
    """A Transport whose open() gives the fake."""
    return cast(Transport, FakeTransport(fake))
