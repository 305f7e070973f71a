"""Build cost, side by side: this project's layers against the original guide's Dockerfile order.

    .venv/bin/python -m tests.bench.bench [--tf-package tensorflow-cpu] [--variants cpu,gpu] [--json FILE]

One run measures, for a CPU image (TensorFlow 2.15.0, Python 3.11, Debian 12) and a pip-CUDA GPU
image (2.15.1, about 3 GB of NVIDIA wheels), both builds of the same image on engine instances of
its own (tests/infra/engines.py; the shared engine is not touched): a true cold build (fresh
engine, every download), a fresh engine restoring that build from a registry cache (with where its
time went: pull, unpack, re-run), a download-warm cold build (every layer runs, download caches
warm), a no-op rebuild, a rebuild after editing context/boot/boot.sh, a rebuild after adding one OS
package, one image against three TensorFlow versions (2.14.1, 2.15.0, 2.16.2) built together; then
image sizes, bytes of package caches inside each image, bytes downloaded (the instance's bridge
counters: everything its containers fetched, the wheel prefetch included), what uv downloaded and
installed, the targets and whether each is met, and for the CPU-bound ones the floor this machine's
cores allow (the row's engine CPU-seconds / cores: no order or parallelism of the same work can end
sooner). Prints tables, then JSON.

This project's image is built by ci.build.steps.build_in_steps, the pipeline's one build path (the
wheel prefetch runs beside the layers); the guide-order build is tests/bench/seed-order.Dockerfile
through Dagger's Dockerfile build, with the same stand-ins (local debian:bookworm, a python3 venv
instead of Miniconda, the CA bundle for pip). It has no cache volumes, so its "download-warm"
build downloads everything again: that is the guide's behaviour.

Disk: the engines run without automatic garbage collection (it deletes download volumes whenever
the disk is under 20% free); between rows the bench prunes every cache record except the download
volumes (outside the timed sessions), gives each true cold build and each restore an engine of its
own and destroys it as soon as its row is measured, exports the layer caches to a registry of its
own that is deleted afterwards, keeps at most one image tarball, and stops with a note when less
than 12 GB is free. Three pip-CUDA images and their download caches need about 30 GB: that row is
measured for the CPU image only.

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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ci.build import apt, pip, prefetch
from ci.build.layers import OS_PACKAGES, Layers
from ci.build.options import BuildOptions
from ci.build.python import SYSTEM_PYTHON_PACKAGES
from ci.build.steps import build_in_steps
from ci.engine.remote import RemoteSession, from_flags
from ci.model.spec import ImageSpec
from ci.table.load import load_table
from ci.table.resolve import BuildRequest, resolve
from tests.bench.registry import PrivateRegistry, private_registry
from tests.bench.report import Measure, Row, VariantResult, render, results
from tests.bench.restore import MATERIALIZE_MARKER, restore_split
from tests.e2e import specs
from tests.e2e.oci import layer_sizes
from tests.e2e.progress import layers_run, prefetch_runs, strip_ansi
from tests.infra.engines import EngineInstance, bridge_tx_bytes, destroy_engine, start_engine, state_root

if TYPE_CHECKING:
    from dagger import Container

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = Path(__file__).resolve().parent / "seed-order.Dockerfile"
STACK = REPO / "tests" / "infra" / "stack.sh"
THREE_TF = ("2.14.1", "2.15.0", "2.16.2")
EXTRA_OS_PACKAGE = "less"  # the "early input" edit: one more OS package
MIN_FREE_GB = 12  # below this the bench stops (the disk is shared)
NEED_FREE_GB = 20  # to start at all: the largest row (pip-CUDA, both orders) needs about 16 GB
# Package caches an image should not carry (bytes of regular files under each).
CACHE_PATHS = {
    "apt lists": "/var/lib/apt/lists",
    "apt archives": "/var/cache/apt",
    "pip cache": "/root/.cache/pip",
    "uv cache": "/root/.cache/uv",
    "uv volume": pip.UV_MOUNT,
    "conda pkgs": "/root/miniconda3/pkgs",
}


class DiskLow(Exception):
    """Free space fell under MIN_FREE_GB: the bench stops with what it measured."""


@dataclass(frozen=True)
class Variant:
    name: str  # "cpu" | "gpu"
    request: BuildRequest
    three: tuple[str, ...]  # TensorFlow versions of the three-version row; () when not measured
    three_why: str = ""  # why that row is not measured
    sizes: bool = True  # export both images to measure their sizes (one tarball at a time)


VARIANTS = {
    "cpu": Variant("cpu", specs.CPU_REQUEST, THREE_TF),
    "gpu": Variant(
        "gpu",
        specs.GPU_REQUEST,
        (),
        three_why="not measured: three pip-CUDA images and their download caches need about 30 GB of "
        f"engine state; this bench stops under {MIN_FREE_GB} GB free on a shared disk",
        sizes=False,
    ),
}


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
        return apt.install(ctr, self.options, apt.cache_key(spec), packages)


async def ours(spec: ImageSpec, layers: Layers) -> Container:
    """This project's image, built as the pipeline builds it (layer by layer, wheel prefetch beside)."""
    image, _ = await build_in_steps(spec, layers.options, layers=layers)
    return image


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


