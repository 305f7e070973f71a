"""A registry of the benchmark's own for its layer-cache rows, deleted afterwards.

Why not the shared one: every run exports new layers (a pip-CUDA image's cache is several GB) and a
registry frees nothing until someone garbage-collects it; and the restore's split needs an access
log that holds that restore alone. tests/infra/registry/registry.sh runs it from a state directory
of its own (TFCI_STATE) on a free loopback port; the engines reach loopback registries over plain
HTTP by default.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REGISTRY_SH = Path(__file__).resolve().parents[1] / "infra" / "registry" / "registry.sh"


@dataclass(frozen=True)
class PrivateRegistry:
    address: str  # 127.0.0.1:PORT
    log: Path  # its access log ("response completed" per request)

    def ref(self, name: str) -> str:
        return f"{self.address}/tfci-bench/layer-cache:{name}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def private_registry(root: Path) -> Iterator[PrivateRegistry]:
    """Start one in ROOT; on exit stop it and delete ROOT (its blobs with it)."""
    port = _free_port()
    env = {**os.environ, "TFCI_STATE": str(root)}
    run = ["bash", str(REGISTRY_SH)]
    subprocess.run([*run, "start", "--port", str(port)], env=env, check=True, capture_output=True)
    try:
        yield PrivateRegistry(f"127.0.0.1:{port}", root / "registry" / f"registry-{port}.log")
    finally:
        subprocess.run([*run, "stop"], env=env, check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
