"""Load versions.yaml into typed, frozen objects, refusing anything malformed.

Why so strict: the table is the single source of every version in the images, and a typo there
would otherwise surface an hour later as a failed pip install inside an engine (or, worse, as an
image that imports but cannot see the GPU). Every rule here fails with one line that names the file,
the row, the field and what would be valid. Versions and specifiers are parsed with `packaging`.

Target-set rules that need resolving (tag and alias collisions) live in ci.resolve.resolve_targets.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ci import compat
from ci.compat import Compat, PackageEra, Source
from ci.errors import UserError, table_error
from ci.lock import read_lock

DEFAULT_TABLE = Path(__file__).resolve().parent.parent / "versions.yaml"

VARIANTS = ("cpu", "gpu")
CUDA_SOURCES = ("base", "pip")
PYTHON_SOURCES = ("miniconda", "system")
TF_PACKAGES = ("tensorflow", "tensorflow-gpu", "tensorflow-cpu")
AND_CUDA = compat.AND_CUDA_EXTRA
_ERA_PACKAGES = ("tensorflow-cpu", "tensorflow-gpu", f"tensorflow[{AND_CUDA}]")

_HTTPS_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]+)?(/\S*)?$")
_SOURCE_KEY = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_COMPONENT = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_IMAGE_REF = re.compile(r"^[a-z0-9][a-z0-9._/:-]*$")
_MINICONDA_FILE = re.compile(r"^Miniconda3-py(?P<py>\d+)_[0-9][0-9A-Za-z._-]*-Linux-x86_64\.sh$")
# nvidia/cuda devel tags: "12.2.2-cudnn8-devel-ubuntu22.04", "12.6.3-cudnn-devel-ubuntu24.04".
_CUDA_TAG = re.compile(
    r"^(?P<cuda>\d+\.\d+(?:\.\d+)?)-cudnn(?P<major>\d*)-devel-(?P<os>[a-z]+\d+(?:\.\d+)?)$"
)
_OS_ID = re.compile(r"^[a-z]+\d+(?:\.\d+)?$")


# --------------------------------------------------------------------------- typed rows


@dataclass(frozen=True)
class OsBase:
    id: str
    image: str
    digest: str | None


@dataclass(frozen=True)
class CudaImage:
    """An nvidia/cuda devel tag and the cuDNN NVIDIA put inside it."""

    tag: str
    cuda: str
    cudnn: str
    os_id: str
    eol: bool


@dataclass(frozen=True)
class MinicondaRow:
    filename: str
    sha256: str
    verified: bool


@dataclass(frozen=True)
class PythonRow:
    version: str
    jupyter: tuple[str, ...]
    miniconda: MinicondaRow | None
    miniconda_missing: str | None


@dataclass(frozen=True)
class Packages:
    cpu: str
    gpu: str
    pip_cuda: str | None


@dataclass(frozen=True)
class PipCuda:
    """What tensorflow[and-cuda] installs: exact NVIDIA wheel versions, keyed by component."""

    wheels: tuple[tuple[str, str], ...]  # (component, version), e.g. ("cudnn", "9.3.0.75")
    suffix: str  # "cu12": the wheels are nvidia-<component>-<suffix>
    # Only these Pythons can install the extra (None: every Python of the row).
    python: tuple[str, ...] | None = None
    # A package index the extra's pins need besides PyPI (2.15.0 pins tensorrt-libs, which only
    # pypi.nvidia.com serves); None when PyPI alone resolves the extra.
    index: str | None = None

    def version(self, component: str) -> str:
        return dict(self.wheels)[component]

    @property
    def cuda(self) -> str:
        """The CUDA runtime wheel's version: what the tag's CUDA says."""
        return self.version(compat.CUDA_RUNTIME)

    @property
    def cudnn(self) -> str:
        return self.version(compat.CUDNN)

    def dists(self) -> tuple[tuple[str, str, str], ...]:
        """(component, distribution name, version) for every pinned wheel."""
        return tuple((c, compat.nvidia_wheel_name(c, self.suffix), v) for c, v in self.wheels)


@dataclass(frozen=True)
class Release:
    index: int
    tf: str
    python: tuple[str, ...]
    default_python: str
    cuda: str
    cudnn: str
    packages: Packages
    gpu_base: str | None
    gpu_unavailable: str | None
    pip_cuda: PipCuda | None
    cpu_os: str
    numpy: tuple[tuple[str, str], ...]  # (python, specifier) for every Python of the row
    tensorboard: str

    @property
    def where(self) -> str:
        return f"releases[{self.index}] ({self.tf})"

    @property
    def version(self) -> Version:
        return Version(self.tf)

    def numpy_for(self, python: str) -> str:
        return dict(self.numpy)[python]


@dataclass(frozen=True)
class Target:
    index: int
    tf: str
    python: str | None
    variant: str | None
    cuda_source: str | None
    os: str | None
    gpu_base: str | None
    python_source: str | None
    aliases: bool

    @property
    def where(self) -> str:
        return f"targets[{self.index}] ({self.tf})"


@dataclass(frozen=True)
class Defaults:
    variant: str
    cuda_source: str
    python_source: str


@dataclass(frozen=True)
class ImageMeta:
    title: str
    description: str
    licenses: str
    source: str | None


@dataclass(frozen=True)
class Table:
    path: Path
    display: str  # the file name as errors show it
    defaults: Defaults
    image: ImageMeta
    compat: Compat
    os_bases: Mapping[str, OsBase]
    cuda_images: Mapping[str, CudaImage]
    pythons: Mapping[str, PythonRow]
    releases: tuple[Release, ...]
    targets: tuple[Target, ...]
    # base image (as the table names it) -> digest, from versions.lock.yaml beside the table (ci/lock.py)
    locks: Mapping[str, str] = field(default_factory=dict)

    def release(self, tf: str) -> Release | None:
        for row in self.releases:
            if row.tf == tf:
                return row
        return None

    @property
    def tf_versions(self) -> tuple[str, ...]:
        return tuple(row.tf for row in self.releases)


# --------------------------------------------------------------------------- YAML reading


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def display_name(path: Path) -> str:
    """The path as the user would recognise it: relative to the cwd when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def _read_yaml(path: Path, shown: str) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{shown}: cannot read the table: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UserError(f"{shown}: not UTF-8 text") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise UserError(f"{shown}: invalid YAML: {where}{problem}") from None


