"""The image, one function per layer: each takes a Container and an ImageSpec and returns a Container.

Why this shape: every layer is its own cache boundary in the engine, so the order below is the
caching policy. What changes rarely comes first (base, OS packages, Python, TensorFlow) and what
changes often comes last (the runtime files from context/, then labels/ENV/CMD), so editing the boot
script re-runs only the last two layers and never reinstalls TensorFlow or Python. How each step
keeps build-only inputs out of the image is ci.build.execs; apt and pip are ci.build.apt and
ci.build.pip; the interpreter is ci.build.python; context/ trees are ci.build.trees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ci.build import apt, cross, execs, pip, python
from ci.build.options import BuildOptions
from ci.build.trees import SYSTEM_CONTEXT, runtime_tree
from ci.model import contract
from ci.model.contract import INIT_DIR, LOCALE, TIMEZONE
from ci.model.errors import UserError
from ci.model.paths import CONTEXT_DIR
from ci.model.spec import ImageSpec

if TYPE_CHECKING:  # dagger is imported lazily so plan/matrix (and unit tests) stay fast
    from dagger import Container, File

Layer = Callable[["Container", ImageSpec], "Container"]

# The layer order is the caching policy (see module docstring); tests assert it.
LAYER_ORDER: tuple[str, ...] = (
    "base",
    "os_packages",
    "ca_trust",
    "timezone",
    "locale",
    "sshd",
    "python",
    "jupyter",
    "tensorflow",
    "system_files",
    "runtime_files",
    "metadata",
)

OS_PACKAGES: tuple[str, ...] = (
    "openssh-server",
    "curl",
    "vim",
    "tmux",
    "wget",
    "locales",
    "tzdata",
    "ca-certificates",
    "supervisor",
    "procps",  # ps/pkill: supervisord's shutdown helper and interactive users need them
    "rsync",  # `rsync -e ssh` needs it on both ends: deploy hooks and dataset syncs use it
)
BAKED_CA = "/usr/local/share/ca-certificates/tfci-build-ca.crt"
SYSTEM_TREE = f"{execs.BUILD_DIR}/system-tree"  # where system_files mounts its tree for the copy
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


class Layers:
    """The layer functions with the build options bound (each method is a `Layer`).

    Why a class rather than module functions: options (mirrors, CA) and the context directory are
    per build, while a layer's signature stays `(Container, ImageSpec) -> Container` so layers can
    be reordered, tested and cached one by one.
    """

    def __init__(
        self, options: BuildOptions, context_dir: Path = CONTEXT_DIR, engine_platform: str | None = None
    ) -> None:
        """engine_platform: the engine's own platform; a spec of another one is emulated, and its
        Python layers are installed by ci.build.cross (None: every spec is treated as native)."""
        self.options = options
        self.context_dir = context_dir
        self.engine_platform = engine_platform
        self._native: dict[str, tuple[Container, File]] = {}

    def ordered(self) -> tuple[tuple[str, Layer], ...]:
        return tuple((name, getattr(self, name)) for name in LAYER_ORDER)

    # ------------------------------------------------------------------ layers, in order

    def base(self, ctr: Container, spec: ImageSpec) -> Container:
        """FROM the spec's base, by digest when the table pins one (reproducible rebuilds)."""
        ref = spec.base_image
        if spec.base_digest:
            ref = f"{ref.split('@', 1)[0]}@{spec.base_digest}"
        return ctr.from_(ref)

    def os_packages(self, ctr: Container, spec: ImageSpec) -> Container:
        packages = OS_PACKAGES + (python.SYSTEM_PYTHON_PACKAGES if spec.python_source == "system" else ())
        return apt.install(ctr, self.options, apt.cache_key(spec), packages)

    def ca_trust(self, ctr: Container, spec: ImageSpec) -> Container:
        """Only with --bake-ca: add the build CA to the image's system trust store."""
        if not self.options.bake_ca:
            return ctr
        ca = execs.ca_file(self.options)
        assert ca is not None  # BuildOptions guarantees ca_bundle with bake_ca
        return ctr.with_file(BAKED_CA, ca, permissions=0o644).with_exec(
            execs.sh("update-ca-certificates >/dev/null")
        )

    def timezone(self, ctr: Container, spec: ImageSpec) -> Container:
        return ctr.with_exec(
            execs.sh(
                f"ln -sf /usr/share/zoneinfo/{TIMEZONE} /etc/localtime && echo {TIMEZONE} > /etc/timezone"
            )
        )

    def locale(self, ctr: Container, spec: ImageSpec) -> Container:
        """zh_CN.UTF-8 on Ubuntu (locale-gen NAME) and Debian (uncomment /etc/locale.gen, locale-gen)."""
        argv, script = execs.run_script("locale.sh", LOCALE, contract.LANGUAGE, contract.LOCALE_LISTED)
        return execs.run(ctr, self.options, argv, mounts=[script], trust_ca=False)

    def sshd(self, ctr: Container, spec: ImageSpec) -> Container:
        """No host keys and no root password in the image: boot.sh creates both per container.

        The configuration is generated per OpenSSH version by context/init/init.py (runtime_files
        layer, and again at boot): sshd_config `Include` only exists from OpenSSH 8.2, and
        editing the settings must not invalidate the Python and TensorFlow layers.
        """
        argv, script = execs.run_script("sshd.sh")
        return execs.run(ctr, self.options, argv, mounts=[script], trust_ca=False)

    def python(self, ctr: Container, spec: ImageSpec) -> Container:
        if spec.python_source == "miniconda":
            return python.miniconda(ctr, self.options, spec)
        return python.system_python(ctr, self.options, spec)

    def jupyter(self, ctr: Container, spec: ImageSpec) -> Container:
        """JupyterLab and its language pack: inputs depend on the Python only, never on TensorFlow.

        So images of one Python share this layer across TensorFlow releases. TensorFlow's pip
        constraints (numpy) are not applied here: JupyterLab does not install numpy, and the
        TensorFlow layer re-resolves every constrained package under the constraints (see there).
        """
        return self._install(ctr, spec, spec.jupyter_requirements, (), ())

    def tensorflow(self, ctr: Container, spec: ImageSpec) -> Container:
        """TensorFlow with its TensorBoard pin, under the release's constraints.

        Each constrained package is also named as a requirement, so pip resolves it here even if
        an earlier layer installed it: an installed version that violates a constraint is replaced.
        """
        return self._install(
            ctr, spec, pip.tensorflow_requirements(spec), spec.constraints, spec.pip_extra_indexes
        )

    def _install(
        self,
        ctr: Container,
        spec: ImageSpec,
        requirements: Sequence[str],
        constraints: Sequence[str],
        extra_indexes: Sequence[str],
    ) -> Container:
        """ci.build.pip (uv) on the engine's own platform; on an emulated one, ci.build.cross (the
        engine's uv run natively, the engine's Python compiling)."""
        if not cross.emulated(spec, self.engine_platform):
            return pip.install(ctr, self.options, spec, requirements, constraints, extra_indexes)
        assert self.engine_platform is not None
        native, uv = self._native_tools(spec, self.engine_platform)
        return cross.install(
            ctr,
            self.options,
            spec,
            requirements,
            constraints,
            extra_indexes,
            native=native,
            uv=uv,
            engine_platform=self.engine_platform,
        )

    def _native_tools(self, spec: ImageSpec, engine_platform: str) -> tuple[Container, File]:
        """The image's Python layer built for the engine's platform, and the engine's uv (tools.uv)."""
        from dagger import Platform, dag

        key = spec.tag
        if key not in self._native:
            helper = cross.native_spec(spec, engine_platform)
            native = dag.container(platform=Platform(engine_platform))
            for layer in (self.base, self.os_packages, self.python):
                native = layer(native, helper)
            self._native[key] = (native, cross.uv_binary(spec, engine_platform, self.options))
        return self._native[key]

    def system_files(self, ctr: Container, spec: ImageSpec) -> Container:
        """The image contract file, and what `init.py --build` installs into the system.

        /etc/tfimage/contract.env (generated from ci/model/contract.py, laid out in the same host
        tree, see runtime_tree) is what context/ reads its ports, paths and locale from. One exec
        copies the tree (mounted for it) and runs `init.py --build`, one layer: a copy by
        `with_directory` would make a fresh engine restoring the layers from a registry cache pull,
        unpack and content-hash the whole image below it first (ci/scripts/system-files.sh).
        `init.py --build` installs the login environment, the
        /etc/bash.bashrc hook for ssh command mode, the MOTD, the shutdown wrapper and the sshd
        configuration for the installed OpenSSH (it reads the version from `sshd -V`, so it runs in
        the image), so the image is right before its first boot. Only the parts of context/ it
        reads (SYSTEM_CONTEXT) go into this layer: editing boot.sh or the supervisor and Jupyter
        configs rebuilds runtime_files alone.
        """
        from dagger import dag

        self._require_context()
        contract_file = {contract.CONTRACT_ENV_FILE: contract.contract_env_file(spec.python_prefix)}
        path = runtime_tree(self.context_dir, only=SYSTEM_CONTEXT, generated=contract_file)
        argv, script = execs.run_script(
            "system-files.sh", SYSTEM_TREE, f"{spec.python_prefix}/bin/python", INIT_DIR
        )
        return execs.run(
            ctr,
            self.options,
            argv,
            mounts=[script],
            directories=[(SYSTEM_TREE, dag.host().directory(str(path)))],
            trust_ca=False,
        )

    def runtime_files(self, ctr: Container, spec: ImageSpec) -> Container:
        """context/ -> /init: one copy, one layer, no exec.

        Why no exec: this is the layer a context edit rebuilds. The files are laid out on the host
        with fixed modes, owner and times (runtime_tree), so copying them needs no container start
        and an edit rebuilds in well under a second.
        """
        from dagger import dag

        self._require_context()
        tree = dag.host().directory(str(runtime_tree(self.context_dir)))
        return ctr.with_directory("/", tree, owner="0:0")

    def _require_context(self) -> None:
        if not (self.context_dir / "boot" / "boot.sh").is_file():
            raise UserError(f"{self.context_dir}: no boot/boot.sh; is this the repository's context/?")

    def metadata(self, ctr: Container, spec: ImageSpec) -> Container:
        """Labels, ENV, ports, CMD: cheap, last, so a label change rebuilds nothing."""
        for key, value in spec.labels:
            ctr = ctr.with_label(key, value)
        ctr = ctr.with_env_variable("PYTHON_PREFIX", spec.python_prefix).with_env_variable(
            "PATH", f"{spec.path}:${{PATH}}", expand=True
        )
        for name, value in contract.locale_env():
            ctr = ctr.with_env_variable(name, value)
        ctr = ctr.with_env_variable("SHELL", "/bin/bash")
        if self.options.bake_ca:
            for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT"):
                ctr = ctr.with_env_variable(name, SYSTEM_CA_BUNDLE)
        for service in contract.SERVICES:
            ctr = ctr.with_exposed_port(service.port, description=service.description)
        return ctr.with_workdir(contract.WORKDIR).with_default_args(["bash", contract.BOOT_SCRIPT])


def build_image(
    spec: ImageSpec,
    options: BuildOptions,
    *,
    context_dir: Path = CONTEXT_DIR,
    engine_platform: str | None = None,
) -> Container:
    """Chain every layer in LAYER_ORDER for spec.platform; lazy: nothing runs until evaluated."""
    python.refuse_if_unbuildable(spec, options)
    ctr = platform_container(spec)
    for _name, layer in Layers(options, context_dir, engine_platform).ordered():
        ctr = layer(ctr, spec)
    return ctr


def platform_container(spec: ImageSpec) -> Container:
    """The empty container every layer chain starts from: the spec's platform."""
    from dagger import Platform, dag

    return dag.container(platform=Platform(spec.platform))
