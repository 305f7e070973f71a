"""The resolved description of one image: pure data, shared by every stage.

Why a frozen dataclass: the resolver is the only place that interprets
versions.yaml; layers, checks and publishing read an ImageSpec and never look
at the table again, so a spec that plan/matrix printed is exactly what gets
built, checked and tagged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from packaging.requirements import Requirement

Variant = Literal["cpu", "gpu"]
# Where CUDA comes from in a GPU image: the nvidia/cuda devel base image, or
# pip wheels (tensorflow[and-cuda]) on a plain OS base. CPU images use "none".
CudaSource = Literal["none", "base", "pip"]
# Where the interpreter comes from: Miniconda (the default, sha256-verified
# installer) or the base OS's own python3 in a venv (used where
# repo.anaconda.com is unreachable, e.g. this project's offline CI).
PythonSource = Literal["miniconda", "system"]
Kind = Literal["cpu", "gpu", "pip"]

PYTHON_SOURCES: tuple[PythonSource, ...] = ("miniconda", "system")


@dataclass(frozen=True)
class ImageKind:
    """One kind of image: what a request says (variant, CUDA source) and the family of its aliases.

    Why a table of kinds: the table's validation, the resolver, verify, the checks and the
    floating aliases all ask "which kind is this image"; they read the answer here.
    """

    name: Kind
    variant: Variant
    cuda_source: CudaSource
    alias_family: str  # the suffix of its floating tags: "2.15-cpu", "latest-gpu", "2.15-gpu-pip"
    what: str


KINDS: Mapping[Kind, ImageKind] = {
    "cpu": ImageKind("cpu", "cpu", "none", "cpu", "CPU image"),
    "gpu": ImageKind("gpu", "gpu", "base", "gpu", "GPU image on an nvidia/cuda devel base"),
    "pip": ImageKind("pip", "gpu", "pip", "gpu-pip", "GPU image with CUDA from NVIDIA's pip wheels"),
}
# What a request (flag, matrix row, targets: entry) may say, derived from the kinds.
VARIANTS: tuple[Variant, ...] = tuple(dict.fromkeys(kind.variant for kind in KINDS.values()))
CUDA_SOURCES: tuple[CudaSource, ...] = tuple(k.cuda_source for k in KINDS.values() if k.variant == "gpu")


def kind_of(variant: str, cuda_source: str) -> ImageKind:
    """The kind a (variant, CUDA source) pair names; CPU images have no CUDA source."""
    for kind in KINDS.values():
        if kind.variant == variant and (variant == "cpu" or kind.cuda_source == cuda_source):
            return kind
    raise ValueError(f"no image kind for variant {variant!r} with CUDA source {cuda_source!r}")


@dataclass(frozen=True)
class MinicondaInstaller:
    """One Miniconda installer, pinned by file name and sha256."""

    filename: str  # e.g. "Miniconda3-py310_24.5.0-0-Linux-x86_64.sh"
    sha256: str  # 64 lowercase hex digits, verified before the installer runs


@dataclass(frozen=True)
class NvidiaWheel:
    """One NVIDIA CUDA wheel a pip-CUDA image installs, pinned exactly (pip constraints say ==)."""

    component: str  # "cuda-runtime", "cudnn", "cuda-nvcc", "cublas", ...
    dist: str  # the distribution name, e.g. "nvidia-cudnn-cu12"
    version: str  # e.g. "9.3.0.75"

    @property
    def constraint(self) -> str:
        return f"{self.dist}=={self.version}"


@dataclass(frozen=True)
class PlatformBuild:
    """What one platform of an image installs where platforms differ (versions.yaml `platforms:`).

    Why per platform: tensorflow-cpu has no aarch64 wheel (arm64 images install `tensorflow`, in
    2.10-2.15 a 2 KB package that pulls AWS's tensorflow-cpu-aws), and Miniconda publishes one
    installer per architecture with its own sha256. Everything else of an image is the same on
    every platform: the same layer functions build each one.
    """

    platform: str  # "linux/arm64"
    machine: str  # "aarch64": uname -m, PEP 508 platform_machine, the wheel tags' architecture
    tensorflow_requirement: str  # "tensorflow==2.21.0"
    tensorflow_via: str | None  # the distribution that carries TensorFlow there: "tensorflow-cpu-aws==2.15.0"
    miniconda: MinicondaInstaller | None
    labels: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class HostPlatform:
    """A platform an engine may run on, with this image's Miniconda installer built for it.

    Why in the spec: an emulated platform's packages are byte-compiled by the same Python running
    natively on the engine (ci.build.cross), which needs the engine platform's machine and, for
    Miniconda images, that platform's installer, whichever platforms the image itself has.
    """

    platform: str
    machine: str
    miniconda: MinicondaInstaller | None


@dataclass(frozen=True)
class InstallerFile:
    """The pinned installer wheel for one platform: where it is and what its bytes must hash to."""

    platform: str  # "linux/amd64"
    url: str  # the wheel's https URL on the package index
    sha256: str  # the wheel's sha256 (the index's)
    binary_sha256: str  # the executable inside the wheel (its RECORD entry)


@dataclass(frozen=True)
class Installer:
    """The tool that installs the pip layers (uv), pinned in versions.yaml's `tools:`.

    Why in the spec: it is not in the image, but it decides how the pip layers resolve and install
    (the binary is an input of those layers), so it belongs to what `plan` shows for an image.
    """

    name: str  # "uv"
    version: str  # "0.13.8"
    files: tuple[InstallerFile, ...]

    def file_for(self, platform: str) -> InstallerFile | None:
        return next((f for f in self.files if f.platform == platform), None)


@dataclass(frozen=True)
class ImageSpec:
    """Everything one image build needs, resolved from versions.yaml."""

    tf_version: str  # "2.15.0"
    python_version: str  # "3.10" (major.minor)
    variant: Variant
    cuda_source: CudaSource
    os_id: str  # "ubuntu22.04", "debian12": the last tag component
    base_image: str  # "nvidia/cuda:12.2.2-cudnn8-devel-ubuntu22.04", "ubuntu:22.04"
    base_digest: str | None  # "sha256:..." when the table pins one; built FROM image@digest
    cuda_version: str | None  # "12.2.2" for GPU images, None for CPU
    cudnn_version: str | None  # "8.9" (major.minor) for GPU images, None for CPU
    python_source: PythonSource
    python_prefix: str  # "/root/miniconda3" (miniconda) or "/opt/python" (system venv)
    miniconda: MinicondaInstaller | None  # required when python_source == "miniconda"
    # pip requirement strings, installed in this order by separate layers. The Jupyter layer's
    # inputs depend on the Python only (pythons[X].jupyter), so images of one Python share it across
    # TensorFlow releases; TensorBoard, pinned per release, is installed with TensorFlow.
    jupyter_requirements: tuple[str, ...]  # jupyterlab, zh-CN language pack, jupyterlab_pygments
    tensorflow_requirement: (
        str  # "tensorflow==2.15.0", "tensorflow[and-cuda]==2.15.0", "tensorflow-gpu==1.15.5"
    )
    tensorboard_requirement: str  # TensorFlow's own TensorBoard pin, e.g. "tensorboard>=2.15,<2.16"
    constraints: tuple[str, ...]  # pip constraints of the TensorFlow layer, e.g. "numpy>=1.23.5,<2.0.0"
    numpy_specifier: str  # the numpy specifier alone, e.g. "<2.0", for the version check
    tag: str  # primary tag, e.g. "2.15.0-python3.10-cuda12.1.0-cudnn8-devel-ubuntu22.04"
    aliases: tuple[str, ...]  # floating tags computed across the target set ("2.15-gpu", "latest-gpu", ...)
    labels: tuple[tuple[str, str], ...]  # OCI labels, sorted by key
    warnings: tuple[str, ...]  # printed by plan/build, e.g. the seed base override warning
    installer: Installer  # uv, which installs the Jupyter and TensorFlow layers (never in the image)
    # Why a build must refuse this spec although plan may show it (e.g. a Miniconda installer whose
    # sha256 is not verified against a primary source). Empty means buildable.
    refusals: tuple[str, ...] = ()
    # Package indexes the TensorFlow layer needs besides PyPI (or the --pip-index-url mirror):
    # e.g. pypi.nvidia.com for the TensorRT pins of tensorflow[and-cuda] 2.14.x/2.15.0.
    pip_extra_indexes: tuple[str, ...] = ()
    # pip-CUDA images: every NVIDIA wheel the image installs, pinned (also in `constraints`, so pip
    # cannot drift to the newest wheel in the extra's range); empty for other images.
    nvidia_wheels: tuple[NvidiaWheel, ...] = ()
    # The platform this spec describes: tensorflow_requirement, miniconda and labels are its own.
    platform: str = "linux/amd64"
    # Every platform the image is built for, the table's default platform first: one container per
    # platform from the same layer functions, published as one image index under the tag.
    builds: tuple[PlatformBuild, ...] = ()
    # Every platform the table knows (ci.build.cross: the engine's own, when it emulates this one).
    hosts: tuple[HostPlatform, ...] = ()

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(build.platform for build in self.builds) or (self.platform,)

    @property
    def multi_platform(self) -> bool:
        return len(self.platforms) > 1

    def build_for(self, platform: str) -> PlatformBuild:
        for build in self.builds:
            if build.platform == platform:
                return build
        raise KeyError(f"{self.tag} is not built for {platform}; it is built for {', '.join(self.platforms)}")

    @property
    def machine(self) -> str:
        return self.build_for(self.platform).machine

    def on(self, platform: str) -> ImageSpec:
        """This image as built for `platform`: its package, installer and labels."""
        if platform == self.platform:
            return self
        build = self.build_for(platform)
        return dataclasses.replace(
            self,
            platform=platform,
            tensorflow_requirement=build.tensorflow_requirement,
            miniconda=build.miniconda,
            labels=build.labels,
        )

    def host(self, platform: str) -> HostPlatform | None:
        return next((host for host in self.hosts if host.platform == platform), None)

    def nvidia_wheel(self, component: str) -> NvidiaWheel | None:
        return next((w for w in self.nvidia_wheels if w.component == component), None)

    @property
    def is_gpu(self) -> bool:
        return self.variant == "gpu"

    @property
    def kind(self) -> ImageKind:
        return kind_of(self.variant, self.cuda_source)

    @property
    def tensorflow_package(self) -> str:
        """The distribution name the TensorFlow layer installs ("tensorflow-cpu", "tensorflow")."""
        return Requirement(self.tensorflow_requirement).name

    @property
    def python(self) -> str:
        return f"{self.python_prefix}/bin/python"

    @property
    def site_packages(self) -> str:
        return f"{self.python_prefix}/lib/python{self.python_version}/site-packages"

    @property
    def path(self) -> str:
        """PATH entries the image prepends: the Python prefix, and pip-CUDA's nvcc when present."""
        entries = [f"{self.python_prefix}/bin"]
        if self.cuda_source == "pip":
            entries.append(f"{self.site_packages}/nvidia/cuda_nvcc/bin")
        return ":".join(entries)

    @property
    def buildable(self) -> bool:
        return not self.refusals

    @property
    def all_tags(self) -> tuple[str, ...]:
        return (self.tag, *self.aliases)