# --------------------------------------------------------------------------- field checkers


class _Row:
    """One mapping in the table plus where it is, so every check can say file/row/field."""

    def __init__(
        self, file: str, where: str, value: object, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> None:
        self.file = file
        self.where = where
        if not isinstance(value, dict):
            self.fail(None, f"expected a mapping with keys {', '.join(required)}; got {_kind(value)}")
        self.data: dict[Any, Any] = value
        allowed = required + optional
        for key in value:
            if key not in allowed:
                self.fail(str(key), f"unknown key; valid keys: {', '.join(allowed)}")
        for key in required:
            if key not in value:
                self.fail(key, "missing (required)")

    def fail(self, field: str | None, problem: str) -> NoReturn:
        raise table_error(self.file, self.where, field, problem)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str) -> object:
        return self.data.get(key)

    def string(self, key: str, pattern: re.Pattern[str] | None = None, hint: str = "") -> str:
        value = self.data.get(key)
        if isinstance(value, float | int) and not isinstance(value, bool):
            self.fail(key, f'got the number {value!r}; write it as a quoted string, e.g. "{value}"')
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"expected a non-empty string; got {_kind(value)}")
        if pattern is not None and not pattern.match(value):
            self.fail(key, f"{value!r} is malformed{'; expected ' + hint if hint else ''}")
        return value

    def opt_string(self, key: str, pattern: re.Pattern[str] | None = None, hint: str = "") -> str | None:
        return self.string(key, pattern, hint) if self.has(key) else None

    def boolean(self, key: str, default: bool) -> bool:
        if key not in self.data:
            return default
        value = self.data[key]
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false; got {_kind(value)}")
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.string(key)
        if value not in choices:
            self.fail(key, f"{value!r} is not valid; expected one of {', '.join(choices)}")
        return value

    def string_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if not isinstance(value, list) or not value:
            self.fail(key, f"expected a non-empty list of strings; got {_kind(value)}")
        out: list[str] = []
        for item in value:
            if isinstance(item, float | int) and not isinstance(item, bool):
                self.fail(key, f'got the number {item!r}; write it as a quoted string, e.g. "{item}"')
            if not isinstance(item, str) or not item:
                self.fail(key, f"expected strings; got {_kind(item)}")
            if item in out:
                self.fail(key, f"{item!r} is listed twice")
            out.append(item)
        return tuple(out)

    def version(self, key: str, value: str | None = None, parts: tuple[int, ...] = (2, 3)) -> str:
        text = self.string(key) if value is None else value
        check_version(text, parts, lambda problem: self.fail(key, problem))
        return text

    def specifier(self, key: str, value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"expected a version specifier string like '<2.0'; got {_kind(value)}")
        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            self.fail(key, f"{value!r} is not a valid version specifier (PEP 440), e.g. '>=1.23.5,<2.0.0'")
        return value


