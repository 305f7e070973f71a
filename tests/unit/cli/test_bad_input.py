"""A corpus of malformed tables and bad flags: each must end in exit 2 and ONE line on stderr.

Why a corpus: the error paths are where a pipeline usually shows a traceback or a vague message.
Every case asserts the line names the file, the row and the field, and says what would be valid.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
RunCli = Callable[..., tuple[int, str, str]]
Raw = dict[str, Any]
Mutation = Callable[[Raw], Any]


def _rel(raw: Raw, tf: str) -> Raw:
    for row in raw["releases"]:
        if row["tf"] == tf:
            assert isinstance(row, dict)
            return row
    raise AssertionError(tf)


def _idx(raw: Raw, tf: str) -> int:
    return [row["tf"] for row in raw["releases"]].index(tf)


def _set(path: tuple[Any, ...], value: Any) -> Mutation:
    def mutate(raw: Raw) -> None:
        node: Any = raw
        for key in path[:-1]:
            node = _rel(raw, key[4:]) if isinstance(key, str) and key.startswith("rel:") else node[key]
        node[path[-1]] = value

    return mutate


def _delete(path: tuple[Any, ...]) -> Mutation:
    def mutate(raw: Raw) -> None:
        node: Any = raw
        for key in path[:-1]:
            node = _rel(raw, key[4:]) if isinstance(key, str) and key.startswith("rel:") else node[key]
        del node[path[-1]]

    return mutate


def _append(key: str, value: Callable[[Raw], Any]) -> Mutation:
    def mutate(raw: Raw) -> None:
        raw[key].append(value(raw))

    return mutate


def _text(text: str) -> Mutation:
    return lambda raw: text


R15 = "releases[16] (2.15.0)"  # index of 2.15.0 in versions.yaml; checked in test_index_assumption
SHA_SEED = "7a3cdbb78a642b2b6dd0687c9e09824e53330368ab57406e27d88e25c4fe4e40"

# (id, mutation, fragments that must all appear in the one stderr line)
TABLE_CASES: list[tuple[str, Mutation, tuple[str, ...]]] = [
    ("yaml-syntax", _text("schema: [1\n"), ("invalid YAML", "line")),
    ("yaml-tab", _text("schema:\t1\n\tfoo: bar\n"), ("invalid YAML",)),
    ("not-a-mapping", _text("- 1\n- 2\n"), ("top level", "expected a mapping")),
    ("empty-file", _text(""), ("top level", "expected a mapping")),
    ("duplicate-yaml-key", _text("schema: 1\nschema: 2\n"), ("duplicate key 'schema'", "line")),
    ("unknown-top-key", _set(("extras",), 1), ("top level", "field 'extras'", "valid keys: schema")),
    ("missing-targets", _delete(("targets",)), ("top level", "field 'targets'", "missing")),
    ("schema-version", _set(("schema",), 2), ("field 'schema'", "schema 1")),
    ("releases-not-list", _set(("releases",), {"a": 1}), ("field 'releases'", "non-empty list")),
    ("release-not-mapping", _set(("releases", 0), "1.15.5"), ("releases[0]", "expected a mapping")),
    ("release-unknown-key", _set(("rel:2.15.0", "colour"), "red"), (R15, "field 'colour'", "valid keys")),
    (
        "release-missing-field",
        _delete(("rel:2.15.0", "tensorboard")),
        (R15, "field 'tensorboard'", "missing"),
    ),
    (
        "release-duplicate",
        _append("releases", lambda raw: dict(_rel(raw, "2.15.0"))),
        ("releases[24] (2.15.0)", "field 'tf'", "duplicate row", "releases[16]"),
    ),
    ("tf-not-x.y.z", _set(("rel:2.15.0", "tf"), "2.15"), ("releases[16] (2.15)", "field 'tf'", "'2.15.0'")),
    ("tf-garbage", _set(("rel:2.15.0", "tf"), "two"), ("field 'tf'", "not a version")),
    (
        "python-float",
        _set(("rel:2.15.0", "default_python"), 3.1),
        (R15, "field 'default_python'", "quoted string"),
    ),
    (
        "python-list-float",
        _set(("rel:2.15.0", "python"), ["3.9", 3.1]),
        (R15, "field 'python'", "quoted string"),
    ),
    ("python-list-empty", _set(("rel:2.15.0", "python"), []), (R15, "field 'python'", "non-empty list")),
    ("python-twice", _set(("rel:2.15.0", "python"), ["3.9", "3.9"]), (R15, "field 'python'", "listed twice")),
    (
        "python-unknown",
        _set(("rel:2.15.0", "python"), ["3.10", "3.14"]),
        (R15, "field 'python'", "known: 3.6"),
    ),
    (
        "default-python-not-listed",
        _set(("rel:2.15.0", "default_python"), "3.12"),
        (R15, "field 'default_python'", "3.9, 3.10, 3.11"),
    ),
    (
        "platform-unknown-in-release",
        _set(("rel:2.15.0", "platforms"), {"linux/riscv64": {"cpu": "tensorflow"}}),
        (R15, "field 'platforms'", "linux/riscv64: not a platform of compat.platforms", "valid: linux/arm64"),
    ),
    (
        "platform-gpu-kind-on-arm64",
        _set(("rel:2.15.0", "platforms"), {"linux/arm64": {"gpu": "tensorflow"}}),
        (f"{R15}.platforms[linux/arm64]", "field 'gpu'", "built for cpu only", "CPU-only"),
    ),
    (
        "platform-package-outside-era",
        _set(("rel:2.15.0", "platforms"), {"linux/arm64": {"cpu": "tensorflow-gpu"}}),
        (f"{R15}.platforms[linux/arm64]", "field 'cpu'", "tensorflow-gpu exists only for TensorFlow <2.12"),
    ),
    (
        "platform-names-no-kind",
        _set(("rel:2.15.0", "platforms"), {"linux/arm64": {"via": "tensorflow-cpu-aws"}}),
        (f"{R15}.platforms[linux/arm64]", "names no image kind", "give one of cpu"),
    ),
    (
        "platform-malformed",
        _set(("rel:2.15.0", "platforms"), {"arm64": {"cpu": "tensorflow"}}),
        (R15, "field 'platforms'", "expected OS/ARCH such as 'linux/arm64'"),
    ),
    (
        "miniconda-wrong-machine",
        _set(
            ("pythons", "3.11", "platforms", "linux/arm64", "miniconda", "filename"),
            "Miniconda3-py311_24.11.1-0-Linux-x86_64.sh",
        ),
        (
            "pythons.3.11.platforms[linux/arm64].miniconda",
            "field 'filename'",
            "x86_64 installer",
            "for aarch64",
        ),
    ),
    (
        "compat-platform-machine",
        _set(("compat", "platforms", "machines", "linux/arm64"), "ARM 64"),
        ("compat.platforms", "field 'machines'", "not a machine name like 'x86_64'"),
    ),
    (
        "target-platform-unknown",
        _set(("targets", 1, "platforms"), ["linux/s390x"]),
        ("targets[1] (2.15.0)", "field 'platforms'", "linux/s390x is not a platform of compat.platforms"),
    ),
    (
        "target-platform-not-built",
        _set(("targets", 0, "platforms"), ["linux/arm64"]),
        ("targets[0] (2.15.0)", "field 'platforms'", "linux/arm64 builds cpu images only"),
    ),
    (
        "uv-pin-missing-an-engine-platform",
        _delete(("tools", "uv", "files", "linux/arm64")),
        (
            "tools.uv",
            "field 'files'",
            "no wheel for linux/arm64 (an engine of compat.platforms may run on it)",
        ),
    ),
    (
        "cudnn-too-old-base",
        _set(("rel:2.18.1", "gpu_base"), "nvidia/cuda:12.5.1-cudnn-devel-ubuntu22.04"),
        ("releases[20] (2.18.1)", "field 'gpu_base'", "9.2.1.18", "minor >= 9.3"),
    ),
    (
        "cudnn-wrong-major",
        _set(("rel:2.16.2", "gpu_base"), "nvidia/cuda:12.3.2-cudnn9-devel-ubuntu22.04"),
        ("releases[18] (2.16.2)", "field 'gpu_base'", "same major"),
    ),
    (
        "cuda-wrong-major",
        _set(("rel:2.15.0", "gpu_base"), "nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04"),
        (R15, "field 'gpu_base'", "CUDA 12.2"),
    ),
    (
        "gpu-base-unknown-tag",
        _set(("rel:2.15.0", "gpu_base"), "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04"),
        (R15, "field 'gpu_base'", "add it to cuda_images", "known: 11.0.3"),
    ),
    (
        "gpu-base-not-devel",
        _set(("rel:2.15.0", "gpu_base"), "nvidia/cuda:12.2.2-base-ubuntu22.04"),
        (R15, "field 'gpu_base'", "-devel tag"),
    ),
    (
        "gpu-base-and-unavailable",
        _set(("rel:2.15.0", "gpu_unavailable"), "gone"),
        (R15, "field 'gpu_base'", "exactly one"),
    ),
    ("gpu-neither", _delete(("rel:2.15.0", "gpu_base")), (R15, "field 'gpu_base'", "exactly one")),
    (
        "tensorflow-gpu-2.12",
        _set(("rel:2.12.1", "packages", "gpu"), "tensorflow-gpu"),
        ("releases[13] (2.12.1).packages", "field 'gpu'", "deprecated", "use tensorflow"),
    ),
    (
        "and-cuda-before-2.14",
        _set(("rel:2.13.1", "packages", "pip_cuda"), "tensorflow[and-cuda]"),
        ("releases[14] (2.13.1).packages", "field 'pip_cuda'", "2.14.0"),
    ),
    (
        "and-cuda-in-gpu",
        _set(("rel:2.15.0", "packages", "gpu"), "tensorflow[and-cuda]"),
        (f"{R15}.packages", "field 'gpu'", "without extras"),
    ),
    (
        "package-with-version",
        _set(("rel:2.15.0", "packages", "cpu"), "tensorflow==2.15.0"),
        (f"{R15}.packages", "field 'cpu'", "bare name", "tensorflow, tensorflow-gpu"),
    ),
    (
        "package-unknown",
        _set(("rel:2.15.0", "packages", "cpu"), "pytorch"),
        (f"{R15}.packages", "field 'cpu'", "tensorflow-cpu"),
    ),
    ("pip-cuda-missing", _delete(("rel:2.15.0", "pip_cuda")), (R15, "field 'pip_cuda'", "missing")),
    (
        "pip-cuda-cudnn",
        _set(("rel:2.15.0", "pip_cuda", "wheels", "cudnn"), "9.3.0.75"),
        (f"{R15}.pip_cuda", "field 'wheels'", "same major", "source: nvidia-cudnn-compat, https://"),
    ),
    (
        "pip-cuda-runtime-missing",
        _delete(("rel:2.15.0", "pip_cuda", "wheels", "cuda-runtime")),
        (f"{R15}.pip_cuda", "field 'wheels'", "missing 'cuda-runtime'"),
    ),
    (
        "pip-cuda-runtime-major",
        _set(("rel:2.15.0", "pip_cuda", "wheels", "cuda-runtime"), "11.8.89"),
        (f"{R15}.pip_cuda", "field 'wheels'", "CUDA 12.x"),
    ),
    (
        "pip-cuda-wheel-version",
        _set(("rel:2.15.0", "pip_cuda", "wheels", "nccl"), "2.16.x"),
        (f"{R15}.pip_cuda", "field 'wheels'", "nccl: '2.16.x'"),
    ),
    (
        "pip-cuda-python-not-in-row",
        _set(("rel:2.15.0", "pip_cuda", "python"), ["3.12"]),
        (f"{R15}.pip_cuda", "field 'python'", "3.12 is not one of the row's Pythons"),
    ),
    (
        "tensorflow-cpu-outside-its-era",
        _set(("rel:2.0.4", "packages", "cpu"), "tensorflow-cpu"),
        ("releases[1] (2.0.4).packages", "field 'cpu'", "==1.15.0 or >=2.1.0", "source: pypi-tensorflow-cpu"),
    ),
    (
        "source-unknown",
        _set(("compat", "package_eras", "tensorflow-cpu", "source"), "S3"),
        ("compat.package_eras['tensorflow-cpu']", "field 'source'", "not a key of sources"),
    ),
    (
        "source-not-https",
        _set(("sources", "pypi-tensorflow", "url"), "see the reference notes"),
        ("sources.pypi-tensorflow", "field 'url'", "https://"),
    ),
    (
        "source-cited-by-code-missing",
        _delete(("sources", "nvidia-cuda-eol")),
        ("top level", "field 'sources'", "nvidia-cuda-eol"),
    ),
    (
        "glibc-missing-for-an-os",
        _delete(("compat", "glibc", "versions", "debian12")),
        ("compat.glibc", "field 'versions'", "'debian12'"),
    ),
    (
        "wheel-suffix-malformed",
        _set(("compat", "cuda_wheel_suffix", "suffixes", "12"), "cuda12"),
        ("compat.cuda_wheel_suffix", "field 'suffixes'", "'cu12'"),
    ),
    (
        "pip-cuda-index-http",
        _set(("rel:2.15.0", "pip_cuda", "index"), "http://pypi.nvidia.com"),
        (f"{R15}.pip_cuda", "field 'index'", "https://"),
    ),
    ("numpy-bad-spec", _set(("rel:2.15.0", "numpy"), "<<2"), (R15, "field 'numpy'", "PEP 440")),
    (
        "numpy-map-bad-key",
        _set(("rel:2.16.2", "numpy"), {"default": "<2", "3.99": "<2"}),
        ("releases[18] (2.16.2)", "field 'numpy'", "'default'"),
    ),
    ("numpy-map-incomplete", _set(("rel:2.16.2", "numpy"), {"3.12": "<2"}), ("field 'numpy'", "Python 3.9")),
    (
        "tensorboard-number",
        _set(("rel:2.15.0", "tensorboard"), 2.15),
        (R15, "field 'tensorboard'", "specifier"),
    ),
    (
        "cpu-os-unknown",
        _set(("rel:2.15.0", "cpu_os"), "windows11"),
        (R15, "field 'cpu_os'", "valid: ubuntu18.04"),
    ),
    (
        "sha256-malformed",
        _set(("pythons", "3.10", "miniconda", "sha256"), SHA_SEED[:-1] + "Z"),
        ("pythons.3.10.miniconda", "field 'sha256'", "64 lowercase hex"),
    ),
    (
        "sha256-short",
        _set(("pythons", "3.10", "miniconda", "sha256"), "abc"),
        ("pythons.3.10.miniconda", "field 'sha256'"),
    ),
    (
        "miniconda-wrong-python",
        _set(("pythons", "3.10", "miniconda", "filename"), "Miniconda3-py311_24.11.1-0-Linux-x86_64.sh"),
        ("pythons.3.10.miniconda", "field 'filename'", "py310"),
    ),
    (
        "miniconda-verified-string",
        _set(("pythons", "3.10", "miniconda", "verified"), "yes"),
        ("pythons.3.10.miniconda", "field 'verified'", "true or false"),
    ),
    (
        "miniconda-null-no-reason",
        _set(("pythons", "3.10", "miniconda"), None),
        ("pythons.3.10", "field 'miniconda_missing'"),
    ),
    (
        "jupyter-bad-requirement",
        _set(("pythons", "3.10", "jupyter"), ["jupyterlab>>1"]),
        ("pythons.3.10", "field 'jupyter'", "PEP 508"),
    ),
    (
        "os-base-bad-digest",
        _set(("os_bases", "debian12"), {"image": "debian:bookworm", "digest": "md5:1"}),
        ("os_bases.debian12", "field 'digest'", "sha256:"),
    ),
    (
        "os-base-bad-id",
        _set(("os_bases", "Debian 12"), "debian:bookworm"),
        ("field 'os_bases'", "ubuntu22.04"),
    ),
    (
        "cuda-image-bad-key",
        _set(("cuda_images", "latest"), {"cudnn": "8.9", "eol": False}),
        ("cuda_images['latest']", "12.2.2-cudnn8-devel-ubuntu22.04"),
    ),
    (
        "cuda-image-major-mismatch",
        _set(("cuda_images", "12.2.2-cudnn8-devel-ubuntu22.04"), {"cudnn": "9.1.0", "eol": False}),
        ("cuda_images['12.2.2-cudnn8-devel-ubuntu22.04']", "field 'cudnn'", "cudnn8"),
    ),
    (
        "cuda-image-eol-not-bool",
        _set(("cuda_images", "12.2.2-cudnn8-devel-ubuntu22.04", "eol"), "no"),
        ("field 'eol'", "true or false"),
    ),
    (
        "defaults-bad-variant",
        _set(("defaults", "variant"), "tpu"),
        ("defaults", "field 'variant'", "cpu, gpu"),
    ),
    (
        "target-unknown-release",
        _set(("targets", 0, "tf"), "2.16.0"),
        ("targets[0] (2.16.0)", "field 'tf'", "valid: 1.15.5"),
    ),
    (
        "target-python",
        _set(("targets", 0, "python"), "3.12"),
        ("targets[0] (2.15.0)", "field 'python'", "3.9, 3.10, 3.11; got 3.12"),
    ),
    (
        "target-unknown-key",
        _set(("targets", 0, "arch"), "arm64"),
        ("targets[0] (2.15.0)", "field 'arch'", "valid keys"),
    ),
    (
        "target-bad-variant",
        _set(("targets", 0, "variant"), "tpu"),
        ("targets[0]", "field 'variant'", "cpu, gpu"),
    ),
    (
        "target-duplicate",
        _append("targets", lambda raw: dict(raw["targets"][0])),
        ("targets[11]", "duplicate target", "targets[0]"),
    ),
    (
        "target-alias-collision",
        _append("targets", lambda raw: {"tf": "2.21.0", "variant": "cpu", "os": "debian12"}),
        ("targets[11] (2.21.0)", "alias '2.21.0-cpu'", "targets[8]", "aliases: false"),
    ),
    (
        "target-tag-collision",
        _append(
            "targets", lambda raw: {"tf": "2.21.0", "variant": "cpu", "python": "3.12", "aliases": False}
        ),
        ("targets[11]", "tag '2.21.0-python3.12-cpu-ubuntu22.04'"),
    ),
    (
        "target-gpu-unavailable",
        _append("targets", lambda raw: {"tf": "2.1.4", "variant": "gpu"}),
        ("targets[11] (2.1.4)", "field 'variant'", "CUDA 10"),
    ),
    (
        "target-bad-gpu-base",
        _set(("targets", 0, "gpu_base"), "nvidia/cuda:12.5.1-cudnn-devel-ubuntu22.04"),
        ("targets[0] (2.15.0)", "field 'gpu_base'", "cuDNN 8.x"),
    ),
]


def test_index_assumption(raw_table: Raw) -> None:
    assert _idx(raw_table, "2.15.0") == 16
    assert _idx(raw_table, "2.18.1") == 20
    assert len(raw_table["releases"]) == 24
    assert len(raw_table["targets"]) == 11
    assert raw_table["targets"][8] == {"tf": "2.21.0", "variant": "cpu"}


def _assert_one_line_error(code: int, out: str, err: str, fragments: tuple[str, ...]) -> str:
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


@pytest.mark.parametrize(
    ("mutation", "fragments"), [c[1:] for c in TABLE_CASES], ids=[c[0] for c in TABLE_CASES]
)
def test_malformed_table(
    mutation: Mutation,
    fragments: tuple[str, ...],
    raw_table: Raw,
    write_table: Callable[[Any], Path],
    run_cli: RunCli,
) -> None:
    replaced = mutation(raw_table)
    path = write_table(raw_table if replaced is None else replaced)
    code, out, err = run_cli("--table", str(path), "plan", "--all")
    line = _assert_one_line_error(code, out, err, fragments)
    assert "versions.yaml" in line


def test_missing_table_file(tmp_path: Path, run_cli: RunCli) -> None:
    code, out, err = run_cli("--table", str(tmp_path / "nope.yaml"), "matrix")
    _assert_one_line_error(code, out, err, ("nope.yaml", "no such file"))


CLI_CASES: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("tf-unknown", ("--tf", "9.9.9"), ("--tf", "valid: 1.15.5")),
    ("tf-minor-only", ("--tf", "2.16"), ("--tf", "did you mean 2.16.2")),
    (
        "python-outside-wheels",
        ("--tf", "2.15.0", "--python", "3.12"),
        ("--python", "3.9, 3.10, 3.11; got 3.12"),
    ),
    ("variant-choice", ("--tf", "2.15.0", "--variant", "tpu"), ("--variant", "'cpu', 'gpu'")),
    ("cuda-source-choice", ("--tf", "2.15.0", "--cuda-source", "conda"), ("--cuda-source", "'base', 'pip'")),
    (
        "python-source-choice",
        ("--tf", "2.15.0", "--python-source", "pyenv"),
        ("--python-source", "'miniconda', 'system'"),
    ),
    (
        "os-unknown",
        ("--tf", "2.15.0", "--variant", "cpu", "--os", "windows11"),
        ("--os", "valid: ubuntu18.04"),
    ),
    ("gpu-unavailable", ("--tf", "1.15.5", "--variant", "gpu"), ("--variant", "CUDA 10", "variant cpu")),
    (
        "gpu-base-malformed",
        ("--tf", "2.15.0", "--gpu-base", "no such image!"),
        ("--gpu-base", "not an image reference"),
    ),
    ("gpu-base-not-cuda", ("--tf", "2.15.0", "--gpu-base", "ubuntu:22.04"), ("--gpu-base", "-devel tag")),
    (
        "gpu-base-bad-digest",
        ("--tf", "2.15.0", "--gpu-base", "nvidia/cuda:12.2.2-cudnn8-devel-ubuntu22.04@sha256:xyz"),
        ("--gpu-base", "64 hex"),
    ),
    (
        "gpu-base-cudnn",
        ("--tf", "2.19.1", "--gpu-base", "nvidia/cuda:12.5.1-cudnn-devel-ubuntu22.04"),
        ("--gpu-base", "9.2.1"),
    ),
    (
        "gpu-base-on-cpu",
        ("--tf", "2.15.0", "--variant", "cpu", "--gpu-base", "nvidia/cuda:12.2.2-cudnn8-devel-ubuntu22.04"),
        ("--gpu-base", "GPU images only"),
    ),
    (
        "gpu-base-with-pip",
        (
            "--tf",
            "2.15.0",
            "--cuda-source",
            "pip",
            "--gpu-base",
            "nvidia/cuda:12.2.2-cudnn8-devel-ubuntu22.04",
        ),
        ("--gpu-base", "cuda_source base only"),
    ),
    ("pip-before-2.14", ("--tf", "2.13.1", "--cuda-source", "pip"), ("--cuda-source", "and-cuda")),
    (
        "cuda-source-on-cpu",
        ("--tf", "2.15.0", "--variant", "cpu", "--cuda-source", "pip"),
        ("--cuda-source", "GPU images only"),
    ),
    ("os-with-nvidia-base", ("--tf", "2.15.0", "--os", "debian12"), ("--os", "fixes the OS")),
    ("selector-without-tf", ("--python", "3.10"), ("--tf is required",)),
    ("all-with-selector", ("--all", "--tf", "2.15.0"), ("--all cannot be combined",)),
    ("format-choice", ("--format", "xml"), ("--format", "'table', 'json'")),
    (
        "platform-unknown-arch",
        ("--tf", "2.21.0", "--variant", "cpu", "--platform", "linux/riscv64"),
        (
            "--platform",
            "'linux/riscv64' is not a platform of versions.yaml",
            "valid: linux/amd64, linux/arm64",
        ),
    ),
    (
        "platform-malformed",
        ("--tf", "2.21.0", "--variant", "cpu", "--platform", "arm64"),
        ("--platform", "expected OS/ARCH such as 'linux/arm64'"),
    ),
    (
        "platform-no-wheel",
        ("--tf", "2.9.3", "--variant", "cpu", "--platform", "linux/arm64"),
        ("--platform", "TensorFlow 2.9.3 has no linux/arm64 cpu image", "no aarch64 wheel", "2.10.1, 2.12.1"),
    ),
    (
        "platform-no-wheel-2.11.1",
        ("--tf", "2.11.1", "--variant", "cpu", "--platform", "linux/amd64,linux/arm64"),
        ("--platform", "TensorFlow 2.11.1 has no linux/arm64 cpu image"),
    ),
    (
        "platform-gpu-on-arm64",
        ("--tf", "2.21.0", "--variant", "gpu", "--cuda-source", "pip", "--platform", "linux/arm64"),
        (
            "--platform",
            "linux/arm64 builds cpu images only",
            "(pip_cuda)",
            "CPU-only",
            "source: tf-pip-install",
        ),
    ),
    (
        "platform-empty",
        ("--tf", "2.21.0", "--variant", "cpu", "--platform", ","),
        ("--platform", "give at least one platform, e.g. linux/amd64"),
    ),
    ("unknown-flag", ("--colour",), ("unrecognized arguments: --colour",)),
]


@pytest.mark.parametrize(("argv", "fragments"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_bad_plan_flags(argv: tuple[str, ...], fragments: tuple[str, ...], run_cli: RunCli) -> None:
    code, out, err = run_cli("plan", *argv)
    _assert_one_line_error(code, out, err, fragments)


def test_unknown_command(run_cli: RunCli) -> None:
    code, out, err = run_cli("deploy")
    _assert_one_line_error(code, out, err, ("invalid choice: 'deploy'", "plan"))


def test_no_command(run_cli: RunCli) -> None:
    code, out, err = run_cli()
    _assert_one_line_error(code, out, err, ("required", "COMMAND"))


def test_bad_flag_as_a_real_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "ci" / "main.py"), "plan", "--tf", "2.15.0", "--python", "3.12"],
        capture_output=True,
        text=True,
        check=False,
    )
    _assert_one_line_error(result.returncode, result.stdout, result.stderr, ("--python", "got 3.12"))


def test_bad_table_as_a_real_subprocess(tmp_path: Path) -> None:
    bad = tmp_path / "versions.yaml"
    bad.write_text("schema: [\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "ci", "--table", str(bad), "matrix"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    _assert_one_line_error(result.returncode, result.stdout, result.stderr, ("versions.yaml", "invalid YAML"))
