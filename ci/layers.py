"""The image, one function per layer: each takes a Container and an ImageSpec and returns a Container.

Why this shape: every layer is its own cache boundary in the engine, so the order below is the
caching policy. What changes rarely comes first (base, OS packages, Python, TensorFlow) and what
changes often comes last (the runtime files from context/, then labels/ENV/CMD), so editing the boot
script re-runs only the last two layers and never reinstalls TensorFlow or Python.

Build-only inputs (the CA bundle of a TLS-intercepting proxy, mirrors, the pip constraints file, a
local Miniconda installer) are *mounted* for the exec that needs them and their environment variables
are removed right after, so neither their bytes nor their settings end up in a layer or in the image
config. Package caches (apt, pip) live in engine cache volumes for the same reason.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ci import contract
from ci.compat import SHA256_HEX
from ci.contract import INIT_DIR, LOCALE, TIMEZONE
from ci.errors import UserError
from ci.options import BuildOptions, has_credentials, url_password
from ci.spec import ImageSpec

if TYPE_CHECKING:  # dagger is imported lazily so plan/matrix (and unit tests) stay fast
    from dagger import Container, File

REPO = Path(__file__).resolve().parent.parent
CONTEXT_DIR = REPO / "context"

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
SYSTEM_PYTHON_PACKAGES: tuple[str, ...] = ("python3", "python3-venv")

# Build-time mount points (mounts are not part of any layer).
BUILD_CA = "/tmp/tfci-build/ca.pem"  # noqa: S108 - a mount point, not a temp file we create
CONSTRAINTS = "/tmp/tfci-build/constraints.txt"  # noqa: S108
MINICONDA_INSTALLER = "/tmp/tfci-build/miniconda.sh"  # noqa: S108
MINICONDA_CACHE = "/var/cache/tfci-miniconda"  # cache volume for downloaded installers
CA_ENV_VARS: tuple[str, ...] = (
    "PIP_CERT",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "CONDA_SSL_VERIFY",
)
BAKED_CA = "/usr/local/share/ca-certificates/tfci-build-ca.crt"
# The parts of context/ that `init.py --build` reads (the system_files layer); the rest of context/
# (boot script, supervisor and Jupyter configs) changes more often and only reaches runtime_files.
SYSTEM_CONTEXT: tuple[str, ...] = ("init/", "profile.d/", "ssh/")
RUNTIME_MTIME = 946684800  # 2000-01-01: every file copied from context/ gets this time
RUNTIME_TREE_MAX_AGE_S = 7 * 24 * 3600
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PIP_ENV: tuple[tuple[str, str], ...] = (
    ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    ("PIP_ROOT_USER_ACTION", "ignore"),
    ("PIP_PROGRESS_BAR", "off"),
    ("PIP_NO_INPUT", "1"),
)

PIP_CACHE = "/root/.cache/pip"  # the pip cache volume (pip's own HTTP cache plus our wheelhouse)
PIP_REPORT_MARKER = "[tfci-pip] wheels:"
# Run with the requirements as "$@" (see Layers._pip_install). The wheelhouse is a PEP 503 index in
# the cache volume (one directory per project with an index.html), listed as the LAST extra index:
# for a file that several sources offer, pip 23 takes the last index's copy (it does not prefer
# --find-links; those lose), so a wheel once cached is never downloaded again.
PIP_WHEELHOUSE_SCRIPT = """
wheelhouse={cache}/tfci-wheelhouse
mkdir -p "$wheelhouse" {cache}/tfci-tmp
work=$(mktemp -d {cache}/tfci-tmp/pip.XXXXXX)
trap 'rm -rf "$work"' EXIT
{python} -m pip wheel --wheel-dir "$work/resolved" --constraint {constraints} {indexes} \\
  --extra-index-url "file://$wheelhouse/" "$@"