def check_version(text: str, parts: tuple[int, ...], fail: Callable[[str], NoReturn]) -> Version:
    """Parse a plain release version ("3.10", "2.15.0") with packaging and insist on canonical form."""
    try:
        parsed = Version(text)
    except InvalidVersion:
        fail(f"{text!r} is not a version; expected {_parts_hint(parts)}")
    if str(parsed) != text or parsed.is_prerelease or parsed.local or len(parsed.release) not in parts:
        fail(f"{text!r} is not a plain release version; expected {_parts_hint(parts)}")
    return parsed


def _parts_hint(parts: tuple[int, ...]) -> str:
    examples = {1: "12", 2: "3.10", 3: "2.15.0", 4: "8.9.6.50"}
    return " or ".join(f"a version like {examples[n]!r}" for n in parts)


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


# --------------------------------------------------------------------------- sections

_TOP_KEYS = (
    "schema",
    "defaults",
    "image",
    "sources",
    "compat",
    "os_bases",
    "cuda_images",
    "pythons",
    "releases",
    "targets",
)
SCHEMA_VERSION = 1


def load_table(path: Path | None = None) -> Table:
    """Read and validate versions.yaml. Raises UserError (one line) on any problem."""
    path = DEFAULT_TABLE if path is None else path
    shown = display_name(path)
    top = _Row(shown, "top level", _read_yaml(path, shown), _TOP_KEYS)
    schema = top.raw("schema")
    if schema != SCHEMA_VERSION:
        top.fail("schema", f"this pipeline reads schema {SCHEMA_VERSION}; got {_kind(schema)}")

    defaults = _defaults(
        _Row(shown, "defaults", top.raw("defaults"), ("variant", "cuda_source", "python_source"))
    )
    image = _image(_Row(shown, "image", top.raw("image"), ("title", "description", "licenses"), ("source",)))
    sources = _sources(top, shown)
    os_bases = _os_bases(top, shown)
    cuda_images = _cuda_images(top, shown)
    rules = _compat(top, shown, sources, os_bases, cuda_images)
    pythons = _pythons(top, shown)
    releases = _releases(top, shown, rules, os_bases, cuda_images, pythons)
    targets = _targets(top, shown, releases, os_bases)
    return Table(
        path=path,
        display=shown,
        defaults=defaults,
        image=image,
        compat=rules,
        os_bases=os_bases,
        cuda_images=cuda_images,
        pythons=pythons,
        releases=releases,
        targets=targets,
        locks={image: entry.digest for image, entry in read_lock(path, shown).items()},
    )


def _defaults(row: _Row) -> Defaults:
    return Defaults(
        variant=row.choice("variant", VARIANTS),
        cuda_source=row.choice("cuda_source", CUDA_SOURCES),
        python_source=row.choice("python_source", PYTHON_SOURCES),
    )


def _image(row: _Row) -> ImageMeta:
    return ImageMeta(
        title=row.string("title"),
        description=row.string("description"),
        licenses=row.string("licenses"),
        source=row.opt_string("source"),
    )


def _section(top: _Row, key: str, kind: type) -> Any:  # noqa: ANN401 - raw YAML
    value = top.raw(key)
    if not isinstance(value, kind) or not value:
        top.fail(key, f"expected a non-empty {'mapping' if kind is dict else 'list'}; got {_kind(value)}")
    return value


