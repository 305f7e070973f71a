"""`test IMAGE`: every check again, on an image already built or published, without rebuilding.

Why the labels: without selectors, the image's own io.tfimages.* labels say what it claims to be,
and it is checked as that (a mismatch with the selectors given is a warning, the selectors win).
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ci import select
from ci.build.options import BuildOptions
from ci.engine.remote import from_flags
from ci.model import refs
from ci.model.provenance import OCI
from ci.model.spec import ImageSpec
from ci.pipeline.preflight import VulnInputs, check_report_dir, evidence_settings
from ci.pipeline.run import exit_code, retest_image, summary, write_reports


@dataclass(frozen=True)
class TestInputs:
    """What the `test` command was asked, parsed from its flags."""

    __test__ = False  # not a pytest test class

    image: str
    selection: select.Selection
    options: BuildOptions
    service_checks: bool = True
    report_dir: Path | None = None
    engine: str | None = None
    verbose: bool = False
    vuln: VulnInputs = field(default_factory=VulnInputs)


def spec_from_labels(selection: select.Selection, image: str, labels: dict[str, str]) -> ImageSpec:
    """Without selectors, the image's own io.tfimages.* labels say what it claims to be.

    An image without the io.tfimages.platforms label predates multi-platform images: it holds the
    table's default platform only.
    """
    table, targets = select.load(selection.table)
    request = select.request_from_labels(labels, image)
    if request.platforms is None:
        request = dataclasses.replace(request, platforms=(table.compat.default_platform,))
    return select.resolve_selected(table, targets, request)


def retest(inputs: TestInputs) -> int:
    from ci.engine.session import run_session

    refs.parse(inputs.image, what="IMAGE_REF", hub=True)  # credentials, a URL, spaces: exit 2, hidden
    if inputs.report_dir is not None:
        check_report_dir(inputs.report_dir)
    evidence = evidence_settings(inputs.report_dir, inputs.vuln)
    # Selectors, when given, are resolved before connecting: bad input fails fast with exit 2.
    selected = select.selected_specs(inputs.selection)[0] if inputs.selection.request is not None else None
    remote = from_flags(engine=inputs.engine)

    async def body() -> int:
        from dagger import Platform, QueryError, dag

        pulled = dag.container().from_(inputs.image)
        try:
            labels = {await label.name(): await label.value() for label in await pulled.labels()}
        except QueryError as exc:
            print(f"error: cannot pull {inputs.image}: {' '.join(str(exc).split())[:300]}", file=sys.stderr)
            return 1
        spec = selected if selected is not None else spec_from_labels(inputs.selection, inputs.image, labels)
        claimed = labels.get(f"{OCI}.version")
        if claimed and claimed != spec.tag:
            print(
                f"warning: {inputs.image} is labelled {claimed}, checking it as {spec.tag}", file=sys.stderr
            )
        reports = []
        for platform in spec.platforms:  # each platform the image claims (or the selectors ask for)
            image = dag.container(platform=Platform(platform)).from_(inputs.image)
            reports.append(
                await retest_image(
                    image,
                    spec.on(platform),
                    inputs.options,
                    service_checks=inputs.service_checks,
                    name=inputs.image,
                    evidence=evidence,
                )
            )
        print(summary(reports))
        write_reports(inputs.report_dir, reports)
        return exit_code(reports)

    return run_session(body, verbose=inputs.verbose, remote=remote)
