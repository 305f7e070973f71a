"""What the probe's outputs mean: pure rules over command output, unit-tested on canned text.

Why apart from the checks: nvcc banners, cuDNN headers, /etc/shadow fields, `sshd -T` dumps and the
environment a command-mode shell sees are parsed and compared the same way by the in-image checks
and the service checks, without an engine.
"""

from __future__ import annotations

import re

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ci.model import compat, contract
from ci.model.compat import major_minor
from ci.model.spec import ImageSpec
from ci.model.tags import LABEL_PREFIX, wheel_label

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
