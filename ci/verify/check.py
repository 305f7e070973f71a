"""Check the table against the package index the build would use; report what is wrong or new.

Why: `plan` only proves the table is consistent with itself. A row that lists a Python for which
the index serves no wheel of that exact release resolves as `ok` and fails an hour into a build;
an and-cuda extra whose ranges let pip drift produces images whose tag lies. `verify` asks the index
(through ci.pkgindex) every question a build would, for every row, Python and image kind:

- the TensorFlow package of each image kind (cpu: packages.cpu, gpu: packages.gpu on the GPU base's
  OS, pip CUDA: tensorflow) has a wheel of exactly that release for that Python on manylinux, for the
  machine of every platform the image is built for (x86_64, aarch64: the release's `platforms:`,
  with the distribution it installs TensorFlow from there, `via`) and the image OS's glibc;
- the row's numpy constraint, TensorBoard requirement and the Python's Jupyter requirements each
  have a wheel for that Python;
- pip CUDA: every pinned NVIDIA wheel exists for that Python; the extra's own requirements (read
  from the wheel's core metadata) admit every pin, every nvidia-* requirement of the extra is pinned
  (or pip could drift), and its other requirements (TensorRT) can be found;
- and, like Renovate or Dependabot, the newest patch of each TensorFlow minor on the index that the
  table lacks.

Each finding is one line naming the row, the Python and the package. Errors make `verify` exit 1;
updates and "not checked" (an extra index this machine cannot reach) are reported but do not.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from packaging.markers import default_environment
from packaging.metadata import Metadata
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from ci.model import compat
from ci.table.rows import Table
from ci.verify.index import IndexFile, IndexUnreachable, PackageIndex, Target, installable, wheel_pythons
from ci.verify.installers import installer_findings
from ci.verify.subjects import Subject

Kind = Literal["error", "update", "not-checked"]
TENSORFLOW = "tensorflow"
_METADATA_TRIES = 8  # wheels of one release tried for core metadata before giving up


@dataclass(frozen=True)
class Finding:
    kind: Kind
    row: str  # "releases[6] (2.5.3)", or "index" for the releases report
    message: str
    python: str | None = None
    package: str | None = None  # the requirement at fault, e.g. "tensorflow-cpu==2.5.3"

    def line(self) -> str:
        parts = [f"{self.kind}: {self.row}"]
        if self.python is not None:
            parts.append(f"Python {self.python}")
        if self.package is not None:
            parts.append(self.package)
        return ": ".join(parts) + f": {self.message}"


@dataclass
class Report:
    indexes: tuple[str, ...]
    subjects: int = 0
    checks: int = 0
    findings: list[Finding] = field(default_factory=list)
    # Files that answered a question, per project: what tests/unit record as the offline index.
    witnesses: dict[str, set[IndexFile]] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)  # file URL -> core metadata read
    seconds: float = 0.0

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, finding: Finding) -> None:
        if finding not in self.findings:
            self.findings.append(finding)

    def witness(self, files: Iterable[IndexFile]) -> None:
        for file in files:
            self.witnesses.setdefault(file.project, set()).add(file)

    def summary(self) -> str:
        counts = {
            kind: sum(f.kind == kind for f in self.findings) for kind in ("error", "update", "not-checked")
        }
        return (
            f"verify: {self.subjects} images ({self.checks} index checks) against {', '.join(self.indexes)}"
            f" in {self.seconds:.1f}s: {counts['error']} error(s), {counts['update']} update(s),"
            f" {counts['not-checked']} not checked"
        )


def _package(subject: Subject) -> str:
    return subject.spec.tensorflow_package


# --------------------------------------------------------------------------- the run


class Verifier:
    """Answers every question of a set of subjects against the indexes; collects findings."""

    def __init__(self, table: Table, index: PackageIndex, primary: str, extra: Sequence[str] = ()) -> None:
        self.table = table
        self.index = index
        self.primary = primary
        self.extra = tuple(extra)
        self.report = Report(indexes=(primary, *self.extra))
        self._done: set[tuple[str, str, str, str, tuple[str, ...], bool]] = set()
        self._metadata: dict[str, str | IndexFile] = {}

    def _indexes(self, subject: Subject | None) -> tuple[str, ...]:
        return (self.primary, *self.extra, *(subject.spec.pip_extra_indexes if subject else ()))

    def run(self, subjects: Sequence[Subject], *, releases_report: bool = True) -> Report:
        started = time.monotonic()
        self.report.subjects = len(subjects)
        self.index.prefetch(self._wanted(subjects, releases_report))
        try:
            self.index.files(self.primary, TENSORFLOW)
        except IndexUnreachable as exc:
            self.report.add(
                Finding("error", "index", f"cannot read the package index {exc.index}: {exc.reason}")
            )
            self.report.seconds = time.monotonic() - started
            return self.report
        for subject in subjects:
            self._subject(subject)
        if releases_report:
            self._releases()
        self.report.seconds = time.monotonic() - started
        return self.report

    def _wanted(self, subjects: Sequence[Subject], releases_report: bool) -> set[tuple[str, str]]:
        wanted = {(self.primary, TENSORFLOW)} if releases_report else set()
        for subject in subjects:
            names = [_package(subject), "numpy", "tensorboard"]
            via = subject.spec.build_for(subject.platform).tensorflow_via
            names += [Requirement(via).name] if via else []
            names += [Requirement(r).name for r in subject.spec.jupyter_requirements]
            names += [wheel.dist for wheel in subject.spec.nvidia_wheels]
            for index in self._indexes(subject):
                wanted |= {(index, canonicalize_name(name)) for name in names}
        return wanted

    # ------------------------------------------------------------------ one subject

    def _subject(self, subject: Subject) -> None:
        row, py = subject.row, subject.python
        glibc = compat.glibc_of(self.table.compat, subject.os_id)
        if glibc is None:  # the table validates every os it names; a --os override may not
            self.report.add(Finding("error", row.where, f"no glibc known for os {subject.os_id!r}", py))
            return
        target = Target(py, glibc, subject.spec.machine)
        package = _package(subject)
        tf_files = self.require(subject, target, Requirement(f"{package}=={row.tf}"))
        via = subject.spec.build_for(subject.platform).tensorflow_via
        if via is not None:  # e.g. tensorflow-cpu-aws: what the aarch64 `tensorflow` wheel installs
            self.require(subject, target, Requirement(via))
        self.require(subject, target, Requirement(f"numpy{subject.spec.numpy_specifier}"))
        self.require(subject, target, Requirement(subject.spec.tensorboard_requirement))
        for text in subject.spec.jupyter_requirements:
            self.require(subject, target, Requirement(text))
        if subject.spec.nvidia_wheels:
            for wheel in subject.spec.nvidia_wheels:
                self.require(subject, target, Requirement(wheel.constraint))
            self._extra(subject, target, tf_files)

    def require(
        self, subject: Subject, target: Target, req: Requirement, *, allow_sdist: bool = False
    ) -> list[IndexFile]:
        """Is there a file for `req` on `target` on the subject's indexes? Records a finding if not."""
        indexes = self._indexes(subject)
        key = (str(req), target.python, target.glibc, target.machine, indexes, allow_sdist)
        files: list[IndexFile] = []
        unreachable: list[IndexUnreachable] = []
        for index in indexes:
            try:
                files += self.index.files(index, req.name)
            except IndexUnreachable as exc:
                unreachable.append(exc)
        found = installable(files, req.specifier, target, allow_sdist=allow_sdist)
        if key in self._done:
            return found
        self._done.add(key)
        self.report.checks += 1
        row, py = subject.row.where, target.python
        if found:
            self.report.witness(found[:1])
            return found
        if unreachable:
            where = "; ".join(f"{u.index} unreachable ({u.reason})" for u in unreachable)
            self.report.add(
                Finding("not-checked", row, f"not on the reachable index(es), and {where}", py, _show(req))
            )
            return found
        self.report.add(Finding("error", row, self._why_missing(files, req, target), py, _show(req)))
        return found

    def _why_missing(self, files: Sequence[IndexFile], req: Requirement, target: Target) -> str:
        platform = f"cp{target.python.replace('.', '')} manylinux {target.machine} (glibc {target.glibc})"
        if not files:
            return f"the index has no project {req.name}"
        matching = [f for f in files if req.specifier.contains(f.version, prereleases=True)]
        if not matching:
            newest = max((f.version for f in files), default=None)
            return f"no release matches {req.specifier or 'any'} (newest: {newest})"
        pythons = wheel_pythons(matching, req.specifier, target.machine)
        elsewhere = f" (linux {target.machine} wheels exist for {', '.join(pythons)})" if pythons else ""
        sdist = " (only an sdist)" if all(not f.is_wheel for f in matching) else ""
        return f"no wheel for {platform}{elsewhere}{sdist}"

    # ------------------------------------------------------------------ the and-cuda extra

    def _extra(self, subject: Subject, target: Target, tf_files: Sequence[IndexFile]) -> None:
        row, py = subject.row, subject.python
        pip = row.pip_cuda
        assert pip is not None
        assert row.packages.pip_cuda is not None
        extra_req = f"{row.packages.pip_cuda}=={row.tf}"
        if not tf_files:
            return  # the missing TensorFlow wheel is already an error
        found = self._row_metadata(subject, tf_files)
        if isinstance(found, str):
            finding = Finding("not-checked", row.where, found, package=extra_req)
            if finding not in self.report.findings:
                self.report.checks += 1
            self.report.add(finding)
            return
        text = self.report.metadata[found.url]
        requires = _extra_requirements(text, py, target.machine)
        pinned: dict[str, str] = {str(canonicalize_name(d)): v for _, d, v in pip.dists()}
        seen: set[str] = set()
        for req in requires:
            name = str(canonicalize_name(req.name))
            if name.startswith(compat.NVIDIA_PREFIX):
                seen.add(name)
                self.report.checks += 1
                if name not in pinned:
                    self.report.add(
                        Finding(
                            "error",
                            row.where,
                            f"the extra requires {req} but pip_cuda.wheels pins no {name}:"
                            " pip may install any version the extra allows",
                            py,
                            extra_req,
                        )
                    )
                elif not req.specifier.contains(pinned[name], prereleases=True):
                    self.report.add(
                        Finding(
                            "error",
                            row.where,
                            f"pip_cuda.wheels pins {name}=={pinned[name]} but the extra requires {req}:"
                            " pip cannot satisfy both",
                            py,
                            extra_req,
                        )
                    )
            else:  # TensorRT and friends: the build installs them too (sdists allowed, as pip)
                self.require(subject, target, req, allow_sdist=True)
        for name, version in pinned.items():
            if name not in seen:
                self.report.add(
                    Finding(
                        "error",
                        row.where,
                        f"pip_cuda.wheels pins {name}=={version}, which the extra does not install",
                        py,
                        extra_req,
                    )
                )

    def _row_metadata(self, subject: Subject, tf_files: Sequence[IndexFile]) -> str | IndexFile:
        """Core metadata declaring the row's and-cuda extra, or why none could be read.

        Every wheel of a release carries the same Requires-Dist (TensorFlow's setup.py does not vary
        them by platform), and indexes serve PEP 658 metadata for some files only (a mirror may
        serve none), so the subject's own wheel is tried first, then the release's other wheels.
        """
        row = subject.row
        if row.tf in self._metadata:
            return self._metadata[row.tf]
        candidates = [*tf_files]
        for index in self._indexes(subject):
            with contextlib.suppress(IndexUnreachable):
                candidates += [
                    f
                    for f in self.index.files(index, TENSORFLOW)
                    if str(f.version) == row.tf and f.is_wheel and f not in candidates
                ]
        candidates.sort(
            key=lambda f: (f not in tf_files, not any("linux" in t.platform for t in f.wheel_tags))
        )
        reasons: list[str] = []
        answer: str | IndexFile = ""
        for file in candidates[:_METADATA_TRIES]:
            try:
                text = self.index.metadata(file)
            except IndexUnreachable as exc:
                reasons.append(exc.reason)
                continue
            if text is not None and f"extra == '{compat.AND_CUDA_EXTRA}'" in text.replace('"', "'"):
                self.report.metadata[file.url] = text
                self.report.witness([file])
                answer = file
                break
        if answer == "":
            why = f"; {reasons[0]}" if reasons else ""
            answer = (
                f"the index serves no core metadata (PEP 658) declaring the {compat.AND_CUDA_EXTRA} extra"
                f" for {len(candidates[:_METADATA_TRIES])} wheel(s) of {row.tf} tried{why};"
                " the extra's requirements were not compared with pip_cuda.wheels"
            )
        self._metadata[row.tf] = answer
        return answer

    # ------------------------------------------------------------------ releases the table lacks

    def _releases(self) -> None:
        files = self.index.files(self.primary, TENSORFLOW)
        versions = sorted({f.version for f in files if not f.yanked and not f.version.is_prerelease})
        table = {Version(row.tf) for row in self.table.releases}
        oldest = min(v.release[:2] for v in table)
        newest_per_minor: dict[tuple[int, ...], Version] = {}
        for version in versions:
            minor = version.release[:2]
            if minor >= oldest:
                newest_per_minor[minor] = max(version, newest_per_minor.get(minor, version))
        self.report.checks += 1
        for minor, newest in sorted(newest_per_minor.items()):
            rows = [v for v in table if v.release[:2] == minor]
            have = max(rows) if rows else None
            self.report.witness([next(f for f in files if f.version == newest)])
            if have is None:
                message = f"TensorFlow {newest} is on the index; the table has no {minor[0]}.{minor[1]} row"
            elif newest > have:
                message = (
                    f"TensorFlow {newest} is on the index; the table's {minor[0]}.{minor[1]} row is {have}"
                )
            else:
                continue
            self.report.add(Finding("update", "releases", message, package=f"{TENSORFLOW}=={newest}"))


