"""Shared fixtures: a real Dagger engine and a real local registry.

Why session-scoped and provisioning on demand: starting the engine takes a
second when it is installed, but building it takes minutes, so `.ci/run`
brings the stack up once (tests/infra/stack.sh) and the fixtures only check
that it answers. Run alone (`pytest tests/e2e`), the fixture brings the stack
up itself and takes it down at the end, but only what it started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.engines import EngineInstance, destroy_engine, start_engine

REPO = Path(__file__).resolve().parent.parent
STACK = REPO / "tests" / "infra" / "stack.sh"


@dataclass(frozen=True)
class Infra:
    """Where the test stack lives; addresses as the engine's containers see them."""

    runner_host: str
    registry: str  # plain-HTTP registry on loopback, mirror of docker.io
    auth_registry: str  # the same with htpasswd basic auth
    auth_user: str
    auth_password_file: Path
    ca_bundle: Path  # the host's CA bundle: the TLS-intercepting proxy's CA is in it


def _stack(*args: str) -> str:
    return subprocess.run(["bash", str(STACK), *args], check=True, text=True, stdout=subprocess.PIPE).stdout


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    started_here = subprocess.run(["bash", str(STACK), "status"], check=False).returncode != 0
    if started_here:
        _stack("up")
    for line in _stack("env").splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            os.environ[key] = value.strip("'\"")
    try:
        yield Infra(
            runner_host=os.environ["_EXPERIMENTAL_DAGGER_RUNNER_HOST"],
            registry=os.environ["TFCI_REGISTRY"],
            auth_registry=os.environ["TFCI_AUTH_REGISTRY"],
            auth_user=os.environ["TFCI_AUTH_USER"],
            auth_password_file=Path(os.environ["TFCI_AUTH_PASSWORD_FILE"]),
            ca_bundle=Path("/etc/ssl/certs/ca-certificates.crt"),
        )
    finally:
        if started_here:
            _stack("down")


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
async def dagger_client(infra: Infra) -> AsyncIterator[object]:
    """One engine session for the whole run; yields the global `dag` client."""
    import dagger
    from dagger import dag

    from ci.session import session_log

    # Progress goes to a file (or stderr with TFCI_DAGGER_LOG=1), never to an unread pipe: see
    # ci/session.py for the 300 s close hang that an unread pipe causes.
    with session_log(sys.stderr) as (log, path):
        if path is not None:
            print(f"\n[dagger] engine progress log: {path}", file=sys.stderr)
        async with dagger.connection(dagger.Config(log_output=log, execute_timeout=None)):
            yield dag


@pytest.fixture
def fresh_engine(infra: Infra) -> Iterator[Callable[..., EngineInstance]]:
    """Factory for fresh, named engine instances (tests/infra/engines.py); all destroyed at the end.

    `fresh_engine("cache-a")` starts an instance with an empty state (a leftover of that name is
    destroyed first) and returns its runner host, env, pid and log. The shared engine is untouched.
    """
    started: list[str] = []

    def start(name: str | None = None) -> EngineInstance:
        if name is not None:
            destroy_engine(name)
        engine = start_engine(name)
        started.append(engine.name)
        return engine

    yield start
    for name in started:
        destroy_engine(name)
