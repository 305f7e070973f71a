"""Checks run inside a built image: does it do what its tag and the seed guide promise?

Why each check is a small async function returning a CheckResult (never raising for a failed
check): a release engineer wants every problem of an image in one report, not the first one. The
parsing and comparison rules (nvcc output, cuDNN versions, /etc/shadow fields) are pure functions so
they are unit-tested on canned outputs without an engine.

Every exec carries a per-run nonce in its environment: checks must really run against the image
each time (the engine would otherwise answer a repeated check from its cache).
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import shlex
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ci import compat, contract
from ci.compat import cudnn_compatible, major_minor
from ci.layers import site_packages
from ci.options import BuildOptions
from ci.report import CheckReport, CheckResult, failed, not_checked, passed, tail
from ci.spec import ImageSpec
from ci.tags import LABEL_PREFIX, wheel_label

if TYPE_CHECKING:
    from dagger import Container

# --------------------------------------------------------------------------- pure rules

CUDA_LABEL = f"{LABEL_PREFIX}.cuda.version"
CUDNN_LABEL = f"{LABEL_PREFIX}.cudnn.version"


def parse_nvcc_release(output: str) -> str | None:
    """'Cuda compilation tools, release 12.2, V12.2.140' -> '12.2' (None when absent)."""
    match = re.search(r"release (\d+)\.(\d+)", output)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def parse_cudnn_header(text: str) -> str | None:
    """CUDNN_MAJOR/MINOR/PATCHLEVEL defines of cudnn_version.h (or cudnn.h for cuDNN 7) -> 'M.m.p'."""
    parts = []
    for name in ("CUDNN_MAJOR", "CUDNN_MINOR", "CUDNN_PATCHLEVEL"):
        match = re.search(rf"#define\s+{name}\s+(\d+)", text)
        if match is None:
            return None
        parts.append(match.group(1))
    return ".".join(parts)


LOCKED_ROOT_FIELDS = frozenset({"*", "!", "!*", "!!"})


def root_password_locked(shadow: str) -> tuple[bool, str]:
    """True when root's /etc/shadow field holds no usable password (and never a hash)."""
    for line in shadow.splitlines():
        fields = line.split(":")
        if fields and fields[0] == "root":
            value = fields[1] if len(fields) > 1 else ""
            if value in LOCKED_ROOT_FIELDS:
                return True, f"root password field is {value!r} (no password)"
            if value == "":
                return False, "root has an EMPTY password field (passwordless root)"
            return False, "root has a password hash baked into /etc/shadow"
    return False, "no root entry in /etc/shadow"


def compare_versions(spec: ImageSpec, found: dict[str, str]) -> list[str]:
    """Problems between the spec (the tag) and the versions installed in the image."""
    problems = []
    python = found.get("python", "?")
    if major_minor(python) != spec.python_version:
        problems.append(f"Python is {python}, the tag says {spec.python_version}")
    tf = found.get("tensorflow")
    if tf is None:
        problems.append("TensorFlow is not importable")
    elif Version(tf) != Version(spec.tf_version):
        problems.append(f"TensorFlow is {tf}, the tag says {spec.tf_version}")
    numpy = found.get("numpy")
    try:
        allowed = SpecifierSet(spec.numpy_specifier)
    except InvalidSpecifier:
        problems.append(f"spec numpy specifier {spec.numpy_specifier!r} is invalid")
        return problems
    if numpy is None:
        problems.append("numpy is not importable")
    else:
        try:
            if Version(numpy) not in allowed:
                problems.append(f"numpy is {numpy}, outside {spec.numpy_specifier}")
        except InvalidVersion:
            problems.append(f"numpy version {numpy!r} is not a valid version")
    return problems


# --------------------------------------------------------------------------- running things


@dataclass(frozen=True)
class Output:
    code: int
    stdout: str
    stderr: str

    @property
    def both(self) -> str:
        return f"{self.stdout}\n{self.stderr}"


class Runner:
    """Runs shell snippets in an image, never cached across runs, any exit code allowed."""

    def __init__(self, image: Container, spec: ImageSpec, nonce: str | None = None) -> None:
        self.image = image
        self.spec = spec
        self.nonce = nonce or secrets.token_hex(8)

    @property
    def python(self) -> str:
        return f"{self.spec.python_prefix}/bin/python"

    async def sh(self, script: str, *, container: Container | None = None) -> Output:
        from dagger import ReturnType

        ctr = (container or self.image).with_env_variable("TFCI_CHECK_NONCE", self.nonce)
        done = ctr.with_exec(["bash", "-o", "pipefail", "-c", script], expect=ReturnType.ANY)
        code = await done.exit_code()
        return Output(code, await done.stdout(), await done.stderr())


