"""Named engine instances (engine.sh --instance) are independent of the shared engine.

Why this exists: the cross-engine cache test, the benchmark's true cold build and the fault tests
start and destroy engines of their own while other sessions build on the shared engine. If an
instance could not resolve names, or stopping it killed the shared engine's dnsmasq or containers,
every one of those would break in confusing ways (or break other people's builds).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Callable

import pytest

from tests.conftest import Infra
from tests.infra.engines import ENGINE_SH, EngineInstance, destroy_engine, start_engine

pytestmark = [pytest.mark.engine]


def _query(env: dict[str, str], query: str) -> str:
    return subprocess.run(
        ["/usr/local/bin/dagger", "query"],
        input=query,
        env={**os.environ, **env},
        text=True,
        capture_output=True,
        check=True,
        timeout=300,
    ).stdout


def _exec_query(argv: list[str]) -> str:
    args = ", ".join(f'"{a}"' for a in argv)
    return '{ container { from(address: "debian:bookworm") { withExec(args: [' + args + "]) { stdout } } } }"


def _dnsmasq_pids(network: str) -> set[int]:
    out = subprocess.run(
        ["pgrep", "-f", f"dnsmasq.*containers/cni/dnsname/{network}/"], text=True, capture_output=True
    ).stdout
    return {int(pid) for pid in out.split()}


def test_a_named_instance_builds_resolves_names_and_goes_away_without_touching_the_shared_engine(
    infra: Infra, fresh_engine: Callable[..., EngineInstance]
) -> None:
    shared_dns = _dnsmasq_pids("dagger")
    engine = fresh_engine()
    assert engine.runner_host != infra.runner_host
    assert engine.running()
    # Its containers resolve names (through its own dnsmasq) and reach the package index.
    nonce = secrets.token_hex(4)
    out = _query(engine.env, _exec_query(["sh", "-c", f"echo {nonce}; getent hosts pypi.org"]))
    assert nonce in out
    assert "pypi.org" in out, out
    network = engine.bridge[: -len("0")]
    assert network != "dagger"
    assert _dnsmasq_pids(network), "the instance runs no dnsmasq of its own"
    assert (engine.state_dir / "root").is_dir()

    engine.stop()
    assert not engine.running()
    assert not _dnsmasq_pids(network)
    # The shared engine and its DNS are untouched and still build.
    assert _dnsmasq_pids("dagger") == shared_dns
    shared_env = {"_EXPERIMENTAL_DAGGER_RUNNER_HOST": infra.runner_host}
    assert nonce in _query(shared_env, _exec_query(["echo", nonce]))

    # Restart keeps the same identity and state (what a fault test needs after killing it).
    engine.start()
    assert engine.running()
    subprocess.run(["bash", str(ENGINE_SH), "--instance", engine.name, "destroy"], check=True)
    assert not engine.state_dir.exists()


def test_the_shared_engine_cannot_be_destroyed(infra: Infra) -> None:
    result = subprocess.run(["bash", str(ENGINE_SH), "destroy"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "refusing to destroy the default" in result.stderr
    assert subprocess.run(["bash", str(ENGINE_SH), "status"]).returncode == 0


def test_an_instance_can_run_without_automatic_garbage_collection(infra: Infra) -> None:
    """The benchmark's engines: the default collector deletes records (download volumes included)
    whenever the disk is under 20% free; with gc=False the engine is told not to collect at all."""
    name = f"gc{secrets.token_hex(3)}"
    try:
        engine = start_engine(name, gc=False)
        config = json.loads((engine.state_dir / "etc-dagger" / "engine.json").read_text())
        assert config["gc"] == {"enabled": False}
        assert config["registries"]["docker.io"]["mirrors"], "the rest of the config is unchanged"
        assert nonce_echo(engine) == "ok\n"  # it starts and builds with that config
        engine.stop()
        engine = start_engine(name)  # the default again on the next start
        assert "gc" not in json.loads((engine.state_dir / "etc-dagger" / "engine.json").read_text())
    finally:
        destroy_engine(name)


def nonce_echo(engine: EngineInstance) -> str:
    out = _query(engine.env, _exec_query(["echo", "ok"]))
    return str(json.loads(out)["container"]["from"]["withExec"]["stdout"])
