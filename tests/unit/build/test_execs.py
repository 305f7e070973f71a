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
    final = record(cpu_spec, ca_options)
    assert final.mounts == {}, "a build-only mount stays in the final container"
    assert not set(final.env) & set(CA_ENV_VARS), "a CA variable stays in the image config"
    assert {"PYTHON_PREFIX", "PATH", "LANG", "LC_ALL", "TZ", "SHELL"} <= set(final.env)
    ca_mounts = [(a, k) for n, a, k in final.calls if n == "with_mounted_secret" and a[0] == execs.BUILD_CA]
    assert len(ca_mounts) >= 3  # apt, jupyter, tensorflow all trust it
    # a secret, readable by apt's unprivileged downloader; never a mounted file (its content would
    # be in every exec's cache key: tests/e2e/test_build_ca.py)
    assert all(k == {"owner": "0:0", "mode": 0o444} for _, k in ca_mounts)
    assert not [a for n, a, _ in final.calls if n == "with_mounted_file" and a[0] == execs.BUILD_CA]
    trusting = [env for env, mounts in final.exec_inputs() if execs.BUILD_CA in mounts]
    assert len(trusting) == len(ca_mounts)
    assert all(env["SSL_CERT_FILE"] == execs.BUILD_CA for env in trusting)


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
    # apt's mirror as a secret URL (plus its password); the pip layers' index as uv's per-index
    # credentials (the URL itself goes into the mounted uv.toml without them: tests of ci.build.pip)
    assert {
        "TFCI_APT_MIRROR",
        "TFCI_APT_MIRROR_SCRUB",
        "UV_INDEX_DEFAULT_USERNAME",
        "UV_INDEX_DEFAULT_PASSWORD",
    } <= set(secret_vars)
    assert not set(rec.env) & set(secret_vars), "a secret variable stays after its exec"


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


def test_one_exec_gets_its_inputs_and_the_image_only_its_filesystem() -> None:
    """The exec runs in a throwaway copy with the inputs; the container continues from its rootfs."""
    rec = Recorder()
    mounted: Any = object()
    result = execs.run(
        rec,  # type: ignore[arg-type]
        BuildOptions(),
        ["true"],
        env=[("A", "1")],
        mounts=[("/m", mounted)],
        secrets=[("S", "v")],
    )
    names = [(name, args[0] if args else None) for name, args, _ in rec.calls]
    assert names[:4] == [
        ("with_mounted_file", "/m"),
        ("with_secret_variable", "S"),
        ("with_env_variable", "A"),
        ("with_exec", ["true"]),
    ]
    assert [n for n, _ in names[4:]] == ["rootfs", "with_rootfs"]
    assert rec.calls[0][1] == ("/m", mounted)
    assert rec.exec_inputs() == [({"S": "<secret>", "A": "1"}, {"/m": mounted})]
    final: Any = result
    assert (final.env, final.mounts) == ({}, {}), "nothing of the exec's inputs stays"


def test_the_build_ca_is_trusted_only_when_asked(ca_options: BuildOptions) -> None:
    trusted = Recorder()
    execs.run(trusted, ca_options, ["true"])  # type: ignore[arg-type]
    ((env, mounts),) = trusted.exec_inputs()
    assert env == dict.fromkeys(CA_ENV_VARS, execs.BUILD_CA)
    assert list(mounts) == [execs.BUILD_CA]
    assert trusted.calls[0][0] == "with_mounted_secret"
    for options, trust in ((ca_options, False), (BuildOptions(), True)):
        untrusted = Recorder()
        execs.run(untrusted, options, ["true"], trust_ca=trust)  # type: ignore[arg-type]
        assert untrusted.names() == ["with_exec", "rootfs", "with_rootfs"]
