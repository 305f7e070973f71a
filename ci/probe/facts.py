"""Gather the facts of one built image for its report: the exported layout, the SBOM, the manifests.

Why a separate step after the checks: it costs an export of the whole image (seconds to minutes,
and the image's size in temporary disk), so it runs only when a report is asked for
(`--report-dir`), and reuses the tarball of `--export` when there is one. The SBOM generator (syft,
ci/supply/sbom.py, handed in by the pipeline) reads that same tarball while it exists, so the image
is exported once; the report's package lists are read from the SBOM.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from ci.model.provenance import provenance_of
from ci.model.spec import ImageSpec
from ci.probe import manifests
from ci.probe.manifests import CollectError
from ci.report.layers import attribute
from ci.report.model import CheckReport, ImageFacts, StepTiming, failed, tail
from ci.report.oci import OciError, read_image
from ci.report.sbom import read_packages

if TYPE_CHECKING:
    from dagger import Container

# (tarball, image digest) -> the image's CycloneDX SBOM as JSON text; raises CollectError.
SbomMaker = Callable[[Path, str], str]


async def collect_facts(
    image: Container,
    spec: ImageSpec,
    *,
    steps: Sequence[StepTiming] = (),
    tarball: Path | None = None,
    sbom: SbomMaker | None = None,
) -> ImageFacts:
    """Sizes, layers (attributed to the build steps when they are known), SBOM, versions, packages.

    Raises dagger's errors, ci.report.oci.OciError and ci.probe.manifests.CollectError; the caller
    records them.
    """
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tfci-report-") as tmp:
        if tarball is None:
            tarball = Path(tmp) / "image.tar"
            await image.export(str(tarball))
        # Unpacking every layer to measure it is CPU work: keep the event loop free for other images.
        oci = await anyio.to_thread.run_sync(lambda: read_image(tarball, platform=spec.platform))
        digest: str = oci.digest
        image_id: str | None = oci.image_id
        if not steps:
            # A pulled image: exporting it again rewrites the config's `created` time, so the export's
            # manifest and config digests are not the registry's. The pulled manifest digest is exact.
            pulled = (await image.image_ref()).rpartition("@")[2]
            if pulled.startswith("sha256:"):
                digest, image_id = pulled, None
                notes.append("digest as pulled; image id unknown (a re-export rewrites the config)")
                if spec.multi_platform:
                    notes.append(
                        f"the pulled digest is the tag's image index, not {spec.platform}'s manifest"
                    )
        sbom_text = await anyio.to_thread.run_sync(sbom, tarball, digest) if sbom is not None else None
    packages = await anyio.to_thread.run_sync(read_packages, sbom_text) if sbom_text is not None else []
    manifest = await manifests.collect(image, spec)
    notes = [*oci.notes, *manifest.notes, *notes]
    if steps:
        layers, why = attribute(oci.layers, steps)
        if why is not None:
            notes.append(f"layers not attributed to build steps: {why}")
    else:
        layers = list(oci.layers)
        notes.append("no build steps: the image was not built by this run")
    return ImageFacts(
        variant=spec.variant,
        base_image=spec.base_image,
        digest=digest,
        image_id=image_id,
        compressed_size=oci.compressed_size,
        uncompressed_size=oci.uncompressed_size,
        layers=layers,
        steps=list(steps),
        versions=manifest.versions,
        packages=packages,
        pieces=tuple(manifest.pieces),
        notes=notes,
        platform=spec.platform,
        manifest_size=oci.manifest_size,
        manifest_media_type=oci.media_type,
        sbom=sbom_text,
        provenance=provenance_of(dict(oci.labels)),
    )


async def add_facts(
    image: Container,
    spec: ImageSpec,
    report: CheckReport,
    *,
    steps: Sequence[StepTiming] = (),
    tarball: Path | None = None,
    sbom: SbomMaker | None = None,
) -> None:
    """collect_facts into report.facts; a failure is a failed "report" result (the user asked for
    a report, so a missing one fails the run), never an exception that stops other images."""
    from dagger import QueryError

    started = time.monotonic()
    try:
        report.facts = await collect_facts(image, spec, steps=steps, tarball=tarball, sbom=sbom)
    except (QueryError, OciError, CollectError, OSError) as exc:
        report.add(failed("report", f"image facts not collected: {tail(str(exc), 4)}"))
        return
    report.timings["report"] = time.monotonic() - started
