"""Checks run inside a built image: does it do what its tag and the seed guide promise?

Each check is a small async function of (Runner, BuildOptions) returning a CheckResult; what the
outputs mean is ci.probe.rules, how commands run is ci.probe.runner, and which checks an image gets
follows from its kind (checks_for).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from ci.build.options import BuildOptions
from ci.model import compat, contract
from ci.model.compat import cudnn_compatible, major_minor
from ci.model.spec import ImageSpec, Kind
from ci.model.tags import wheel_label
from ci.probe.rules import (
    CUDA_LABEL,
    CUDNN_LABEL,
    command_mode_problems,
    compare_nvidia_wheels,
    compare_versions,
    parse_cudnn_probe,
    parse_nvcc_release,
    root_password_locked,
    sshd_effective_problems,
)
from ci.probe.runner import Output, Runner, run_all
from ci.report.model import CheckReport, CheckResult, failed, not_checked, passed, tail
from ci.scripts import script_text

if TYPE_CHECKING:
    from dagger import Container

Check = Callable[[Runner, BuildOptions], Awaitable[CheckResult]]
COMMAND_MODE_SCRIPT = script_text("command-mode.sh")


async def check_smoke(run: Runner, options: BuildOptions) -> CheckResult:
    name = "tensorflow smoke test"
    out = await run.sh(
        f"{run.python} -c 'import tensorflow as tf; print(tf.reduce_sum(tf.random.normal([1000, 1000])))'"
    )
    if out.code != 0 or "tf.Tensor(" not in out.stdout:
        return failed(name, f"tf.reduce_sum failed (exit {out.code}): {tail(out.both, 6)}")
    return passed(name, out.stdout.strip().splitlines()[-1])


async def check_platform(run: Runner, options: BuildOptions) -> CheckResult:
    """The image runs as the platform it is published for: the kernel's view and Python's agree.

    Why: a platform's image must hold that platform's binaries (an amd64 layer slipped into an
    arm64 image would run, emulated, and fool every other check).
    """
    name = "runs as its platform"
    want = run.spec.machine
    out = await run.sh(f"uname -m; {run.python} -c 'import platform; print(platform.machine())'")
    found = out.stdout.split()
    if out.code != 0 or found != [want, want]:
        return failed(
            name, f"{run.spec.platform} wants {want}; uname -m, Python say {found} ({tail(out.both, 2)})"
        )
    return passed(name, f"{run.spec.platform}: uname -m and platform.machine() are {want}")


async def check_versions(run: Runner, options: BuildOptions) -> CheckResult:
    name = "versions match the tag"
    out = await run.script("check-versions.py", env=[("TF_CPP_MIN_LOG_LEVEL", "3")])
    try:
        found = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return failed(name, f"could not read versions (exit {out.code}): {tail(out.both, 6)}")
    problems = compare_versions(run.spec, found)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(found.items()))
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, summary)


async def check_pip_requirements(run: Runner, options: BuildOptions) -> CheckResult:
    """`pip check`: every installed package's requirements are installed, in versions it accepts.

    Why: the pip layers install in two steps (JupyterLab, then TensorFlow under its constraints),
    and the installer is uv while users keep pip; pip's own view of the result must be clean.
    """
    name = "pip check (every installed package's requirements are met)"
    out = await run.sh(f"PIP_DISABLE_PIP_VERSION_CHECK=1 {run.python} -m pip check")
    if out.code != 0:
        return failed(name, f"pip check exited {out.code}: {tail(out.both, 6)}")
    return passed(name, out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "ok")


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
    site = spec.site_packages
    return f"$(command -v nvcc) /usr/local/cuda/bin/nvcc {site}/nvidia/cuda_nvcc/bin/nvcc"


def _ptxas_location(spec: ImageSpec) -> str:
    return f"{spec.site_packages}/nvidia/cuda_nvcc/bin/ptxas"


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


async def probe_cudnn(run: Runner) -> tuple[tuple[str, str] | None, Output]:
    """(cuDNN version, where it was found) or None, plus the probe's output for messages."""
    wheel = run.spec.nvidia_wheel(compat.CUDNN)
    dist = (wheel.dist,) if wheel is not None else ()
    out = await run.script("cudnn.sh", run.spec.site_packages, run.python, *dist)
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


async def check_nvidia_wheels(run: Runner, options: BuildOptions) -> CheckResult:
    """pip CUDA: the installed nvidia-* wheels are the pinned ones, and the tag and labels say so."""
    name = "NVIDIA wheels match the pins, tag and labels"
    spec = run.spec
    dists = [wheel.dist for wheel in spec.nvidia_wheels]
    if not dists:
        return failed(name, "this pip-CUDA spec pins no NVIDIA wheels (versions.yaml pip_cuda.wheels)")
    out = await run.script("dist-versions.py", *dists)
    try:
        installed = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return failed(name, f"could not read wheel versions (exit {out.code}): {tail(out.both, 4)}")
    keys = [wheel_label(d) for d in dists] + [CUDA_LABEL, CUDNN_LABEL]
    labels = {key: await run.container.label(key) for key in keys}
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

    ctr = run.container.experimental_with_all_gp_us()
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
    check_platform,
    check_smoke,
    check_versions,
    check_pip_requirements,
    check_locale,
    check_timezone,
    check_sshd_config,
    check_command_mode_env,
    check_no_baked_secrets,
)
CPU_CHECKS: tuple[Check, ...] = (check_no_cuda,)
GPU_CHECKS: tuple[Check, ...] = (check_nvcc, check_cudnn, check_built_with_cuda, check_gpu_visible)
PIP_CUDA_CHECKS: tuple[Check, ...] = (check_nvidia_wheels,)


# Which checks each kind of image gets, after COMMON_CHECKS.
KIND_CHECKS: dict[Kind, tuple[Check, ...]] = {
    "cpu": CPU_CHECKS,
    "gpu": GPU_CHECKS,
    "pip": GPU_CHECKS + PIP_CUDA_CHECKS,
}


def checks_for(spec: ImageSpec) -> tuple[Check, ...]:
    return COMMON_CHECKS + KIND_CHECKS[spec.kind.name]


async def run_checks(
    image: Container,
    spec: ImageSpec,
    options: BuildOptions,
    report: CheckReport,
    checks: Sequence[Check] | None = None,
) -> CheckReport:
    """Run the image checks one after another (each is quick; TF imports are the slow part)."""
    return await run_all(
        report, checks if checks is not None else checks_for(spec), Runner(image, spec), options
    )
