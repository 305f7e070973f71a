"""Build cost, side by side: this project's layers against the original guide's Dockerfile order.

    .venv/bin/python -m tests.bench.bench [--tf-package tensorflow-cpu] [--json FILE] [--keep-engines]

One run, on fresh engine instances of its own (tests/infra/engines.py; the shared engine is not
touched), measures for both builds of the same CPU image (TensorFlow 2.15.0, Python 3.11, Debian 12):
a true cold build (empty engine: every download included), a download-warm cold build (every layer
runs, download caches warm), a no-op rebuild, a rebuild after editing context/boot/boot.sh, a
rebuild after adding one OS package, one image against three TensorFlow versions (2.14.1, 2.15.0,
2.16.2) built together, and a second fresh engine importing the first one's registry cache. Then
image sizes (compressed and uncompressed), bytes of package caches inside each image, bytes
downloaded (the instance's bridge counters: everything its containers fetched) and the pip
wheelhouse's reuse count, the targets, and whether each is met. Prints a table, then JSON.

The guide-order build is tests/bench/seed-order.Dockerfile through Dagger's Dockerfile build
(Directory.docker_build) on the same engine, with the same stand-ins (local debian:bookworm, a
python3 venv instead of Miniconda, the CA bundle for pip). It has no cache volumes, so its
"download-warm" build downloads everything again: that is the guide's behaviour.

Why numbers and no assertions: timings depend on the machine and its load (other sessions share
this one); the structural guarantees are asserted in tests/e2e. The stack (registry, engine
binaries) is brought up when it is not running, as the test fixtures do.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ci.build import apt
from ci.build.layers import OS_PACKAGES, Layers
from ci.build.options import BuildOptions
from ci.build.pip import parse_uv_output
from ci.build.python import SYSTEM_PYTHON_PACKAGES, refuse_if_unbuildable
from ci.engine.remote import RemoteSession, from_flags
from ci.model.spec import ImageSpec
from ci.table.load import load_table
from ci.table.resolve import BuildRequest, resolve
from tests.e2e import specs
from tests.e2e.oci import layer_sizes
from tests.e2e.progress import LAYER_EXEC_MARKERS, layers_run, strip_ansi
from tests.infra.engines import EngineInstance, bridge_tx_bytes, destroy_engine, start_engine, state_root

if TYPE_CHECKING:
    from dagger import Container

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = Path(__file__).resolve().parent / "seed-order.Dockerfile"
STACK = REPO / "tests" / "infra" / "stack.sh"
THREE_TF = ("2.14.1", "2.15.0", "2.16.2")
LAYER_NAMES = tuple(dict.fromkeys(name for name, _ in LAYER_EXEC_MARKERS))  # layers that run a command
MAIN_TF = "2.15.0"
EXTRA_OS_PACKAGE = "less"  # the "early input" edit: one more OS package
# Package caches an image should not carry (bytes of regular files under each).
CACHE_PATHS = {
    "apt lists": "/var/lib/apt/lists",
    "apt archives": "/var/cache/apt",
    "pip cache": "/root/.cache/pip",
    "conda pkgs": "/root/miniconda3/pkgs",
}
TARGETS = (
    ("context edit", "rebuild after editing one context/ file <= 1% of the cold build", 0.01),
    ("no-op", "no-op rebuild <= 1% of the cold build", 0.01),
    ("three versions", "three TensorFlow versions built together <= 1.5x one image", 1.5),
    ("package caches", "zero bytes of package caches in the image", 0),
    ("image size", "CPU image no larger than the guide-order image (same TensorFlow package)", 1.0),
    ("registry cache", "fresh engine + registry cache <= 0.4x the true cold build", 0.4),
)


# --------------------------------------------------------------------------- the two builds


class BenchLayers(Layers):
    """The real layers, plus a nonce right after FROM (so every later layer misses the engine cache
    when the nonce changes) and optionally one more OS package."""

    def __init__(
        self, options: BuildOptions, context_dir: Path, nonce: str, extra: Sequence[str] = ()
    ) -> None:
        super().__init__(options, context_dir)
        self.nonce = nonce
        self.extra = tuple(extra)

    def base(self, ctr: Container, spec: ImageSpec) -> Container:
        return super().base(ctr, spec).with_env_variable("TFCI_BENCH_NONCE", self.nonce)

    def os_packages(self, ctr: Container, spec: ImageSpec) -> Container:
        if not self.extra:
            return super().os_packages(ctr, spec)
        packages = OS_PACKAGES + SYSTEM_PYTHON_PACKAGES + self.extra
        return apt.install(ctr, self.options, spec.os_id, packages)


def ours(spec: ImageSpec, layers: Layers) -> Container:
    from dagger import dag

    refuse_if_unbuildable(spec, layers.options)
    ctr = dag.container()
    for _name, layer in layers.ordered():
        ctr = layer(ctr, spec)
    return ctr


def guide_context(root: Path, context: Path, ca: Path) -> Path:
    """A Docker build context as the guide lays it out: Dockerfile, ./init/ (context/), plus the CA."""
    root.mkdir(parents=True)
    shutil.copy(DOCKERFILE, root / "Dockerfile")
    shutil.copytree(context, root / "init")
    shutil.copy(ca, root / "tfci-build-ca.pem")
    return root


def guide(spec: ImageSpec, build_context: Path, nonce: str, extra: Sequence[str] = ()) -> Container:
    from dagger import BuildArg, dag

    package, version = spec.tensorflow_requirement.split("==", 1)
    args = {
        "BENCH_NONCE": nonce,
        "APT_PACKAGES": " ".join(OS_PACKAGES + SYSTEM_PYTHON_PACKAGES + tuple(extra)),
        # the guide's step: the Python's JupyterLab pins, and TensorBoard unpinned (as the guide has it)
        "JUPYTER_PACKAGES": " ".join((*spec.jupyter_requirements, "tensorboard")),
        "TENSORFLOW_TYPE": package,
        "TENSORFLOW_VERSION": version,
    }
    directory = dag.host().directory(str(build_context))
    return directory.docker_build(build_args=[BuildArg(name=k, value=v) for k, v in args.items()])


# --------------------------------------------------------------------------- measuring


@dataclass
class Measure:
    seconds: float
    downloaded: int  # bytes into the engine instance's bridge
    pip_reused: int = 0
    pip_new: int = 0
    layers_run: list[str] = field(default_factory=list)  # layer commands the engine really ran


@dataclass
class Row:
    key: str
    label: str
    ours: Measure | None = None
    guide: Measure | None = None


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.options = BuildOptions(ca_bundle=args.ca_cert)
        table = load_table()
        self.specs = {tf: self._spec(table, tf) for tf in THREE_TF}
        self.spec = self.specs[MAIN_TF]
        self.rows: list[Row] = []
        self.extras: dict[str, Any] = {}
        self.logs = args.logs
        self.logs.mkdir(parents=True, exist_ok=True)
        context = work / "ours-a" / "context"
        edited = work / "ours-b" / "context"
        shutil.copytree(REPO / "context", context)
        shutil.copytree(REPO / "context", edited)
        with (edited / "boot" / "boot.sh").open("a") as boot:
            boot.write("\n# benchmark edit\n")
        self.context, self.edited = context, edited
        self.guide_a = guide_context(work / "guide-a", context, args.ca_cert)
        self.guide_b = guide_context(work / "guide-b", edited, args.ca_cert)
        self.cache_ref = f"{args.registry}/tfci-bench/layer-cache"

    def _spec(self, table: Any, tf: str) -> ImageSpec:
        spec = resolve(
            table, BuildRequest(tf=tf, python="3.11", variant="cpu", os="debian12", python_source="system")
        )
        if self.args.tf_package:
            spec = dataclasses.replace(spec, tensorflow_requirement=f"{self.args.tf_package}=={tf}")
        if self.args.smoke:  # the benchmark's own plumbing, quickly: small packages, no real numbers
            spec = dataclasses.replace(
                spec,
                jupyter_requirements=("termcolor==2.4.0",),
                tensorflow_requirement="six==1.16.0",
                tensorboard_requirement=f"packaging<{24 + THREE_TF.index(tf)}",
                constraints=(),
            )
        return spec

    async def session(
        self,
        engine: EngineInstance,
        name: str,
        body: Callable[[], Awaitable[Any]],
        remote: RemoteSession | None = None,
    ) -> tuple[Any, Measure, float]:
        """One engine session: (body's result, measure of the body, seconds the session took to close)."""
        import dagger

        remote = remote or from_flags(engine=engine.runner_host)
        log_path = self.logs / f"{name}.log"
        engine_log_start = engine.log.stat().st_size
        closed = 0.0
        with remote.session_env(), log_path.open("w") as log:
            async with dagger.connection(dagger.Config(log_output=log, execute_timeout=None)):
                before = bridge_tx_bytes(engine.bridge)
                started = time.monotonic()
                result = await body()
                seconds = time.monotonic() - started
                downloaded = bridge_tx_bytes(engine.bridge) - before
                await remote.mark()
                closing = time.monotonic()
            closed = time.monotonic() - closing
        counts = parse_uv_output(strip_ansi(log_path.read_text()))
        with engine.log.open("rb") as engine_log:
            engine_log.seek(engine_log_start)
            ran = layers_run(engine_log.read().decode(errors="replace"))
        measure = Measure(
            seconds=seconds,
            downloaded=downloaded,
            pip_reused=counts.installed,
            pip_new=counts.prepared,
            layers_run=[layer for layer, count in ran.items() if count],
        )
        if remote.exporting:
            remote.report(sys.stderr)
        print(f"[bench] {name}: {seconds:.1f}s, {_mb(downloaded)} downloaded", file=sys.stderr, flush=True)
        return result, measure, closed

    async def _build_all(
        self,
        engine: EngineInstance,
        name: str,
        image: Callable[[ImageSpec], Any],
        specs_: Sequence[ImageSpec],
        materialize: bool,
        **kw: Any,
    ) -> tuple[Measure, float]:
        """Build every spec's image concurrently in one session (as `build --jobs N` would)."""

        async def body() -> list[Any]:
            results: list[Any] = [None] * len(specs_)

            async def one(i: int, spec: ImageSpec) -> None:
                results[i] = await _done(image(spec), materialize)

            async with anyio.create_task_group() as group:
                for i, spec in enumerate(specs_):
                    group.start_soon(one, i, spec)
            return results

        _, measure, closed = await self.session(engine, name, body, **kw)
        return measure, closed

    async def build_ours(
        self,
        engine: EngineInstance,
        name: str,
        layers: Layers,
        specs_: Sequence[ImageSpec],
        materialize: bool = False,
        **kw: Any,
    ) -> tuple[Measure, float]:
        return await self._build_all(engine, name, lambda spec: ours(spec, layers), specs_, materialize, **kw)

    async def build_guide(
        self,
        engine: EngineInstance,
        name: str,
        context: Path,
        nonce: str,
        specs_: Sequence[ImageSpec],
        extra: Sequence[str] = (),
        materialize: bool = False,
        **kw: Any,
    ) -> tuple[Measure, float]:
        def image(spec: ImageSpec) -> Any:
            return guide(spec, context, nonce, extra)

        return await self._build_all(engine, name, image, specs_, materialize, **kw)

    def row(self, key: str, label: str, ours_m: Measure | None, guide_m: Measure | None) -> None:
        self.rows.append(Row(key, label, ours_m, guide_m))

    async def run(self) -> None:
        n0, n1, n2, n3, n4 = (secrets.token_hex(4) for _ in range(5))
        one = [self.spec]
        three = [self.specs[tf] for tf in THREE_TF]
        a = start_engine(self.args.engine_a)
        try:
            tag = self.spec.tag
            export_ours = from_flags(engine=a.runner_host, cache_to=[f"{self.cache_ref}:ours"], specs=one)
            export_guide = from_flags(engine=a.runner_host, cache_to=[f"{self.cache_ref}:guide"], specs=one)
            m_ours, close_ours = await self.build_ours(
                a, "true-cold-ours", BenchLayers(self.options, self.context, n0), one, remote=export_ours
            )
            m_guide, close_guide = await self.build_guide(
                a, "true-cold-guide", self.guide_a, n0, one, remote=export_guide
            )
            self.row("true cold", "true cold build (fresh engine, downloads included)", m_ours, m_guide)
            self.extras["cache export seconds"] = {"ours": close_ours, "guide": close_guide}

            warm = BenchLayers(self.options, self.context, n1)
            m_ours, _ = await self.build_ours(a, "warm-cold-ours", warm, one)
            m_guide, _ = await self.build_guide(a, "warm-cold-guide", self.guide_a, n1, one)
            self.row("cold", "cold build, download caches warm (every layer runs)", m_ours, m_guide)

            m_ours, _ = await self.build_ours(a, "noop-ours", warm, one)
            m_guide, _ = await self.build_guide(a, "noop-guide", self.guide_a, n1, one)
            self.row("no-op", "no-op rebuild", m_ours, m_guide)

            m_ours, _ = await self.build_ours(
                a, "context-edit-ours", BenchLayers(self.options, self.edited, n1), one
            )
            m_guide, _ = await self.build_guide(a, "context-edit-guide", self.guide_b, n1, one)
            self.row("context edit", "rebuild after editing context/boot/boot.sh", m_ours, m_guide)

            extra = (EXTRA_OS_PACKAGE,)
            m_ours, _ = await self.build_ours(
                a, "early-input-ours", BenchLayers(self.options, self.context, n1, extra), one
            )
            m_guide, _ = await self.build_guide(a, "early-input-guide", self.guide_a, n1, one, extra)
            self.row(
                "early input", f"rebuild after adding one OS package ({EXTRA_OS_PACKAGE})", m_ours, m_guide
            )

            # Download the other two releases' wheels once (not timed as a row): both rows below are
            # then download-warm for this project's build. The guide's build has nothing to warm.
            prewarm, _ = await self.build_ours(
                a, "prewarm-three-ours", BenchLayers(self.options, self.context, n2), three
            )
            self.extras["prewarm three versions seconds"] = prewarm.seconds
            m_ours, _ = await self.build_ours(
                a, "one-image-ours", BenchLayers(self.options, self.context, n3), one
            )
            m_guide, _ = await self.build_guide(a, "one-image-guide", self.guide_a, n3, one)
            self.row("one image", f"one image ({MAIN_TF}), every layer runs", m_ours, m_guide)
            m_ours, _ = await self.build_ours(
                a, "three-ours", BenchLayers(self.options, self.context, n4), three
            )
            m_guide, _ = await self.build_guide(a, "three-guide", self.guide_a, n4, three)
            self.row(
                "three versions", f"three versions ({', '.join(THREE_TF)}) built together", m_ours, m_guide
            )

            self.extras["sizes"] = await self.sizes(a, warm, n1)
            self.extras["tag"] = tag
        finally:
            if not self.args.keep_engines:
                destroy_engine(a.name)

        b = start_engine(self.args.engine_b)
        try:
            imp_ours = from_flags(engine=b.runner_host, cache_from=[f"{self.cache_ref}:ours"], specs=one)
            imp_guide = from_flags(engine=b.runner_host, cache_from=[f"{self.cache_ref}:guide"], specs=one)
            m_ours, _ = await self.build_ours(
                b,
                "registry-cache-ours",
                BenchLayers(self.options, self.context, n0),
                one,
                materialize=True,
                remote=imp_ours,
            )
            m_guide, _ = await self.build_guide(
                b, "registry-cache-guide", self.guide_a, n0, one, materialize=True, remote=imp_guide
            )
            self.row(
                "registry cache",
                "second fresh engine, registry cache imported, layers pulled",
                m_ours,
                m_guide,
            )
        finally:
            if not self.args.keep_engines:
                destroy_engine(b.name)

    async def sizes(self, engine: EngineInstance, warm: Layers, nonce: str) -> dict[str, Any]:
        """Export both final images (download-warm builds, unedited context) and measure them."""
        out: dict[str, Any] = {}

        async def body() -> None:
            for name, ctr in (
                ("ours", ours(self.spec, warm)),
                ("guide", guide(self.spec, self.guide_a, nonce)),
            ):
                path = self.work / f"{name}.tar"
                await ctr.export(str(path))
                layers = layer_sizes(path)
                path.unlink()
                caches = await package_caches(ctr)
                out[name] = {
                    "layers": len(layers),
                    "compressed": sum(c for c, _ in layers),
                    "uncompressed": sum(u for _, u in layers),
                    "package_caches": caches,
                    "largest_layer_uncompressed": max(u for _, u in layers),
                }

        await self.session(engine, "sizes", body)
        return out


async def _done(ctr: Container, materialize: bool) -> Container:
    """Evaluate the build. With materialize, also run a never-cached command in the image: a fresh
    engine that only imported cache records must then really fetch and unpack every layer, which
    the next CI step (the checks) needs anyway."""
    ctr = await ctr.sync()
    if materialize:
        await ctr.with_exec(["sh", "-c", f"echo {secrets.token_hex(8)} >/dev/null"]).sync()
    return ctr


async def package_caches(ctr: Container) -> dict[str, int]:
    script = "; ".join(
        f"printf '%s\\t' {name!r}; (find {path} -type f ! -name lock -printf '%s\\n' 2>/dev/null || true) "
        "| awk '{s+=$1} END {print s+0}'"
        for name, path in CACHE_PATHS.items()
    )
    text = await ctr.with_exec(["sh", "-c", script]).stdout()
    return {line.split("\t")[0]: int(line.split("\t")[1]) for line in text.strip().splitlines()}


# --------------------------------------------------------------------------- report


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 1e6 else f"{n / 1e3:,.0f} kB"


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


def results(bench: Bench) -> dict[str, Any]:
    rows = {r.key: r for r in bench.rows}

    def ours_s(key: str) -> float:
        m = rows[key].ours
        assert m is not None
        return m.seconds

    sizes = bench.extras["sizes"]
    caches = sum(sizes["ours"]["package_caches"].values())
    values = {
        "context edit": ours_s("context edit") / ours_s("cold"),
        "no-op": ours_s("no-op") / ours_s("cold"),
        "three versions": ours_s("three versions") / ours_s("one image"),
        "package caches": caches,
        "image size": sizes["ours"]["compressed"] / sizes["guide"]["compressed"],
        "registry cache": ours_s("registry cache") / ours_s("true cold"),
    }
    targets = [
        {"key": key, "target": text, "limit": limit, "value": values[key], "met": values[key] <= limit}
        for key, text, limit in TARGETS
    ]
    return {
        "image": bench.extras["tag"],
        "tensorflow_requirement": bench.spec.tensorflow_requirement,
        "load_average_at_end": os.getloadavg(),
        "rows": [
            {
                "key": r.key,
                "label": r.label,
                "ours": dataclasses.asdict(r.ours) if r.ours else None,
                "guide": dataclasses.asdict(r.guide) if r.guide else None,
            }
            for r in bench.rows
        ],
        "sizes": sizes,
        "extras": {k: v for k, v in bench.extras.items() if k not in ("sizes", "tag")},
        "targets": targets,
    }


def render(data: dict[str, Any]) -> str:
    lines = [
        f"image {data['image']} ({data['tensorflow_requirement']}); "
        f"load average at end {data['load_average_at_end'][0]:.1f}",
        "",
    ]
    head = (
        f"{'step':<62} {'layers':>9} {'guide':>9} {'guide/ours':>10}  "
        f"{'downloaded (layers / guide)':<28} {'pip wheels':<10} layer commands run"
    )
    lines += [head, "-" * len(head)]
    for row in data["rows"]:
        o, g = row["ours"], row["guide"]
        ratio = f"{g['seconds'] / o['seconds']:.1f}x" if o and g and o["seconds"] > 0 else "-"
        down = f"{_mb(o['downloaded'])} / {_mb(g['downloaded'])}" if o and g else "-"
        pip = f"{o['pip_reused']}/{o['pip_new']}" if o else "-"
        ran = f"{len(o['layers_run'])} of {len(LAYER_NAMES)}" if o else "-"
        lines.append(
            f"{row['label']:<62} {o['seconds'] if o else 0:>8.1f}s {g['seconds'] if g else 0:>8.1f}s "
            f"{ratio:>10}  {down:<28} {pip:<10} {ran}"
        )
    one = next(r for r in data["rows"] if r["key"] == "one image")
    three = next(r for r in data["rows"] if r["key"] == "three versions")
    lines.append(
        f"{'three versions / one image':<62} {three['ours']['seconds'] / one['ours']['seconds']:>8.2f}x "
        f"{three['guide']['seconds'] / one['guide']['seconds']:>8.2f}x"
    )
    lines += [
        "",
        f"{'image':<12} {'compressed':>11} {'uncompressed':>13} {'layers':>7}  package caches inside (bytes)",
    ]
    for name, label in (("ours", "layers"), ("guide", "guide order")):
        s = data["sizes"][name]
        caches = ", ".join(f"{k} {v}" for k, v in s["package_caches"].items())
        lines.append(
            f"{label:<12} {_gb(s['compressed']):>11} {_gb(s['uncompressed']):>13} {s['layers']:>7}  {caches}"
        )
    lines += ["", "targets:"]
    for t in data["targets"]:
        value = t["value"]
        shown = f"{value:.1%}" if t["limit"] == 0.01 else f"{value:.2f}x" if t["limit"] else f"{value} bytes"
        lines.append(f"  [{'met' if t['met'] else 'NOT MET'}] {t['target']}: {shown}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def ensure_stack() -> dict[str, str]:
    if subprocess.run(["bash", str(STACK), "status"], check=False).returncode != 0:
        subprocess.run(["bash", str(STACK), "up"], check=True)
    env: dict[str, str] = {}
    out = subprocess.run(["bash", str(STACK), "env"], check=True, text=True, stdout=subprocess.PIPE).stdout
    for line in out.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            env[key] = value.strip("'\"")
    return env


# The first bench engine holds every row's layers (both orders, four TensorFlow versions) plus the
# apt and pip volumes: it reached 21 GB before the three-version row on this machine, and a full
# disk fails that row deep inside pip. Checked up front instead.
NEED_FREE_GB = 30


def _free_gb(path: Path) -> float:
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free / 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ca-cert", type=Path, default=specs.HOST_CA, help="CA bundle the builds trust")
    parser.add_argument(
        "--tf-package",
        metavar="NAME",
        help="pip package for TensorFlow in both builds (e.g. tensorflow-cpu); default: versions.yaml's",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results there")
    parser.add_argument("--keep-engines", action="store_true", help="do not destroy the bench engines")
    parser.add_argument(
        "--logs",
        type=Path,
        default=Path(tempfile.gettempdir()) / "tfimages-ci" / f"bench-{time.strftime('%Y%m%d-%H%M%S')}",
        help="where each session's engine progress log is kept (default: $TMPDIR/tfimages-ci/bench-TIME)",
    )
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--engine-a", default="bench-a", help=argparse.SUPPRESS)
    parser.add_argument("--engine-b", default="bench-b", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    free = _free_gb(state_root())
    if free < NEED_FREE_GB and not args.smoke:
        print(
            f"error: the bench needs {NEED_FREE_GB} GB free under {state_root()} (engine states); "
            f"{free:.0f} GB free",
            file=sys.stderr,
        )
        return 2
    os.environ.update(ensure_stack())
    args.registry = os.environ["TFCI_REGISTRY"]
    for name in (args.engine_a, args.engine_b):
        destroy_engine(name)  # a leftover of an interrupted run: start from an empty state
    with tempfile.TemporaryDirectory(prefix="tfci-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        anyio.run(bench.run)
        data = results(bench)
    print(render(data))
    print(f"engine progress logs: {args.logs}")
    print(json.dumps(data, indent=2))
    if args.json:
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
