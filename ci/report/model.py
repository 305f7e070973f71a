"""The result model every stage writes into: one CheckResult per check, one CheckReport per image.

Why one module: the in-image checks, the service checks, the build/publish steps and the report
writers all speak about the same facts (what was checked, how it went, how long it took, what the
image turned out to contain). Keeping the model here, apart from the code that runs checks or
collects facts, lets the writers (ci.report.files, ci.report.markdown) and the CLI summary use it without
importing dagger or the checks themselves.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from ci.model.vulns import GateResult

Status = Literal["pass", "fail", "not-checked"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "not-checked")


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    message: str
    seconds: float | None = None  # how long the check (or step) took, when measured
    platform: str | None = None  # the platform of the image it ran on ("linux/arm64")

    @property
    def failed(self) -> bool:
        return self.status == "fail"


@dataclass(frozen=True)
class PushedImage:
    """Where `build --publish` put an image: the digest is what promotion copies, exactly."""

    repository: str  # registry/path, no tag
    tag: str
    digest: str  # sha256:... (an image index's for an image of several platforms)
    # Each platform's manifest digest (in the index, or the one manifest), canonical order.
    platforms: tuple[tuple[str, str], ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}@{self.digest}"


# The report's package sections, by the SBOM component's package URL type (purl spec), in report
# order; components without a purl (binaries syft found) are "other".
PACKAGE_TITLES: dict[str, str] = {
    "deb": "Debian packages",
    "pypi": "Python packages",
    "conda": "Conda packages",
    "npm": "npm packages",
    "other": "Other components",
}


@dataclass(frozen=True)
class Package:
    """One component of the image's SBOM (ci.report.sbom reads them from syft's CycloneDX)."""

    kind: str  # purl type: deb, pypi, conda, npm, ... ("other" without a purl)
    name: str
    version: str
    arch: str | None = None  # the purl's arch qualifier (dpkg architecture, conda subdir)
    licenses: tuple[str, ...] = ()  # SPDX ids or expressions, else licence names


@dataclass(frozen=True)
class VulnScan:
    """The scanner's findings for the image's SBOM, judged by the gate (ci.model.vulns)."""

    scanner: str  # which scanner and database, for the report
    result: GateResult


@dataclass(frozen=True)
class LayerFacts:
    """One OCI layer of the image, bottom (base) first."""

    digest: str  # the compressed blob, as in the manifest
    diff_id: str  # sha256 of the uncompressed tar, as in the config
    size: int  # compressed bytes (what a pull transfers)
    uncompressed_size: int | None  # bytes on disk once unpacked; None when not measured
    media_type: str
    created_by: str  # the config history's entry: the engine's description of the operation
    step: str | None  # the layer function (ci.build.layers.LAYER_ORDER) that added it; None: not attributed


@dataclass(frozen=True)
class StepTiming:
    """One layer function of the build: how long it took and how many OCI layers it added."""

    name: str
    seconds: float
    layers: int | None  # None for the base (the pulled image's own layers, counted from the export)
    operations: tuple[str, ...] = ()  # filesystem-changing Container calls it made, in order


@dataclass
class ImageFacts:
    """What a built image turned out to be: sizes, layers, versions and packages as found in it."""

    variant: str
    base_image: str
    digest: str  # manifest digest of the exported image (this platform's)
    image_id: str | None  # config digest (`docker images` IMAGE ID); None when not known exactly
    compressed_size: int  # config + layers as stored in a registry
    uncompressed_size: int | None  # sum of the unpacked layers (the size `docker images` shows)
    layers: list[LayerFacts] = field(default_factory=list)
    steps: list[StepTiming] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)  # tensorflow, python, numpy, cuda, cudnn, os
    packages: list[Package] = field(default_factory=list)  # from the SBOM
    pieces: tuple[str, ...] = ()  # the manifest pieces collected for this image (ci.probe.manifests)
    notes: list[str] = field(default_factory=list)  # what could not be measured, and why
    platform: str | None = None  # the platform the facts are of ("linux/arm64")
    manifest_size: int = 0  # bytes of the manifest (what an image index's descriptor of it says)
    manifest_media_type: str = ""
    sbom: str | None = None  # syft's CycloneDX JSON, written as sbom.cdx.json
    vulnerabilities: VulnScan | None = None  # None: not scanned (see notes)
    # The image's own org.opencontainers.image.{created,revision,source,version} labels, keyed by
    # the last word: which commit of which repository built it (ci.model.provenance).
    provenance: dict[str, str] = field(default_factory=dict)

    def packages_of(self, kind: str) -> list[Package]:
        return [p for p in self.packages if p.kind == kind]


@dataclass
class CheckReport:
    """All results for one image on one platform (build failures are a failed "build" result).

    An image of several platforms has one report per platform (same tag); every result added
    says the report's platform, so each check line names the platform it ran on.
    """

    image: str
    results: list[CheckResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds
    input_error: bool = False  # failed because of bad input (exit 2), not a broken image
    tags: tuple[str, ...] = ()  # primary tag first, then the aliases
    pushed: PushedImage | None = None  # set by a successful --publish
    facts: ImageFacts | None = None  # collected with --report-dir
    platform: str | None = None  # "linux/arm64"; None where no platform is known

    def add(self, result: CheckResult) -> None:
        if result.platform is None and self.platform is not None:
            result = dataclasses.replace(result, platform=self.platform)
        self.results.append(result)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.failed]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def title(self) -> str:
        """The image, and its platform where known: `TAG (linux/arm64)`."""
        return f"{self.image} ({self.platform})" if self.platform else self.image

    def render(self) -> str:
        marks = {"pass": "ok  ", "fail": "FAIL", "not-checked": "skip"}
        took = ", ".join(f"{k} {v:.0f}s" for k, v in self.timings.items())
        lines = [f"{self.title}: {'PASSED' if self.ok else 'FAILED'}" + (f" ({took})" if took else "")]
        lines += [
            f"  [{marks[r.status]}] {f'[{r.platform}] ' if r.platform else ''}{r.name}: {r.message}"
            for r in self.results
        ]
        return "\n".join(lines)


def passed(name: str, message: str) -> CheckResult:
    return CheckResult(name, "pass", message)


def failed(name: str, message: str) -> CheckResult:
    return CheckResult(name, "fail", message)


def not_checked(name: str, message: str) -> CheckResult:
    return CheckResult(name, "not-checked", message)


def tail(text: str, lines: int = 12) -> str:
    """The last lines of a command's output: where the reason for a failure usually is."""
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept)