Check = Callable[[Runner, BuildOptions], Awaitable[CheckResult]]


# --------------------------------------------------------------------------- checks


async def check_smoke(run: Runner, options: BuildOptions) -> CheckResult:
    name = "tensorflow smoke test"
    out = await run.sh(
        f"{run.python} -c 'import tensorflow as tf; print(tf.reduce_sum(tf.random.normal([1000, 1000])))'"
    )
    if out.code != 0 or "tf.Tensor(" not in out.stdout:
        return failed(name, f"tf.reduce_sum failed (exit {out.code}): {tail(out.both, 6)}")
    return passed(name, out.stdout.strip().splitlines()[-1])


_VERSIONS_SCRIPT = """
import json, platform, sys
found = {"python": platform.python_version()}
for mod in ("tensorflow", "numpy"):
    try:
        found[mod] = __import__(mod).__version__
    except Exception as exc:
        print("import %s failed: %s" % (mod, exc), file=sys.stderr)
print(json.dumps(found))
"""


async def check_versions(run: Runner, options: BuildOptions) -> CheckResult:
    name = "versions match the tag"
    out = await run.sh(f"TF_CPP_MIN_LOG_LEVEL=3 {run.python} - <<'EOF'\n{_VERSIONS_SCRIPT}\nEOF")
    try:
        found = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return failed(name, f"could not read versions (exit {out.code}): {tail(out.both, 6)}")
    problems = compare_versions(run.spec, found)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(found.items()))
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, summary)


async def check_no_cuda(run: Runner, options: BuildOptions) -> CheckResult:
    """A CPU image must not carry CUDA runtime or cuDNN libraries (size, licence, honesty)."""
    name = "CPU image has no CUDA libraries"
    out = await run.sh(
        "find / \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o "
        "\\( -name 'libcudart*' -o -name 'libcudnn*' \\) -print 2>/dev/null | head -20"
    )
    hits = [line for line in out.stdout.splitlines() if line.strip()]
    if hits:
        return failed(name, f"found {len(hits)} CUDA file(s), e.g. {', '.join(hits[:3])}")
    return passed(name, f"no libcudart*/libcudnn* under / (including {run.spec.python_prefix})")


def _nvcc_locations(spec: ImageSpec) -> str:
    site = site_packages(spec)
    return f"$(command -v nvcc) /usr/local/cuda/bin/nvcc {site}/nvidia/cuda_nvcc/bin/nvcc"


def _ptxas_location(spec: ImageSpec) -> str:
    return f"{site_packages(spec)}/nvidia/cuda_nvcc/bin/ptxas"


async def check_nvcc(run: Runner, options: BuildOptions) -> CheckResult:
    """`nvcc --version` must report the tag's CUDA major.minor.

    pip CUDA (tensorflow[and-cuda]) is the exception: NVIDIA's nvidia-cuda-nvcc-cu12 wheel ships
    ptxas but no nvcc, so there the same toolchain banner is read from `ptxas --version` and the
    message says so (a devel-base image without nvcc still fails).
    """
    name = "CUDA compiler (nvcc) matches the CUDA version"
    want = run.spec.cuda_version
    assert want is not None
    fallback = _ptxas_location(run.spec) if run.spec.cuda_source == "pip" else ""
    out = await run.sh(
        f"for n in {_nvcc_locations(run.spec)} {fallback}; do "
        '[ -x "$n" ] && echo "TOOL=$n" && exec "$n" --version; done; '
        "echo 'nvcc not found (nor ptxas from the nvidia-cuda-nvcc wheel)' >&2; exit 127"
    )
    found = parse_nvcc_release(out.stdout)
    if out.code != 0 or found is None:
        return failed(name, f"`nvcc --version` failed (exit {out.code}): {tail(out.both, 4)}")
    tool = out.stdout.split("TOOL=", 1)[1].split()[0] if "TOOL=" in out.stdout else "nvcc"
    if found != major_minor(want):
        return failed(name, f"{tool} reports CUDA {found}, the tag says {want}")
    if tool.endswith("/ptxas"):
        return passed(
            name,
            f"pip CUDA ships no nvcc; ptxas from nvidia-cuda-nvcc reports release {found} (tag: CUDA {want})",
        )
    return passed(name, f"{tool} reports release {found} (tag: CUDA {want})")