def _sources(top: _Row, shown: str) -> dict[str, Source]:
    out: dict[str, Source] = {}
    for key, value in _section(top, "sources", dict).items():
        if not isinstance(key, str) or not _SOURCE_KEY.match(key):
            top.fail(
                "sources", f"{key!r} is not a source key; expected lowercase words like 'pypi-tensorflow'"
            )
        row = _Row(shown, f"sources.{key}", value, ("title", "url"))
        out[key] = Source(
            key=key, title=row.string("title"), url=row.string("url", _HTTPS_URL, "an https:// URL")
        )
    for key in compat.CITED_BY_CODE:
        if key not in out:
            top.fail("sources", f"missing {key!r}: the pipeline's messages cite it")
    return out


def _source_key(row: _Row, sources: Mapping[str, Source], key: str = "source") -> str:
    value = row.string(key)
    if value not in sources:
        row.fail(key, f"{value!r} is not a key of sources:; known: {', '.join(sources)}")
    return value


def _compat(
    top: _Row,
    shown: str,
    sources: Mapping[str, Source],
    os_bases: Mapping[str, OsBase],
    cuda_images: Mapping[str, CudaImage],
) -> Compat:
    section = _Row(shown, "compat", top.raw("compat"), ("package_eras", "cuda_wheel_suffix", "glibc"))

    eras: dict[str, PackageEra] = {}
    raw_eras = section.raw("package_eras")
    if not isinstance(raw_eras, dict) or not raw_eras:
        section.fail("package_eras", f"expected a mapping of package -> era; got {_kind(raw_eras)}")
    for package, value in raw_eras.items():
        where = f"compat.package_eras[{package!r}]"
        row = _Row(shown, where, value, ("releases", "why", "source"))
        if not isinstance(package, str) or package not in _ERA_PACKAGES:
            row.fail(None, f"unknown package; eras can be given for {', '.join(_ERA_PACKAGES)}")
        specs = row.string_list("releases")
        for spec in specs:
            row.specifier("releases", spec)
        eras[package] = PackageEra(
            package=package, releases=specs, why=row.string("why"), source=_source_key(row, sources)
        )

    suffix_row = _Row(
        shown, "compat.cuda_wheel_suffix", section.raw("cuda_wheel_suffix"), ("suffixes", "source")
    )
    suffixes: dict[int, str] = {}
    raw_suffixes = suffix_row.raw("suffixes")
    if not isinstance(raw_suffixes, dict) or not raw_suffixes:
        suffix_row.fail("suffixes", f"expected a mapping of CUDA major -> suffix; got {_kind(raw_suffixes)}")
    for cuda_major, suffix in raw_suffixes.items():
        if not isinstance(cuda_major, str) or not cuda_major.isdigit():
            suffix_row.fail("suffixes", f'key {cuda_major!r} must be a quoted CUDA major such as "12"')
        if not isinstance(suffix, str) or not re.match(r"^cu[0-9]+$", suffix):
            suffix_row.fail("suffixes", f"{suffix!r} is not a wheel suffix like 'cu12'")
        suffixes[int(cuda_major)] = suffix

    glibc_row = _Row(shown, "compat.glibc", section.raw("glibc"), ("versions", "source"))
    glibc: dict[str, str] = {}
    raw_glibc = glibc_row.raw("versions")
    if not isinstance(raw_glibc, dict):
        glibc_row.fail("versions", f"expected a mapping of os id -> glibc version; got {_kind(raw_glibc)}")
    for os_id, version in raw_glibc.items():
        glibc[str(os_id)] = glibc_row.version("versions", version if isinstance(version, str) else None)
    needed = [*os_bases, *(image.os_id for image in cuda_images.values())]
    for os_id in needed:
        if os_id not in glibc:
            glibc_row.fail("versions", f"no glibc version for {os_id!r} (an os of os_bases or cuda_images)")

    return Compat(
        sources=sources,
        package_eras=eras,
        cuda_wheel_suffix=suffixes,
        glibc=glibc,
        suffix_source=_source_key(suffix_row, sources),
        glibc_source=_source_key(glibc_row, sources),
    )


