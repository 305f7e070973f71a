"""versions.yaml `releases:` and `targets:`: one row per TensorFlow release, one per image to build.

Why apart from ci.table.load: these two sections carry the domain rules (which base serves which
CUDA and cuDNN, which package exists for which release, what the and-cuda extra pins), while the
loader reads the shared sections they refer to.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import NoReturn

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

from ci.model import compat, refs
from ci.model.compat import Compat
from ci.model.spec import CUDA_SOURCES, PYTHON_SOURCES, VARIANTS
from ci.table import platforms as table_platforms
from ci.table.fields import Row, check_version, kind, section
from ci.table.rows import CudaImage, OsBase, Packages, PipCuda, PythonRow, Release, Target, parse_cuda_tag

TF_PACKAGES = ("tensorflow", "tensorflow-gpu", "tensorflow-cpu")
AND_CUDA = compat.AND_CUDA_EXTRA
HTTPS_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]+)?(/\S*)?$")
_COMPONENT = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")

_RELEASE_REQUIRED = (
    "tf",
    "python",
    "default_python",
    "cuda",
    "cudnn",
    "packages",
    "cpu_os",
    "numpy",
    "tensorboard",
)
_RELEASE_OPTIONAL = ("gpu_base", "gpu_unavailable", "pip_cuda", "platforms")


def releases(
    top: Row,
    shown: str,
    rules: Compat,
    os_bases: Mapping[str, OsBase],
    cuda_images: Mapping[str, CudaImage],
    pythons: Mapping[str, PythonRow],
) -> tuple[Release, ...]:
    rows: list[Release] = []
    seen: dict[str, int] = {}
    for index, value in enumerate(section(top, "releases", list)):
        label = value.get("tf") if isinstance(value, dict) else None
        where = f"releases[{index}]" + (f" ({label})" if isinstance(label, str) else "")
        row = Row(shown, where, value, _RELEASE_REQUIRED, _RELEASE_OPTIONAL)
        tf = row.version("tf", parts=(3,))
        if tf in seen:
            row.fail("tf", f"duplicate row: {tf} is already releases[{seen[tf]}]")
        seen[tf] = index
        rows.append(_release(row, index, tf, rules, os_bases, cuda_images, pythons))
    return tuple(rows)


def _release(
    row: Row,
    index: int,
    tf: str,
    rules: Compat,
    os_bases: Mapping[str, OsBase],
    cuda_images: Mapping[str, CudaImage],
    pythons: Mapping[str, PythonRow],
) -> Release:
    python = row.string_list("python")
    for py in python:
        row.version("python", py, parts=(2,))
        if py not in pythons:
            row.fail("python", f"Python {py} has no entry under pythons:; known: {', '.join(pythons)}")
    default_python = row.version("default_python", parts=(2,))
    if default_python not in python:
        row.fail("default_python", f"{default_python} is not in this row's python list ({', '.join(python)})")
    cuda = row.version("cuda", parts=(2,))
    cudnn = row.version("cudnn", parts=(2,))
    packages = _packages(
        Row(row.file, f"{row.where}.packages", row.raw("packages"), ("cpu", "gpu"), ("pip_cuda",)),
        tf,
        rules,
    )

    gpu_base = row.opt_string("gpu_base")
    gpu_unavailable = row.opt_string("gpu_unavailable")
    if (gpu_base is None) == (gpu_unavailable is None):
        row.fail(
            "gpu_base",
            "give exactly one of gpu_base (an nvidia/cuda devel image) or gpu_unavailable (the reason)",
        )
    if gpu_base is not None:
        problem = gpu_base_problem(gpu_base, cuda, cudnn, cuda_images)
        if problem is not None:
            row.fail("gpu_base", problem)

    pip_cuda: PipCuda | None = None
    if row.has("pip_cuda"):
        if packages.pip_cuda is None:
            row.fail("pip_cuda", "needs packages.pip_cuda (the tensorflow[and-cuda] package) as well")
        sub = Row(row.file, f"{row.where}.pip_cuda", row.raw("pip_cuda"), ("wheels",), ("python", "index"))
        pip_cuda = _pip_cuda(sub, rules, cuda, cudnn, python)
    elif packages.pip_cuda is not None:
        row.fail("pip_cuda", "missing: packages.pip_cuda needs the NVIDIA wheel versions its extra installs")

    cpu_os = row.string("cpu_os")
    if cpu_os not in os_bases:
        row.fail("cpu_os", f"{cpu_os!r} is not in os_bases; valid: {', '.join(os_bases)}")

    return Release(
        index=index,
        tf=tf,
        python=python,
        default_python=default_python,
        cuda=cuda,
        cudnn=cudnn,
        packages=packages,
        gpu_base=gpu_base,
        gpu_unavailable=gpu_unavailable,
        pip_cuda=pip_cuda,
        cpu_os=cpu_os,
        numpy=_numpy(row, python),
        tensorboard=row.specifier("tensorboard", row.raw("tensorboard")),
        platforms=table_platforms.release_platforms(
            row, rules, lambda entry, key, text: check_package(entry, key, text, tf, rules)
        ),
    )


def _fail_prefixed(row: Row, field: str, prefix: str, problem: str) -> NoReturn:
    row.fail(field, f"{prefix}: {problem}")


def _pip_cuda(row: Row, rules: Compat, cuda: str, cudnn: str, python: tuple[str, ...]) -> PipCuda:
    """The pinned NVIDIA wheels: complete for the tag's claims, consistent with the row."""
    raw = row.raw("wheels")
    if not isinstance(raw, dict) or not raw:
        row.fail("wheels", f"expected a mapping of NVIDIA component -> exact version; got {kind(raw)}")
    wheels: list[tuple[str, str]] = []
    for component, version in raw.items():
        if not isinstance(component, str) or not _COMPONENT.match(component):
            row.fail("wheels", f"{component!r} is not a component name like 'cuda-runtime' or 'cudnn'")
        text = version if isinstance(version, str) else None
        if text is None:
            row.fail("wheels", f"{component}: expected a quoted version string; got {kind(version)}")
        check_version(text, (2, 3, 4), functools.partial(_fail_prefixed, row, "wheels", component))
        wheels.append((component, text))
    pinned = dict(wheels)
    for component in compat.TAGGED_COMPONENTS:
        if component not in pinned:
            row.fail("wheels", f"missing {component!r}: the tag, labels and checks need its version")
    runtime = pinned[compat.CUDA_RUNTIME]
    if compat.major(runtime) != compat.major(cuda):
        row.fail(
            "wheels", f"cuda-runtime {runtime} is not CUDA {compat.major(cuda)}.x like the row's cuda {cuda}"
        )
    if not compat.cudnn_compatible(pinned[compat.CUDNN], cudnn):
        row.fail(
            "wheels",
            f"cudnn {pinned[compat.CUDNN]} is not compatible with the tested {cudnn}"
            f" (same major, minor >= {cudnn}; {rules.cite(compat.CUDNN_SOURCES[0])})",
        )
    suffix = compat.cuda_wheel_suffix(rules, cuda)
    if suffix is None:
        row.fail(
            "wheels",
            f"compat.cuda_wheel_suffix names no wheel suffix for CUDA {compat.major(cuda)};"
            f" known: {', '.join(str(m) for m in rules.cuda_wheel_suffix)}",
        )
    only: tuple[str, ...] | None = None
    if row.has("python"):
        only = row.string_list("python")
        for py in only:
            if py not in python:
                row.fail("python", f"{py} is not one of the row's Pythons ({', '.join(python)})")
    return PipCuda(
        wheels=tuple(wheels),
        suffix=suffix,
        python=only,
        index=row.opt_string("index", HTTPS_URL, "an https:// package index URL"),
    )


