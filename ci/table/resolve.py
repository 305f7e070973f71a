"""Turn a table plus a request into an ImageSpec: the only place versions.yaml is interpreted.

Why a separate request type: the CLI, the GitHub matrix and the `targets:` list all ask for images
the same way (tf + optional overrides), so one function gives them identical answers, and what
`plan` prints is exactly what `build` later builds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import cast

from packaging.version import Version

from ci.model import compat, refs
from ci.model import platforms as platform_grammar
from ci.model.compat import major_minor
from ci.model.contract import MINICONDA_PREFIX, SYSTEM_PYTHON_PREFIX
from ci.model.errors import UserError, table_error
from ci.model.spec import (
    CUDA_SOURCES,
    PYTHON_SOURCES,
    VARIANTS,
    CudaSource,
    HostPlatform,
    ImageSpec,
    MinicondaInstaller,
    NvidiaWheel,
    PlatformBuild,
    PythonSource,
    Variant,
)
from ci.model.tags import TagCollision, compute_aliases, oci_labels, primary_tag
from ci.table.releases import gpu_base_problem
from ci.table.rows import PACKAGE_KEYS, Release, Table, Target

ANACONDA_FILES = "https://repo.anaconda.com/miniconda/.files.json"


@dataclass(frozen=True)
class BuildRequest:
    """What a user (CLI flag, matrix row or `targets:` entry) asks for; None means "the table's default"."""

    tf: str
    python: str | None = None
    variant: str | None = None  # "cpu" | "gpu"
    cuda_source: str | None = None  # "base" | "pip" (GPU only)
    os: str | None = None  # an os_bases id: the CPU base, or the base of a pip-CUDA GPU image
    gpu_base: str | None = None  # explicit nvidia/cuda devel image, e.g. the seed's 12.1.0 base
    python_source: str | None = None  # "miniconda" | "system"
    platforms: tuple[str, ...] | None = None  # e.g. ("linux/amd64",); None: every one the release has


class RequestError(UserError):
    """A request the table cannot satisfy; `field` is the BuildRequest field at fault."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"field '{field}': {problem}")
        self.field = field
        self.problem = " ".join(problem.split())


