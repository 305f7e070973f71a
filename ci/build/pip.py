"""Python packages of the pip layers (JupyterLab, TensorFlow): `uv pip install`, from uv's cache volume.

Why uv: it resolves and downloads in parallel, installs from a content-addressed cache that keeps
wheels whatever Cache-Control a proxy sends (pip's HTTP cache stores nothing behind one, which is why
this used to need a hand-written wheelhouse), and compiles bytecode on every core. The installed set
is the one pip installs for the same requirements and constraints (README: Performance). uv itself
is the pinned binary (ci.build.installer) mounted for the exec, never in the image; pip stays in the
image for its users.

uv ignores PIP_* variables and pip.conf, so the build's indexes reach it as a mounted uv.toml
(URLs without credentials, see `uv_config`) plus UV_INDEX_<NAME>_USERNAME/PASSWORD secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from ci.build import execs, installer
from ci.build.options import BuildOptions
from ci.model.spec import ImageSpec

if TYPE_CHECKING:
    from dagger import Container, File

CONSTRAINTS = f"{execs.BUILD_DIR}/constraints.txt"
UV_BINARY = f"{execs.BUILD_DIR}/uv"
UV_CONFIG = f"{execs.BUILD_DIR}/uv.toml"
# One mount point for the uv volume in every container that uses it (the layers and the prefetch):
# uv's cache in cache/, scratch directories in tmp/ (same file system, so the prefetch hardlinks).
UV_VOLUME = "tfci-uv-cache"
UV_MOUNT = "/root/.cache/tfci-uv"
UV_CACHE_DIR = f"{UV_MOUNT}/cache"
UV_SCRATCH = f"{UV_MOUNT}/tmp"  # noqa: S108 - on the uv volume, not the system's /tmp
PYPI = "https://pypi.org/simple"
# Files on an index never change (a re-upload needs a new file name), and PyPI says so
# ("max-age=365000000, immutable"); a proxy that strips the header would make uv revalidate the
# metadata of every cached wheel (HTTP range requests). Index pages keep the server's caching, so
# every build resolves against fresh pages, as pip does.
FILES_CACHE_CONTROL = "max-age=365000000, immutable"
UV_ENV: tuple[tuple[str, str], ...] = (
    ("UV_CACHE_DIR", UV_CACHE_DIR),
    # The volume is another mount than the image's rootfs: a hardlink fails (EXDEV) and uv would
    # fall back to copying with a warning; copying up front also never ties the image to the volume.
    ("UV_LINK_MODE", "copy"),
    ("UV_NO_PROGRESS", "1"),
    ("UV_PYTHON_DOWNLOADS", "never"),  # the image's interpreter, never a downloaded one
    ("UV_CONFIG_FILE", UV_CONFIG),  # only this file: no uv.toml discovered from the working directory
    ("UV_HTTP_TIMEOUT", "180"),
)
# pip compiles bytecode while installing; uv does when asked, on every core. uv's compiler needs
# py_compile.PycInvalidationMode (Python 3.7+); on older Pythons uv-install.sh runs compileall.
UV_COMPILES_FROM = (3, 7)
# Lines uv prints (the benchmark and the tests read them): "Prepared N packages" counts what was
# downloaded or built into the cache (no such line: everything came from the cache).
_UV_LINE = re.compile(r"\b(Resolved|Prepared|Installed) (\d+) packages? in ")


def constraints_text(constraints: Iterable[str]) -> str:
    return "".join(f"{line}\n" for line in constraints)


def tensorflow_requirements(spec: ImageSpec) -> list[str]:
    """TensorFlow, its TensorBoard, and the name of every constrained package (see Layers.tensorflow)."""
    names = [re.split(r"[\s<>=!~;\[(]", line.strip(), maxsplit=1)[0] for line in spec.constraints]
    return [spec.tensorflow_requirement, spec.tensorboard_requirement, *dict.fromkeys(n for n in names if n)]


@dataclass(frozen=True)
class UvCounts:
    """What one uv run reported: packages resolved, downloaded or built (prepared), installed."""

    resolved: int = 0
    prepared: int = 0
    installed: int = 0


def parse_uv_output(text: str) -> UvCounts:
    """The counts in TEXT (uv's output, or a progress log), summed over every uv run in it."""
    found = {"Resolved": 0, "Prepared": 0, "Installed": 0}
    for kind, count in _UV_LINE.findall(text):
        found[kind] += int(count)
    return UvCounts(found["Resolved"], found["Prepared"], found["Installed"])


def _strip_credentials(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def uv_config(default_index: str | None, extra_indexes: Iterable[str]) -> tuple[str, list[tuple[str, str]]]:
    """(uv.toml text, [(variable, value)] of credentials) for the build's indexes.

    Extra indexes come first (uv asks indexes in file order), the default (PyPI or the
    --pip-index-url mirror) last. Credentials never go into the file, a mounted input that is part
    of the exec's cache key: uv reads them from UV_INDEX_<NAME>_USERNAME / _PASSWORD, which the
    caller hands over as secrets.
    """
    entries = [(f"extra{i}", url, False) for i, url in enumerate(extra_indexes, 1)]
    entries.append(("default", default_index or PYPI, True))
    lines: list[str] = []
    credentials: list[tuple[str, str]] = []
    for name, url, default in entries:
        lines += [
            "[[index]]",
            f'name = "{name}"',
            f'url = "{_strip_credentials(url)}"',
            *(["default = true"] if default else []),
            f'cache-control = {{ files = "{FILES_CACHE_CONTROL}" }}',
            "",
        ]
        parts = urlsplit(url)
        if parts.username:
            credentials.append((f"UV_INDEX_{name.upper()}_USERNAME", parts.username))
        if parts.password:
            credentials.append((f"UV_INDEX_{name.upper()}_PASSWORD", parts.password))
    return "\n".join(lines), credentials


def _new_file(name: str, text: str) -> File:
    from dagger import dag

    return dag.directory().with_new_file(name, text).file(name)


@dataclass(frozen=True)
class UvInputs:
    """What every uv exec needs: variables, secrets, mounted files, and the index strategy."""

    env: tuple[tuple[str, str], ...]
    secrets: tuple[tuple[str, str], ...]
    mounts: tuple[tuple[str, File], ...]


def uv_inputs(
    options: BuildOptions, spec: ImageSpec, extra_indexes: Iterable[str], *, uv: File | None = None
) -> UvInputs:
    """uv mounted from the host, its uv.toml, credentials as secrets; the uv cache volume is the caller's.

    uv: the binary to mount; default the pin for the spec's platform (a native build: uv runs on
    the image's platform). ci.build.cross passes the engine's own when it emulates the image.
    """
    from dagger import dag

    extras = [*extra_indexes, *([options.pip_extra_index_url] if options.pip_extra_index_url else [])]
    text, credentials = uv_config(options.pip_index_url, extras)
    if uv is None:
        path = installer.binary(spec.installer, options.ca_bundle, platform=spec.platform)
        uv = dag.host().file(str(path))
    env = list(UV_ENV)
    if extras:
        # pip pools every index and takes the best version; uv's default (first-index) would take
        # a package only from the first index that has it at all.
        env.append(("UV_INDEX_STRATEGY", "unsafe-best-match"))
    return UvInputs(
        env=tuple(env),
        secrets=tuple(credentials),
        mounts=((UV_BINARY, uv), (UV_CONFIG, _new_file("uv.toml", text))),
    )


def constraints_inputs(
    constraints: Iterable[str],
) -> tuple[list[tuple[str, str]], list[tuple[str, File]]]:
    """(env, mounts) for a constraints file; nothing at all without constraints (uv warns on an empty one)."""
    lines = list(constraints)
    if not lines:
        return [], []
    file = _new_file("constraints.txt", constraints_text(lines))
    return [("TFCI_CONSTRAINTS", CONSTRAINTS)], [(CONSTRAINTS, file)]


def compiles_bytecode(spec: ImageSpec) -> bool:
    """Whether uv compiles the bytecode (Python 3.7+) or uv-install.sh runs compileall after it."""
    return tuple(int(p) for p in spec.python_version.split(".")) >= UV_COMPILES_FROM


def install(
    ctr: Container,
    options: BuildOptions,
    spec: ImageSpec,
    requirements: Iterable[str],
    constraints: Iterable[str],
    extra_indexes: Iterable[str] = (),
) -> Container:
    """ci/scripts/uv-install.sh REQUIREMENTS into the spec's Python, under CONSTRAINTS."""
    from dagger import CacheSharingMode, dag

    inputs = uv_inputs(options, spec, extra_indexes)
    env = [*inputs.env, ("TFCI_UV", UV_BINARY), ("TFCI_PYTHON", spec.python)]
    if compiles_bytecode(spec):
        env.append(("UV_COMPILE_BYTECODE", "1"))
    else:
        env.append(("TFCI_COMPILEALL", spec.site_packages))
    c_env, c_mounts = constraints_inputs(constraints)
    env += c_env
    mounts = [*inputs.mounts, *c_mounts]
    # The requirements are the arguments, so a failed step reads `uv-install.sh tensorflow==...`.
    argv, script = execs.run_script("uv-install.sh", *requirements)
    ctr = ctr.with_mounted_cache(UV_MOUNT, dag.cache_volume(UV_VOLUME), sharing=CacheSharingMode.SHARED)
    ctr = execs.run(ctr, options, argv, env=env, secrets=inputs.secrets, mounts=[script, *mounts])
    return ctr.without_mount(UV_MOUNT)
