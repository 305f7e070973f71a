"""Read a Python package index (PEP 503 HTML or PEP 691 JSON) and ask which files would install.

Why pypi-simple + packaging, and not pip itself or a hand-written client:
- `verify` asks many small, independent questions ("is there a cp36 manylinux x86_64 wheel of
  tensorflow-cpu==2.5.3?", "does nvidia-nccl-cu12==2.25.1 install on Python 3.13?"), for every row
  and Python of the table: about a thousand questions over thirty projects. Reading each project's
  page once and answering locally takes seconds; pip (`pip install --dry-run --report` or `pip index
  versions`, one process per question) takes a few seconds per question, resolves whole dependency
  trees the table does not claim anything about, and stops at its first failure, so one run could
  not list every problem.
- pypi-simple (maintained, typed) speaks both index formats (PyPI and mirrors such as devpi, Nexus
  or Artifactory serve one or the other), follows the PEP 700/592/658 fields (requires-python,
  yanked, core metadata) and raises on HTTP errors instead of logging and skipping them: a finder
  that skips an unreachable index (pip, unearth) would turn "could not look" into "no such wheel".
- packaging (the library pip vendors) does the rest: wheel file names, the tags an interpreter
  accepts (PEP 425/600), specifiers and markers (PEP 440/508) and core metadata.

Every page is fetched once per run (and cached); an unreachable index is reported, never silently
treated as empty.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version
from pypi_simple import NoSuchProjectError, PyPISimple
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

TIMEOUT_S = 60


@dataclass(frozen=True)
class IndexFile:
    """One downloadable file of a project on one index."""

    index: str  # the index URL it was listed on
    project: str  # canonical project name
    filename: str
    url: str
    version: Version
    wheel_tags: frozenset[Tag]  # empty for an sdist
    requires_python: str | None
    yanked: bool
    hashes: tuple[tuple[str, str], ...] = ()

    @property
    def is_wheel(self) -> bool:
        return bool(self.wheel_tags)


class IndexUnreachable(Exception):
    """An index could not be read (network, TLS, HTTP status other than 404)."""

    def __init__(self, index: str, reason: str) -> None:
        super().__init__(f"{index}: {reason}")
        self.index = index
        self.reason = reason


def make_session(ca_bundle: Path | None = None) -> requests.Session:
    """A requests session that trusts `ca_bundle` (a TLS-intercepting proxy's CA) and retries."""
    session = requests.Session()
    retry = Retry(total=3, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504))
    session.mount("https://", HTTPAdapter(max_retries=retry, pool_maxsize=16))
    session.mount("http://", HTTPAdapter(max_retries=retry, pool_maxsize=16))
    if ca_bundle is not None:
        session.verify = str(ca_bundle)
    return session


def _parse_file(filename: str) -> tuple[Version, frozenset[Tag]] | None:
    try:
        if filename.endswith(".whl"):
            _, version, _, tags = parse_wheel_filename(filename)
            return version, tags
        if filename.endswith((".tar.gz", ".zip")):
            _, version = parse_sdist_filename(filename)
            return version, frozenset()
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None  # eggs, .exe installers, ...


class PackageIndex:
    """The project pages of one or more indexes, fetched on demand and cached for the run."""

    def __init__(self, session: requests.Session, timeout: float = TIMEOUT_S) -> None:
        self.session = session
        self.timeout = timeout
        self._pages: dict[tuple[str, str], tuple[IndexFile, ...] | IndexUnreachable] = {}
        self._metadata: dict[str, str | IndexUnreachable | None] = {}
        self._lock = threading.Lock()

    def _client(self, index: str) -> PyPISimple:
        return PyPISimple(endpoint=index, session=self.session)

    def files(self, index: str, project: str) -> tuple[IndexFile, ...]:
        """Every parseable file of `project` on `index`; () when the index has no such project.

        Raises IndexUnreachable when the index cannot be read (the answer would be a guess).
        """
        key = (index, canonicalize_name(project))
        with self._lock:
            cached = self._pages.get(key)
        if cached is None:
            cached = self._fetch(index, key[1])
            with self._lock:
                self._pages[key] = cached
        if isinstance(cached, IndexUnreachable):
            raise cached
        return cached

    def _fetch(self, index: str, project: str) -> tuple[IndexFile, ...] | IndexUnreachable:
        try:
            page = self._client(index).get_project_page(project, timeout=self.timeout)
        except NoSuchProjectError:
            return ()
        except (requests.RequestException, ValueError) as exc:
            return IndexUnreachable(index, reason(exc))
        out: list[IndexFile] = []
        for pkg in page.packages:
            parsed = _parse_file(pkg.filename)
            if parsed is None:
                continue
            version, tags = parsed
            out.append(
                IndexFile(
                    index=index,
                    project=project,
                    filename=pkg.filename,
                    url=pkg.url,
                    version=version,
                    wheel_tags=tags,
                    requires_python=pkg.requires_python,
                    yanked=pkg.is_yanked,
                    hashes=tuple(sorted(pkg.digests.items())),
                )
            )
        return tuple(out)

    def prefetch(self, wanted: Iterable[tuple[str, str]], workers: int = 8) -> None:
        """Fetch many (index, project) pages at once; errors are cached and raised by files()."""
        from concurrent.futures import ThreadPoolExecutor

        todo = sorted(set(wanted))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda item: self._swallow(*item), todo))

    def _swallow(self, index: str, project: str) -> None:
        with contextlib.suppress(IndexUnreachable):
            self.files(index, project)

    def metadata(self, file: IndexFile) -> str | None:
        """The file's core metadata (PEP 658, `<url>.metadata`), or None when the index has none."""
        with self._lock:
            cached = self._metadata.get(file.url, "")
        if cached == "":
            cached = self._fetch_metadata(file)
            with self._lock:
                self._metadata[file.url] = cached
        if isinstance(cached, IndexUnreachable):
            raise cached
        return cached

    def _fetch_metadata(self, file: IndexFile) -> str | IndexUnreachable | None:
        # PEP 658: the metadata of a file is served next to it as <file URL>.metadata. PyPI serves
        # it for every wheel, announced or not; an index without it answers 404.
        url = f"{file.url.split('#', 1)[0]}.metadata"
        try:
            response = self.session.get(url, timeout=self.timeout)
            if response.status_code == 404:
                return None
            response.raise_for_status()
        except requests.RequestException as exc:
            return IndexUnreachable(file.index, reason(exc))
        return response.content.decode("utf-8", errors="replace")


