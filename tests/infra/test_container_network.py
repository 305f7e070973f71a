"""Build containers reach Debian's archive and, given the CA, the Python index.

Why: every image build runs apt and pip inside engine containers. Here HTTPS
goes through a TLS-intercepting proxy, as it does for users behind corporate
proxies, so pip must be handed the CA bundle; these tests prove both routes on
the real engine, including that pip fails without the bundle (so the CA option
is what makes it work, not luck).
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.conftest import Infra

pytestmark = [pytest.mark.engine, pytest.mark.anyio]

PIP_PROBE = [
    "python3",
    "-m",
    "pip",
    "download",
    "--no-deps",
    "--no-cache-dir",
    "-d",
    "/tmp/dl",
    "six==1.16.0",
]


async def _with_pip(dag: Any) -> Any:
    return (
        dag.container()
        .from_("debian:bookworm")
        .with_mounted_cache("/var/cache/apt", dag.cache_volume("tfci-infra-apt-cache"))
        .with_mounted_cache("/var/lib/apt/lists", dag.cache_volume("tfci-infra-apt-lists"))
        .with_exec(["rm", "-f", "/etc/apt/apt.conf.d/docker-clean"])
        .with_exec(
            [
                "sh",
                "-c",
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                "apt-get install -y -qq --no-install-recommends python3-pip >/dev/null && echo apt-ok",
            ]
        )
    )


async def test_apt_reaches_debian_archive(dagger_client: Any) -> None:
    out = await (await _with_pip(dagger_client)).stdout()
    assert "apt-ok" in out


async def test_pip_needs_and_uses_the_ca_bundle(infra: Infra, dagger_client: Any) -> None:
    import dagger

    dag = dagger_client
    # A fresh value each run: the engine would otherwise answer from its cache and this test
    # would stop proving anything about today's network.
    ctr = (await _with_pip(dag)).with_env_variable("CACHE_BUSTER", secrets.token_hex(8))
    without = await ctr.with_exec(PIP_PROBE, expect=dagger.ReturnType.ANY)
    code = await without.exit_code()
    err = await without.stderr()
    assert code != 0, "pip reached the index without the proxy's CA: the CA test proves nothing here"
    assert "CERTIFICATE_VERIFY_FAILED" in err or "SSL" in err
    with_ca = await (
        ctr.with_mounted_file("/run/build-ca.pem", dag.host().file(str(infra.ca_bundle)))
        .with_env_variable("PIP_CERT", "/run/build-ca.pem")
        .with_exec([*PIP_PROBE[:-1], "six==1.16.0"])
        .with_exec(["ls", "/tmp/dl"])
        .stdout()
    )
    assert "six-1.16.0" in with_ca
