"""The build CA reaches build steps as a secret keyed by its name, not its content.

Why it matters: a mounted file's content is part of every exec's cache key, so a CI runner whose CA
bundle differs by one byte from the one that filled the remote layer cache (another runner image, a
ca-certificates update) missed every layer from os_packages on. Here two bundles that differ by a
trailing newline give one cache key (the second exec is answered from the first's cache: same
timestamp), while the same exec with the bundle mounted as a file does run twice (so the check can
fail). The CA is really there for the exec, readable by an unprivileged user (apt downloads as
_apt), and gone afterwards.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from ci.build import execs
from ci.build.options import BuildOptions
from tests.e2e import specs

pytestmark = [pytest.mark.engine, pytest.mark.anyio]

STAMP = (
    "date +%s%N > /stamp && su -s /bin/sh nobody -c 'test -r \"$SSL_CERT_FILE\"' "
    '&& wc -c < "$SSL_CERT_FILE" > /size'
)


async def test_a_different_ca_bundle_keeps_every_cache_key(dagger_client: Any, tmp_path: Path) -> None:
    from dagger import dag

    one, two = tmp_path / "one.pem", tmp_path / "two.pem"
    one.write_bytes(specs.HOST_CA.read_bytes())
    two.write_bytes(specs.HOST_CA.read_bytes() + b"\n")
    base = dag.container().from_("debian:bookworm").with_env_variable("TFCI_TEST_NONCE", secrets.token_hex(8))

    first = execs.run(base, BuildOptions(ca_bundle=one), ["sh", "-c", STAMP])
    second = execs.run(base, BuildOptions(ca_bundle=two), ["sh", "-c", STAMP])
    stamp = await first.file("/stamp").contents()
    assert await second.file("/stamp").contents() == stamp, "the CA's content changed the cache key"
    assert int(await first.file("/size").contents()) == one.stat().st_size  # the CA was there
    gone = await first.with_exec(["sh", "-c", f"test ! -e {execs.BUILD_CA} && echo gone"]).stdout()
    assert gone == "gone\n"

    # Control: the same exec with each bundle mounted as a file runs twice (different stamps).
    as_file = [
        base.with_mounted_file(execs.BUILD_CA, dag.host().file(str(path)))
        .with_env_variable("SSL_CERT_FILE", execs.BUILD_CA)
        .with_exec(["sh", "-c", STAMP])
        for path in (one, two)
    ]
    assert await as_file[0].file("/stamp").contents() != await as_file[1].file("/stamp").contents()