reused=0; new=0; new_bytes=0
for wheel in "$work"/resolved/*.whl; do
  file=${{wheel##*/}}
  dir=$wheelhouse/$(echo "${{file%%-*}}" | tr '[:upper:]' '[:lower:]' | sed -E 's/[-_.]+/-/g')
  if [ -e "$dir/$file" ]; then reused=$((reused + 1)); continue; fi
  new=$((new + 1)); new_bytes=$((new_bytes + $(stat -c %s "$wheel")))
  mkdir -p "$dir"
  # same file system: hard link + rename publish atomically for builds running concurrently
  ln -f "$wheel" "$dir/.$file.$$" && mv -f "$dir/.$file.$$" "$dir/$file"
  for w in "$dir"/*.whl; do printf '<a href="%s">%s</a><br>\\n' "${{w##*/}}" "${{w##*/}}"; done \\
    >"$dir/.index.$$" && mv -f "$dir/.index.$$" "$dir/index.html"
done
echo "{marker} $reused reused, $new new ($new_bytes bytes)"
{python} -m pip install --no-index --find-links "$work/resolved" --constraint {constraints} "$@"
"""


class BuildRefused(UserError):
    """The spec or options cannot be built as asked (refusal, unverified installer, ...)."""


def _sh(script: str) -> list[str]:
    """argv for a bash script that stops at the first error (and says which command failed)."""
    return ["bash", "-euo", "pipefail", "-c", script]


def apt_cache_key(spec: ImageSpec) -> str:
    """Per-OS apt caches: Debian and Ubuntu lists/archives must not mix."""
    return spec.os_id


def site_packages(spec: ImageSpec) -> str:
    return f"{spec.python_prefix}/lib/python{spec.python_version}/site-packages"


def image_path(spec: ImageSpec) -> str:
    """PATH entries the image prepends: the Python prefix, and pip-CUDA's nvcc when present."""
    entries = [f"{spec.python_prefix}/bin"]
    if spec.cuda_source == "pip":
        entries.append(f"{site_packages(spec)}/nvidia/cuda_nvcc/bin")
    return ":".join(entries)


APT_MIRROR_ENV = "TFCI_APT_MIRROR"  # the mirror URL reaches apt's sources through this variable


def apt_mirror_script(mirror: str | None) -> str:
    """Shell that points apt at a mirror for this exec only (sources are restored afterwards).

    Debian 12 uses deb822 /etc/apt/sources.list.d/debian.sources, Ubuntu 24.04 ubuntu.sources and
    Ubuntu 22.04 the one-line /etc/apt/sources.list; all hosts are rewritten to MIRROR/<archive>.
    The URL itself comes from $TFCI_APT_MIRROR (a secret when it carries credentials), so it is
    never part of the command line the engine logs.
    """
    if mirror is None:
        return "tfci_restore_sources() { :; }"
    return f"""
m=$(printf '%s' "${APT_MIRROR_ENV}" | sed 's/[#&\\\\]/\\\\&/g')
tfci_sources=$(ls /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
    2>/dev/null || true)
mkdir -p /tmp/tfci-apt-backup
for f in $tfci_sources; do cp -a "$f" "/tmp/tfci-apt-backup/$(echo "$f" | tr / _)"; done
for f in $tfci_sources; do
  sed -i -E \
    -e "s#https?://(deb|httpredir|ftp\\.[a-z]+)\\.debian\\.org/debian-security#$m/debian-security#g" \
    -e "s#https?://security\\.debian\\.org(/debian-security)?#$m/debian-security#g" \
    -e "s#https?://(deb|httpredir|ftp\\.[a-z]+)\\.debian\\.org/debian#$m/debian#g" \
    -e "s#https?://([a-z]+\\.)?(archive|security)\\.ubuntu\\.com/ubuntu#$m/ubuntu#g" \
    "$f"
done
tfci_restore_sources() {{
  for f in $tfci_sources; do cp -a "/tmp/tfci-apt-backup/$(echo "$f" | tr / _)" "$f"; done
  rm -rf /tmp/tfci-apt-backup
}}
"""


def url_env(name: str, url: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(plain env, secret env) carrying `url` in variable `name`.

    A URL with credentials becomes a secret (the engine keeps it out of the cache metadata and
    scrubs it from output); its password alone is a second secret, so a tool that prints only the
    password part (or the URL with the user stripped) is scrubbed as well.
    """
    if not has_credentials(url):
        return [(name, url)], []
    secrets = [(name, url)]
    password = url_password(url)
    if password:
        secrets.append((f"{name}_SCRUB", password))
    return [], secrets


def context_files(root: Path) -> list[str]:
    """Files of context/ (relative, sorted) that go into the image: no dot files, no bytecode."""
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        hidden = any(part.startswith(".") or part == "__pycache__" for part in rel.parts)
        if path.is_file() and not hidden and path.suffix != ".pyc":
            files.append(rel.as_posix())
    return files


def runtime_tree(
    context_dir: Path, cache_root: Path | None = None, only: tuple[str, ...] | None = None
) -> Path:
    """context/ laid out as it lands in the image (/init/...), with deterministic metadata.

    `only`: relative path prefixes to include (default: every context file). Directories and
    *.sh/*.py are 0755, other files 0644, every time is RUNTIME_MTIME, so
    the layer depends on the content only (not on a checkout's umask or clock). The tree is kept
    under $TMPDIR/tfimages-ci/runtime-<digest>: the engine reads it lazily, so it must outlive this
    call, and the same content is reused by later builds and concurrent ones.
    """
    entries: list[tuple[str, Path, int]] = []
    for rel in context_files(context_dir):
        if only is not None and not rel.startswith(only):
            continue
        entries.append(
            (
                f"{INIT_DIR.strip('/')}/{rel}",
                context_dir / rel,
                0o755 if rel.endswith((".sh", ".py")) else 0o644,
            )
        )
    digest = hashlib.sha256()
    for target, source, mode in entries:
        digest.update(f"{target}\0{mode:o}\0".encode())
        digest.update(hashlib.sha256(source.read_bytes()).digest())
    root = (cache_root or Path(tempfile.gettempdir()) / "tfimages-ci") / f"runtime-{digest.hexdigest()[:20]}"
    if root.is_dir():
        os.utime(root)  # in use: keep it out of the pruning below
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    for old in root.parent.glob("runtime-*"):  # trees no build used for a week
        if time.time() - old.stat().st_mtime > RUNTIME_TREE_MAX_AGE_S:
            shutil.rmtree(old, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{root.name}.", dir=root.parent))
    try:
        for target, source, mode in entries:
            path = staging / target
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, path)
            path.chmod(mode)
        for path in sorted(staging.rglob("*"), reverse=True):  # files first, then their directories
            if path.is_dir():
                path.chmod(0o755)
            os.utime(path, (RUNTIME_MTIME, RUNTIME_MTIME))
        staging.chmod(0o755)
        staging.rename(root)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not root.is_dir():  # another build made it meanwhile: fine; otherwise a real error
            raise
    return root


def constraints_text(constraints: Iterable[str]) -> str:
    return "".join(f"{line}\n" for line in constraints)


def tensorflow_requirements(spec: ImageSpec) -> list[str]:
    """TensorFlow, its TensorBoard, and the name of every constrained package (see Layers.tensorflow)."""
    names = [re.split(r"[\s<>=!~;\[(]", line.strip(), maxsplit=1)[0] for line in spec.constraints]
    return [spec.tensorflow_requirement, spec.tensorboard_requirement, *dict.fromkeys(n for n in names if n)]


def parse_pip_reports(text: str) -> list[tuple[int, int, int]]:
    """(wheels reused from the cache volume, wheels downloaded or built, bytes of those) per pip layer
    run found in TEXT (an engine progress log); the benchmark and tests read the hit count from it."""
    return [
        (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        for m in re.finditer(re.escape(PIP_REPORT_MARKER) + r" (\d+) reused, (\d+) new \((\d+) bytes\)", text)
    ]


def check_miniconda(spec: ImageSpec, options: BuildOptions) -> None:
    """Refuse, before any engine work, a Miniconda build whose installer cannot be verified."""
    if spec.python_source != "miniconda":
        return
    if spec.miniconda is None:
        raise BuildRefused(f"{spec.tag}: python_source is miniconda but the spec names no installer")
    if not SHA256_HEX.match(spec.miniconda.sha256):
        raise BuildRefused(
            f"{spec.tag}: installer {spec.miniconda.filename} has no verified sha256 "
            f"(got {spec.miniconda.sha256!r}); refusing to run an unverified installer"
        )
    if options.miniconda_file is not None:
        digest = hashlib.sha256(options.miniconda_file.read_bytes()).hexdigest()
        if digest != spec.miniconda.sha256:
            raise BuildRefused(
                f"--miniconda-file {options.miniconda_file}: sha256 {digest} does not match "
                f"{spec.miniconda.sha256} pinned for {spec.miniconda.filename}; not running it"
            )


def refuse_if_unbuildable(spec: ImageSpec, options: BuildOptions) -> None:
    if spec.refusals:
        raise BuildRefused(f"{spec.tag}: refused: {'; '.join(spec.refusals)}")
    check_miniconda(spec, options)


class Layers:
    """The layer functions with the build options bound (each method is a `Layer`).

    Why a class rather than module functions: options (mirrors, CA) and the context directory are
    per build, while a layer's signature stays `(Container, ImageSpec) -> Container` so layers can
    be reordered, tested and cached one by one.
    """

    def __init__(self, options: BuildOptions, context_dir: Path = CONTEXT_DIR) -> None:
        self.options = options
        self.context_dir = context_dir

    # ------------------------------------------------------------------ helpers

    def ordered(self) -> tuple[tuple[str, Layer], ...]:
        return tuple((name, getattr(self, name)) for name in LAYER_ORDER)

    def _ca_file(self) -> File | None:
        from dagger import dag

        if self.options.ca_bundle is None:
            return None
        return dag.host().file(str(self.options.ca_bundle))

    def _with_build_env(self, ctr: Container, env: Iterable[tuple[str, str]]) -> Container:
        for name, value in env:
            ctr = ctr.with_env_variable(name, value)
        return ctr

    def _without_env(self, ctr: Container, names: Iterable[str]) -> Container:
        for name in names:
            ctr = ctr.without_env_variable(name)
        return ctr

    def _run(
        self,
        ctr: Container,
        argv: list[str],
        *,
        env: Iterable[tuple[str, str]] = (),
        mounts: Iterable[tuple[str, File]] = (),
        secrets: Iterable[tuple[str, str]] = (),
        trust_ca: bool = True,
    ) -> Container:
        """One exec with build-only mounts, env and secrets: present during the exec, gone afterwards.

        The image config after this call carries none of the temporary variables and no mounts,
        so the CA (and any mirror) is trusted by build steps only.
        """
        from dagger import dag

        env = list(env)
        secrets = list(secrets)
        mounts = list(mounts)
        ca = self._ca_file() if trust_ca else None
        if ca is not None:
            mounts.append((BUILD_CA, ca))
            env += [(name, BUILD_CA) for name in CA_ENV_VARS if name != "CONDA_SSL_VERIFY"]
            env.append(("CONDA_SSL_VERIFY", BUILD_CA))
        for path, file in mounts:
            ctr = ctr.with_mounted_file(path, file)
        for name, plaintext in secrets:
            digest = hashlib.sha256(plaintext.encode()).hexdigest()[:16]
            ctr = ctr.with_secret_variable(name, dag.set_secret(f"tfci-{name.lower()}-{digest}", plaintext))
        ctr = self._with_build_env(ctr, env).with_exec(argv)
        ctr = self._without_env(ctr, [name for name, _ in env])
        for name, _ in secrets:
            ctr = ctr.without_secret_variable(name)
        for path, _ in mounts:
            ctr = ctr.without_mount(path)
        return ctr

    def apt_install(self, ctr: Container, cache_key: str, packages: Iterable[str]) -> Container:
        """apt-get install with apt cache volumes (keyed per OS) and the build options.

        Why PRIVATE and not LOCKED sharing: with LOCKED, a client killed during apt (a cancelled CI
        job) leaked the volume's lock in engine v0.19.10 and every later build waited on it forever
        (observed here; only an engine restart clears it). PRIVATE never waits: a busy volume gets a
        private copy for that exec, and apt's downloads are small next to the pip wheels.
        """
        from dagger import CacheSharingMode, dag

        key = cache_key
        ca_opt = f"-o Acquire::https::CAInfo={BUILD_CA}" if self.options.ca_bundle is not None else ""
        apt = f"apt-get -q -o APT::Keep-Downloaded-Packages=true -o DPkg::Lock::Timeout=600 {ca_opt}"
        script = f"""
export DEBIAN_FRONTEND=noninteractive
# docker-clean deletes downloaded .debs after every dpkg run, which defeats the cache volume;
# move it aside for this exec only (users of the image keep the distribution's behaviour).
if [ -e /etc/apt/apt.conf.d/docker-clean ]; then
  mv /etc/apt/apt.conf.d/docker-clean /tmp/tfci-docker-clean
fi
{apt_mirror_script(self.options.apt_mirror)}
tfci_cleanup() {{
  tfci_restore_sources
  if [ -e /tmp/tfci-docker-clean ]; then mv /tmp/tfci-docker-clean /etc/apt/apt.conf.d/docker-clean; fi
}}
trap tfci_cleanup EXIT
{apt} update
{apt} install -y --no-install-recommends {" ".join(shlex.quote(p) for p in packages)}
"""
        ctr = ctr.with_mounted_cache(
            "/var/cache/apt", dag.cache_volume(f"tfci-apt-cache-{key}"), sharing=CacheSharingMode.PRIVATE
        ).with_mounted_cache(
            "/var/lib/apt/lists",
            dag.cache_volume(f"tfci-apt-lists-{key}"),
            sharing=CacheSharingMode.PRIVATE,
        )
        env, secrets = (
            url_env(APT_MIRROR_ENV, self.options.apt_mirror) if self.options.apt_mirror else ([], [])
        )
        ctr = self._run(
            ctr, _sh(script), env=env, secrets=secrets, trust_ca=self.options.ca_bundle is not None
        )
        return ctr.without_mount("/var/cache/apt").without_mount("/var/lib/apt/lists")

    def _pip_install(
        self,
        ctr: Container,
        spec: ImageSpec,
        requirements: Iterable[str],
        constraints: Iterable[str],
        extra_indexes: Iterable[str] = (),
    ) -> Container:
        """pip install into the image's Python through the wheelhouse in the pip cache volume.

        Why not pip's own cache: pip caches downloads in an HTTP cache that honours Cache-Control,
        and a proxy that strips those headers (as the TLS-intercepting proxy here does) makes it
        store nothing: every build downloaded every wheel again. So each pip layer resolves online
        into a wheel directory (`pip wheel`; wheels already in the wheelhouse come from there, sdists
        are built once), adds the new wheels to the wheelhouse, prints how many it reused
        (PIP_REPORT_MARKER), and installs with --no-index from that directory, so the result is what
        a plain `pip install` of the requirements would give.
        """
        from dagger import CacheSharingMode, dag

        constraints_file = dag.directory().with_new_file("c.txt", constraints_text(constraints)).file("c.txt")
        env = list(PIP_ENV)
        secrets: list[tuple[str, str]] = []
        for name, url in (
            ("PIP_INDEX_URL", self.options.pip_index_url),
            ("PIP_EXTRA_INDEX_URL", self.options.pip_extra_index_url),
        ):
            if url is not None:
                plain, secret = url_env(name, url)
                env += plain
                secrets += secret
        indexes = " ".join(f"--extra-index-url {shlex.quote(index)}" for index in extra_indexes)
        script = PIP_WHEELHOUSE_SCRIPT.format(
            python=shlex.quote(f"{spec.python_prefix}/bin/python"),
            cache=PIP_CACHE,
            constraints=CONSTRAINTS,
            indexes=indexes,
            marker=PIP_REPORT_MARKER,
        )
        # The requirements come first, so a failed step reads `set -- tensorflow==... ; ...`.
        argv = _sh(f"set -- {' '.join(shlex.quote(r) for r in requirements)}\n{script}")
        ctr = ctr.with_mounted_cache(
            PIP_CACHE, dag.cache_volume("tfci-pip-cache"), sharing=CacheSharingMode.SHARED
        )
        ctr = self._run(ctr, argv, env=env, secrets=secrets, mounts=[(CONSTRAINTS, constraints_file)])
        return ctr.without_mount(PIP_CACHE)

    # ------------------------------------------------------------------ layers, in order

    def base(self, ctr: Container, spec: ImageSpec) -> Container:
        """FROM the spec's base, by digest when the table pins one (reproducible rebuilds)."""
        ref = spec.base_image
        if spec.base_digest:
            ref = f"{ref.split('@', 1)[0]}@{spec.base_digest}"
        return ctr.from_(ref)

    def os_packages(self, ctr: Container, spec: ImageSpec) -> Container:
        packages = OS_PACKAGES + (SYSTEM_PYTHON_PACKAGES if spec.python_source == "system" else ())
        return self.apt_install(ctr, apt_cache_key(spec), packages)

    def ca_trust(self, ctr: Container, spec: ImageSpec) -> Container:
        """Only with --bake-ca: add the build CA to the image's system trust store."""
        if not self.options.bake_ca:
            return ctr
        ca = self._ca_file()
        assert ca is not None  # BuildOptions guarantees ca_bundle with bake_ca
        return ctr.with_file(BAKED_CA, ca, permissions=0o644).with_exec(
            _sh("update-ca-certificates >/dev/null")
        )

    def timezone(self, ctr: Container, spec: ImageSpec) -> Container:
        return ctr.with_exec(
            _sh(f"ln -sf /usr/share/zoneinfo/{TIMEZONE} /etc/localtime && echo {TIMEZONE} > /etc/timezone")
        )

    def locale(self, ctr: Container, spec: ImageSpec) -> Container:
        """zh_CN.UTF-8 on Ubuntu (locale-gen NAME) and Debian (uncomment /etc/locale.gen, locale-gen)."""
        script = f"""
if grep -qi '^ID=ubuntu' /etc/os-release; then
  locale-gen {LOCALE}
else
  if grep -qE '^#? *{LOCALE} UTF-8' /etc/locale.gen; then
    sed -i -E 's/^# *({LOCALE} UTF-8)/\\1/' /etc/locale.gen
  else
    echo '{LOCALE} UTF-8' >> /etc/locale.gen
  fi
  locale-gen
fi
printf 'LANG={LOCALE}\\nLANGUAGE={contract.LANGUAGE}\\n' > /etc/default/locale
locale -a | grep -qx '{contract.LOCALE_LISTED}'
"""
        return ctr.with_exec(_sh(script))

    def sshd(self, ctr: Container, spec: ImageSpec) -> Container:
        """No host keys and no root password in the image: boot.sh creates both per container.

        The configuration is generated per OpenSSH version by context/init/init.py (runtime_files
        layer, and again at boot): sshd_config `Include` only exists from OpenSSH 8.2, and
        editing the settings must not invalidate the Python and TensorFlow layers.
        """
        script = r"""
rm -f /etc/ssh/ssh_host_*
mkdir -p /run/sshd
chmod 0755 /run/sshd
usermod -p '*' root
"""
        return ctr.with_exec(_sh(script))

    def python(self, ctr: Container, spec: ImageSpec) -> Container:
        if spec.python_source == "miniconda":
            return self._miniconda(ctr, spec)
        return self._system_python(ctr, spec)

    def _system_python(self, ctr: Container, spec: ImageSpec) -> Container:
        want = spec.python_version
        script = f"""
have=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$have" != {shlex.quote(want)} ]; then
  echo "python_source=system: the base image {spec.base_image} has Python $have, but this image is \
specified for Python {want}; choose --python $have or --python-source miniconda" >&2
  exit 1
fi
python3 -m venv {shlex.quote(spec.python_prefix)}
"""
        return ctr.with_exec(_sh(script))

    def _miniconda(self, ctr: Container, spec: ImageSpec) -> Container:
        """Download (or mount) the installer, `sha256sum -c` it, and only then run it."""
        from dagger import dag

        check_miniconda(spec, self.options)
        installer = spec.miniconda
        assert installer is not None  # check_miniconda refuses None
        mounts: list[tuple[str, File]] = []
        url_vars: tuple[list[tuple[str, str]], list[tuple[str, str]]] = ([], [])
        if self.options.miniconda_file is not None:
            mounts.append((MINICONDA_INSTALLER, dag.host().file(str(self.options.miniconda_file))))
            fetch = f"cp {MINICONDA_INSTALLER} /tmp/miniconda.sh"
        else:
            # Downloads land in a cache volume (never in a layer) and are re-verified on every use.
            from dagger import CacheSharingMode

            url_vars = url_env("TFCI_MINICONDA_URL", self.options.miniconda_base_url + installer.filename)
            cached = shlex.quote(f"{MINICONDA_CACHE}/{installer.filename}")
            fetch = f"""
if ! echo "{installer.sha256}  "{cached} | sha256sum -c - >/dev/null 2>&1; then
  curl -fsSL --retry 3 -o {cached}.$$ "$TFCI_MINICONDA_URL"
  mv {cached}.$$ {cached}
fi
cp {cached} /tmp/miniconda.sh"""
            ctr = ctr.with_mounted_cache(
                MINICONDA_CACHE,
                dag.cache_volume("tfci-miniconda-installers"),
                sharing=CacheSharingMode.SHARED,
            )
        prefix = shlex.quote(spec.python_prefix)
        script = f"""
{fetch}
echo "{installer.sha256}  /tmp/miniconda.sh" | sha256sum -c - || {{
  echo "Miniconda installer {installer.filename}: sha256 mismatch; NOT running it" >&2; exit 1; }}
bash /tmp/miniconda.sh -b -p {prefix}
rm -f /tmp/miniconda.sh
{prefix}/bin/conda clean -afy >/dev/null
have=$({prefix}/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$have" = {shlex.quote(spec.python_version)} ] || {{
  echo "{installer.filename} ships Python $have, not {spec.python_version}" >&2; exit 1; }}
"""
        env = [("CONDA_PLUGINS_AUTO_ACCEPT_TOS", "yes"), *url_vars[0]]
        ctr = self._run(ctr, _sh(script), env=env, secrets=url_vars[1], mounts=mounts)
        return ctr if self.options.miniconda_file is not None else ctr.without_mount(MINICONDA_CACHE)

    def jupyter(self, ctr: Container, spec: ImageSpec) -> Container:
        """JupyterLab and its language pack: inputs depend on the Python only, never on TensorFlow.

        So images of one Python share this layer across TensorFlow releases. TensorFlow's pip
        constraints (numpy) are not applied here: JupyterLab does not install numpy, and the
        TensorFlow layer re-resolves every constrained package under the constraints (see there).
        """
        return self._pip_install(ctr, spec, spec.jupyter_requirements, constraints=())

    def tensorflow(self, ctr: Container, spec: ImageSpec) -> Container:
        """TensorFlow with its TensorBoard pin, under the release's constraints.

        Each constrained package is also named as a requirement, so pip resolves it here even if
        an earlier layer installed it: an installed version that violates a constraint is replaced.
        """
        return self._pip_install(
            ctr, spec, tensorflow_requirements(spec), spec.constraints, spec.pip_extra_indexes
        )

    def system_files(self, ctr: Container, spec: ImageSpec) -> Container:
        """The image contract file, and what `init.py --build` installs into the system.

        /etc/tfimage/contract.env (generated from ci/contract.py) is what context/ reads its ports,
        paths and locale from. `init.py --build` installs the login environment, the
        /etc/bash.bashrc hook for ssh command mode, the MOTD, the shutdown wrapper and the sshd
        configuration for the installed OpenSSH (it reads the version from `sshd -V`, so it runs in
        the image), so the image is right before its first boot. Only the parts of context/ it
        reads (SYSTEM_CONTEXT) go into this layer: editing boot.sh or the supervisor and Jupyter
        configs rebuilds runtime_files alone.
        """
        from dagger import dag

        self._require_context()
        tree = dag.host().directory(str(runtime_tree(self.context_dir, only=SYSTEM_CONTEXT)))
        install = f"{shlex.quote(spec.python_prefix)}/bin/python {INIT_DIR}/init/init.py --build"
        return (
            ctr.with_new_file(
                contract.CONTRACT_ENV_FILE, contract.contract_env_file(spec.python_prefix), permissions=0o644
            )
            .with_directory("/", tree, owner="0:0")
            .with_exec(_sh(install))
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
            "PATH", f"{image_path(spec)}:${{PATH}}", expand=True
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


def build_image(spec: ImageSpec, options: BuildOptions, *, context_dir: Path = CONTEXT_DIR) -> Container:
    """Chain every layer in LAYER_ORDER; lazy: nothing runs until the container is evaluated."""
    from dagger import dag

    refuse_if_unbuildable(spec, options)
    ctr = dag.container()
    for _name, layer in Layers(options, context_dir).ordered():
        ctr = layer(ctr, spec)
    return ctr
