"""Tag, alias and OCI-label rules: pure functions of resolved data.

Why separate from the resolver: tags are a public contract (users pull them, the seed documents one
exactly), so their shape is kept in one small place. Floating aliases are computed across the whole
target set at once, because "latest-gpu" or "2.15-gpu" only has a meaning relative to the other images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from packaging.version import Version

from ci.model.compat import CUDA_RUNTIME, CUDNN
from ci.model.provenance import OCI
from ci.model.spec import KINDS, ImageSpec

LABEL_PREFIX = "io.tfimages"


@dataclass(frozen=True)
class ImageMeta:
    """versions.yaml `image:`: what every image's OCI labels say about the family, plus the build's
    provenance (ci.model.provenance; merged in by ci.select, None when unknown)."""

    title: str
    description: str
    licenses: str
    source: str | None
    created: str | None = None
    revision: str | None = None


def primary_tag(
    *,
    tf: str,
    python: str,
    variant: str,
    cuda_source: str,
    cuda: str | None,
    cudnn: str | None,
    os_id: str,
) -> str:
    """The seed's scheme: `2.15.0-python3.10-cuda12.1.0-cudnn8-devel-ubuntu22.04`.

    CPU images keep the shape with `cpu` in place of the CUDA part; pip-CUDA images say `pip` where
    the seed says `devel`, because their CUDA comes from wheels, not from an nvidia/cuda devel base.
    """
    head = f"{tf}-python{python}"
    if variant == "cpu":
        return f"{head}-cpu-{os_id}"
    if cuda is None or cudnn is None:
        raise ValueError("a GPU tag needs CUDA and cuDNN versions")
    flavour = "pip" if cuda_source == "pip" else "devel"
    return f"{head}-cuda{cuda}-cudnn{Version(cudnn).release[0]}-{flavour}-{os_id}"


class TagCollision(Exception):
    """Two targets claim one tag. Carries target indices so the caller can name the rows."""

    def __init__(self, tag: str, first: int, second: int, kind: str) -> None:
        super().__init__(f"{kind} {tag!r} is claimed by targets[{first}] and targets[{second}]")
        self.tag = tag
        self.first = first
        self.second = second
        self.kind = kind


@dataclass(frozen=True)
class _Candidate:
    index: int
    spec: ImageSpec

    @property
    def version(self) -> Version:
        return Version(self.spec.tf_version)


# In KINDS order: `latest` follows TF's own Docker tags, so it is a CPU image when there is one.
_FAMILY_ORDER = tuple(kind.alias_family for kind in KINDS.values())


def compute_aliases(specs: Sequence[ImageSpec], eligible: Sequence[bool]) -> tuple[tuple[str, ...], ...]:
    """Floating tags for each spec; only `eligible` ones (default Python, aliases not disabled) get any.

    Raises TagCollision when two specs share a primary tag or would claim the same alias.
    """
    owners: dict[str, int] = {}
    for index, spec in enumerate(specs):
        if spec.tag in owners:
            raise TagCollision(spec.tag, owners[spec.tag], index, "tag")
        owners[spec.tag] = index

    aliases: dict[int, list[str]] = {index: [] for index in range(len(specs))}
    alias_owner: dict[str, int] = {}

    def claim(alias: str, index: int) -> None:
        if alias in owners:
            raise TagCollision(alias, owners[alias], index, "tag")
        if alias in alias_owner and alias_owner[alias] != index:
            raise TagCollision(alias, alias_owner[alias], index, "alias")
        alias_owner[alias] = index
        aliases[index].append(alias)

    pool = [_Candidate(i, s) for i, (s, ok) in enumerate(zip(specs, eligible, strict=True)) if ok]
    for family in _FAMILY_ORDER:
        members = [c for c in pool if c.spec.kind.alias_family == family]
        for cand in members:
            claim(f"{cand.spec.tf_version}-{family}", cand.index)
        for cand in _newest_per(members, lambda c: c.version.release[:2]):
            release = cand.version.release
            claim(f"{release[0]}.{release[1]}-{family}", cand.index)
        for cand in _newest_per(members, lambda c: ()):
            claim(f"latest-{family}", cand.index)
    for family in _FAMILY_ORDER:
        members = [c for c in pool if c.spec.kind.alias_family == family]
        if members:
            for cand in _newest_per(members, lambda c: ()):
                claim("latest", cand.index)
            break
    return tuple(tuple(aliases[index]) for index in range(len(specs)))


def _newest_per(members: list[_Candidate], key: Callable[[_Candidate], tuple[int, ...]]) -> list[_Candidate]:
    """The newest candidate in each group; ties fall through to claim() and surface as collisions."""
    groups: dict[tuple[int, ...], list[_Candidate]] = {}
    for cand in members:
        groups.setdefault(key(cand), []).append(cand)
    out: list[_Candidate] = []
    for group in groups.values():
        newest = max(c.version for c in group)
        out.extend(c for c in group if c.version == newest)
    return out


def oci_labels(
    meta: ImageMeta, spec: ImageSpec, *, platforms: tuple[str, ...] = ()
) -> tuple[tuple[str, str], ...]:
    """OCI labels, sorted by key. created/revision/source only when known (ci.model.provenance):
    never the clock, so two builds of one commit carry the same labels.

    platforms: every platform the tag holds (io.tfimages.platforms, the same on each of them), so
    `test IMAGE` checks each one and a pulled platform says which others the tag has.
    """
    what = f"TensorFlow {spec.tf_version}, Python {spec.python_version}, "
    runtime, cudnn = spec.nvidia_wheel(CUDA_RUNTIME), spec.nvidia_wheel(CUDNN)
    if spec.variant == "cpu":
        what += "CPU"
    elif runtime is not None and cudnn is not None:
        what += f"GPU (CUDA runtime {runtime.version}, cuDNN {cudnn.version}, from NVIDIA's pip wheels)"
    else:
        what += f"GPU (CUDA {spec.cuda_version}, cuDNN {spec.cudnn_version})"
    labels: dict[str, str] = {
        f"{OCI}.title": meta.title,
        f"{OCI}.description": f"{meta.description}. {what}",
        f"{OCI}.version": spec.tag,
        f"{OCI}.licenses": meta.licenses,
        f"{OCI}.base.name": spec.base_image,
        f"{LABEL_PREFIX}.tensorflow.version": spec.tf_version,
        f"{LABEL_PREFIX}.tensorflow.requirement": spec.tensorflow_requirement,
        f"{LABEL_PREFIX}.python.version": spec.python_version,
        f"{LABEL_PREFIX}.python.source": spec.python_source,
        f"{LABEL_PREFIX}.variant": spec.variant,
        f"{LABEL_PREFIX}.cuda.source": spec.cuda_source,
        f"{LABEL_PREFIX}.os": spec.os_id,
        f"{LABEL_PREFIX}.platforms": ",".join(platforms or (spec.platform,)),
    }
    optional = {
        f"{OCI}.source": meta.source,
        f"{OCI}.created": meta.created,
        f"{OCI}.revision": meta.revision,
        f"{OCI}.base.digest": spec.base_digest,
        f"{LABEL_PREFIX}.cuda.version": spec.cuda_version,
        f"{LABEL_PREFIX}.cudnn.version": spec.cudnn_version,
    }
    labels.update({key: value for key, value in optional.items() if value is not None})
    labels.update({wheel_label(wheel.dist): wheel.version for wheel in spec.nvidia_wheels})
    return tuple(sorted(labels.items()))


def platform_tag(tag: str, platform: str) -> str:
    """The tag one platform of a multi-platform image is pushed under before the index exists:
    `2.21.0-python3.12-cpu-ubuntu22.04-linux-arm64` (the workflow builds each platform on its own
    runner; `assemble` then puts the index under the tag itself)."""
    return f"{tag}-{platform.replace('/', '-')}"


def wheel_label(dist: str) -> str:
    """The label naming a pinned wheel's version: io.tfimages.pip.nvidia-cudnn-cu12 = 9.3.0.75."""
    return f"{LABEL_PREFIX}.pip.{dist}"