def _show(req: Requirement) -> str:
    """The requirement without its marker: 'tensorrt-libs==8.6.1'."""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}{req.specifier}"


def _extra_requirements(metadata: str, python: str, machine: str = "x86_64") -> list[Requirement]:
    """The Requires-Dist entries that only the and-cuda extra adds, for CPython `python` on Linux."""
    meta = Metadata.from_email(metadata, validate=False)
    env: dict[str, str] = {
        **{key: str(value) for key, value in default_environment().items()},
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": machine,
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    out: list[Requirement] = []
    for req in meta.requires_dist or []:
        if req.marker is None:
            continue
        with_extra = req.marker.evaluate({**env, "extra": compat.AND_CUDA_EXTRA})
        without = req.marker.evaluate({**env, "extra": ""})
        if with_extra and not without:
            out.append(req)
    return out


def verify(
    table: Table,
    subjects: Sequence[Subject],
    index: PackageIndex,
    primary: str,
    extra: Sequence[str] = (),
    *,
    releases_report: bool = True,
    miniconda_base_url: str | None = None,
) -> Report:
    """Check the subjects' wheels on the index, and (with a base URL) their Miniconda installers."""
    report = Verifier(table, index, primary, extra).run(subjects, releases_report=releases_report)
    if miniconda_base_url is not None:
        asked, found = installer_findings(subjects, index.session, miniconda_base_url)
        report.checks += asked
        for finding in found:
            kind: Kind = "error" if finding.kind == "error" else "not-checked"
            report.add(Finding(kind, finding.row, finding.message, finding.python, finding.package))
    return report