def check_package(row: Row, key: str, text: str, tf: str, rules: Compat) -> None:
    """A `packages:` value (or a platform's): a bare TensorFlow package name that exists for `tf`."""
    try:
        req = Requirement(text)
    except InvalidRequirement:
        row.fail(key, f"{text!r} is not a package name; expected one of {', '.join(TF_PACKAGES)}")
    if req.name not in TF_PACKAGES or str(req.specifier) or req.marker is not None:
        row.fail(
            key,
            f"{text!r}: expected a bare name from {', '.join(TF_PACKAGES)} (the version is always ==tf)",
        )
    wants_and_cuda = key == "pip_cuda"
    if req.extras - {AND_CUDA}:
        row.fail(key, f"{text!r}: unknown extra; only [{AND_CUDA}] is used")
    if (AND_CUDA in req.extras) != wants_and_cuda:
        expected = f"tensorflow[{AND_CUDA}]" if wants_and_cuda else "a package without extras"
        row.fail(key, f"{text!r}: {key} must be {expected}")
    problem = compat.package_problem(rules, text, tf)
    if problem is not None:
        row.fail(key, problem)


def _packages(row: Row, tf: str, rules: Compat) -> Packages:
    names: dict[str, str | None] = {}
    for key in ("cpu", "gpu", "pip_cuda"):
        text = row.opt_string(key)
        names[key] = text
        if text is not None:
            check_package(row, key, text, tf, rules)
    cpu, gpu = names["cpu"], names["gpu"]
    assert cpu is not None  # required key
    assert gpu is not None  # required key
    return Packages(cpu=cpu, gpu=gpu, pip_cuda=names["pip_cuda"])


