"""versions.yaml's platform fields: compat.platforms, each Python's and release's `platforms:`.

Why one module: which platforms exist, which image kinds each may have, which package and which
Miniconda installer a platform uses where it differs are checked the same way (one line naming the
row and field), so they are read in one place.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from ci.model import platforms as grammar
from ci.model import refs
from ci.model.compat import Compat
from ci.table.fields import Row, kind
from ci.table.rows import PACKAGE_KEYS, MinicondaRow, ReleasePlatform

_MACHINE = re.compile(r"^[a-z0-9_]+$")
_PACKAGE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
MINICONDA_FILE = re.compile(
    r"^Miniconda3-py(?P<py>\d+)_[0-9][0-9A-Za-z._-]*-Linux-(?P<machine>[a-z0-9_]+)\.sh$"
)


def platform_name(row: Row, key: str, value: object) -> str:
    """A platform as the table writes it: OS/ARCH, canonical (what the engine and indexes say)."""
    try:
        return str(grammar.parse(value if isinstance(value, str) else "", f"{value!r}:"))
    except grammar.PlatformError as exc:
        row.fail(key, str(exc))


def compat_platforms(row: Row, rules: Compat, source: str) -> Compat:
    """`rules` with compat.platforms: machines, platform_kinds, platform_why, platform_source."""
    raw = row.raw("machines")
    if not isinstance(raw, dict) or not raw:
        row.fail(
            "machines", f"expected a mapping of platform -> machine (linux/amd64: x86_64); got {kind(raw)}"
        )
    machines: dict[str, str] = {}
    for platform, machine in raw.items():
        name = platform_name(row, "machines", platform)
        if not isinstance(machine, str) or not _MACHINE.match(machine):
            row.fail("machines", f"{platform}: {machine!r} is not a machine name like 'x86_64' or 'aarch64'")
        machines[name] = machine
    kinds: dict[str, tuple[str, ...]] = {}
    raw_kinds = row.raw("kinds") or {}
    if not isinstance(raw_kinds, dict):
        row.fail("kinds", f"expected a mapping of platform -> image kinds; got {kind(raw_kinds)}")
    for platform, listed in raw_kinds.items():
        name = platform_name(row, "kinds", platform)
        if name not in machines or name == next(iter(machines)):
            row.fail("kinds", f"{name}: not one of the other platforms of machines ({', '.join(machines)})")
        if not isinstance(listed, list) or not all(k in PACKAGE_KEYS.values() for k in listed):
            row.fail("kinds", f"{name}: expected a list of {', '.join(PACKAGE_KEYS.values())}")
        kinds[name] = tuple(listed)
    return dataclasses.replace(
        rules, machines=machines, platform_kinds=kinds, platform_why=row.string("why"), platform_source=source
    )


def miniconda(row: Row, python: str, machine: str) -> MinicondaRow:
    """One installer row: a pyXY installer for `machine`, pinned by sha256."""
    hint = f"'Miniconda3-py<XY>_<version>-Linux-{machine}.sh'"
    filename = row.string("filename", MINICONDA_FILE, hint)
    match = MINICONDA_FILE.match(filename)
    expected = python.replace(".", "")
    if match is None or match["py"] != expected:
        row.fail("filename", f"{filename!r} is not a py{expected} installer (Python {python})")
    if match["machine"] != machine:
        row.fail("filename", f"{filename!r} is a {match['machine']} installer; this row is for {machine}")
    sha = row.string("sha256", refs.SHA256_HEX, "64 lowercase hex digits")
    return MinicondaRow(filename=filename, sha256=sha, verified=row.boolean("verified", False))


def python_platforms(row: Row, python: str, rules: Compat) -> tuple[tuple[str, MinicondaRow], ...]:
    """A Python's `platforms:` {PLATFORM: {miniconda: {...}}}: its installers on other platforms."""
    raw = row.raw("platforms")
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        row.fail("platforms", f"expected a mapping of platform -> {{miniconda: ...}}; got {kind(raw)}")
    out: list[tuple[str, MinicondaRow]] = []
    for platform, value in raw.items():
        name = _other_platform(row, platform, rules)
        entry = Row(row.file, f"{row.where}.platforms[{name}]", value, ("miniconda",))
        sub = Row(
            row.file, f"{entry.where}.miniconda", entry.raw("miniconda"), ("filename", "sha256", "verified")
        )
        out.append((name, miniconda(sub, python, rules.machines[name])))
    return tuple(out)


def _other_platform(row: Row, value: object, rules: Compat) -> str:
    name = platform_name(row, "platforms", value)
    others = [p for p in rules.machines if p != rules.default_platform]
    if name not in others:
        row.fail(
            "platforms",
            f"{name}: not a platform of compat.platforms besides {rules.default_platform};"
            f" valid: {', '.join(others) or 'none'}",
        )
    return name


def release_platforms(
    row: Row, rules: Compat, check_package: Callable[[Row, str, str], None]
) -> tuple[ReleasePlatform, ...]:
    """A release's `platforms:` {PLATFORM: {KIND: package, via: dist}}: kinds built elsewhere.

    check_package(row, key, text) applies the `packages:` rules (known name, era) to a package.
    """
    raw = row.raw("platforms")
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        row.fail("platforms", f"expected a mapping of platform -> {{cpu: package}}; got {kind(raw)}")
    out: list[ReleasePlatform] = []
    for platform, value in raw.items():
        name = _other_platform(row, platform, rules)
        allowed = rules.platform_kinds.get(name, ())
        entry = Row(row.file, f"{row.where}.platforms[{name}]", value, (), (*PACKAGE_KEYS.values(), "via"))
        packages: list[tuple[str, str]] = []
        for key in PACKAGE_KEYS.values():
            text = entry.opt_string(key)
            if text is None:
                continue
            if key not in allowed:
                entry.fail(
                    key,
                    f"{name} images are built for {', '.join(allowed) or 'no kind'} only:"
                    f" {rules.platform_why} ({rules.cite(rules.platform_source)})",
                )
            check_package(entry, key, text)
            packages.append((key, text))
        if not packages:
            entry.fail(None, f"names no image kind; give one of {', '.join(allowed) or '(none allowed)'}")
        via = entry.opt_string("via", _PACKAGE_NAME, "a distribution name such as 'tensorflow-cpu-aws'")
        out.append(ReleasePlatform(platform=name, packages=tuple(packages), via=via))
    return tuple(out)


def target_platforms(row: Row, rules: Compat) -> tuple[str, ...] | None:
    """A target's `platforms:` list (narrowing the release's), canonical names; None when absent."""
    if not row.has("platforms"):
        return None
    listed = row.string_list("platforms")
    names = tuple(platform_name(row, "platforms", p) for p in listed)
    for name in names:
        if name not in rules.machines:
            row.fail(
                "platforms",
                f"{name} is not a platform of compat.platforms; valid: {', '.join(rules.machines)}",
            )
    return names
