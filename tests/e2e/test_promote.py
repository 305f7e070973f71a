"""Promotion copies the tested bytes, by digest, across repositories and registries.

Why against a real registry: the whole point of promotion is that the digest a release
engineer tested is the digest users pull; only a real registry (Distribution v2, here with
and without htpasswd auth) can show the manifest and blobs arrive intact.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ci.registry import Credentials, RegistryClient, parse_reference
from ci.resolve import resolve_targets
from ci.table import load_table
from tests.conftest import Infra

pytestmark = [pytest.mark.engine, pytest.mark.anyio]
REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("REGISTRY_PASSWORD", None)
    if password is not None:
        env["REGISTRY_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, str(REPO / "ci" / "main.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


async def _stage(dag: Any, registry: str, repo: str, tag: str) -> str:
    ref: str = await (
        dag.container()
        .from_("debian:bookworm")
        .with_new_file("/stamp", secrets.token_hex(8))
        .publish(f"{registry}/{repo}:{tag}")
    )
    return ref.split("@", 1)[1]


async def test_promote_to_release_repo_and_other_registry(infra: Infra, dagger_client: Any) -> None:
    spec = next(s for s in resolve_targets(load_table()) if s.variant == "cpu" and s.aliases)
    run = secrets.token_hex(4)
    staging, release = f"tfci/staging-{run}", f"tfci/release-{run}"
    digest = await _stage(dagger_client, infra.registry, staging, spec.tag)
    selectors = ["--tf", spec.tf_version, "--python", spec.python_version, "--variant", "cpu"]
    if spec.os_id:
        selectors += ["--os", spec.os_id]

    # Same registry, other repository: blobs are mounted, manifest copied, aliases moved.
    done = _cli(
        "promote", *selectors, "--from", f"{infra.registry}/{staging}", "--to", f"{infra.registry}/{release}"
    )
    assert done.returncode == 0, done.stderr
    promoted = json.loads(done.stdout)["promoted"]
    assert {p["target"].rsplit(":", 1)[1] for p in promoted} == set(spec.all_tags)
    client = RegistryClient()
    for tag in spec.all_tags:
        assert client.digest_of(parse_reference(f"{infra.registry}/{release}:{tag}")) == digest

    # Another registry with basic auth: blobs are copied; wrong credentials are refused.
    password = infra.auth_password_file.read_text().strip()
    target = f"{infra.auth_registry}/{release}"
    args = ["promote", *selectors, "--no-aliases", "--from", f"{infra.registry}/{staging}", "--to", target]
    denied = _cli(*args, "--registry-user", infra.auth_user, password="wrong-" + run)
    assert denied.returncode == 1
    assert "HTTP 401" in denied.stderr
    assert password not in denied.stderr + denied.stdout
    ok = _cli(*args, "--registry-user", infra.auth_user, password=password)
    assert ok.returncode == 0, ok.stderr
    assert password not in ok.stdout + ok.stderr
    authed = RegistryClient({infra.auth_registry: Credentials(infra.auth_user, password)})
    assert authed.digest_of(parse_reference(f"{target}:{spec.tag}")) == digest


async def test_missing_source_promotes_nothing(infra: Infra) -> None:
    run = secrets.token_hex(4)
    release = f"tfci/release-missing-{run}"
    done = _cli(
        "promote",
        "--all",
        "--from",
        f"{infra.registry}/tfci/nothing-{run}",
        "--to",
        f"{infra.registry}/{release}",
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: nothing promoted:")
    assert done.stderr.count("\n") == 1
    listing = subprocess.run(
        ["curl", "-s", f"http://{infra.registry}/v2/{release}/tags/list"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert '"tags":[' not in listing.stdout.replace(" ", "")
