"""Read an OCI image layout tarball (what Container.export writes): digests, sizes, layers, history.

Why read the export: it is the image exactly as a registry would store it, so the manifest gives
the compressed layer sizes and the digest, the config gives the image id, the uncompressed layer
digests (diff_ids) and the history, and streaming each layer blob through its decompressor gives the
unpacked size while proving the blob is the layer the config names (its sha256 must equal the
diff_id). The engine offers no API for any of these on an unexported container.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ci.model.platforms import (
    INDEX_MEDIA_TYPE,
    digest_of,
    find,
    image_index,
    index_entries,
)
from ci.report.model import LayerFacts

GZIP_LAYER_TYPES = frozenset(
    {"application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.docker.image.rootfs.diff.tar.gzip"}
)
PLAIN_LAYER_TYPES = frozenset({"application/vnd.oci.image.layer.v1.tar"})
_CHUNK = 1 << 20


class OciError(Exception):
    """The tarball is not an OCI layout this module understands, or a blob does not match."""


@dataclass(frozen=True)
class OciImage:
    digest: str  # manifest digest
    image_id: str  # config digest
    manifest_size: int
    config_size: int
    layers: tuple[LayerFacts, ...]
    notes: tuple[str, ...] = ()
    media_type: str = ""  # the manifest's
    platform: str | None = None  # what the config says: "linux/arm64"
    labels: tuple[tuple[str, str], ...] = ()  # the config's Labels, sorted

    @property
    def compressed_size(self) -> int:
        """Config plus layer blobs: what the image occupies in a registry."""
        return self.config_size + sum(layer.size for layer in self.layers)

    @property
    def uncompressed_size(self) -> int | None:
        sizes = [layer.uncompressed_size for layer in self.layers]
        return None if any(size is None for size in sizes) else sum(s for s in sizes if s is not None)


def _blob_name(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def _open_blob(tar: tarfile.TarFile, digest: str) -> IO[bytes]:
    try:
        member = tar.extractfile(_blob_name(digest))
    except KeyError:
        member = None
    if member is None:
        raise OciError(f"blob {digest} is missing from the OCI tarball")
    return member


def _json_blob(tar: tarfile.TarFile, digest: str) -> dict[str, Any]:
    with _open_blob(tar, digest) as blob:
        data = json.load(blob)
    if not isinstance(data, dict):
        raise OciError(f"blob {digest} is not a JSON object")
    return data


def unpacked_size(blob: IO[bytes], media_type: str, diff_id: str) -> int | None:
    """Bytes of the uncompressed layer tar; checks its sha256 against the config's diff_id."""
    if media_type in GZIP_LAYER_TYPES:
        stream: IO[bytes] | gzip.GzipFile = gzip.GzipFile(fileobj=blob)
    elif media_type in PLAIN_LAYER_TYPES:
        stream = blob
    else:
        return None  # e.g. zstd: no decompressor in the standard library
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    if f"sha256:{digest.hexdigest()}" != diff_id:
        raise OciError(f"layer with diff_id {diff_id} unpacks to sha256:{digest.hexdigest()}")
    return size


def history_by_layer(config: dict[str, Any], count: int) -> list[str]:
    """created_by of each layer: the history entries that are not empty_layer, in order."""
    entries = [h for h in config.get("history", []) if not h.get("empty_layer", False)]
    if len(entries) != count:
        return [""] * count
    return [str(h.get("created_by", "")) for h in entries]


def _descriptor(tar: tarfile.TarFile, tarball: Path, platform: str | None) -> dict[str, Any]:
    """The image's manifest descriptor: the only one, or `platform`'s of an image index.

    Why by platform: an index's order means nothing (the engine writes it at random), so "the
    first image" would be amd64 in one run and arm64 in the next.
    """
    try:
        index = json.load(_member(tar, "index.json"))
    except KeyError:
        raise OciError(f"{tarball}: no index.json, not an OCI layout") from None
    descriptor: dict[str, Any] = index["manifests"][0]
    blob = _json_blob(tar, descriptor["digest"])
    while "manifests" in blob:  # an image index: one manifest per platform
        entries = index_entries(blob)
        if platform is None and len(entries) == 1:
            platform = entries[0].platform
        found = find(entries, platform) if platform is not None else None
        if found is None:
            have = ", ".join(e.platform for e in entries)
            raise OciError(f"{tarball}: an image index of {have}, none of them {platform or 'named'}")
        descriptor = next(d for d in blob["manifests"] if d["digest"] == found.digest)
        blob = _json_blob(tar, descriptor["digest"])
    return descriptor