_CUDNN_SCRIPT = r"""
site={site}
for h in /usr/include/cudnn_version.h /usr/include/x86_64-linux-gnu/cudnn_version_v*.h \
         /usr/local/cuda/include/cudnn_version.h "$site"/nvidia/cudnn/include/cudnn_version.h \
         /usr/include/cudnn.h; do
  if [ -f "$h" ] && grep -q CUDNN_MAJOR "$h"; then echo "header $h"; cat "$h"; exit 0; fi
done
for d in {dists}; do
  v=$({python} -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$d" 2>/dev/null)
  if [ -n "$v" ]; then echo "pip $v $d"; exit 0; fi
done
lib=$(find / \( -path /proc -o -path /sys \) -prune -o -name 'libcudnn.so.[0-9]*' -print 2>/dev/null \
      | head -1)
# The soname link (libcudnn.so.8) names only the major; the file it points to names the full version.
if [ -n "$lib" ]; then echo "lib $(readlink -f "$lib")"; exit 0; fi
echo "no cuDNN found" >&2; exit 1
"""


def parse_cudnn_probe(output: str) -> tuple[str, str] | None:
    """The cuDNN probe's output -> (version, where), or None."""
    first, _, rest = output.strip().partition("\n")
    kind, _, where = first.partition(" ")
    if kind == "header":
        version = parse_cudnn_header(rest)
        return (version, where) if version else None
    if kind == "pip":
        version, _, dist = where.strip().partition(" ")
        return version, f"pip package {dist or 'nvidia-cudnn'}"
    if kind == "lib":
        match = re.search(r"libcudnn\.so\.(\d+(?:\.\d+)*)", where)
        return (match.group(1), where) if match else None
    return None


async def probe_cudnn(run: Runner) -> tuple[tuple[str, str] | None, Output]:
    """(cuDNN version, where it was found) or None, plus the probe's output for messages."""
    site = site_packages(run.spec)
    wheel = run.spec.nvidia_wheel(compat.CUDNN)
    dists = shlex.quote(wheel.dist) if wheel is not None else ""
    out = await run.sh(_CUDNN_SCRIPT.format(site=shlex.quote(site), python=run.python, dists=dists))
    return (parse_cudnn_probe(out.stdout) if out.code == 0 else None), out


async def check_cudnn(run: Runner, options: BuildOptions) -> CheckResult:
    name = "cuDNN matches the tag"
    want = run.spec.cudnn_version
    assert want is not None
    probe, out = await probe_cudnn(run)
    if probe is None:
        return failed(name, f"cuDNN not found: {tail(out.both, 3)}")
    version, where = probe
    if not cudnn_compatible(version, want):
        return failed(
            name,
            f"cuDNN {version} ({where}) does not satisfy {want}: TensorFlow loads a cuDNN with the same"
            " major and a minor >= the one it was built with (a version without its minor cannot show that)",
        )
    return passed(name, f"cuDNN {version} ({where}) satisfies {want}")


def compare_nvidia_wheels(
    spec: ImageSpec, installed: dict[str, str | None], labels: dict[str, str | None]
) -> list[str]:
    """Problems between the pinned NVIDIA wheels (spec), what the image has, and its tag and labels.

    installed: distribution -> version found in the image (None: not installed); labels: label key
    -> value on the image (None: absent). The tag's CUDA is the runtime wheel's major.minor, its
    cuDNN the cuDNN wheel's; nvcc (whose ptxas the nvcc check reads) must be the same CUDA.
    """
    problems: list[str] = []
    for wheel in spec.nvidia_wheels:
        have = installed.get(wheel.dist)
        if have is None:
            problems.append(f"{wheel.dist} is not installed (pinned {wheel.version})")
            continue
        if have != wheel.version:
            problems.append(f"{wheel.dist} is {have}, pinned {wheel.version}")
        key = wheel_label(wheel.dist)
        if labels.get(key) != have:
            problems.append(f"label {key} says {labels.get(key) or 'nothing'}, {wheel.dist} is {have}")
        tagged = {
            compat.CUDA_RUNTIME: ("CUDA", spec.cuda_version),
            compat.CUDA_NVCC: ("CUDA", spec.cuda_version),
            compat.CUDNN: ("cuDNN", spec.cudnn_version),
        }.get(wheel.component)
        if tagged is not None and major_minor(have) != tagged[1]:
            what, want = tagged
            problems.append(f"{wheel.dist} {have} is {what} {major_minor(have)}, the tag says {want}")
    for key, want in ((CUDA_LABEL, spec.cuda_version), (CUDNN_LABEL, spec.cudnn_version)):
        if labels.get(key) != want:
            problems.append(f"label {key} says {labels.get(key) or 'nothing'}, the tag says {want}")
    return problems