async def materialized(ctr: Container) -> Container:
    """A never-cached command in the image: a fresh engine that only imported cache records must
    then fetch and unpack every layer, which the next CI step (the checks) needs anyway."""
    return await ctr.with_exec(["sh", "-c", f"echo {MATERIALIZE_MARKER} {secrets.token_hex(8)}"]).sync()


# --------------------------------------------------------------------------- measuring


def engine_cpu_seconds(engine: EngineInstance) -> float:
    """CPU seconds (user + system, children included) the engine process has used so far."""
    pid = engine.pid()
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")


def free_gb() -> float:
    path = state_root()
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free / 1e9


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.options = BuildOptions(ca_bundle=args.ca_cert)
        self.table = load_table()
        self.logs: Path = args.logs
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
        self.engines: list[str] = []

    def spec(self, variant: Variant, tf: str | None = None) -> ImageSpec:
        # linux/amd64 only: the benchmark measures native builds (the table may add linux/arm64)
        request = dataclasses.replace(
            variant.request, tf=tf or variant.request.tf, platforms=("linux/amd64",)
        )
        spec = resolve(self.table, request)
        if self.args.tf_package and variant.name == "cpu":
            spec = dataclasses.replace(
                spec, tensorflow_requirement=f"{self.args.tf_package}=={spec.tf_version}"
            )
        if self.args.smoke:  # the benchmark's own plumbing, quickly: small packages, no real numbers
            index = THREE_TF.index(tf) if tf in THREE_TF else 0
            spec = dataclasses.replace(
                spec,
                jupyter_requirements=("termcolor==2.4.0",),
                tensorflow_requirement="six==1.16.0",
                tensorboard_requirement=f"packaging<{24 + index}",
                constraints=(),
                nvidia_wheels=(),
                pip_extra_indexes=(),
            )
        return spec

    def engine(self, name: str) -> EngineInstance:
        self.check_disk(f"starting engine {name}")
        destroy_engine(name)  # a leftover of an interrupted run: start from an empty state
        self.engines.append(name)
        return start_engine(name, gc=False)

    def destroy(self, engine: EngineInstance) -> None:
        if not self.args.keep_engines:
            destroy_engine(engine.name)

    def check_disk(self, what: str) -> None:
        free = free_gb()
        if free < MIN_FREE_GB:
            raise DiskLow(f"{free:.1f} GB free before {what} (the bench stops under {MIN_FREE_GB} GB)")

    async def session(
        self,
        engine: EngineInstance,
        name: str,
        body: Callable[[], Awaitable[Any]],
        remote: RemoteSession | None = None,
    ) -> tuple[Any, Measure, str]:
        """One engine session: (body's result, its measure, the engine's log lines of the session)."""
        import dagger

        remote = remote or from_flags(engine=engine.runner_host)
        log_path = self.logs / f"{name}.log"
        engine_log_start = engine.log.stat().st_size
        with remote.session_env(), log_path.open("w") as log:
            async with dagger.connection(dagger.Config(log_output=log, execute_timeout=None)):
                before, cpu = bridge_tx_bytes(engine.bridge), engine_cpu_seconds(engine)
                started = time.monotonic()
                result = await body()
                seconds = time.monotonic() - started
                downloaded = bridge_tx_bytes(engine.bridge) - before
                cpu = engine_cpu_seconds(engine) - cpu
                await remote.mark()
        counts = pip.parse_uv_output(strip_ansi(log_path.read_text()))
        with engine.log.open("rb") as engine_log:
            engine_log.seek(engine_log_start)
            engine_text = engine_log.read().decode(errors="replace")
        measure = Measure(
            seconds=seconds,
            downloaded=downloaded,
            uv_prepared=counts.prepared,
            uv_installed=counts.installed,
            layers_run=[layer for layer, count in layers_run(engine_text).items() if count],
            prefetch_runs=prefetch_runs(engine_text),
            engine_cpu_s=round(cpu, 1),
            load=round(os.getloadavg()[0], 1),
        )
        if remote.exporting:
            remote.report(sys.stderr)
        print(
            f"[bench] {name}: {seconds:.1f}s, {downloaded / 1e6:,.0f} MB downloaded, "
            f"load {measure.load}, {free_gb():.0f} GB free",
            file=sys.stderr,
            flush=True,
        )
        return result, measure, engine_text

    async def build(
        self,
        engine: EngineInstance,
        name: str,
        images: Sequence[Callable[[], Awaitable[Container]]],
        *,
        materialize: bool = False,
        remote: RemoteSession | None = None,
    ) -> tuple[Measure, str]:
        """Build the images concurrently in one session (as `build --jobs N` would)."""
        self.check_disk(name)

        async def body() -> None:
            async def one(image: Callable[[], Awaitable[Container]]) -> None:
                ctr = await image()
                if materialize:
                    await materialized(ctr)

            async with anyio.create_task_group() as group:
                for image in images:
                    group.start_soon(one, image)

        _, measure, engine_text = await self.session(engine, name, body, remote)
        return measure, engine_text

    def ours_images(
        self, variant: Variant, nonce: str, tfs: Sequence[str | None] | None = None, **kw: Any
    ) -> list[Callable[[], Awaitable[Container]]]:
        layers = BenchLayers(self.options, kw.pop("context", self.context), nonce, **kw)

        def image(spec: ImageSpec) -> Callable[[], Awaitable[Container]]:
            return lambda: ours(spec, layers)

        return [image(self.spec(variant, tf)) for tf in (tfs or [None])]

    def guide_images(
        self, variant: Variant, nonce: str, tfs: Sequence[str | None] | None = None, **kw: Any
    ) -> list[Callable[[], Awaitable[Container]]]:
        context = kw.pop("context", self.guide_a)

        def image(spec: ImageSpec) -> Callable[[], Awaitable[Container]]:
            return lambda: guide(spec, context, nonce, **kw).sync()

        return [image(self.spec(variant, tf)) for tf in (tfs or [None])]

    async def prune_keeping_volumes(self, engine: EngineInstance, variant: Variant) -> None:
        """Delete every cache record but the download volumes (held in use by a running container)."""
        from dagger import CacheSharingMode, dag

        spec = self.spec(variant)
        keep = [*apt.volumes(apt.cache_key(spec)), *apt.volumes(prefetch.apt_key(spec))]

        async def body() -> None:
            holder = dag.container().from_(spec.base_image)
            for i, (_, name) in enumerate(keep):
                holder = holder.with_mounted_cache(
                    f"/keep/{i}", dag.cache_volume(name), sharing=CacheSharingMode.PRIVATE
                )
            holder = holder.with_mounted_cache(
                "/keep/uv", dag.cache_volume(pip.UV_VOLUME), sharing=CacheSharingMode.SHARED
            )
            service = await holder.as_service(args=["sleep", "infinity"]).start()
            await dag.engine().local_cache().prune()
            await service.stop(kill=True)

        await self.session(engine, f"{variant.name}-prune-{secrets.token_hex(2)}", body)

    async def cache_rows(self, variant: Variant, result: VariantResult, nonce: str) -> EngineInstance:
        """True cold builds (each on a fresh engine) and a second fresh engine restoring each from
        the registry cache the first exported. Returns this project's engine, kept for the warm rows."""
        v = variant.name
        restored: dict[str, Measure] = {}
        true_cold: dict[str, Measure] = {}
        kept: EngineInstance | None = None
        for order in ("ours", "guide"):
            images = self.ours_images if order == "ours" else self.guide_images
            with private_registry(self.work / f"registry-{v}-{order}") as registry:
                first = self.engine(f"{v}-{order}-cold")
                export = self.remote(first, registry, "to")
                true_cold[order], _ = await self.build(
                    first, f"{v}-true-cold-{order}", images(variant, nonce), remote=export
                )
                if order == "ours":
                    kept = first
                else:
                    self.destroy(first)
                second = self.engine(f"{v}-{order}-restore")
                try:
                    restored[order], engine_text = await self.build(
                        second,
                        f"{v}-registry-cache-{order}",
                        images(variant, nonce),
                        materialize=True,
                        remote=self.remote(second, registry, "from"),
                    )
                finally:
                    self.destroy(second)
                restored[order].split = restore_split(engine_text, registry.log.read_text())
        assert kept is not None
        result.rows.append(
            Row("true cold", "true cold build (fresh engine, downloads included)", **true_cold)
        )
        result.rows.append(
            Row("registry cache", "second fresh engine, registry cache imported, layers pulled", **restored)
        )
        return kept

    def remote(self, engine: EngineInstance, registry: PrivateRegistry, way: str) -> RemoteSession:
        ref = registry.ref("image")
        flags: dict[str, Any] = {"cache_to": [ref]} if way == "to" else {"cache_from": [ref]}
        return from_flags(engine=engine.runner_host, plain_http=frozenset({registry.address}), **flags)

    async def run_variant(self, variant: Variant) -> VariantResult:
        v = variant.name
        result = VariantResult(variant=v, image=self.spec(variant).tag, spec=self.spec(variant))
        n0, n1, n2, n3, n4 = (secrets.token_hex(4) for _ in range(5))
        engine: EngineInstance | None = None
        try:
            engine = await self.cache_rows(variant, result, n0)
            pairs: list[tuple[str, str, dict[str, Any]]] = [
                ("cold", "cold build, download caches warm (every layer runs)", {}),
                ("no-op", "no-op rebuild", {}),
                ("context edit", "rebuild after editing context/boot/boot.sh", {}),
            ]
            measured: dict[str, dict[str, Measure]] = {key: {} for key, _, _ in pairs}
            for order in ("ours", "guide"):
                await self.prune_keeping_volumes(engine, variant)
                for key, _, _ in pairs:
                    if order == "ours":
                        context = self.edited if key == "context edit" else self.context
                        images = self.ours_images(variant, n1, context=context)
                    else:
                        context = self.guide_b if key == "context edit" else self.guide_a
                        images = self.guide_images(variant, n1, context=context)
                    measured[key][order], _ = await self.build(
                        engine, f"{v}-{key.replace(' ', '-')}-{order}", images
                    )
                result.sizes[order] = await self.sizes(engine, variant, order, n1)
            for key, label, _ in pairs:
                result.rows.append(Row(key, label, **measured[key]))

            early: dict[str, Measure] = {}
            for order in ("ours", "guide"):
                await self.prune_keeping_volumes(engine, variant)
                images = (self.ours_images if order == "ours" else self.guide_images)(
                    variant, n1, extra=(EXTRA_OS_PACKAGE,)
                )
                early[order], _ = await self.build(engine, f"{v}-early-input-{order}", images)
            result.rows.append(
                Row("early input", f"rebuild after adding one OS package ({EXTRA_OS_PACKAGE})", **early)
            )

            if variant.three:
                await self.three_rows(engine, variant, result, (n2, n3, n4))
            else:
                result.notes.append(f"three versions: {variant.three_why}")
        except DiskLow as low:
            result.notes.append(f"stopped: {low}")
            print(f"[bench] {v}: STOPPED: {low}", file=sys.stderr, flush=True)
        finally:
            if engine is not None:
                self.destroy(engine)
        return result

    async def three_rows(
        self, engine: EngineInstance, variant: Variant, result: VariantResult, nonces: tuple[str, str, str]
    ) -> None:
        """One image against three TensorFlow versions built together, every download warm."""
        v = variant.name
        prewarm, one, three = nonces
        # Download the other releases' wheels once (not a row): both rows below are then
        # download-warm for this project's build. The guide's build has nothing to warm.
        await self.prune_keeping_volumes(engine, variant)
        warmed, _ = await self.build(
            engine, f"{v}-prewarm-three-ours", self.ours_images(variant, prewarm, variant.three)
        )
        result.extras["prewarm three versions seconds"] = warmed.seconds
        rows: dict[str, dict[str, Measure]] = {"one image": {}, "three versions": {}}
        for key, nonce, tfs in (("one image", one, None), ("three versions", three, variant.three)):
            for order in ("ours", "guide"):
                await self.prune_keeping_volumes(engine, variant)
                images = (self.ours_images if order == "ours" else self.guide_images)(variant, nonce, tfs)
                rows[key][order], _ = await self.build(engine, f"{v}-{key.replace(' ', '-')}-{order}", images)
        result.rows.append(
            Row("one image", f"one image ({variant.request.tf}), every layer runs", **rows["one image"])
        )
        result.rows.append(
            Row(
                "three versions",
                f"three versions ({', '.join(variant.three)}) built together",
                **rows["three versions"],
            )
        )

    async def sizes(self, engine: EngineInstance, variant: Variant, order: str, nonce: str) -> dict[str, Any]:
        """Measure the download-warm image (unedited context): package caches inside, and sizes from
        an exported tarball (one at a time) or, without export, the unpacked size from `du`."""
        spec = self.spec(variant)
        out: dict[str, Any] = {}

        async def body() -> None:
            if order == "ours":
                ctr = await ours(spec, BenchLayers(self.options, self.context, nonce))
            else:
                ctr = guide(spec, self.guide_a, nonce)
            out["package_caches"] = await package_caches(ctr)
            if not variant.sizes:
                du = await ctr.with_exec(["sh", "-c", "du -sxb / 2>/dev/null | cut -f1"]).stdout()
                out["uncompressed"] = int(du.strip())
                return
            path = self.work / f"{variant.name}-{order}.tar"
            try:
                await ctr.export(str(path))
                layers = layer_sizes(path)
            finally:
                path.unlink(missing_ok=True)
            out.update(
                layers=len(layers),
                compressed=sum(c for c, _ in layers),
                uncompressed=sum(u for _, u in layers),
                largest_layer_uncompressed=max(u for _, u in layers),
            )

        self.check_disk(f"exporting the {variant.name} image ({order})")
        await self.session(engine, f"{variant.name}-sizes-{order}", body)
        return out

    async def run(self) -> list[VariantResult]:
        out = []
        for name in self.args.variants:
            out.append(await self.run_variant(VARIANTS[name]))
        return out