def _os_bases(top: _Row, shown: str) -> dict[str, OsBase]:
    out: dict[str, OsBase] = {}
    for os_id, value in _section(top, "os_bases", dict).items():
        where = f"os_bases.{os_id}"
        if not isinstance(os_id, str) or not _OS_ID.match(os_id):
            top.fail("os_bases", f"{os_id!r} is not an os id; expected e.g. 'ubuntu22.04' or 'debian12'")
        spec = {"image": value} if isinstance(value, str) else value
        row = _Row(shown, where, spec, ("image",), ("digest",))
        out[os_id] = OsBase(
            id=os_id,
            image=row.string("image", _IMAGE_REF, "an image reference like 'ubuntu:22.04'"),
            digest=row.opt_string("digest", compat.SHA256_DIGEST, "'sha256:' and 64 hex digits"),
        )
    return out


def parse_cuda_tag(tag: str) -> tuple[str, str, str] | None:
    """(cuda, cudnn major or "", os id) from an nvidia/cuda devel tag, or None if it is not one."""
    match = _CUDA_TAG.match(tag)
    return None if match is None else (match["cuda"], match["major"], match["os"])


def _cuda_images(top: _Row, shown: str) -> dict[str, CudaImage]:
    out: dict[str, CudaImage] = {}
    for tag, value in _section(top, "cuda_images", dict).items():
        where = f"cuda_images[{tag!r}]"
        parsed = parse_cuda_tag(tag) if isinstance(tag, str) else None
        if parsed is None:
            raise table_error(
                shown,
                where,
                None,
                "not an nvidia/cuda devel tag; expected e.g. '12.2.2-cudnn8-devel-ubuntu22.04'",
            )
        cuda, major, os_id = parsed
        row = _Row(shown, where, value, ("cudnn", "eol"))
        cudnn = row.version("cudnn", parts=(2, 3, 4))
        if major and Version(cudnn).release[0] != int(major):
            row.fail("cudnn", f"{cudnn} does not match the tag's cudnn{major}")
        check_version(cuda, (2, 3), functools.partial(row.fail, None))
        out[tag] = CudaImage(tag=tag, cuda=cuda, cudnn=cudnn, os_id=os_id, eol=row.boolean("eol", False))
    return out


def _pythons(top: _Row, shown: str) -> dict[str, PythonRow]:
    out: dict[str, PythonRow] = {}
    for version, value in _section(top, "pythons", dict).items():
        if not isinstance(version, str):
            top.fail(
                "pythons", f'key {version!r} must be a quoted string such as "3.10" (YAML reads 3.10 as 3.1)'
            )
        where = f"pythons.{version}"
        row = _Row(shown, where, value, ("jupyter", "miniconda"), ("miniconda_missing",))
        check_version(version, (2,), functools.partial(row.fail, None))
        jupyter = row.string_list("jupyter")
        for item in jupyter:
            try:
                Requirement(item)
            except InvalidRequirement:
                row.fail("jupyter", f"{item!r} is not a pip requirement (PEP 508)")
        miniconda: MinicondaRow | None = None
        missing: str | None = None
        if row.has("miniconda"):
            sub = _Row(shown, f"{where}.miniconda", row.raw("miniconda"), ("filename", "sha256", "verified"))
            miniconda = _miniconda(sub, version)
        else:
            missing = row.opt_string("miniconda_missing")
            if missing is None:
                row.fail(
                    "miniconda_missing", "required when miniconda is null: say why there is no installer"
                )
        out[version] = PythonRow(
            version=version, jupyter=jupyter, miniconda=miniconda, miniconda_missing=missing
        )
    return out


def _miniconda(row: _Row, python: str) -> MinicondaRow:
    filename = row.string("filename", _MINICONDA_FILE, "'Miniconda3-py<XY>_<version>-Linux-x86_64.sh'")
    match = _MINICONDA_FILE.match(filename)
    expected = python.replace(".", "")
    if match is None or match["py"] != expected:
        row.fail("filename", f"{filename!r} is not a py{expected} installer (Python {python})")
    sha = row.string("sha256", compat.SHA256_HEX, "64 lowercase hex digits")
    return MinicondaRow(filename=filename, sha256=sha, verified=row.boolean("verified", False))


_RELEASE_REQUIRED = (
    "tf",
    "python",
    "default_python",
    "cuda",
    "cudnn",
    "packages",
    "cpu_os",
    "numpy",
    "tensorboard",
)
_RELEASE_OPTIONAL = ("gpu_base", "gpu_unavailable", "pip_cuda")