_WHEELS_SCRIPT = """
import importlib.metadata as m, json, sys
found = {}
for dist in sys.argv[1:]:
    try:
        found[dist] = m.version(dist)
    except m.PackageNotFoundError:
        found[dist] = None
print(json.dumps(found))
"""


async def check_nvidia_wheels(run: Runner, options: BuildOptions) -> CheckResult:
    """pip CUDA: the installed nvidia-* wheels are the pinned ones, and the tag and labels say so."""
    name = "NVIDIA wheels match the pins, tag and labels"
    spec = run.spec
    dists = [wheel.dist for wheel in spec.nvidia_wheels]
    if not dists:
        return failed(name, "this pip-CUDA spec pins no NVIDIA wheels (versions.yaml pip_cuda.wheels)")
    out = await run.sh(
        f"{run.python} - {' '.join(shlex.quote(d) for d in dists)} <<'EOF'\n{_WHEELS_SCRIPT}\nEOF"
    )
    try:
        installed = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return failed(name, f"could not read wheel versions (exit {out.code}): {tail(out.both, 4)}")
    keys = [wheel_label(d) for d in dists] + [CUDA_LABEL, CUDNN_LABEL]
    labels = {key: await run.image.label(key) for key in keys}
    problems = compare_nvidia_wheels(spec, installed, labels)
    if problems:
        return failed(name, "; ".join(problems))
    shown = ", ".join(
        f"{w.dist} {w.version}" for w in spec.nvidia_wheels if w.component in compat.TAGGED_COMPONENTS
    )
    return passed(name, f"{len(dists)} pinned wheels installed and labelled ({shown}); tag {spec.tag}")


async def check_built_with_cuda(run: Runner, options: BuildOptions) -> CheckResult:
    name = "TensorFlow built with CUDA"
    out = await run.sh(
        f"TF_CPP_MIN_LOG_LEVEL=3 {run.python} -c "
        "'import tensorflow as tf; print(tf.test.is_built_with_cuda())'"
    )
    if out.code != 0 or not out.stdout.strip().endswith("True"):
        return failed(name, f"tf.test.is_built_with_cuda() is not True: {tail(out.both, 4)}")
    return passed(name, "tf.test.is_built_with_cuda() == True")


async def check_gpu_visible(run: Runner, options: BuildOptions) -> CheckResult:
    name = "GPU visible to TensorFlow"
    if not options.require_gpu:
        return not_checked(
            name, "GPU presence NOT checked (no --require-gpu; the build host may have no GPU)"
        )
    from dagger import QueryError

    ctr = run.image.experimental_with_all_gp_us()
    try:
        out = await run.sh(
            f"TF_CPP_MIN_LOG_LEVEL=3 {run.python} -c "
            "'import tensorflow as tf; print(len(tf.config.list_physical_devices(\"GPU\")))'",
            container=ctr,
        )
    except QueryError as exc:  # e.g. "GPU support is not enabled, set _EXPERIMENTAL_DAGGER_GPU_SUPPORT"
        return failed(name, f"--require-gpu: the engine cannot give the container a GPU: {tail(str(exc), 2)}")
    count = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    if out.code != 0 or not count.isdigit() or int(count) == 0:
        return failed(name, f"--require-gpu: TensorFlow sees no GPU: {tail(out.both, 4)}")
    return passed(name, f"{count} GPU(s) visible")


