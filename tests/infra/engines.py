"""Fresh, named Dagger engine instances for tests and the benchmark (tests/infra/engine/engine.sh).

Why: a true cold build, two "machines" sharing a remote cache, or an engine killed mid-build all
need an engine state of their own, and the shared engine on port 1234 must never be disturbed
(other sessions build on it all the time). A named instance has its own port, --root, runc state,
CNI network and DNS; `destroy` removes all of it and touches nothing else.

    with fresh_engine("cache-a") as engine:
        env = {**os.environ, **engine.env}        # for a subprocess: python -m ci build ...
        # or: engine.runner_host ("tcp://127.0.0.1:12341"), engine.pid(), engine.stop(),
        #     engine.start() (same state), engine.log (the engine's own log file)

The pytest fixture `fresh_engine` (tests/conftest.py) wraps this and needs the stack (binaries
installed, registries up); instances left by a crashed run are listed by `engine.sh list`.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ENGINE_SH = Path(__file__).resolve().parent / "engine" / "engine.sh"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")


def _engine_sh(
    name: str, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ENGINE_SH), "--instance", name, *args],
        check=check,
        text=True,
        stdout=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )


def _exports(text: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            env[key] = value.strip("'\"")
    return env


@dataclass(frozen=True)
class EngineInstance:
    """A running named engine: how to reach it, and where its state and log live."""

    name: str
    env: dict[str, str]  # the exports of `engine.sh --instance NAME env` (runner host, CLI path, ...)
    state_dir: Path

    @property
    def runner_host(self) -> str:
        return self.env["_EXPERIMENTAL_DAGGER_RUNNER_HOST"]

    @property
    def log(self) -> Path:
        return self.state_dir / "engine.log"

    @property
    def bridge(self) -> str:
        """The instance's CNI bridge: its byte counters measure what its containers download."""
        network = _exports_file(self.state_dir / "instance.env")["NETWORK_NAME"]
        return f"{network}0"

    def pid(self) -> int | None:
        try:
            return int((self.state_dir / "engine.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        return _engine_sh(self.name, "status", check=False).returncode == 0

    def start(self) -> None:
        _engine_sh(self.name, "start")

    def stop(self) -> None:
        _engine_sh(self.name, "stop")


def _exports_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def state_root() -> Path:
    return Path(os.environ.get("TFCI_STATE", "/var/lib/tfimages-ci")) / "engines"


def start_engine(name: str | None = None, *, gc: bool = True) -> EngineInstance:
    """Start a named instance (a new, empty state unless NAME already exists) and wait until it answers.

    gc=False: no automatic garbage collection (engine.sh ENGINE_GC=off), for a caller that manages
    the instance's disk itself and must not have records deleted under it at unchosen times.
    """
    name = name or f"t{secrets.token_hex(4)}"
    if not _NAME.match(name):
        raise ValueError(f"engine instance name {name!r}: expected 1-20 characters of [a-z0-9-]")
    _engine_sh(name, "start", env=None if gc else {"ENGINE_GC": "off"})
    env = _exports(_engine_sh(name, "env").stdout)
    return EngineInstance(name, env, state_root() / name)


def destroy_engine(name: str) -> None:
    _engine_sh(name, "destroy", check=False)


@contextmanager
def fresh_engine(name: str | None = None, *, keep: bool = False) -> Iterator[EngineInstance]:
    """A new engine instance with an empty state; destroyed on exit unless keep=True.

    An instance of the same name left over from a crashed run is destroyed first, so the state is
    always fresh.
    """
    if name is not None:
        destroy_engine(name)
    engine = start_engine(name)
    try:
        yield engine
    finally:
        if not keep:
            destroy_engine(engine.name)


def bridge_tx_bytes(bridge: str) -> int:
    """Bytes the host sent into the bridge: what the instance's containers downloaded (0 before
    the instance's first container created the bridge)."""
    try:
        return int(Path(f"/sys/class/net/{bridge}/statistics/tx_bytes").read_text())
    except FileNotFoundError:
        return 0
