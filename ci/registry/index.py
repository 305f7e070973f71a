"""Publish an image index over manifests already in a registry: the multi-platform tag.

Why here, with skopeo: an image of several platforms becomes one tag holding an OCI image index
in the canonical order (ci.model.platforms.image_index), whichever way its platforms got there:
one build session pushing them all (the engine lists them in a random order, so the index is
written again) or one workflow job per platform, each on a runner of its own architecture,
pushing its manifest under a platform tag. Both end here, with the manifests' digests.

How: the index, each manifest and each image configuration (a few kB) go into an OCI layout
directory, and `skopeo copy --all --preserve-digests` pushes it. The layers are not in the
layout: skopeo asks the registry for each blob before reading it, and the registry has them all
(the manifests are there), so nothing but the small documents moves. No registry API is
spoken by hand, and credentials follow skopeo's per-registry rules (ci.registry.skopeo).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ci.model.platforms import INDEX_MEDIA_TYPE, IndexEntry, digest_of, image_index, parse
from ci.model.refs import Reference
from ci.registry.skopeo import Registries, RegistryError

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
LAYOUT_NAME = "image"


def _blob(layout: Path, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).write_bytes(data)
    return digest


def index_entries(
    registries: Registries, repository: Reference, manifests: Sequence[tuple[str, str]], layout: Path
) -> list[IndexEntry]:
    """Each (platform, digest) as an index entry; its manifest and configuration into `layout`."""
    entries: list[IndexEntry] = []
    for platform, digest in manifests:
        ref = repository.with_digest(digest)
        found = registries.manifest(ref)
        if found is None:
            raise RegistryError(f"{ref}: no such manifest in the registry ({platform})")
        manifest = json.loads(found.raw)
        if "manifests" in manifest:
            raise RegistryError(f"{ref} is itself an image index, not {platform}'s manifest")
        config = registries.config(ref)
        said = json.loads(config)
        wanted = parse(platform)
        if (said.get("os"), said.get("architecture")) != (wanted.os, wanted.architecture):
            raise RegistryError(
                f"{ref} is a {said.get('os')}/{said.get('architecture')} image, not {platform}"
            )
        _blob(layout, found.raw)
        _blob(layout, config)
        entries.append(
            IndexEntry(platform, digest, len(found.raw), manifest.get("mediaType", MANIFEST_MEDIA_TYPE))
        )
    return entries


def put_index(
    registries: Registries, repository: Reference, tag: str, manifests: Sequence[tuple[str, str]]
) -> str:
    """Tag `repository:tag` with the canonical index of `manifests` ((platform, digest) pairs,
    all already in `repository`); return the index digest, checked against the registry."""
    with tempfile.TemporaryDirectory(prefix="tfci-index-") as tmp:
        layout = Path(tmp) / "oci"
        (layout / "blobs" / "sha256").mkdir(parents=True)
        raw = image_index(index_entries(registries, repository, manifests, layout))
        digest = _blob(layout, raw)
        top = {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": INDEX_MEDIA_TYPE,
                    "digest": digest,
                    "size": len(raw),
                    "annotations": {"org.opencontainers.image.ref.name": LAYOUT_NAME},
                }
            ],
        }
        (layout / "index.json").write_text(json.dumps(top))
        (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        target = repository.with_tag(tag)
        registries.push_layout(layout, LAYOUT_NAME, target)
    stored = registries.digest(target)
    if stored != digest_of(raw):
        raise RegistryError(
            f"pushed the image index to {target}, but the registry now has {stored}, not {digest}"
        )
    return digest