async def check_locale(run: Runner, options: BuildOptions) -> CheckResult:
    name = f"{contract.LOCALE} locale"
    out = await run.sh("locale -a; echo ---; env -i HOME=/root TERM=xterm PATH=/usr/bin:/bin bash -lc locale")
    available, _, login = out.stdout.partition("---")
    problems = []
    if contract.LOCALE_LISTED not in available.split():
        problems.append(f"`locale -a` has no {contract.LOCALE_LISTED}")
    if f"LANG={contract.LOCALE}" not in login.split():
        lang = next((x for x in login.split() if x.startswith("LANG=")), "LANG unset")
        problems.append(f"a login shell gets {lang}, expected LANG={contract.LOCALE}")
    if out.stderr.strip() and "Cannot set" in out.stderr:
        problems.append(tail(out.stderr, 2))
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, f"{contract.LOCALE_LISTED}, login LANG ok")


async def check_timezone(run: Runner, options: BuildOptions) -> CheckResult:
    name = f"{contract.TIMEZONE} timezone"
    out = await run.sh("env -i PATH=/usr/bin:/bin date +%Z; cat /etc/timezone")
    lines = out.stdout.split()
    zone, tzfile = [*lines, "", ""][:2]
    problems = []
    if zone != contract.TIMEZONE_ABBREVIATION:
        problems.append(f"`date +%Z` prints {zone or 'nothing'}, expected {contract.TIMEZONE_ABBREVIATION}")
    if tzfile != contract.TIMEZONE:
        problems.append(f"/etc/timezone is {tzfile or 'missing'}, expected {contract.TIMEZONE}")
    ok = f"{contract.TIMEZONE_ABBREVIATION}, /etc/timezone ok"
    return failed(name, "; ".join(problems)) if problems else passed(name, ok)


def sshd_effective_problems(dump: str) -> list[str]:
    """`sshd -T` output (lower-case keyword, value) -> what breaks the image's SSH promise."""
    settings: dict[str, list[str]] = {}
    for line in dump.splitlines():
        key, _, value = line.strip().partition(" ")
        settings.setdefault(key.lower(), []).append(value.strip())
    want = {
        "port": [str(contract.SSH.port)],
        "permitrootlogin": ["yes"],
        "passwordauthentication": ["yes"],
        "pubkeyauthentication": ["yes"],
        "permitemptypasswords": ["no"],
    }
    return [
        f"{key} is {' '.join(settings.get(key, ['unset']))}, expected {' '.join(value)}"
        for key, value in want.items()
        if settings.get(key) != value
    ]


async def check_sshd_config(run: Runner, options: BuildOptions) -> CheckResult:
    """`sshd -t` and `sshd -T` with a throw-away host key (the image itself must ship none).

    -T prints the effective settings, so this proves the generated configuration wins over the
    distribution's defaults on this image's OpenSSH (first value of a keyword wins).
    """
    name = "sshd configuration"
    out = await run.sh(
        "d=$(mktemp -d) && ssh-keygen -q -t ed25519 -N '' -f \"$d/key\" && mkdir -p /run/sshd && "
        '/usr/sbin/sshd -t -h "$d/key" && echo ---T--- && /usr/sbin/sshd -T -h "$d/key" '
        '-C user=root,host=client,addr=127.0.0.1; rc=$?; rm -rf "$d"; exit $rc'
    )
    if out.code != 0 or "---T---" not in out.stdout:
        return failed(name, f"`sshd -t` failed: {tail(out.both, 4)}")
    problems = sshd_effective_problems(out.stdout.split("---T---", 1)[1])
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, f"sshd -t ok; effective: port {contract.SSH.port}, root login with password or key")


COMMAND_MODE_SCRIPT = (
    'printf \'TFCI_%s=%s\\n\' PATH "$PATH" LANG "${LANG:-}" LC_ALL "${LC_ALL:-}" TZ "${TZ:-}" '
    'PYTHON_PREFIX "${PYTHON_PREFIX:-}" PYTHON "$(command -v python)"'
)