def reason(exc: BaseException) -> str:
    text = " ".join((str(exc).strip() or type(exc).__name__).split())
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS error (give the proxy's CA with --ca-cert): {text[:200]}"
    if isinstance(exc, requests.exceptions.ConnectionError):
        if "resolve" in text.lower() or "Name or service not known" in text:
            return "cannot resolve its host name"
        return f"cannot connect: {text[:200]}"
    return text[:300]


# --------------------------------------------------------------------------- what installs where


@dataclass(frozen=True)
class Target:
    """An interpreter and platform: CPython X.Y on manylinux MACHINE with a given glibc."""

    python: str  # "3.11"
    glibc: str  # "2.35"
    machine: str = "x86_64"  # the platform's machine (versions.yaml compat.platforms): "aarch64"

    def tags(self) -> frozenset[Tag]:
        return _tags(self.python, self.glibc, self.machine)


_TAG_CACHE: dict[tuple[str, str, str], frozenset[Tag]] = {}
# PEP 600's aliases of the older manylinux tags (glibc minor -> name), per machine they exist for.
_LEGACY = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
_LEGACY_MACHINES = {
    "manylinux2014": None,
    "manylinux2010": ("x86_64", "i686"),
    "manylinux1": ("x86_64", "i686"),
}


def _tags(python: str, glibc: str, machine: str) -> frozenset[Tag]:
    key = (python, glibc, machine)
    if key not in _TAG_CACHE:
        major, minor = (int(p) for p in python.split(".")[:2])
        glibc_major, glibc_minor = (int(p) for p in glibc.split(".")[:2])
        platforms = [f"manylinux_{glibc_major}_{m}_{machine}" for m in range(glibc_minor, 4, -1)]
        platforms += [
            f"{name}_{machine}"
            for m, name in _LEGACY.items()
            if glibc_major == 2 and m <= glibc_minor and machine in (_LEGACY_MACHINES[name] or (machine,))
        ]
        # CPython < 3.8 was built with pymalloc: its ABI tag is cp3Xm.
        abi = f"cp{major}{minor}{'m' if (major, minor) < (3, 8) else ''}"
        tags = [
            *cpython_tags((major, minor), abis=[abi], platforms=platforms),
            *compatible_tags((major, minor), f"cp{major}{minor}", platforms),
        ]
        _TAG_CACHE[key] = frozenset(tags)
    return _TAG_CACHE[key]


def python_ok(file: IndexFile, python: str) -> bool:
    """Does the file's Requires-Python admit CPython `python` (X.Y, as pip --python-version X.Y)?"""
    if not file.requires_python:
        return True
    try:
        return Version(python) in SpecifierSet(file.requires_python)
    except (InvalidSpecifier, InvalidVersion):
        return True  # pip ignores an unparseable Requires-Python as well


def installable(
    files: Sequence[IndexFile], specifier: SpecifierSet, target: Target, *, allow_sdist: bool = False
) -> list[IndexFile]:
    """The files pip would consider for `specifier` on `target`, newest first.

    Yanked files count only for an exact `==` pin (PEP 592); pre-releases only where the
    specifier itself names one (PEP 440, as pip).
    """
    exact = any(spec.operator in ("==", "===") for spec in specifier)
    tags = target.tags()
    out = [
        f
        for f in files
        if specifier.contains(f.version)
        and (not f.yanked or exact)
        and python_ok(f, target.python)
        and ((f.is_wheel and bool(f.wheel_tags & tags)) or (allow_sdist and not f.is_wheel))
    ]
    return sorted(out, key=lambda f: (f.version, f.is_wheel), reverse=True)


def wheel_pythons(files: Sequence[IndexFile], specifier: SpecifierSet, machine: str = "x86_64") -> list[str]:
    """The cpXY interpreters that some linux MACHINE wheel matching `specifier` is built for."""
    found: set[str] = set()
    for f in files:
        if f.is_wheel and specifier.contains(f.version):
            for tag in f.wheel_tags:
                if machine in tag.platform and "linux" in tag.platform:
                    found.add(tag.interpreter)
    return sorted(found, key=lambda t: (len(t), t))
