"""The offline stack really works: engine, registry, base image, cache volumes.

Why these exist: every other engine test builds on them, so when one of these
fails the problem is the stack, not the pipeline. Each one talks to the real
engine and the real registry; nothing is mocked.
"""

from __future__ import annotations

import json
import secrets
import urllib.request
from typing import Any

import pytest

from tests.conftest import Infra

pytestmark = [pytest.mark.engine, pytest.mark.anyio]


def _registry_digest(registry: str, repo: str, tag: str) -> str:
    req = urllib.request.Request(
        f"http://{registry}/v2/{repo}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (fixed http:// URL)
        return str(resp.headers["Docker-Content-Digest"])


async def test_base_image_comes_from_local_registry(infra: Infra, dagger_client: Any) -> None:
    dag = dagger_client
    # Through the docker.io mirror, exactly as a pipeline written for Docker Hub would ask.
    via_mirror = await dag.container().from_("debian:bookworm").with_exec(["cat", "/etc/os-release"]).stdout()
    assert "VERSION_CODENAME=bookworm" in via_mirror
    direct = await (
        dag.container()
        .from_(f"{infra.registry}/library/debian:bookworm")
        .with_exec(["sh", "-c", "echo $((6*7))"])
        .stdout()
    )
    assert direct.strip() == "42"


async def test_publish_then_read_back_by_digest(infra: Infra, dagger_client: Any) -> None:
    dag = dagger_client
    marker = secrets.token_hex(8)
    tag = f"smoke-{marker}"
    ref = await (
        dag.container()
        .from_("debian:bookworm")
        .with_new_file("/marker", marker)
        .with_label("org.opencontainers.image.title", "tfci-smoke")
        .publish(f"{infra.registry}/tfci/smoke:{tag}")
    )
    assert "@sha256:" in ref
    digest = ref.split("@", 1)[1]
    # The registry itself agrees on the digest of the tag we pushed.
    assert _registry_digest(infra.registry, "tfci/smoke", tag) == digest
    read_back = (
        await dag.container().from_(f"{infra.registry}/tfci/smoke@{digest}").file("/marker").contents()
    )
    assert read_back == marker
    label = (
        await dag.container()
        .from_(f"{infra.registry}/tfci/smoke@{digest}")
        .label("org.opencontainers.image.title")
    )
    assert label == "tfci-smoke"


async def test_cache_volume_survives_between_executions(dagger_client: Any) -> None:
    dag = dagger_client
    key = f"tfci-smoke-{secrets.token_hex(6)}"
    token = secrets.token_hex(8)
    base = dag.container().from_("debian:bookworm")
    await (
        base.with_mounted_cache("/cache", dag.cache_volume(key))
        .with_exec(["sh", "-c", f"echo {token} > /cache/token"])
        .sync()
    )
    # A different container and command: only the cache volume connects the two.
    seen = await (
        base.with_env_variable("SECOND_RUN", "1")
        .with_mounted_cache("/cache", dag.cache_volume(key))
        .with_exec(["cat", "/cache/token"])
        .stdout()
    )
    assert seen.strip() == token
    # And the cache does not leak into the image filesystem.
    listing = await base.with_exec(["ls", "-A", "/"]).stdout()
    assert "cache" not in listing.split()


async def test_authenticated_push(infra: Infra, dagger_client: Any) -> None:
    import dagger

    dag = dagger_client
    password = infra.auth_password_file.read_text().strip()
    secret = dag.set_secret(f"registry-password-{secrets.token_hex(4)}", password)
    ctr = dag.container().from_("debian:bookworm").with_new_file("/x", "auth")
    target = f"{infra.auth_registry}/tfci/auth-smoke:{secrets.token_hex(4)}"
    with pytest.raises(dagger.QueryError):
        await ctr.publish(target)
    ref = await ctr.with_registry_auth(infra.auth_registry, infra.auth_user, secret).publish(target)
    assert "@sha256:" in ref
    # The password is a secret: it is not in the container's environment or config.
    env = await ctr.with_registry_auth(infra.auth_registry, infra.auth_user, secret).env_variables()
    values = [await e.value() for e in env]
    assert all(password not in value for value in values)
    assert json.dumps(ref).count(password) == 0
