"""Shared fixtures: a real Dagger engine and a real local registry.

Why session-scoped and provisioning on demand: starting the engine takes a
second when it is installed, but building it takes minutes, so `.ci/run`
brings the stack up once (tests/infra/stack.sh) and the fixtures only check
that it answers. Run alone (`pytest tests/e2e`), the fixture brings the stack
up itself and takes it down at the end, but only what it started. A first run builds the engine
from Go modules (about 4 minutes before the first engine test), so every provisioning step prints
one line with the elapsed time on the terminal, through pytest's output capture.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.engines import EngineInstance, destroy_engine, start_engine
from tests.osvdb import build_db

REPO = Path(__file__).resolve().parent.parent
STACK = REPO / "tests" / "infra" / "stack.sh"
TOOLS = REPO / "tests" / "infra" / "tools.sh"


@dataclass(frozen=True)
class TokenRegistry:
    """One of the realistic registries (tests/infra/registry/realistic.sh): TLS, token auth, redirects."""

    address: str  # host:port
    user: str
    password_file: Path
    token_log: Path  # one JSON line per token request: which account asked
    storage_log: Path  # the storage host's access log: auth=none|PRESENT per request

    @property
    def password(self) -> str:
        return self.password_file.read_text().strip()

    @classmethod
    def from_env(cls, name: str) -> TokenRegistry:
        def env(key: str) -> str:
            return os.environ[f"TFCI_{name}_{key}"]

        return cls(
            env("REGISTRY"),
            env("USER"),
            Path(env("PASSWORD_FILE")),
            Path(env("TOKEN_LOG")),
            Path(env("STORAGE_LOG")),
        )


@dataclass(frozen=True)
class Infra:
    """Where the test stack lives; addresses as the engine's containers see them."""

    runner_host: str
    registry: str  # plain-HTTP registry on loopback, mirror of docker.io
    auth_registry: str  # the same with htpasswd basic auth
    auth_user: str
    auth_password_file: Path
    ca_bundle: Path  # the host's CA bundle: the TLS-intercepting proxy's CA is in it
    staging: TokenRegistry  # realistic registry used as staging
    release: TokenRegistry  # realistic registry used as release
    release_front: str  # the release registry behind a fault-injecting front
    release_faults: Path  # touch <dir>/<tag>: the front answers 503 to that tag's manifest PUT
    registry_ca: Path  # the test CA of the realistic registries
    vuln_db: Path  # osv-scanner's offline database built from tests/fixtures/osv (TEST DATA)
    cosign: Path  # the pinned cosign (tests/infra/tools.sh)
    osv_scanner: Path


def _stack(*args: str) -> str:
    # The realistic registries' token service runs on this interpreter (it has PyJWT).
    env = {**os.environ, "TFCI_PYTHON": os.environ.get("TFCI_PYTHON", sys.executable)}
    return subprocess.run(
        ["bash", str(STACK), *args], check=True, text=True, stdout=subprocess.PIPE, env=env
    ).stdout


Say = Callable[[str], None]


def terminal_lines(config: pytest.Config) -> Say:
    """A function printing one line to the terminal now, even while pytest captures output.

    Why: the session fixture runs inside a test's setup, where pytest captures stdout/stderr (fd
    level), so a newcomer would watch a silent terminal for minutes while the engine builds.
    """
    capture = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")
    started = time.monotonic()

    def say(message: str) -> None:
        line = f"[infra {time.monotonic() - started:5.0f}s] {message}"
        if capture is None or reporter is None:  # -p no:terminal or similar: plain stderr
            print(line, file=sys.stderr, flush=True)
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)

    return say


def stack_up(say: Say, script: Path = STACK, command: str = "up") -> None:
    """`stack.sh up` (or `tools.sh install`), forwarding each of its step lines ([stack], [tools], ...)."""
    env = {**os.environ, "TFCI_PYTHON": os.environ.get("TFCI_PYTHON", sys.executable)}
    process = subprocess.Popen(
        ["bash", str(script), command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert process.stdout is not None
    output = []
    for line in process.stdout:
        output.append(line)
        if line.startswith("["):  # the scripts' own progress lines; tool output stays quiet
            say(line.rstrip())
    if process.wait() != 0:
        raise RuntimeError(f"{script} {command} failed:\n{''.join(output[-40:])}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that read the background build (tests/e2e/background.py) run last, so everything
    else overlaps the build instead of waiting for it."""
    late = [item for item in items if item.get_closest_marker("background")]
    items[:] = [item for item in items if not item.get_closest_marker("background")] + late


@pytest.fixture(scope="session")
def infra(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    started_here = subprocess.run(["bash", str(STACK), "status"], check=False).returncode != 0
    if started_here:
        say = terminal_lines(request.config)
        say(
            "no engine/registry running: bringing up tests/infra/stack.sh (first run: the engine builds "
            "from Go modules, ~4 min; later runs ~5 s)"
        )
        stack_up(say)
        say("stack up; running the engine tests")
    else:
        # A running stack may predate the Go tools (syft, osv-scanner, cosign): build what is missing.
        stack_up(terminal_lines(request.config), TOOLS, "install")
    for line in _stack("env").splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            os.environ[key] = value.strip("'\"")
    # Every build with --report-dir scans against the TEST DATA database, offline and the same each run.
    os.environ["TFCI_VULN_DB"] = str(build_db(tmp_path_factory.mktemp("osv-db")))
    try:
        yield Infra(
            runner_host=os.environ["_EXPERIMENTAL_DAGGER_RUNNER_HOST"],
            registry=os.environ["TFCI_REGISTRY"],
            auth_registry=os.environ["TFCI_AUTH_REGISTRY"],
            auth_user=os.environ["TFCI_AUTH_USER"],
            auth_password_file=Path(os.environ["TFCI_AUTH_PASSWORD_FILE"]),
            ca_bundle=Path("/etc/ssl/certs/ca-certificates.crt"),
            staging=TokenRegistry.from_env("STAGING"),
            release=TokenRegistry.from_env("RELEASE"),
            release_front=os.environ["TFCI_RELEASE_FRONT"],
            release_faults=Path(os.environ["TFCI_RELEASE_FAULTS"]),
            registry_ca=Path(os.environ["TFCI_REGISTRY_CA"]),
            vuln_db=Path(os.environ["TFCI_VULN_DB"]),
            cosign=Path(os.environ["TFCI_COSIGN"]),
            osv_scanner=Path(os.environ["TFCI_OSV_SCANNER"]),
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

    from ci.engine.session import session_log

    # Progress goes to a file (or stderr with TFCI_DAGGER_LOG=1), never to an unread pipe: see
    # ci/engine/session.py for the 300 s close hang that an unread pipe causes.
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
