"""Load versions.yaml into typed, frozen objects, refusing anything malformed.

Why so strict: the table is the single source of every version in the images, and a typo there
would otherwise surface an hour later as a failed pip install inside an engine (or, worse, as an
image that imports but cannot see the GPU). Every rule here fails with one line that names the file,
the row, the field and what would be valid. Versions and specifiers are parsed with `packaging`.
This module reads the top level and the shared sections; ci.table.releases reads `releases:` and
`targets:`. Target-set rules that need resolving (tag and alias collisions) live in
ci.table.resolve.resolve_targets; the base-image lock is merged where images are selected
(ci.select), so loading the table reads exactly one file.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

from ci.model import compat, refs
from ci.model.compat import Compat, PackageEra, Source
from ci.model.errors import table_error
from ci.model.paths import DEFAULT_TABLE
from ci.model.spec import CUDA_SOURCES, PYTHON_SOURCES, VARIANTS, Installer, InstallerFile
from ci.model.tags import ImageMeta
from ci.table import platforms
from ci.table.fields import Row, check_version, display_name, kind, read_yaml, section
from ci.table.releases import HTTPS_URL, releases, targets
from ci.table.rows import CudaImage, Defaults, MinicondaRow, OsBase, PythonRow, Table, parse_cuda_tag

_ERA_PACKAGES = ("tensorflow-cpu", "tensorflow-gpu", f"tensorflow[{compat.AND_CUDA_EXTRA}]")
_SOURCE_KEY = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_OS_ID = re.compile(r"^[a-z]+\d+(?:\.\d+)?$")
_PLATFORM = re.compile(r"^linux/[a-z0-9]+$")
# The platforms every build needs an installer for without compat.platforms (the images are linux/amd64).
INSTALLER_PLATFORMS = ("linux/amd64",)

# --------------------------------------------------------------------------- sections

_TOP_KEYS = (
    "schema",
    "defaults",
    "image",
    "sources",
    "compat",
    "tools",
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
    top = Row(shown, "top level", read_yaml(path, shown), _TOP_KEYS)
    schema = top.raw("schema")
    if schema != SCHEMA_VERSION:
        top.fail("schema", f"this pipeline reads schema {SCHEMA_VERSION}; got {kind(schema)}")

    defaults = _defaults(
        Row(shown, "defaults", top.raw("defaults"), ("variant", "cuda_source", "python_source"))
    )
    image = _image(Row(shown, "image", top.raw("image"), ("title", "description", "licenses"), ("source",)))
    sources = _sources(top, shown)
    os_bases = _os_bases(top, shown)
    cuda_images = _cuda_images(top, shown)
    rules = _compat(top, shown, sources, os_bases, cuda_images)
    installer = _installer(top, shown, sources, rules)
    pythons = _pythons(top, shown, rules)
    rows = releases(top, shown, rules, os_bases, cuda_images, pythons)
    return Table(
        path=path,
        display=shown,
        defaults=defaults,
        image=image,
        compat=rules,
        os_bases=os_bases,
        cuda_images=cuda_images,
        pythons=pythons,
        releases=rows,
        targets=targets(top, shown, rows, os_bases, rules),
        installer=installer,
    )


def _defaults(row: Row) -> Defaults:
    return Defaults(
        variant=row.choice("variant", VARIANTS),
        cuda_source=row.choice("cuda_source", CUDA_SOURCES),
        python_source=row.choice("python_source", PYTHON_SOURCES),
    )


def _image(row: Row) -> ImageMeta:
    return ImageMeta(
        title=row.string("title"),
        description=row.string("description"),
        licenses=row.string("licenses"),
        source=row.opt_string("source"),
    )


def _sources(top: Row, shown: str) -> dict[str, Source]:
    out: dict[str, Source] = {}
    for key, value in section(top, "sources", dict).items():
        if not isinstance(key, str) or not _SOURCE_KEY.match(key):
            top.fail(
                "sources", f"{key!r} is not a source key; expected lowercase words like 'pypi-tensorflow'"
            )
        row = Row(shown, f"sources.{key}", value, ("title", "url"))
        out[key] = Source(
            key=key, title=row.string("title"), url=row.string("url", HTTPS_URL, "an https:// URL")
        )
    for key in compat.CITED_BY_CODE:
        if key not in out:
            top.fail("sources", f"missing {key!r}: the pipeline's messages cite it")
    return out


def _source_key(row: Row, sources: Mapping[str, Source], key: str = "source") -> str:
    value = row.string(key)
    if value not in sources:
        row.fail(key, f"{value!r} is not a key of sources:; known: {', '.join(sources)}")
    return value


def _compat(
    top: Row,
    shown: str,
    sources: Mapping[str, Source],
    os_bases: Mapping[str, OsBase],
    cuda_images: Mapping[str, CudaImage],
) -> Compat:
    section = Row(
        shown, "compat", top.raw("compat"), ("package_eras", "cuda_wheel_suffix", "glibc"), ("platforms",)
    )

    eras: dict[str, PackageEra] = {}
    raw_eras = section.raw("package_eras")
    if not isinstance(raw_eras, dict) or not raw_eras:
        section.fail("package_eras", f"expected a mapping of package -> era; got {kind(raw_eras)}")
    for package, value in raw_eras.items():
        where = f"compat.package_eras[{package!r}]"
        row = Row(shown, where, value, ("releases", "why", "source"))
        if not isinstance(package, str) or package not in _ERA_PACKAGES:
            row.fail(None, f"unknown package; eras can be given for {', '.join(_ERA_PACKAGES)}")
        specs = row.string_list("releases")
        for spec in specs:
            row.specifier("releases", spec)
        eras[package] = PackageEra(
            package=package, releases=specs, why=row.string("why"), source=_source_key(row, sources)
        )

    suffix_row = Row(
        shown, "compat.cuda_wheel_suffix", section.raw("cuda_wheel_suffix"), ("suffixes", "source")
    )
    suffixes: dict[int, str] = {}
    raw_suffixes = suffix_row.raw("suffixes")
    if not isinstance(raw_suffixes, dict) or not raw_suffixes:
        suffix_row.fail("suffixes", f"expected a mapping of CUDA major -> suffix; got {kind(raw_suffixes)}")
    for cuda_major, suffix in raw_suffixes.items():
        if not isinstance(cuda_major, str) or not cuda_major.isdigit():
            suffix_row.fail("suffixes", f'key {cuda_major!r} must be a quoted CUDA major such as "12"')
        if not isinstance(suffix, str) or not re.match(r"^cu[0-9]+$", suffix):
            suffix_row.fail("suffixes", f"{suffix!r} is not a wheel suffix like 'cu12'")
        suffixes[int(cuda_major)] = suffix

    glibc_row = Row(shown, "compat.glibc", section.raw("glibc"), ("versions", "source"))
    glibc: dict[str, str] = {}
    raw_glibc = glibc_row.raw("versions")
    if not isinstance(raw_glibc, dict):
        glibc_row.fail("versions", f"expected a mapping of os id -> glibc version; got {kind(raw_glibc)}")
    for os_id, version in raw_glibc.items():
        glibc[str(os_id)] = glibc_row.version("versions", version if isinstance(version, str) else None)
    needed = [*os_bases, *(image.os_id for image in cuda_images.values())]
    for os_id in needed:
        if os_id not in glibc:
            glibc_row.fail("versions", f"no glibc version for {os_id!r} (an os of os_bases or cuda_images)")

    rules = Compat(
        sources=sources,
        package_eras=eras,
        cuda_wheel_suffix=suffixes,
        glibc=glibc,
        suffix_source=_source_key(suffix_row, sources),
        glibc_source=_source_key(glibc_row, sources),
    )
    if not section.has("platforms"):
        return rules
    platform_row = Row(
        shown, "compat.platforms", section.raw("platforms"), ("machines", "why", "source"), ("kinds",)
    )
    return platforms.compat_platforms(platform_row, rules, _source_key(platform_row, sources))


def _installer(top: Row, shown: str, sources: Mapping[str, Source], rules: Compat) -> Installer:
    """tools.uv: the pip layers' installer, one pinned wheel per platform (url, wheel and binary sha256).

    One for every platform of compat.platforms: uv runs on the engine's own machine (natively, or
    for an emulated platform with --python-platform, ci.build.cross), and an engine may be either.
    """
    tools = Row(shown, "tools", top.raw("tools"), ("uv",))
    row = Row(shown, "tools.uv", tools.raw("uv"), ("version", "source", "files"))
    version = row.version("version", parts=(3,))
    _source_key(row, sources)
    raw_files = row.raw("files")
    if not isinstance(raw_files, dict) or not raw_files:
        row.fail("files", f"expected a mapping of platform -> pinned wheel; got {kind(raw_files)}")
    files: list[InstallerFile] = []
    for platform, value in raw_files.items():
        where = f"tools.uv.files[{platform!r}]"
        file_row = Row(shown, where, value, ("url", "sha256", "binary_sha256"))
        if not isinstance(platform, str) or not _PLATFORM.match(platform):
            file_row.fail(None, "not a platform; expected e.g. 'linux/amd64'")
        url = file_row.string("url", HTTPS_URL, "an https:// URL of a .whl file")
        name = url.rsplit("/", 1)[-1]
        if not (name.startswith(f"uv-{version}-") and name.endswith(".whl")):
            file_row.fail("url", f"{name!r} is not a uv {version} wheel (uv-{version}-...-<platform>.whl)")
        files.append(
            InstallerFile(
                platform=platform,
                url=url,
                sha256=file_row.string("sha256", refs.SHA256_HEX, "64 lowercase hex digits"),
                binary_sha256=file_row.string("binary_sha256", refs.SHA256_HEX, "64 lowercase hex digits"),
            )
        )
    for platform in dict.fromkeys((*INSTALLER_PLATFORMS, *rules.machines)):
        if not any(f.platform == platform for f in files):
            row.fail("files", f"no wheel for {platform} (an engine of compat.platforms may run on it)")
    return Installer(name="uv", version=version, files=tuple(files))


def _os_bases(top: Row, shown: str) -> dict[str, OsBase]:
    out: dict[str, OsBase] = {}
    for os_id, value in section(top, "os_bases", dict).items():
        where = f"os_bases.{os_id}"
        if not isinstance(os_id, str) or not _OS_ID.match(os_id):
            top.fail("os_bases", f"{os_id!r} is not an os id; expected e.g. 'ubuntu22.04' or 'debian12'")
        spec = {"image": value} if isinstance(value, str) else value
        row = Row(shown, where, spec, ("image",), ("digest",))
        out[os_id] = OsBase(
            id=os_id,
            image=row.reference("image"),
            digest=row.opt_string("digest", refs.SHA256_DIGEST, "'sha256:' and 64 hex digits"),
        )
    return out


def _cuda_images(top: Row, shown: str) -> dict[str, CudaImage]:
    out: dict[str, CudaImage] = {}
    for tag, value in section(top, "cuda_images", dict).items():
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
        row = Row(shown, where, value, ("cudnn", "eol"))
        cudnn = row.version("cudnn", parts=(2, 3, 4))
        if major and Version(cudnn).release[0] != int(major):
            row.fail("cudnn", f"{cudnn} does not match the tag's cudnn{major}")
        check_version(cuda, (2, 3), functools.partial(row.fail, None))
        out[tag] = CudaImage(tag=tag, cuda=cuda, cudnn=cudnn, os_id=os_id, eol=row.boolean("eol", False))
    return out


def _pythons(top: Row, shown: str, rules: Compat) -> dict[str, PythonRow]:
    out: dict[str, PythonRow] = {}
    for version, value in section(top, "pythons", dict).items():
        if not isinstance(version, str):
            top.fail(
                "pythons", f'key {version!r} must be a quoted string such as "3.10" (YAML reads 3.10 as 3.1)'
            )
        where = f"pythons.{version}"
        row = Row(shown, where, value, ("jupyter", "miniconda"), ("miniconda_missing", "platforms"))
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
            sub = Row(shown, f"{where}.miniconda", row.raw("miniconda"), ("filename", "sha256", "verified"))
            miniconda = platforms.miniconda(sub, version, rules.machines[rules.default_platform])
        else:
            missing = row.opt_string("miniconda_missing")
            if missing is None:
                row.fail(
                    "miniconda_missing", "required when miniconda is null: say why there is no installer"
                )
        out[version] = PythonRow(
            version=version,
            jupyter=jupyter,
            miniconda=miniconda,
            miniconda_missing=missing,
            platform_miniconda=platforms.python_platforms(row, version, rules),
        )
    return out
