"""Rebuild timings: cold build, warm rebuild, rebuild after editing one context/ file.

Usage (engine up, `source /tmp/engine-ready.env` or tests/infra/stack.sh env):
    .venv/bin/python -m tests.bench.bench_rebuild [--variant cpu|gpu] [--ca-cert FILE]

Why numbers and no assertions: timings depend on the machine and the network; the structural
guarantee (no layer below context/ changes) is asserted in tests/e2e. "Cold" means every layer
re-executes (a per-run nonce enters the build right after FROM) while the apt/pip download caches
stay warm, which is what a CI runner with a persistent engine sees after a base-image change.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import anyio

from ci.layers import Layers, refuse_if_unbuildable
from ci.options import BuildOptions
from ci.session import session_log
from ci.spec import ImageSpec
from tests.e2e import specs

if TYPE_CHECKING:
    from dagger import Container

REPO = Path(__file__).resolve().parents[2]


class NoncedLayers(Layers):
    """The real layers, with a nonce after FROM so every later layer misses the engine cache."""

    def __init__(self, options: BuildOptions, context_dir: Path, nonce: str) -> None:
        super().__init__(options, context_dir)
        self.nonce = nonce

    def base(self, ctr: Container, spec: ImageSpec) -> Container:
        return super().base(ctr, spec).with_env_variable("TFCI_BENCH_NONCE", self.nonce)


async def timed_build(spec: ImageSpec, layers: Layers) -> float:
    from dagger import dag

    refuse_if_unbuildable(spec, layers.options)
    started = time.monotonic()
    ctr = dag.container()
    for _name, layer in layers.ordered():
        ctr = layer(ctr, spec)
    await ctr.sync()
    return time.monotonic() - started


async def bench(variant: str, ca_cert: Path) -> list[tuple[str, float]]:
    spec = specs.gpu_spec() if variant == "gpu" else specs.cpu_spec()
    options = BuildOptions(ca_bundle=ca_cert)
    nonce = secrets.token_hex(6)
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="tfci-bench-") as tmp:
        # Two copies: the engine loads a host directory once per session *and path*, so the edited
        # context must live at another path (a new `ci build` run after an edit sees it anyway).
        context, edited = Path(tmp) / "a" / "context", Path(tmp) / "b" / "context"
        shutil.copytree(REPO / "context", context)
        shutil.copytree(REPO / "context", edited)
        with (edited / "boot" / "boot.sh").open("a") as boot:
            boot.write(f"\n# bench edit {nonce}\n")
        layers = NoncedLayers(options, context, nonce)
        with session_log(sys.stderr) as (log, _):
            rows += await _measure(spec, layers, NoncedLayers(options, edited, nonce), log)
    print(f"{spec.tag}", flush=True)
    for label, seconds in rows:
        print(f"  {label:<55} {seconds:7.1f} s", flush=True)
    return rows


async def _measure(
    spec: ImageSpec, layers: Layers, edited_layers: Layers, log: TextIO
) -> list[tuple[str, float]]:
    import dagger

    async with dagger.connection(dagger.Config(log_output=log, execute_timeout=None)):
        return [
            ("cold build (all layers run; download caches warm)", await timed_build(spec, layers)),
            ("warm rebuild (nothing changed)", await timed_build(spec, layers)),
            ("rebuild after editing context/boot/boot.sh", await timed_build(spec, edited_layers)),
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--variant", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--ca-cert", type=Path, default=specs.HOST_CA)
    args = parser.parse_args(argv)
    anyio.run(bench, args.variant, args.ca_cert)
    return 0


if __name__ == "__main__":
    sys.exit(main())
