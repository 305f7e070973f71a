"""Export and publish one built image: every platform, or nothing, under one tag.

Why apart from the build loop: an image of several platforms is one artefact. It is written only
when every platform passed every check (an arm64 failure keeps the amd64 half unpublished too), as
one OCI image index whose manifests are listed in the canonical order (ci.model.platforms), so
the tag's digest depends on the images alone, not on the order the engine happened to use.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from ci.model.platforms import index_entries
from ci.model.platforms import parse as parse_platform
from ci.model.refs import parse_repository
from ci.model.spec import ImageSpec
from ci.pipeline.preflight import Publish
from ci.registry.index import put_index
from ci.registry.skopeo import RegistryError
from ci.report.model import CheckReport, CheckResult, PushedImage, failed, passed
from ci.report.oci import canonical_export

if TYPE_CHECKING:
    from dagger import Container


def one_line(text: str, limit: int = 300) -> str:
    """An engine error as one short line: tracing noise removed, whitespace collapsed."""
    text = re.sub(r"\s*\[traceparent:[0-9a-f-]+\]", "", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


async def export_image(
    images: Sequence[tuple[str, Container | None]], export: Path, reports: Sequence[CheckReport]
) -> Path | None:
    """--export: one OCI tarball holding every platform (an image index in the canonical order)."""
    from dagger import dag

    ready = [image for _, image in images if image is not None]
    if not all(r.ok for r in reports) or len(ready) != len(images):
        _add_all(reports, failed("export", f"not written to {export}: {_why_not(reports)}"))
        return None
    export.parent.mkdir(parents=True, exist_ok=True)
    if len(ready) == 1:
        written = await ready[0].export(str(export.resolve()))
        _add_all(reports, passed("export", f"OCI tarball {written}"))
        return export
    written = await dag.container().export(str(export.resolve()), platform_variants=ready)
    digest = await anyio.to_thread.run_sync(canonical_export, export)
    platforms = ", ".join(platform for platform, _ in images)
    _add_all(reports, passed("export", f"OCI tarball {written}: image index {digest} of {platforms}"))
    return export


def _add_all(reports: Sequence[CheckReport], result: CheckResult) -> None:
    for report in reports:
        report.add(result)


def _why_not(reports: Sequence[CheckReport]) -> str:
    bad = [r.platform or r.image for r in reports if not r.ok]
    if len(reports) == 1:
        return "the image failed its checks"
    return (
        f"{' and '.join(str(b) for b in bad)} failed its checks (no platform of the tag is published alone)"
    )


async def publish_image(
    images: Sequence[tuple[str, Container | None]],
    spec: ImageSpec,
    publish: Publish,
    reports: Sequence[CheckReport],
) -> None:
    """Push `repository:tag` when every platform's report is clean; a failed image is never published.

    Several platforms: one image index (the engine pushes every platform at once), then written
    again in the canonical order (ci.registry.index), so the tag's digest depends on the images only.
    """
    from dagger import QueryError, dag

    target = f"{publish.repository}:{publish.tag_for(spec.tag)}"
    ready = [(platform, image) for platform, image in images if image is not None]
    if not all(r.ok for r in reports) or len(ready) != len(images):
        _add_all(reports, failed("publish", f"{target} not published: {_why_not(reports)}"))
        return
    first = ready[0][1] if len(ready) == 1 else dag.container()
    assert first is not None
    if publish.credentials is not None:
        secret = dag.set_secret(f"registry-password-{publish.registry}", publish.credentials.password)
        first = first.with_registry_auth(publish.registry, publish.credentials.username, secret)
    started = time.monotonic()
    try:
        variants = [image for _, image in ready] if len(ready) > 1 else []
        pushed = await first.publish(target, platform_variants=variants)
        _, _, digest = pushed.partition("@")
        manifests: tuple[tuple[str, str], ...] = ((ready[0][0], digest),)
        if len(ready) > 1:
            tag = publish.tag_for(spec.tag)
            digest, manifests = await anyio.to_thread.run_sync(canonical_index, publish, tag, digest)
    except (QueryError, RegistryError) as exc:
        _add_all(reports, failed("publish", f"push to {target} failed: {one_line(str(exc))}"))
        return
    result = PushedImage(publish.repository, publish.tag_for(spec.tag), digest, manifests)
    seconds = round(time.monotonic() - started, 2)
    what = f"{target}@{digest}" + (
        f" (image index of {', '.join(p for p, _ in manifests)})" if len(ready) > 1 else ""
    )
    for report in reports:
        report.pushed = result
        report.add(dataclasses.replace(passed("publish", what), seconds=seconds))


def canonical_index(publish: Publish, tag: str, pushed: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The engine's index (digest `pushed`) written again in the canonical order under `tag`:
    (the index digest, each platform's manifest digest)."""
    repository = parse_repository(publish.repository, "--publish")
    with publish.transport.open() as registries:
        if publish.credentials is not None:
            registries.login(publish.registry, publish.credentials)
        found = registries.manifest(repository.with_digest(pushed))
        if found is None:
            raise RegistryError(f"{publish.repository}@{pushed}: the index the engine pushed is not there")
        manifests = [(e.platform, e.digest) for e in index_entries(found.raw)]
        digest = put_index(registries, repository, tag, manifests)
    return digest, tuple(sorted(manifests, key=lambda m: parse_platform(m[0]).key))