def _releases(
    top: _Row,
    shown: str,
    rules: Compat,
    os_bases: Mapping[str, OsBase],
    cuda_images: Mapping[str, CudaImage],
    pythons: Mapping[str, PythonRow],
) -> tuple[Release, ...]:
    rows: list[Release] = []
    seen: dict[str, int] = {}
    for index, value in enumerate(_section(top, "releases", list)):
        label = value.get("tf") if isinstance(value, dict) else None
        where = f"releases[{index}]" + (f" ({label})" if isinstance(label, str) else "")
        row = _Row(shown, where, value, _RELEASE_REQUIRED, _RELEASE_OPTIONAL)
        tf = row.version("tf", parts=(3,))
        if tf in seen:
            row.fail("tf", f"duplicate row: {tf} is already releases[{seen[tf]}]")
        seen[tf] = index
        rows.append(_release(row, index, tf, rules, os_bases, cuda_images, pythons))
    return tuple(rows)


def _release(
    row: _Row,
    index: int,
    tf: str,
    rules: Compat,
    os_bases: Mapping[str, OsBase],
    cuda_images: Mapping[str, CudaImage],
    pythons: Mapping[str, PythonRow],
) -> Release:
    python = row.string_list("python")
    for py in python:
        row.version("python", py, parts=(2,))
        if py not in pythons:
            row.fail("python", f"Python {py} has no entry under pythons:; known: {', '.join(pythons)}")
    default_python = row.version("default_python", parts=(2,))
    if default_python not in python:
        row.fail("default_python", f"{default_python} is not in this row's python list ({', '.join(python)})")
    cuda = row.version("cuda", parts=(2,))
    cudnn = row.version("cudnn", parts=(2,))
    packages = _packages(
        _Row(row.file, f"{row.where}.packages", row.raw("packages"), ("cpu", "gpu"), ("pip_cuda",)),
        tf,
        rules,
    )

    gpu_base = row.opt_string("gpu_base")
    gpu_unavailable = row.opt_string("gpu_unavailable")
    if (gpu_base is None) == (gpu_unavailable is None):
        row.fail(
            "gpu_base",
            "give exactly one of gpu_base (an nvidia/cuda devel image) or gpu_unavailable (the reason)",
        )
    if gpu_base is not None:
        problem = gpu_base_problem(gpu_base, cuda, cudnn, cuda_images)
        if problem is not None:
            row.fail("gpu_base", problem)

    pip_cuda: PipCuda | None = None
    if row.has("pip_cuda"):
        if packages.pip_cuda is None:
            row.fail("pip_cuda", "needs packages.pip_cuda (the tensorflow[and-cuda] package) as well")
        sub = _Row(row.file, f"{row.where}.pip_cuda", row.raw("pip_cuda"), ("wheels",), ("python", "index"))
        pip_cuda = _pip_cuda(sub, rules, cuda, cudnn, python)
    elif packages.pip_cuda is not None:
        row.fail("pip_cuda", "missing: packages.pip_cuda needs the NVIDIA wheel versions its extra installs")

    cpu_os = row.string("cpu_os")
    if cpu_os not in os_bases:
        row.fail("cpu_os", f"{cpu_os!r} is not in os_bases; valid: {', '.join(os_bases)}")

    return Release(
        index=index,
        tf=tf,
        python=python,
        default_python=default_python,
        cuda=cuda,
        cudnn=cudnn,
        packages=packages,
        gpu_base=gpu_base,
        gpu_unavailable=gpu_unavailable,
        pip_cuda=pip_cuda,
        cpu_os=cpu_os,
        numpy=_numpy(row, python),
        tensorboard=row.specifier("tensorboard", row.raw("tensorboard")),
    )


def _fail_prefixed(row: _Row, field: str, prefix: str, problem: str) -> NoReturn:
    row.fail(field, f"{prefix}: {problem}")


