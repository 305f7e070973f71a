"""Turn ImageSpecs into text: the plan table, plan JSON and the GitHub Actions matrix.

Why its own module: commands stay one screen long, and every output format is a pure function of
specs, so tests compare strings without running a CLI.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from ci.model import platforms
from ci.model.spec import ImageSpec
from ci.model.tags import platform_tag

JsonDict = dict[str, Any]


def spec_to_dict(spec: ImageSpec) -> JsonDict:
    """Everything in the spec, JSON-ready; labels become an object, plus the derived fields."""
    data = dataclasses.asdict(spec)
    data["labels"] = dict(spec.labels)
    data["all_tags"] = list(spec.all_tags)
    data["platforms"] = list(spec.platforms)
    data["buildable"] = spec.buildable
    for build in data["builds"]:
        build["labels"] = dict(build["labels"])
    return {key: _lists(value) for key, value in data.items()}


def _lists(value: Any) -> Any:  # noqa: ANN401 - JSON-ready values of any shape
    """Tuples as lists, at any depth (the installer's files, each platform's build)."""
    if isinstance(value, tuple | list):
        return [_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    return value


def plan_json(specs: Sequence[ImageSpec]) -> str:
    return json.dumps([spec_to_dict(s) for s in specs], indent=2, sort_keys=False)


_COLUMNS = ("TAG", "PLATFORMS", "BASE", "PYTHON", "TENSORFLOW", "ALIASES", "BUILD")


def _packages(spec: ImageSpec) -> str:
    """The TensorFlow requirement, and where a platform installs another one, that one too."""
    others = [
        f"{build.tensorflow_requirement} ({build.platform})"
        for build in spec.builds
        if build.tensorflow_requirement != spec.tensorflow_requirement
    ]
    return ", ".join([spec.tensorflow_requirement, *others])


def plan_table(specs: Sequence[ImageSpec]) -> str:
    """A fixed-width table, one image per line; warnings/refusals go to stderr via notes()."""
    rows = [
        (
            s.tag,
            ",".join(s.platforms),
            s.base_image + (f"@{s.base_digest}" if s.base_digest else ""),
            f"{s.python_version} ({s.python_source})",
            _packages(s),
            ", ".join(s.aliases) or "-",
            "ok" if s.buildable else "refused",
        )
        for s in specs
    ]
    widths = [max(len(col), *(len(r[i]) for r in rows)) for i, col in enumerate(_COLUMNS)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [_COLUMNS, *rows]
    ]
    return "\n".join(lines)


def notes(specs: Sequence[ImageSpec]) -> list[str]:
    """One line per warning or build refusal, for stderr (stdout stays machine-readable)."""
    out: list[str] = []
    for spec in specs:
        out.extend(f"warning: {spec.tag}: {w}" for w in spec.warnings)
        out.extend(f"warning: {spec.tag}: a build refuses this image: {r}" for r in spec.refusals)
    return out


def selector_args(spec: ImageSpec, gpu_base: str | None) -> list[str]:
    """CLI flags that reproduce `spec` exactly, whatever the table's defaults are."""
    args = ["--tf", spec.tf_version, "--python", spec.python_version, "--variant", spec.variant]
    if spec.variant == "gpu":
        args += ["--cuda-source", spec.cuda_source]
    if spec.cuda_source != "base":
        args += ["--os", spec.os_id]
    if gpu_base is not None:
        args += ["--gpu-base", gpu_base]
    args += ["--python-source", spec.python_source]
    return args


def matrix_rows(spec: ImageSpec, gpu_base: str | None) -> list[JsonDict]:
    """One matrix entry per platform: each platform builds on a runner of its own architecture.

    Each row builds its platform alone (`--platform P`, also for an image of one platform: a target
    may narrow the platforms its selectors would give, e.g. `platforms: [linux/amd64]` for a
    release that also has an arm64 wheel). An image of several platforms pushes each one under
    `publish_tag` (ci.model.tags.platform_tag) and `assemble` then puts the index under the tag; an
    image of one platform pushes its tag directly.
    """
    rows = []
    for platform in spec.platforms:
        row = matrix_row(spec, gpu_base)
        row["platform"] = platform
        row["arch"] = platforms.arch(platform)
        row["platforms"] = list(spec.platforms)
        row["publish_tag"] = platform_tag(spec.tag, platform) if spec.multi_platform else spec.tag
        row["args"] += f" --platform {platform}"
        rows.append(row)
    return rows


def matrix_row(spec: ImageSpec, gpu_base: str | None) -> JsonDict:
    return {
        "tf": spec.tf_version,
        "python": spec.python_version,
        "variant": spec.variant,
        "cuda_source": spec.cuda_source,
        "os": spec.os_id,
        "gpu_base": gpu_base or "",
        "python_source": spec.python_source,
        "gpu": spec.is_gpu,
        "tag": spec.tag,
        "aliases": list(spec.aliases),
        "base_image": spec.base_image,
        "args": " ".join(selector_args(spec, gpu_base)),
    }


def matrix_json(rows: Sequence[JsonDict]) -> str:
    """Compact, single-line JSON for `strategy.matrix: ${{ fromJSON(...) }}` via $GITHUB_OUTPUT."""
    return json.dumps({"include": list(rows)}, separators=(",", ":"))