async def package_caches(ctr: Container) -> dict[str, int]:
    script = "; ".join(
        f"printf '%s\\t' {name!r}; (find {path} -type f ! -name lock -printf '%s\\n' 2>/dev/null || true) "
        "| awk '{s+=$1} END {print s+0}'"
        for name, path in CACHE_PATHS.items()
    )
    text = await ctr.with_exec(["sh", "-c", script]).stdout()
    return {line.split("\t")[0]: int(line.split("\t")[1]) for line in text.strip().splitlines()}


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ca-cert", type=Path, default=specs.HOST_CA, help="CA bundle the builds trust")
    parser.add_argument(
        "--tf-package",
        metavar="NAME",
        help="pip package for TensorFlow in both CPU builds (e.g. tensorflow-cpu); default: versions.yaml's",
    )
    parser.add_argument(
        "--variants",
        default="cpu,gpu",
        type=lambda text: [v for v in text.split(",") if v],
        help="which images: cpu, gpu or cpu,gpu (default)",
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
    args = parser.parse_args(argv)
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown or not args.variants:
        parser.error(f"--variants: expected cpu, gpu or cpu,gpu; got {','.join(args.variants)}")
    free = free_gb()
    if free < NEED_FREE_GB and not args.smoke:
        print(
            f"error: the bench needs {NEED_FREE_GB} GB free under {state_root()}; {free:.0f} GB free",
            file=sys.stderr,
        )
        return 2
    os.environ.update(ensure_stack())
    load_at_start = os.getloadavg()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tfci-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            measured = anyio.run(bench.run)
        finally:
            if not args.keep_engines:
                for name in bench.engines:
                    destroy_engine(name)
    data = results(measured, minutes=(time.monotonic() - started) / 60)
    data["load_average_at_start"] = load_at_start
    if args.json:  # first: the numbers survive a failure of the rendering
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(data, indent=2))
    print(f"engine progress logs: {args.logs}")
    print(render(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