def _pip_cuda(row: _Row, rules: Compat, cuda: str, cudnn: str, python: tuple[str, ...]) -> PipCuda:
    """The pinned NVIDIA wheels: complete for the tag's claims, consistent with the row."""
    raw = row.raw("wheels")
    if not isinstance(raw, dict) or not raw:
        row.fail("wheels", f"expected a mapping of NVIDIA component -> exact version; got {_kind(raw)}")
    wheels: list[tuple[str, str]] = []
    for component, version in raw.items():
        if not isinstance(component, str) or not _COMPONENT.match(component):
            row.fail("wheels", f"{component!r} is not a component name like 'cuda-runtime' or 'cudnn'")
        text = version if isinstance(version, str) else None
        if text is None:
            row.fail("wheels", f"{component}: expected a quoted version string; got {_kind(version)}")
        check_version(text, (2, 3, 4), functools.partial(_fail_prefixed, row, "wheels", component))
        wheels.append((component, text))
    pinned = dict(wheels)
    for component in compat.TAGGED_COMPONENTS:
        if component not in pinned:
            row.fail("wheels", f"missing {component!r}: the tag, labels and checks need its version")
    runtime = pinned[compat.CUDA_RUNTIME]
    if compat.major(runtime) != compat.major(cuda):
        row.fail(
            "wheels", f"cuda-runtime {runtime} is not CUDA {compat.major(cuda)}.x like the row's cuda {cuda}"
        )
    if not compat.cudnn_compatible(pinned[compat.CUDNN], cudnn):
        row.fail(
            "wheels",
            f"cudnn {pinned[compat.CUDNN]} is not compatible with the tested {cudnn}"
            f" (same major, minor >= {cudnn}; {rules.cite(compat.CUDNN_SOURCES[0])})",
        )
    suffix = compat.cuda_wheel_suffix(rules, cuda)
    if suffix is None:
        row.fail(
            "wheels",
            f"compat.cuda_wheel_suffix names no wheel suffix for CUDA {compat.major(cuda)};"
            f" known: {', '.join(str(m) for m in rules.cuda_wheel_suffix)}",
        )
    only: tuple[str, ...] | None = None
    if row.has("python"):
        only = row.string_list("python")
        for py in only:
            if py not in python:
                row.fail("python", f"{py} is not one of the row's Pythons ({', '.join(python)})")
    return PipCuda(
        wheels=tuple(wheels),
        suffix=suffix,
        python=only,
        index=row.opt_string("index", _HTTPS_URL, "an https:// package index URL"),
    )


def _packages(row: _Row, tf: str, rules: Compat) -> Packages:
    names: dict[str, str | None] = {}
    for key in ("cpu", "gpu", "pip_cuda"):
        text = row.opt_string(key)
        names[key] = text
        if text is None:
            continue
        try:
            req = Requirement(text)
        except InvalidRequirement:
            row.fail(key, f"{text!r} is not a package name; expected one of {', '.join(TF_PACKAGES)}")
        if req.name not in TF_PACKAGES or str(req.specifier) or req.marker is not None:
            row.fail(
                key,
                f"{text!r}: expected a bare name from {', '.join(TF_PACKAGES)} (the version is always ==tf)",
            )
        wants_and_cuda = key == "pip_cuda"
        if req.extras - {AND_CUDA}:
            row.fail(key, f"{text!r}: unknown extra; only [{AND_CUDA}] is used")
        if (AND_CUDA in req.extras) != wants_and_cuda:
            expected = f"tensorflow[{AND_CUDA}]" if wants_and_cuda else "a package without extras"
            row.fail(key, f"{text!r}: {key} must be {expected}")
        problem = compat.package_problem(rules, text, tf)
        if problem is not None:
            row.fail(key, problem)
    cpu, gpu = names["cpu"], names["gpu"]
    assert cpu is not None  # required key
    assert gpu is not None  # required key
    return Packages(cpu=cpu, gpu=gpu, pip_cuda=names["pip_cuda"])


