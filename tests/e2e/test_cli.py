"""The CLI end to end: `build` (with --export and --publish) and `test` on a published image.

Why a subprocess: exit codes and the printed summary are the interface CI relies on.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ci.model.refs import parse as parse_reference
from ci.registry.skopeo import Credentials, Registries, RegistryError
from tests.conftest import Infra
from tests.e2e import specs
from tests.e2e.oci import layer_digests

pytestmark = [pytest.mark.engine, pytest.mark.anyio]

REPO = Path(__file__).resolve().parents[2]


def cli(*argv: str, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "ci" / "main.py"), *argv],
        cwd=REPO,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_build_exports_and_publishes_with_auth(infra: Infra, tmp_path: Path) -> None:
    out = tmp_path / "{tag}.tar"
    repo = f"{infra.auth_registry}/tfci-e2e/staging-{secrets.token_hex(4)}"
    done = cli(
        "build",
        *specs.CPU_CLI_ARGS,
        "--ca-cert",
        str(infra.ca_bundle),
        "--skip-service-checks",
        "--export",
        str(out),
        "--publish",
        repo,
        "--registry-user",
        infra.auth_user,
        "--password-file",
        str(infra.auth_password_file),
        "--plain-http",
        infra.auth_registry,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all 1 image(s) passed" in done.stdout
    assert "service checks: skipped" in done.stdout
    tarball = tmp_path / f"{specs.cpu_spec().tag}.tar"
    assert len(layer_digests(tarball)) > 8
    password = infra.auth_password_file.read_text().strip()
    assert password not in done.stdout + done.stderr
    # The pushed manifest is really there, under the primary tag only, behind the password.
    plain = frozenset({infra.auth_registry})
    with Registries(plain_http=plain) as client:
        client.login(infra.auth_registry, Credentials(infra.auth_user, password))
        digest = client.digest(parse_reference(f"{repo}:{specs.cpu_spec().tag}"))
        assert digest is not None
        assert f"{repo}:{specs.cpu_spec().tag}@{digest}" in done.stdout
        assert client.digest(parse_reference(f"{repo}:latest")) is None
    with Registries(plain_http=plain) as anonymous, pytest.raises(RegistryError, match="unauthorized"):
        anonymous.digest(parse_reference(f"{repo}:{specs.cpu_spec().tag}"))


def test_publish_without_password_is_exit_2_before_building(infra: Infra) -> None:
    env_password = os.environ.pop("REGISTRY_PASSWORD", None)
    try:
        done = cli("build", *specs.CPU_CLI_ARGS, "--publish", f"{infra.registry}/x", "--registry-user", "u")
    finally:
        if env_password is not None:
            os.environ["REGISTRY_PASSWORD"] = env_password
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: --registry-user needs a password: set REGISTRY_PASSWORD or pass --password-file FILE"
    )


def test_bad_input_is_exit_2_without_traceback(infra: Infra) -> None:
    done = cli("build", *specs.CPU_CLI_ARGS, "--ca-cert", "/nonexistent.pem")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --ca-cert /nonexistent.pem: no such file"


async def test_test_command_rechecks_a_published_image(infra: Infra, dagger_client: Any) -> None:
    from ci.build.layers import build_image

    ref = f"{infra.registry}/tfci-e2e/tensorflow:{specs.cpu_spec().tag}"
    await build_image(specs.cpu_spec(), specs.options()).publish(ref)
    done = cli("test", ref, "--skip-service-checks")  # the spec comes from the image's labels
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tensorflow smoke test" in done.stdout
    assert "all 1 image(s) passed" in done.stdout
