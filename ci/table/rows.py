"""The table's rows as typed, frozen objects: what ci.table.load builds from versions.yaml.

Why apart from the loader: the resolver, verify and the commands read these types; none of them
needs the validation machinery that produces them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import Version

from ci.model import compat
from ci.model.compat import Compat
from ci.model.spec import Installer
from ci.model.tags import ImageMeta

# nvidia/cuda devel tags: "12.2.2-cudnn8-devel-ubuntu22.04", "12.6.3-cudnn-devel-ubuntu24.04".
_CUDA_TAG = re.compile(
    r"^(?P<cuda>\d+\.\d+(?:\.\d+)?)-cudnn(?P<major>\d*)-devel-(?P<os>[a-z]+\d+(?:\.\d+)?)$"
)


@dataclass(frozen=True)
class OsBase:
    id: str
    image: str
    digest: str | None


@dataclass(frozen=True)
class CudaImage:
    """An nvidia/cuda devel tag and the cuDNN NVIDIA put inside it."""

    tag: str
    cuda: str
    cudnn: str
    os_id: str
    eol: bool


@dataclass(frozen=True)
class MinicondaRow:
    filename: str
    sha256: str
    verified: bool


@dataclass(frozen=True)
class PythonRow:
    version: str
    jupyter: tuple[str, ...]
    miniconda: MinicondaRow | None  # the installer for the default platform
    miniconda_missing: str | None
    # Installers for the other platforms (`platforms:`); a platform not listed has none.
    platform_miniconda: tuple[tuple[str, MinicondaRow], ...] = ()

    def installer(self, platform: str, default: str) -> MinicondaRow | None:
        return self.miniconda if platform == default else dict(self.platform_miniconda).get(platform)


# The `packages:` key of each image kind (ci.model.spec.KINDS): versions.yaml names them so.
PACKAGE_KEYS = {"cpu": "cpu", "gpu": "gpu", "pip": "pip_cuda"}


@dataclass(frozen=True)
class Packages:
    cpu: str
    gpu: str
    pip_cuda: str | None

    def get(self, key: str) -> str | None:
        return {"cpu": self.cpu, "gpu": self.gpu, "pip_cuda": self.pip_cuda}[key]


@dataclass(frozen=True)
class ReleasePlatform:
    """A release's `platforms:` entry: the kinds built for another platform, and their packages."""

    platform: str
    packages: tuple[tuple[str, str], ...]  # (packages key, package), e.g. ("cpu", "tensorflow")
    via: str | None  # the distribution the package installs TensorFlow from there (==tf)


@dataclass(frozen=True)
class PipCuda:
    """What tensorflow[and-cuda] installs: exact NVIDIA wheel versions, keyed by component."""

    wheels: tuple[tuple[str, str], ...]  # (component, version), e.g. ("cudnn", "9.3.0.75")
    suffix: str  # "cu12": the wheels are nvidia-<component>-<suffix>
    # Only these Pythons can install the extra (None: every Python of the row).
    python: tuple[str, ...] | None = None
    # A package index the extra's pins need besides PyPI (2.15.0 pins tensorrt-libs, which only
    # pypi.nvidia.com serves); None when PyPI alone resolves the extra.
    index: str | None = None

    def version(self, component: str) -> str:
        return dict(self.wheels)[component]

    @property
    def cuda(self) -> str:
        """The CUDA runtime wheel's version: what the tag's CUDA says."""
        return self.version(compat.CUDA_RUNTIME)

    @property
    def cudnn(self) -> str:
        return self.version(compat.CUDNN)

    def dists(self) -> tuple[tuple[str, str, str], ...]:
        """(component, distribution name, version) for every pinned wheel."""
        return tuple((c, compat.nvidia_wheel_name(c, self.suffix), v) for c, v in self.wheels)


@dataclass(frozen=True)
class Release:
    index: int
    tf: str
    python: tuple[str, ...]
    default_python: str
    cuda: str
    cudnn: str
    packages: Packages
    gpu_base: str | None
    gpu_unavailable: str | None
    pip_cuda: PipCuda | None
    cpu_os: str
    numpy: tuple[tuple[str, str], ...]  # (python, specifier) for every Python of the row
    tensorboard: str
    platforms: tuple[ReleasePlatform, ...] = ()

    @property
    def where(self) -> str:
        return f"releases[{self.index}] ({self.tf})"

    @property
    def version(self) -> Version:
        return Version(self.tf)

    def numpy_for(self, python: str) -> str:
        return dict(self.numpy)[python]

    def platforms_for(self, key: str, default: str) -> tuple[str, ...]:
        """Every platform this release builds the kind with `packages` key `key` for, default first."""
        return (default, *(p.platform for p in self.platforms if key in dict(p.packages)))

    def package_on(self, key: str, platform: str) -> tuple[str | None, str | None]:
        """(package, via) of kind `key` on a non-default `platform`; (None, None) when not built there."""
        for entry in self.platforms:
            if entry.platform == platform and key in dict(entry.packages):
                return dict(entry.packages)[key], entry.via
        return None, None


@dataclass(frozen=True)
class Target:
    index: int
    tf: str
    python: str | None
    variant: str | None
    cuda_source: str | None
    os: str | None
    gpu_base: str | None
    python_source: str | None
    aliases: bool
    platforms: tuple[str, ...] | None = None

    @property
    def where(self) -> str:
        return f"targets[{self.index}] ({self.tf})"


@dataclass(frozen=True)
class Defaults:
    variant: str
    cuda_source: str
    python_source: str


@dataclass(frozen=True)
class Table:
    path: Path
    display: str  # the file name as errors show it
    defaults: Defaults
    image: ImageMeta
    compat: Compat
    os_bases: Mapping[str, OsBase]
    cuda_images: Mapping[str, CudaImage]
    pythons: Mapping[str, PythonRow]
    releases: tuple[Release, ...]
    targets: tuple[Target, ...]
    installer: Installer  # tools.uv: what installs the pip layers
    # base image (as the table names it) -> digest, from versions.lock.yaml (merged by ci.select)
    locks: Mapping[str, str] = field(default_factory=dict)

    def release(self, tf: str) -> Release | None:
        for row in self.releases:
            if row.tf == tf:
                return row
        return None

    @property
    def tf_versions(self) -> tuple[str, ...]:
        return tuple(row.tf for row in self.releases)


def parse_cuda_tag(tag: str) -> tuple[str, str, str] | None:
    """(cuda, cudnn major or "", os id) from an nvidia/cuda devel tag, or None if it is not one."""
    match = _CUDA_TAG.match(tag)
    return None if match is None else (match["cuda"], match["major"], match["os"])
