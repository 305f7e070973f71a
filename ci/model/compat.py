"""The one home of the compatibility rules: cuDNN, versions, package eras, NVIDIA wheel names.

Why one module: these rules used to live in table.py and checks.py as copies that disagreed (the
cuDNN rule said yes in one and no in the other for the same pair). Every caller now asks here:
the table validates and resolves with these rules, the probe checks built images with them and
verify checks the package index with them. The version numbers the
rules need (when tensorflow-cpu exists, when tensorflow-gpu died, which cuXY suffix a CUDA major's
wheels carry, the glibc of each OS) are not written here: they are named data in versions.yaml
(`compat:`), which ci.table loads into a `Compat` and validates.

The cuDNN rule is TensorFlow's own load-time check, which follows NVIDIA's API compatibility
guarantee (both cited in versions.yaml `sources:` as nvidia-cudnn-compat and tf-cudnn-check):

- cuDNN minor releases are backward-compatible with applications built against the same or an
  earlier minor of the same major; an application built against x.z is NOT guaranteed to work
  with x.y when z > y; nothing is guaranteed across majors (NVIDIA).
- TensorFlow refuses to use a loaded cuDNN unless `loaded.major == compiled.major and
  loaded.minor >= compiled.minor` ("Loaded runtime CuDNN library: X but source was compiled with:
  Y. CuDNN library needs to have matching major version and equal or higher minor version").

So the disputed pair (loaded "8", compiled "8.9") is NOT compatible: a version without a minor
cannot show the `minor >= 9` that TensorFlow demands. The cuDNN check therefore reads the full version
(header, wheel metadata or the real library file name) instead of settling for a major.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

# The NVIDIA wheels a pip-CUDA image's tag and labels speak about: the CUDA runtime (the tag's
# CUDA), cuDNN (the tag's cuDNN) and nvcc (its ptxas is what the nvcc check reads). Component names,
# not versions: the versions are in versions.yaml.
CUDA_RUNTIME = "cuda-runtime"
CUDNN = "cudnn"
CUDA_NVCC = "cuda-nvcc"
TAGGED_COMPONENTS: tuple[str, ...] = (CUDA_RUNTIME, CUDNN, CUDA_NVCC)
NVIDIA_PREFIX = "nvidia-"
AND_CUDA_EXTRA = "and-cuda"  # tensorflow[and-cuda]: the extra that installs NVIDIA's CUDA wheels

# Source keys (versions.yaml `sources:`) the pipeline's own messages cite; table.py insists they exist.
EOL_SOURCE = "nvidia-cuda-eol"
CUDNN_SOURCES = ("nvidia-cudnn-compat", "tf-cudnn-check")
CITED_BY_CODE: tuple[str, ...] = (EOL_SOURCE, *CUDNN_SOURCES)


# --------------------------------------------------------------------------- versions


def release(text: str) -> tuple[int, ...]:
    """The numeric release tuple of a version string ("8.9.4.25" -> (8, 9, 4, 25))."""
    return Version(text).release


def major(text: str) -> int:
    return release(text)[0]


def major_minor(text: str) -> str:
    """'12.2.140' -> '12.2'; a bare major counts as minor 0 ('12' -> '12.0')."""
    parts = release(text)
    return f"{parts[0]}.{parts[1] if len(parts) > 1 else 0}"


# --------------------------------------------------------------------------- cuDNN


def cudnn_compatible(loaded: str, compiled: str) -> bool:
    """TensorFlow's load-time rule: same major, and a loaded minor >= the compiled minor.

    `loaded` is the cuDNN that is (or would be) on the library path, `compiled` the one TensorFlow
    was built with. A loaded version without a minor ("8") is never compatible: the rule needs the
    minor and nothing else proves it (see the module docstring for the sources).
    """
    have, need = release(loaded), release(compiled)
    if len(have) < 2:
        return False
    need_minor = need[1] if len(need) > 1 else 0
    return have[0] == need[0] and have[1] >= need_minor


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Source:
    """One document the table cites: comments and messages say `(source: KEY, URL)`."""

    key: str
    title: str
    url: str


def cite(sources: Mapping[str, Source], key: str) -> str:
    """'source: KEY, URL' for messages a user reads (the key alone would mean nothing to them)."""
    source = sources.get(key)
    return f"source: {key}" if source is None else f"source: {key}, {source.url}"


# --------------------------------------------------------------------------- named data


@dataclass(frozen=True)
class PackageEra:
    """The TensorFlow releases a package name (or extra) exists for, and why not elsewhere."""

    package: str  # "tensorflow-cpu", "tensorflow-gpu", "tensorflow[and-cuda]"
    releases: tuple[str, ...]  # PEP 440 specifiers; a release matching ANY of them has the package
    why: str  # what to tell a user whose row names the package outside its era
    source: str  # key into sources

    def covers(self, tf: str) -> bool:
        version = Version(tf)
        return any(version in SpecifierSet(spec) for spec in self.releases)


@dataclass(frozen=True)
class Compat:
    """versions.yaml `compat:` plus `sources:`, validated by ci.table."""

    sources: Mapping[str, Source]
    package_eras: Mapping[str, PackageEra]  # keyed by the requirement text, e.g. "tensorflow[and-cuda]"
    cuda_wheel_suffix: Mapping[int, str]  # CUDA major -> "cu12"
    glibc: Mapping[str, str]  # os id -> glibc version of that OS (manylinux wheels need <= it)
    suffix_source: str = ""
    glibc_source: str = ""
    # platform ("linux/arm64") -> machine ("aarch64"); the first is every image's platform
    machines: Mapping[str, str] = field(default_factory=lambda: {"linux/amd64": "x86_64"})
    # platform -> the packages keys (cpu, gpu, pip_cuda) that may be built for it (not the default's)
    platform_kinds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    platform_why: str = ""  # why a platform has only those kinds
    platform_source: str = ""

    def cite(self, key: str) -> str:
        return cite(self.sources, key)

    @property
    def default_platform(self) -> str:
        return next(iter(self.machines))


def era_key(requirement: str) -> str:
    """The package_eras key for a package text: the name plus its extras ("tensorflow[and-cuda]")."""
    req = Requirement(requirement)
    extras = "".join(f"[{extra}]" for extra in sorted(req.extras))
    return f"{req.name}{extras}"


def package_problem(compat: Compat, requirement: str, tf: str) -> str | None:
    """Why `requirement` (a bare TensorFlow package name, maybe with an extra) does not exist for
    TensorFlow `tf`, or None when its era covers `tf` (or no era restricts it)."""
    era = compat.package_eras.get(era_key(requirement))
    if era is None or era.covers(tf):
        return None
    return (
        f"{requirement} exists only for TensorFlow {' or '.join(era.releases)}, not {tf}: {era.why}"
        f" ({compat.cite(era.source)})"
    )


def cuda_wheel_suffix(compat: Compat, cuda: str) -> str | None:
    """'cu12' for CUDA 12.x, from the named data; None when the table names no suffix."""
    return compat.cuda_wheel_suffix.get(major(cuda))


def nvidia_wheel_name(component: str, suffix: str) -> str:
    """'cudnn', 'cu12' -> 'nvidia-cudnn-cu12' (the naming of NVIDIA's CUDA wheels on PyPI)."""
    return f"{NVIDIA_PREFIX}{component}-{suffix}"


def glibc_of(compat: Compat, os_id: str) -> str | None:
    return compat.glibc.get(os_id)
