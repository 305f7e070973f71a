"""Python packages: pip install in a build step, through a wheelhouse in the pip cache volume.

Why not pip's own cache alone: see ci/scripts/pip-install.sh (a proxy that strips Cache-Control
makes pip's HTTP cache store nothing, so every build downloaded every wheel again).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ci.build import execs
from ci.build.options import BuildOptions
from ci.model.spec import ImageSpec

if TYPE_CHECKING:
    from dagger import Container

PIP_CACHE = "/root/.cache/pip"  # the pip cache volume (pip's own HTTP cache plus our wheelhouse)
CONSTRAINTS = f"{execs.BUILD_DIR}/constraints.txt"
PIP_REPORT_MARKER = "[tfci-pip] wheels:"
PIP_ENV: tuple[tuple[str, str], ...] = (
    ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    ("PIP_ROOT_USER_ACTION", "ignore"),
    ("PIP_PROGRESS_BAR", "off"),
    ("PIP_NO_INPUT", "1"),
)


def constraints_text(constraints: Iterable[str]) -> str:
    return "".join(f"{line}\n" for line in constraints)


def tensorflow_requirements(spec: ImageSpec) -> list[str]:
    """TensorFlow, its TensorBoard, and the name of every constrained package (see Layers.tensorflow)."""
    names = [re.split(r"[\s<>=!~;\[(]", line.strip(), maxsplit=1)[0] for line in spec.constraints]
    return [spec.tensorflow_requirement, spec.tensorboard_requirement, *dict.fromkeys(n for n in names if n)]


def parse_pip_reports(text: str) -> list[tuple[int, int, int]]:
    """(wheels reused from the cache volume, wheels downloaded or built, bytes of those) per pip layer
    run found in TEXT (an engine progress log); the benchmark and tests read the hit count from it."""
    return [
        (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        for m in re.finditer(re.escape(PIP_REPORT_MARKER) + r" (\d+) reused, (\d+) new \((\d+) bytes\)", text)
    ]


def install(
    ctr: Container,
    options: BuildOptions,
    spec: ImageSpec,
    requirements: Iterable[str],
    constraints: Iterable[str],
    extra_indexes: Iterable[str] = (),
) -> Container:
    """ci/scripts/pip-install.sh REQUIREMENTS into the spec's Python, under CONSTRAINTS."""
    from dagger import CacheSharingMode, dag

    constraints_file = dag.directory().with_new_file("c.txt", constraints_text(constraints)).file("c.txt")
    env = [
        *PIP_ENV,
        ("TFCI_PYTHON", spec.python),
        ("TFCI_PIP_CACHE", PIP_CACHE),
        ("TFCI_CONSTRAINTS", CONSTRAINTS),
    ]
    indexes = " ".join(extra_indexes)
    if indexes:
        env.append(("TFCI_EXTRA_INDEXES", indexes))
    secrets: list[tuple[str, str]] = []
    for name, url in (
        ("PIP_INDEX_URL", options.pip_index_url),
        ("PIP_EXTRA_INDEX_URL", options.pip_extra_index_url),
    ):
        if url is not None:
            plain, secret = execs.url_env(name, url)
            env += plain
            secrets += secret
    # The requirements are the arguments, so a failed step reads `pip-install.sh tensorflow==...`.
    argv, script = execs.run_script("pip-install.sh", *requirements)
    ctr = ctr.with_mounted_cache(
        PIP_CACHE, dag.cache_volume("tfci-pip-cache"), sharing=CacheSharingMode.SHARED
    )
    ctr = execs.run(
        ctr, options, argv, env=env, secrets=secrets, mounts=[script, (CONSTRAINTS, constraints_file)]
    )
    return ctr.without_mount(PIP_CACHE)