def read_image(tarball: Path, *, measure_uncompressed: bool = True, platform: str | None = None) -> OciImage:
    """One image of an OCI layout tarball: the only one, or `platform`'s of a multi-platform export."""
    with _open_tar(tarball) as tar:
        descriptor = _descriptor(tar, tarball, platform)
        manifest = _json_blob(tar, descriptor["digest"])
        config = _json_blob(tar, manifest["config"]["digest"])
        diff_ids = config.get("rootfs", {}).get("diff_ids", [])
        if len(diff_ids) != len(manifest["layers"]):
            raise OciError(f"{tarball}: {len(manifest['layers'])} layers but {len(diff_ids)} diff_ids")
        history = history_by_layer(config, len(diff_ids))
        notes = [] if any(history) else ["the image config's history does not list one entry per layer"]
        layers = []
        for layer, diff_id, created_by in zip(manifest["layers"], diff_ids, history, strict=True):
            size: int | None = None
            if measure_uncompressed:
                with _open_blob(tar, layer["digest"]) as blob:
                    size = unpacked_size(blob, layer["mediaType"], diff_id)
            layers.append(
                LayerFacts(
                    digest=layer["digest"],
                    diff_id=diff_id,
                    size=int(layer["size"]),
                    uncompressed_size=size,
                    media_type=layer["mediaType"],
                    created_by=created_by,
                    step=None,
                )
            )
        if measure_uncompressed and any(layer.uncompressed_size is None for layer in layers):
            notes.append("some layers use a compression this reader cannot unpack; no uncompressed size")
        said = "/".join(str(config[k]) for k in ("os", "architecture", "variant") if config.get(k))
        return OciImage(
            digest=descriptor["digest"],
            image_id=manifest["config"]["digest"],
            manifest_size=int(descriptor.get("size", 0)),
            config_size=int(manifest["config"]["size"]),
            layers=tuple(layers),
            notes=tuple(notes),
            media_type=str(descriptor.get("mediaType") or manifest.get("mediaType") or ""),
            platform=said or None,
            labels=tuple(sorted((config.get("config") or {}).get("Labels", {}).items())),
        )


def canonical_export(tarball: Path) -> str:
    """Rewrite a multi-platform export's index in the canonical order; return the index digest.

    The engine writes the platforms of an exported index in a random order; the index this
    pipeline publishes is ci.model.platforms.image_index, and the export must be that same image.
    The layout keeps every blob; only index.json and the index blob change (the tarball is copied
    once, member by member).
    """
    with _open_tar(tarball) as tar:
        top = json.load(_member(tar, "index.json"))
        (descriptor,) = top["manifests"]
        nested = _json_blob(tar, descriptor["digest"])
        raw = image_index(index_entries(nested))
        digest = digest_of(raw)
        if digest == descriptor["digest"]:
            return digest
        descriptor = {"mediaType": INDEX_MEDIA_TYPE, "digest": digest, "size": len(raw)}
        top = {**top, "manifests": [{**top["manifests"][0], **descriptor}]}
        staged = tarball.with_name(tarball.name + ".tmp")
        with tarfile.open(staged, "w") as out:
            for member in tar:
                if member.name == "index.json":
                    continue
                out.addfile(member, tar.extractfile(member) if member.isfile() else None)
            for name, data in ((_blob_name(digest), raw), ("index.json", json.dumps(top).encode())):
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o644
                out.addfile(info, io.BytesIO(data))
    staged.replace(tarball)
    return digest


def _open_tar(tarball: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(tarball)
    except (OSError, tarfile.TarError) as exc:
        raise OciError(f"{tarball}: not a readable tarball ({exc})") from None


def _member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    member = tar.extractfile(name)
    if member is None:
        raise KeyError(name)
    return member