def _numpy(row: Row, python: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    value = row.raw("numpy")
    if isinstance(value, str):
        spec = row.specifier("numpy", value)
        return tuple((py, spec) for py in python)
    if not isinstance(value, dict):
        row.fail("numpy", f"expected a specifier or a mapping of Python -> specifier; got {kind(value)}")
    for key in value:
        if key != "default" and key not in python:
            row.fail(
                "numpy",
                f"key {key!r} is neither 'default' nor one of this row's Pythons ({', '.join(python)})",
            )
    out: list[tuple[str, str]] = []
    for py in python:
        if py not in value and "default" not in value:
            row.fail("numpy", f"no specifier for Python {py}; add it or a 'default'")
        out.append((py, row.specifier("numpy", value.get(py, value.get("default")))))
    return tuple(out)


def gpu_base_problem(ref: str, cuda: str, cudnn: str, cuda_images: Mapping[str, CudaImage]) -> str | None:
    """Why `ref` cannot serve a TF built with CUDA `cuda` / cuDNN `cudnn`, or None if it can."""
    try:
        parsed = refs.split(ref, hub=True)
    except refs.ReferenceError as exc:
        example = "nvidia/cuda:12.2.2-cudnn8-devel-ubuntu22.04"
        return f"{ref!r} is not an image reference ({exc}); expected e.g. {example!r}"
    tag = parsed.tag or ""
    if parse_cuda_tag(tag) is None:
        return f"{ref!r} is not an nvidia/cuda *-cudnn*-devel tag (e.g. 12.2.2-cudnn8-devel-ubuntu22.04)"
    image = cuda_images.get(tag)
    if image is None:
        return f"the cuDNN inside {tag!r} is unknown; add it to cuda_images (known: {', '.join(cuda_images)})"
    if Version(image.cuda).release[0] != Version(cuda).release[0]:
        return f"{tag} has CUDA {image.cuda}, but this TensorFlow needs CUDA {cuda} (same major)"
    if not compat.cudnn_compatible(image.cudnn, cudnn):
        return (
            f"{tag} has cuDNN {image.cudnn}, but this TensorFlow needs cuDNN {Version(cudnn).release[0]}.x"
            f" with minor >= {cudnn} (TF's rule: same major, equal or higher minor)"
        )
    return None


_TARGET_OPTIONAL = (
    "python", "variant", "cuda_source", "os", "gpu_base", "python_source", "aliases", "platforms",
)  # fmt: skip


def targets(
    top: Row, shown: str, releases: tuple[Release, ...], os_bases: Mapping[str, OsBase], rules: Compat
) -> tuple[Target, ...]:
    by_tf = {row.tf: row for row in releases}
    out: list[Target] = []
    seen: dict[tuple[object, ...], int] = {}
    for index, value in enumerate(section(top, "targets", list)):
        label = value.get("tf") if isinstance(value, dict) else None
        where = f"targets[{index}]" + (f" ({label})" if isinstance(label, str) else "")
        row = Row(shown, where, value, ("tf",), _TARGET_OPTIONAL)
        tf = row.string("tf")
        release = by_tf.get(tf)
        if release is None:
            row.fail("tf", f"no release row for {tf}; valid: {', '.join(by_tf)}")
        python = row.opt_string("python")
        if python is not None and python not in release.python:
            row.fail(
                "python", f"TensorFlow {tf} has wheels for Python {', '.join(release.python)}; got {python}"
            )
        os_id = row.opt_string("os")
        if os_id is not None and os_id not in os_bases:
            row.fail("os", f"{os_id!r} is not in os_bases; valid: {', '.join(os_bases)}")
        target = Target(
            index=index,
            tf=tf,
            python=python,
            variant=row.choice("variant", VARIANTS) if row.has("variant") else None,
            cuda_source=row.choice("cuda_source", CUDA_SOURCES) if row.has("cuda_source") else None,
            os=os_id,
            gpu_base=row.opt_string("gpu_base"),
            python_source=row.choice("python_source", PYTHON_SOURCES) if row.has("python_source") else None,
            aliases=row.boolean("aliases", True),
            platforms=table_platforms.target_platforms(row, rules),
        )
        key = (
            tf, python, target.variant, target.cuda_source, os_id, target.gpu_base, target.python_source,
            target.platforms,
        )  # fmt: skip
        if key in seen:
            row.fail(None, f"duplicate target: the same request as targets[{seen[key]}]")
        seen[key] = index
        out.append(target)
    return tuple(out)