def _choice(field: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise RequestError(field, f"{value!r} is not valid; expected one of {', '.join(choices)}")
    return value


def _release(table: Table, tf: str) -> Release:
    release = table.release(tf)
    if release is None:
        hint = [t for t in table.tf_versions if Version(t).release[:2] == _maybe_release(tf)]
        extra = f" (did you mean {' or '.join(hint)}?)" if hint else ""
        raise RequestError(
            "tf", f"unknown TensorFlow version {tf!r}{extra}; valid: {', '.join(table.tf_versions)}"
        )
    return release


def _maybe_release(text: str) -> tuple[int, ...]:
    try:
        return Version(text).release[:2]
    except ValueError:
        return ()


def resolve(table: Table, request: BuildRequest) -> ImageSpec:
    """Resolve one request. Aliases are left empty: they only exist relative to a target set."""
    release = _release(table, request.tf)
    python = request.python or release.default_python
    if python not in release.python:
        raise RequestError(
            "python",
            f"TensorFlow {release.tf} has wheels for Python {', '.join(release.python)}; got {python}",
        )
    variant = _choice("variant", request.variant or table.defaults.variant, VARIANTS)
    python_source = _choice(
        "python_source", request.python_source or table.defaults.python_source, PYTHON_SOURCES
    )
    if request.os is not None and request.os not in table.os_bases:
        raise RequestError("os", f"unknown os {request.os!r}; valid: {', '.join(table.os_bases)}")

    warnings: list[str] = []
    if variant == "cpu":
        if request.cuda_source is not None:
            raise RequestError("cuda_source", "applies to GPU images only (variant gpu)")
        if request.gpu_base is not None:
            raise RequestError("gpu_base", "applies to GPU images only (variant gpu)")
        gpu = _Gpu("none", None, None, None, release.packages.cpu, None, ())
    else:
        source = _choice("cuda_source", request.cuda_source or table.defaults.cuda_source, CUDA_SOURCES)
        gpu = (
            _pip_gpu(table, release, request, python)
            if source == "pip"
            else _base_gpu(table, release, request, warnings)
        )

    os_id = gpu.os_id or request.os or release.cpu_os
    base_image, base_digest = gpu.image or "", gpu.digest
    if gpu.image is None:
        os_base = table.os_bases[os_id]
        base_image, base_digest = os_base.image, os_base.digest
    if base_digest is None:  # pinned in the table wins; else versions.lock.yaml's digest, if any
        base_digest = table.locks.get(base_image)

    default = table.compat.default_platform
    miniconda, refusals = _python_install(table, python, python_source, default)
    numpy = release.numpy_for(python)
    spec = ImageSpec(
        tf_version=release.tf,
        python_version=python,
        variant=cast(Variant, variant),
        cuda_source=cast(CudaSource, gpu.source),
        os_id=os_id,
        base_image=base_image,
        base_digest=base_digest,
        cuda_version=gpu.cuda,
        cudnn_version=gpu.cudnn,
        python_source=cast(PythonSource, python_source),
        python_prefix=MINICONDA_PREFIX if python_source == "miniconda" else SYSTEM_PYTHON_PREFIX,
        miniconda=miniconda,
        jupyter_requirements=table.pythons[python].jupyter,
        tensorflow_requirement=f"{gpu.package}=={release.tf}",
        tensorboard_requirement=f"tensorboard{release.tensorboard}",
        constraints=(f"numpy{numpy}", *(wheel.constraint for wheel in gpu.nvidia_wheels)),
        numpy_specifier=numpy,
        tag=primary_tag(
            tf=release.tf,
            python=python,
            variant=variant,
            cuda_source=gpu.source,
            cuda=gpu.cuda,
            cudnn=gpu.cudnn,
            os_id=os_id,
        ),
        aliases=(),
        labels=(),
        warnings=tuple(warnings),
        installer=table.installer,
        refusals=refusals,
        pip_extra_indexes=(
            (release.pip_cuda.index,)
            if gpu.source == "pip" and release.pip_cuda is not None and release.pip_cuda.index
            else ()
        ),
        nvidia_wheels=gpu.nvidia_wheels,
        platform=default,
    )
    return _with_platforms(table, release, request, spec)


def _with_platforms(table: Table, release: Release, request: BuildRequest, spec: ImageSpec) -> ImageSpec:
    """The spec with every platform it is built for: package, installer, labels and refusals each."""
    key = PACKAGE_KEYS[spec.kind.name]
    chosen = _platforms(table, release, key, spec, request.platforms)
    builds: list[PlatformBuild] = []
    refusals = list(spec.refusals) if table.compat.default_platform in chosen else []
    for platform in chosen:
        requirement, miniconda, via = spec.tensorflow_requirement, spec.miniconda, None
        if platform != table.compat.default_platform:
            package, via_name = release.package_on(key, platform)
            requirement = f"{package}=={release.tf}"
            via = f"{via_name}=={release.tf}" if via_name else None
            miniconda, refused = _python_install(table, spec.python_version, spec.python_source, platform)
            refusals += [f"{platform}: {why}" for why in refused]
        on = dataclasses.replace(
            spec, platform=platform, tensorflow_requirement=requirement, miniconda=miniconda
        )
        labels = oci_labels(table.image, on, platforms=chosen)
        builds.append(
            PlatformBuild(platform, table.compat.machines[platform], requirement, via, miniconda, labels)
        )
    first = builds[0]
    hosts = tuple(
        HostPlatform(
            platform, machine, _python_install(table, spec.python_version, spec.python_source, platform)[0]
        )
        for platform, machine in table.compat.machines.items()
    )
    return dataclasses.replace(
        spec,
        platform=first.platform,
        tensorflow_requirement=first.tensorflow_requirement,
        miniconda=first.miniconda,
        labels=first.labels,
        builds=tuple(builds),
        refusals=tuple(refusals),
        hosts=hosts,
    )


def _platforms(
    table: Table, release: Release, key: str, spec: ImageSpec, asked: tuple[str, ...] | None
) -> tuple[str, ...]:
    """The platforms to build, in the table's order: the release's for this kind, or those asked for."""
    rules = table.compat
    available = release.platforms_for(key, rules.default_platform)
    if asked is None:
        return available
    if not asked:
        raise RequestError("platforms", f"give at least one platform, e.g. {rules.default_platform}")
    names: list[str] = []
    for text in asked:
        try:
            name = str(platform_grammar.parse(text, "platform"))
        except platform_grammar.PlatformError as exc:
            raise RequestError("platforms", str(exc)) from None
        if name not in rules.machines:
            raise RequestError(
                "platforms",
                f"{name!r} is not a platform of {table.display}; valid: {', '.join(rules.machines)}",
            )
        if name not in available:
            raise RequestError("platforms", _not_built(table, release, key, spec, name))
        names.append(name)
    return tuple(p for p in available if p in names)


def _not_built(table: Table, release: Release, key: str, spec: ImageSpec, platform: str) -> str:
    rules = table.compat
    allowed = rules.platform_kinds.get(platform, ())
    if key not in allowed:
        return (
            f"{platform} builds {', '.join(allowed) or 'no'} images only, not a {spec.kind.what} ({key}):"
            f" {rules.platform_why} ({rules.cite(rules.platform_source)})"
        )
    having = [row.tf for row in table.releases if platform in row.platforms_for(key, rules.default_platform)]
    return (
        f"TensorFlow {release.tf} has no {platform} {key} image in {table.display} (no"
        f" {rules.machines[platform]} wheel to build it from); {platform} {key} images exist for"
        f" TensorFlow {', '.join(having) or 'no release'}"
    )


@dataclass(frozen=True)
class _Gpu:
    source: str  # "none" | "base" | "pip"
    image: str | None  # base image when it is not an os_bases entry
    digest: str | None
    os_id: str | None  # fixed by the nvidia/cuda tag
    package: str
    cuda_cudnn: tuple[str, str] | None
    nvidia_wheels: tuple[NvidiaWheel, ...]

    @property
    def cuda(self) -> str | None:
        return None if self.cuda_cudnn is None else self.cuda_cudnn[0]

    @property
    def cudnn(self) -> str | None:
        return None if self.cuda_cudnn is None else self.cuda_cudnn[1]


def _base_gpu(table: Table, release: Release, request: BuildRequest, warnings: list[str]) -> _Gpu:
    ref = request.gpu_base or release.gpu_base
    if ref is None:
        raise RequestError(
            "variant",
            f"TensorFlow {release.tf} has no GPU image: {release.gpu_unavailable}"
            + ("; or use cuda_source pip" if release.pip_cuda else "; use variant cpu"),
        )
    problem = gpu_base_problem(ref, release.cuda, release.cudnn, table.cuda_images)
    if problem is not None:
        raise RequestError("gpu_base", problem)
    parsed = refs.split(ref, hub=True)  # gpu_base_problem accepted it
    repo, tag, digest = parsed.familiar, parsed.tag or "", parsed.digest
    image = table.cuda_images[tag]
    if request.os is not None and request.os != image.os_id:
        raise RequestError(
            "os",
            f"the GPU base {tag} fixes the OS to {image.os_id}; os applies to cpu and cuda_source pip images",
        )
    if major_minor(image.cuda) != release.cuda:
        warnings.append(
            f"TensorFlow {release.tf} was tested with CUDA {release.cuda} / cuDNN {release.cudnn};"
            f" {repo}:{tag} has CUDA {image.cuda} / cuDNN {image.cudnn}"
        )
    if image.eol:
        warnings.append(
            f"{repo}:{tag} is end-of-life at NVIDIA and may be deleted from Docker Hub"
            f" ({table.compat.cite(compat.EOL_SOURCE)})"
        )
    return _Gpu(
        source="base",
        image=f"{repo}:{tag}",
        digest=digest,
        os_id=image.os_id,
        package=release.packages.gpu,
        cuda_cudnn=(image.cuda, major_minor(image.cudnn)),
        nvidia_wheels=(),
    )


def _pip_gpu(table: Table, release: Release, request: BuildRequest, python: str) -> _Gpu:
    if request.gpu_base is not None:
        raise RequestError(
            "gpu_base", "applies to cuda_source base only; pip-CUDA images use an os_bases entry (os)"
        )
    pip = release.pip_cuda
    if pip is None or release.packages.pip_cuda is None:
        era = table.compat.package_eras.get(f"tensorflow[{compat.AND_CUDA_EXTRA}]")
        why = f" ({era.why})" if era is not None else ""
        raise RequestError(
            "cuda_source",
            f"TensorFlow {release.tf} has no tensorflow[{compat.AND_CUDA_EXTRA}] extra{why};"
            " use cuda_source base",
        )
    if pip.python is not None and python not in pip.python:
        raise RequestError(
            "python",
            f"tensorflow[and-cuda]=={release.tf} installs for Python {', '.join(pip.python)} only"
            f" (see the row's pip_cuda in {table.display}); got {python}",
        )
    wheels = tuple(NvidiaWheel(component, dist, version) for component, dist, version in pip.dists())
    return _Gpu(
        source="pip",
        image=None,
        digest=None,
        os_id=None,
        package=release.packages.pip_cuda,
        cuda_cudnn=(major_minor(pip.cuda), major_minor(pip.cudnn)),
        nvidia_wheels=wheels,
    )


def _python_install(
    table: Table, python: str, source: str, platform: str
) -> tuple[MinicondaInstaller | None, tuple[str, ...]]:
    """The Miniconda installer for `platform` (if any) and the reasons a build must refuse it."""
    if source == "system":
        return None, ()
    row = table.pythons[python]
    found = row.installer(platform, table.compat.default_platform)
    if found is None:
        why = row.miniconda_missing if platform == table.compat.default_platform else None
        machine = table.compat.machines[platform]
        return None, (
            f"no Miniconda installer for Python {python}: "
            + (why or f"{table.display} names no {machine} installer (pythons.{python}.platforms)"),
        )
    installer = MinicondaInstaller(filename=found.filename, sha256=found.sha256)
    if not found.verified:
        return installer, (
            f"{installer.filename}: sha256 not verified against a primary source; check it against"
            f" {ANACONDA_FILES} and set verified: true in {table.display}, or use python_source system",
        )
    return installer, ()


# --------------------------------------------------------------------------- target set


def request_for_target(target: Target) -> BuildRequest:
    return BuildRequest(
        tf=target.tf,
        python=target.python,
        variant=target.variant,
        cuda_source=target.cuda_source,
        os=target.os,
        gpu_base=target.gpu_base,
        python_source=target.python_source,
        platforms=target.platforms,
    )


def resolve_targets(table: Table) -> tuple[ImageSpec, ...]:
    """Resolve every `targets:` entry and give each its floating aliases.

    Errors come back as table errors naming the target row, since the table (not the user's flags)
    is what is wrong.
    """
    specs: list[ImageSpec] = []
    for target in table.targets:
        try:
            specs.append(resolve(table, request_for_target(target)))
        except RequestError as exc:
            raise table_error(table.display, target.where, exc.field, exc.problem) from None
    eligible = [
        target.aliases and spec.python_version == _default_python(table, spec)
        for target, spec in zip(table.targets, specs, strict=True)
    ]
    try:
        aliases = compute_aliases(specs, eligible)
    except TagCollision as exc:
        where = table.targets[exc.second].where
        raise table_error(
            table.display,
            where,
            None,
            f"{exc.kind} {exc.tag!r} is also claimed by targets[{exc.first}]; "
            "change one target or set aliases: false on one",
        ) from None
    return tuple(dataclasses.replace(s, aliases=a) for s, a in zip(specs, aliases, strict=True))


def _default_python(table: Table, spec: ImageSpec) -> str:
    release = table.release(spec.tf_version)
    assert release is not None
    return release.default_python


def resolve_with_aliases(table: Table, request: BuildRequest, targets: tuple[ImageSpec, ...]) -> ImageSpec:
    """Resolve one request; if it is one of the targets, give it that target's aliases."""
    spec = resolve(table, request)
    for target in targets:
        if target.tag == spec.tag and target == dataclasses.replace(spec, aliases=target.aliases):
            return target
    return spec
