"""Disk a build needs: the engine's growth during a cold build, and the image's own sizes.

Usage (engine up, as root so the engine's state directory is readable):
    .venv/bin/python -m tests.bench.bench_disk [--variant cpu|gpu] [--engine-root /var/lib/dagger]

Why: a hosted CI runner has a fixed free disk, and the engine keeps every layer's snapshot, the
package download caches and (for the report) an exported tarball. This measures what one image
costs so the workflow's disk-freeing step is sized from a number, not a guess. "Cold" as in
tests/bench/bench.py: a nonce right after FROM makes every later layer run again; download caches are
whatever the engine has (empty on a fresh runner, so run it on a fresh engine for the full cost).
Numbers only, no assertions; other builds on a shared engine add noise to the growth figure.
"""

from __future__ import annotations

import argparse
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

from ci.engine.session import session_log
from ci.report.markdown import human_size
from ci.report.oci import read_image
from tests.bench.bench import BenchLayers, ours
from tests.e2e import specs

REPO = Path(__file__).resolve().parents[2]


def disk_usage(path: Path) -> int:
    """Bytes under path (du -sb: what the files occupy, hard links counted once)."""
    out = subprocess.run(["du", "-sb", str(path)], check=True, text=True, capture_output=True).stdout
    return int(out.split()[0])


async def measure(variant: str, engine_root: Path) -> None:
    import dagger

    spec = specs.gpu_spec() if variant == "gpu" else specs.cpu_spec()
    layers = BenchLayers(specs.options(), REPO / "context", secrets.token_hex(6))
    before = disk_usage(engine_root)
    with session_log(sys.stderr) as (log, _):
        async with dagger.connection(dagger.Config(log_output=log, execute_timeout=None)):
            started = time.monotonic()
            ctr = await ours(spec, layers)
            seconds = time.monotonic() - started
            after_build = disk_usage(engine_root)
            with tempfile.TemporaryDirectory(prefix="tfci-bench-disk-") as tmp:
                tarball = Path(tmp) / "image.tar"
                started = time.monotonic()
                await ctr.export(str(tarball))
                exported = time.monotonic() - started
                tar_size = tarball.stat().st_size
                image = read_image(tarball)
    print(spec.tag)
    rows = [
        ("cold build", f"{seconds:.0f} s"),
        (f"engine state {engine_root} before", human_size(before)),
        ("engine growth during the build", human_size(after_build - before)),
        ("image compressed (registry / pull)", human_size(image.compressed_size)),
        ("image unpacked (docker images SIZE)", human_size(image.uncompressed_size)),
        ("exported OCI tarball (temporary, for --report-dir)", f"{human_size(tar_size)} in {exported:.0f} s"),
    ]
    rows += [
        (
            f"  layer {i}: {layer.created_by[:34]}",
            f"{human_size(layer.size)} / {human_size(layer.uncompressed_size)}",
        )
        for i, layer in enumerate(image.layers, 1)
    ]
    for label, value in rows:
        print(f"  {label:<52} {value}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--variant", choices=("cpu", "gpu"), default="gpu")
    parser.add_argument("--engine-root", type=Path, default=Path("/var/lib/dagger"))
    args = parser.parse_args(argv)
    anyio.run(measure, args.variant, args.engine_root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