def _numpy(row: _Row, python: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    value = row.raw("numpy")
    if isinstance(value, str):
        spec = row.specifier("numpy", value)
        return tuple((py, spec) for py in python)
    if not isinstance(value, dict):
        row.fail("numpy", f"expected a specifier or a mapping of Python -> specifier; got {_kind(value)}")
    for key in value:
        if key != "default" and key not in python:
            row.fail(
                "numpy",
                f"key {key!r} is neither 'default' nor one of this row's Pythons ({', '.join(python)})",
            )
    out: list[tuple[str, str]] = []
    for py in python:
        if py not in value and "default" not in value:
            row.fail("numpy", f"no specifier for Python {py}; add it or a 'default'")
        out.append((py, row.specifier("numpy", value.get(py, value.get("default")))))
    return tuple(out)


def split_image_ref(ref: str) -> tuple[str, str, str | None] | None:
    """("nvidia/cuda", "12.2.2-cudnn8-devel-ubuntu22.04", digest) or None if not repo:tag[@digest]."""
    match = re.match(
        r"^(?P<repo>[a-z0-9][a-z0-9._/:-]*?):(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]*)(?:@(?P<digest>[^@]+))?$",
        ref,
    )
    if match is None:
        return None
    return match["repo"], match["tag"], match["digest"]


def gpu_base_problem(ref: str, cuda: str, cudnn: str, cuda_images: Mapping[str, CudaImage]) -> str | None:
    """Why `ref` cannot serve a TF built with CUDA `cuda` / cuDNN `cudnn`, or None if it can."""
    parts = split_image_ref(ref)
    if parts is None:
        return (
            f"{ref!r} is not an image reference; expected e.g. 'nvidia/cuda:12.2.2-cudnn8-devel-ubuntu22.04'"
        )
    _, tag, digest = parts
    if digest is not None and not compat.SHA256_DIGEST.match(digest):
        return f"{ref!r}: the digest must be 'sha256:' and 64 hex digits"
    if parse_cuda_tag(tag) is None:
        return f"{ref!r} is not an nvidia/cuda *-cudnn*-devel tag (e.g. 12.2.2-cudnn8-devel-ubuntu22.04)"
    image = cuda_images.get(tag)
    if image is None:
        return f"the cuDNN inside {tag!r} is unknown; add it to cuda_images (known: {', '.join(cuda_images)})"
    if Version(image.cuda).release[0] != Version(cuda).release[0]:
        return f"{tag} has CUDA {image.cuda}, but this TensorFlow needs CUDA {cuda} (same major)"
    if not compat.cudnn_compatible(image.cudnn, cudnn):
        return (
            f"{tag} has cuDNN {image.cudnn}, but this TensorFlow needs cuDNN {Version(cudnn).release[0]}.x"
            f" with minor >= {cudnn} (TF's rule: same major, equal or higher minor)"
        )
    return None


_TARGET_OPTIONAL = ("python", "variant", "cuda_source", "os", "gpu_base", "python_source", "aliases")


def _targets(
    top: _Row, shown: str, releases: tuple[Release, ...], os_bases: Mapping[str, OsBase]
) -> tuple[Target, ...]:
    by_tf = {row.tf: row for row in releases}
    out: list[Target] = []
    seen: dict[tuple[object, ...], int] = {}
    for index, value in enumerate(_section(top, "targets", list)):
        label = value.get("tf") if isinstance(value, dict) else None
        where = f"targets[{index}]" + (f" ({label})" if isinstance(label, str) else "")
        row = _Row(shown, where, value, ("tf",), _TARGET_OPTIONAL)
        tf = row.string("tf")
        release = by_tf.get(tf)
        if release is None:
            row.fail("tf", f"no release row for {tf}; valid: {', '.join(by_tf)}")
        python = row.opt_string("python")
        if python is not None and python not in release.python:
            row.fail(
                "python", f"TensorFlow {tf} has wheels for Python {', '.join(release.python)}; got {python}"
            )
        os_id = row.opt_string("os")
        if os_id is not None and os_id not in os_bases:
            row.fail("os", f"{os_id!r} is not in os_bases; valid: {', '.join(os_bases)}")
        target = Target(
            index=index,
            tf=tf,
            python=python,
            variant=row.choice("variant", VARIANTS) if row.has("variant") else None,
            cuda_source=row.choice("cuda_source", CUDA_SOURCES) if row.has("cuda_source") else None,
            os=os_id,
            gpu_base=row.opt_string("gpu_base"),
            python_source=row.choice("python_source", PYTHON_SOURCES) if row.has("python_source") else None,
            aliases=row.boolean("aliases", True),
        )
        key = (tf, python, target.variant, target.cuda_source, os_id, target.gpu_base, target.python_source)
        if key in seen:
            row.fail(None, f"duplicate target: the same request as targets[{seen[key]}]")
        seen[key] = index
        out.append(target)
    return tuple(out)
