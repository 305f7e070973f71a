"""What is inside a built image, one small piece per section: OS, versions, CUDA.

Why pieces (the jupyter/docker-stacks manifest style): each section of the report is one short
collector that runs one command in the image and parses its output with a pure function (unit
tested on canned output), and PIECES says which sections each variant carries: CPU images have no
CUDA piece. Versions are read the way a user would find them (os-release, package metadata, CUDA's
version.json or the NVIDIA wheels, the cuDNN header or wheel), not copied from the spec, so the
report can disagree with the tag, which is the point of reading them. The package lists come from
the image's SBOM (syft, ci/supply/sbom.py), not from collectors here.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ci.model.compat import CUDA_RUNTIME
from ci.model.spec import ImageSpec, Variant
from ci.probe.checks import probe_cudnn
from ci.probe.runner import Runner

if TYPE_CHECKING:
    from dagger import Container

# A fixed nonce: the same image gives the same answers, so the engine may cache them (unlike checks).
NONCE = "report-manifests"


class CollectError(Exception):
    """A collector's command failed in the image; the message says which and why."""


@dataclass(frozen=True)
class Collected:
    versions: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


Collector = Callable[[Runner], Awaitable[Collected]]


@dataclass(frozen=True)
class Piece:
    name: str
    title: str
    collect: Collector


# --------------------------------------------------------------------------- pure parsers


def parse_os_release(text: str) -> dict[str, str]:
    """/etc/os-release -> {"os": PRETTY_NAME, "os_id": ID, "os_version_id": VERSION_ID}."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            parts = shlex.split(value, comments=False, posix=True)
            fields[key.strip()] = parts[0] if parts else ""
    found = {"os": fields.get("PRETTY_NAME", ""), "os_id": fields.get("ID", ""), "os_version_id": ""}
    found["os_version_id"] = fields.get("VERSION_ID", "")
    return {k: v for k, v in found.items() if v}


def last_json_line(text: str) -> dict[str, str]:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        raise ValueError("no output")
    found = json.loads(lines[-1])
    if not isinstance(found, dict):
        raise ValueError(f"expected a JSON object, got {lines[-1][:80]!r}")
    return {str(k): str(v) for k, v in found.items()}


# --------------------------------------------------------------------------- collectors


async def _python(run: Runner, script: str, what: str, *args: str) -> dict[str, str]:
    out = await run.script(script, *args)
    try:
        return last_json_line(out.stdout)
    except ValueError as exc:
        raise CollectError(f"{what}: {run.python} exited {out.code}: {exc}: {out.stderr[-300:]}") from None


async def collect_os(run: Runner) -> Collected:
    out = await run.sh("cat /etc/os-release")
    if out.code != 0:
        raise CollectError(f"os: cannot read /etc/os-release: {out.stderr[-200:]}")
    return Collected(versions=parse_os_release(out.stdout))


async def collect_versions(run: Runner) -> Collected:
    """Python, TensorFlow and numpy from the interpreter and the installed distributions' metadata."""
    found = await _python(run, "manifest-versions.py", "versions", run.spec.tensorflow_package)
    missing = tuple(f"{key} is not installed" for key in ("tensorflow", "numpy") if key not in found)
    return Collected(versions=found, notes=missing)


async def collect_cuda(run: Runner) -> Collected:
    """CUDA from the toolkit's version file or the NVIDIA runtime wheel; cuDNN as the checks find it."""
    runtime = run.spec.nvidia_wheel(CUDA_RUNTIME)
    found = await _python(run, "cuda-version.py", "cuda", *((runtime.dist,) if runtime else ()))
    notes = [] if "cuda" in found else ["no CUDA toolkit version file and no nvidia-cuda-runtime wheel"]
    cudnn, _ = await probe_cudnn(run)
    if cudnn is None:
        notes.append("no cuDNN found")
    else:
        found["cudnn"], found["cudnn_from"] = cudnn
    return Collected(versions=found, notes=tuple(notes))


OS = Piece("os", "Operating system", collect_os)
VERSIONS = Piece("versions", "Python, TensorFlow, numpy", collect_versions)
CUDA = Piece("cuda", "CUDA and cuDNN", collect_cuda)

# Which pieces each variant carries (the report's sections, in order).
PIECES: Mapping[Variant, tuple[Piece, ...]] = {
    "cpu": (OS, VERSIONS),
    "gpu": (OS, VERSIONS, CUDA),
}


@dataclass
class Manifest:
    versions: dict[str, str] = field(default_factory=dict)
    pieces: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def collect(image: Container, spec: ImageSpec) -> Manifest:
    """Run every piece of the spec's variant in the image, one after another (each is quick)."""
    run = Runner(image, spec, nonce=NONCE)
    manifest = Manifest()
    for piece in PIECES[spec.variant]:
        collected = await piece.collect(run)
        manifest.versions.update(collected.versions)
        manifest.notes.extend(f"{piece.name}: {note}" for note in collected.notes)
        manifest.pieces.append(piece.name)
    return manifest