def command_mode_problems(spec: ImageSpec, stdout: str) -> list[str]:
    """The lines a `bash -c` under sshd printed -> where they differ from the login environment.

    Anything besides the expected TFCI_ lines (a banner, an error) is itself a problem: scp, sftp
    and rsync break on a single stray byte.
    """
    lines = stdout.splitlines()
    found: dict[str, str] = {}
    for line in lines:
        if line.startswith("TFCI_") and "=" in line:
            key, _, value = line[len("TFCI_") :].partition("=")
            found[key] = value
    problems = []
    noise = [line for line in lines if not line.startswith("TFCI_")]
    if noise:
        problems.append(f"extra output (breaks scp/sftp/rsync): {noise[0][:80]!r}")
    prefix_bin = f"{spec.python_prefix}/bin"
    if found.get("PATH", "").split(":")[0] != prefix_bin:
        problems.append(f"PATH is {found.get('PATH', 'unset')!r}, expected it to start with {prefix_bin}")
    want = {
        "LANG": contract.LOCALE,
        "LC_ALL": contract.LOCALE,
        "TZ": contract.TIMEZONE,
        "PYTHON_PREFIX": spec.python_prefix,
        "PYTHON": f"{prefix_bin}/python",
    }
    problems += [
        f"{key} is {found.get(key) or 'unset'}, expected {value}"
        for key, value in want.items()
        if found.get(key) != value
    ]
    return problems


async def check_command_mode_env(run: Runner, options: BuildOptions) -> CheckResult:
    """The shell sshd starts for `ssh host CMD` (bare environment, SSH_CLIENT set, `bash -c`).

    The service checks do the same through a real sshd; this catches a missing /etc/bash.bashrc
    hook in every image, cheaply, before any service starts.
    """
    name = "ssh command-mode environment (bash -c under sshd)"
    out = await run.sh(
        "env -i HOME=/root USER=root SHELL=/bin/bash PATH=/usr/local/bin:/usr/bin:/bin "
        f"SSH_CLIENT='10.0.0.1 50000 22' SSH_CONNECTION='10.0.0.1 50000 10.0.0.2 22' "
        f"bash -c {shlex.quote(COMMAND_MODE_SCRIPT)}"
    )
    problems = command_mode_problems(run.spec, out.stdout)
    if out.code != 0 or out.stderr.strip():
        problems.append(f"exit {out.code}, stderr {tail(out.stderr, 2)!r}")
    if problems:
        return failed(name, "; ".join(problems))
    prefix_bin = f"{run.spec.python_prefix}/bin"
    return passed(name, f"PATH starts with {prefix_bin}; {contract.LOCALE}; {contract.TIMEZONE}; silent")


async def check_no_baked_secrets(run: Runner, options: BuildOptions) -> CheckResult:
    name = "no host keys or root password in the image"
    out = await run.sh("ls /etc/ssh/ssh_host_* 2>/dev/null; echo ---; grep '^root:' /etc/shadow")
    keys, _, shadow = out.stdout.partition("---")
    problems = []
    key_files = keys.split()
    if key_files:
        problems.append(f"SSH host keys are baked in: {', '.join(key_files[:3])}")
    ok, why = root_password_locked(shadow)
    if not ok:
        problems.append(why)
    return failed(name, "; ".join(problems)) if problems else passed(name, f"no host keys; {why}")


COMMON_CHECKS: tuple[Check, ...] = (
    check_smoke,
    check_versions,
    check_locale,
    check_timezone,
    check_sshd_config,
    check_command_mode_env,
    check_no_baked_secrets,
)
CPU_CHECKS: tuple[Check, ...] = (check_no_cuda,)
GPU_CHECKS: tuple[Check, ...] = (check_nvcc, check_cudnn, check_built_with_cuda, check_gpu_visible)
PIP_CUDA_CHECKS: tuple[Check, ...] = (check_nvidia_wheels,)


def checks_for(spec: ImageSpec) -> tuple[Check, ...]:
    if not spec.is_gpu:
        return COMMON_CHECKS + CPU_CHECKS
    return COMMON_CHECKS + GPU_CHECKS + (PIP_CUDA_CHECKS if spec.cuda_source == "pip" else ())


async def run_checks(
    image: Container,
    spec: ImageSpec,
    options: BuildOptions,
    report: CheckReport,
    checks: Sequence[Check] | None = None,
) -> CheckReport:
    """Run the image checks one after another (each is quick; TF imports are the slow part)."""
    from dagger import QueryError

    runner = Runner(image, spec)
    for check in checks if checks is not None else checks_for(spec):
        started = time.monotonic()
        try:
            result = await check(runner, options)
        except QueryError as exc:  # the engine could not even run the check
            result = failed(check.__name__.removeprefix("check_"), f"engine error: {tail(str(exc), 4)}")
        report.add(dataclasses.replace(result, seconds=round(time.monotonic() - started, 2)))
    return report
