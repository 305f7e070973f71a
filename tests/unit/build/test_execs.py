"""Exec hygiene: build-only mounts, variables and secrets are there for one exec and gone after it."""

from __future__ import annotations

from typing import Any

from ci.build import execs
from ci.build.execs import CA_ENV_VARS
from ci.build.options import BuildOptions
from ci.model.spec import ImageSpec
from tests.unit.build.conftest import Recorder, record


def test_build_ca_is_removed_after_every_exec_that_uses_it(
    cpu_spec: ImageSpec, ca_options: BuildOptions
) -> None:
    rec = record(cpu_spec, ca_options)
    env: set[str] = set()
    mounts: set[str] = set()
    for name, args, _ in rec.calls:
        if name == "with_env_variable":
            env.add(args[0])
        elif name == "without_env_variable":
            env.discard(args[0])
        elif name in ("with_mounted_file", "with_mounted_cache"):
            mounts.add(args[0])
        elif name == "without_mount":
            mounts.discard(args[0])
    assert mounts == set(), "a build-only mount stays in the final container"
    assert not env & set(CA_ENV_VARS), "a CA variable stays in the image config"
    assert {"PYTHON_PREFIX", "PATH", "LANG", "LC_ALL", "TZ", "SHELL"} <= env
    ca_mounts = [a for n, a, _ in rec.calls if n == "with_mounted_file" and a[0] == execs.BUILD_CA]
    assert len(ca_mounts) >= 3  # apt, jupyter, tensorflow all trust it


def test_mirror_urls_with_credentials_reach_the_engine_only_as_secrets(cpu_spec: ImageSpec) -> None:
    """A token in a mirror URL must never be an env value, a command line or a layer."""
    token = "s3cr3t-t0ken"  # noqa: S105 - a fake, asserted to stay out of plain values
    options = BuildOptions(
        apt_mirror=f"https://ci:{token}@apt.example/m",
        pip_index_url=f"https://ci:{token}@pypi.example/simple",
        pip_extra_index_url="https://extra.example/simple",
    )
    rec = record(cpu_spec, options)
    plain = [call for call in rec.calls if call[0] != "with_secret_variable"]
    assert token not in repr(plain)
    secret_vars = [args[0] for name, args, _ in rec.calls if name == "with_secret_variable"]
    assert {"TFCI_APT_MIRROR", "TFCI_APT_MIRROR_SCRUB", "PIP_INDEX_URL", "PIP_INDEX_URL_SCRUB"} <= set(
        secret_vars
    )
    unset = [args[0] for name, args, _ in rec.calls if name == "without_secret_variable"]
    assert sorted(unset) == sorted(secret_vars), "every secret variable is removed after its exec"
    env = [a for n, a, _ in rec.calls if n == "with_env_variable"]
    assert ("PIP_EXTRA_INDEX_URL", "https://extra.example/simple") in env  # no credentials: plain


def test_a_url_without_credentials_is_a_plain_variable() -> None:
    url = "https://pypi.example/simple"
    assert execs.url_env("PIP_INDEX_URL", url) == ([("PIP_INDEX_URL", url)], [])


def test_a_url_with_credentials_is_a_secret_and_so_is_its_password() -> None:
    url = "https://ci:t0ken@pypi.example/simple"
    assert execs.url_env("PIP_INDEX_URL", url) == (
        [],
        [("PIP_INDEX_URL", url), ("PIP_INDEX_URL_SCRUB", "t0ken")],
    )
    user_only = "https://t0ken@pypi.example/simple"  # a token as the user name: no password part
    assert execs.url_env("PIP_INDEX_URL", user_only) == ([], [("PIP_INDEX_URL", user_only)])


def test_scripts_run_under_bash_errexit_from_the_build_mount() -> None:
    assert execs.sh("apt-get update") == ["bash", "-euo", "pipefail", "-c", "apt-get update"]
    argv, (path, _file) = execs.run_script("locale.sh", "zh_CN.UTF-8")
    assert path == f"{execs.BUILD_DIR}/locale.sh"
    assert argv == ["bash", "-euo", "pipefail", path, "zh_CN.UTF-8"]


def test_one_exec_gets_its_inputs_and_loses_them_right_after() -> None:
    rec = Recorder()
    mounted: Any = object()
    execs.run(
        rec,  # type: ignore[arg-type]
        BuildOptions(),
        ["true"],
        env=[("A", "1")],
        mounts=[("/m", mounted)],
        secrets=[("S", "v")],
    )
    names = [(name, args[0]) for name, args, _ in rec.calls]
    assert names == [
        ("with_mounted_file", "/m"),
        ("with_secret_variable", "S"),
        ("with_env_variable", "A"),
        ("with_exec", ["true"]),
        ("without_env_variable", "A"),
        ("without_secret_variable", "S"),
        ("without_mount", "/m"),
    ]
    assert rec.calls[0][1] == ("/m", mounted)


def test_the_build_ca_is_trusted_only_when_asked(ca_options: BuildOptions) -> None:
    trusted = Recorder()
    execs.run(trusted, ca_options, ["true"])  # type: ignore[arg-type]
    env = {args[0]: args[1] for name, args, _ in trusted.calls if name == "with_env_variable"}
    assert env == dict.fromkeys(CA_ENV_VARS, execs.BUILD_CA)
    assert ("without_mount", (execs.BUILD_CA,), {}) in trusted.calls
    untrusted = Recorder()
    execs.run(untrusted, ca_options, ["true"], trust_ca=False)  # type: ignore[arg-type]
    assert [name for name, _, _ in untrusted.calls] == ["with_exec"]
    plain = Recorder()
    execs.run(plain, BuildOptions(), ["true"])  # type: ignore[arg-type]
    assert [name for name, _, _ in plain.calls] == ["with_exec"]
