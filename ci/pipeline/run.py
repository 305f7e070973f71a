"""Execute a BuildPlan: build, check, export and publish images, one pipeline per spec, concurrently.

Why every failure becomes a CheckReport entry instead of an exception: a matrix build must tell the
release engineer about *every* broken image in one run, so one image failing (a build step, a check,
even an unexpected engine error) never cancels the others. Engine errors are turned into short,
readable lines (the failing command and the last lines of its stderr), never a traceback.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from ci.build.client import client_container
from ci.build.options import BuildOptions
from ci.build.steps import build_in_steps
from ci.engine.session import github_groups, log_group
from ci.model.errors import UserError
from ci.model.paths import CONTEXT_DIR
from ci.model.spec import ImageSpec
from ci.pipeline.evidence import EvidenceSettings, sbom_maker, scan_image
from ci.pipeline.preflight import BuildPlan, Publish
from ci.pipeline.publish import export_image, publish_image
from ci.probe.checks import run_checks
from ci.probe.facts import add_facts
from ci.probe.services import run_service_checks
from ci.report.model import (
    CheckReport,
    StepTiming,
    failed,
    not_checked,
    passed,
    tail,
)
from ci.report.results import group

if TYPE_CHECKING:
    from dagger import Container


def describe_exec_error(exc: BaseException) -> str:
    """A dagger ExecError as one readable paragraph: which step, exit code, the end of stderr."""
    command = getattr(exc, "command", None)
    if command is None:
        return tail(str(exc), 8)
    argv = list(command)
    if len(argv) >= 2 and argv[0] == "bash" and argv[-2] == "-c":
        script_lines = [line.strip() for line in argv[-1].splitlines() if line.strip()]
        step = " ; ".join(line for line in script_lines if not line.startswith("#"))
    else:
        step = " ".join(argv)
    if len(step) > 160:
        step = step[:157] + "..."
    output = getattr(exc, "stderr", "") or getattr(exc, "stdout", "") or ""
    return f"step `{step}` exited {getattr(exc, 'exit_code', '?')}: {tail(output, 15)}"


async def check_image(
    image: Container,
    spec: ImageSpec,
    options: BuildOptions,
    report: CheckReport,
    *,
    service_checks: bool = True,
) -> CheckReport:
    """Run the in-image checks, then (optionally) the service checks, recording timings."""
    started = time.monotonic()
    await run_checks(image, spec, options, report)
    report.timings["checks"] = time.monotonic() - started
    if service_checks:
        started = time.monotonic()
        await run_service_checks(image, client_container(spec, options), spec, report)
        report.timings["service checks"] = time.monotonic() - started
    else:
        report.add(not_checked("service checks", "skipped (--skip-service-checks)"))
    return report


@dataclass
class Built:
    """One platform of an image: its spec, report and, once built, container and build steps."""

    spec: ImageSpec
    report: CheckReport
    image: Container | None = None
    steps: Sequence[StepTiming] = ()


async def build_one(
    spec: ImageSpec,
    options: BuildOptions,
    engine_platform: str,
    *,
    service_checks: bool,
    context_dir: Path,
) -> Built:
    """Build and check one platform of an image; every failure is a result, never an exception."""
    from dagger import ExecError, QueryError

    built = Built(spec, CheckReport(spec.tag, tags=spec.all_tags, platform=spec.platform))
    report = built.report
    started = time.monotonic()
    try:
        built.image, built.steps = await build_in_steps(
            spec, options, context_dir=context_dir, engine_platform=engine_platform
        )
    except UserError as exc:
        report.add(failed("build", exc.message))
        report.input_error = True
        return built
    except ExecError as exc:
        report.add(failed("build", describe_exec_error(exc)))
        return built
    except QueryError as exc:
        report.add(failed("build", f"engine error: {tail(str(exc), 8)}"))
        return built
    report.timings["build"] = time.monotonic() - started
    how = "" if spec.platform == engine_platform else f" (emulated on this {engine_platform} engine)"
    report.add(passed("build", f"built in {report.timings['build']:.0f}s{how}"))
    try:
        await check_image(built.image, spec, options, report, service_checks=service_checks)
    except QueryError as exc:
        report.add(failed("checks", f"engine error: {tail(str(exc), 8)}"))
    return built


async def build_and_check(
    spec: ImageSpec,
    options: BuildOptions,
    *,
    service_checks: bool = True,
    export: Path | None = None,
    publish: Publish | None = None,
    context_dir: Path = CONTEXT_DIR,
    evidence: EvidenceSettings | None = None,
) -> list[CheckReport]:
    """Build one image for each of its platforms, check each, then export/publish it only when every
    platform passed every check. Returns one report per platform; never raises.

    The platforms build concurrently (one container per platform, the same layer functions): an
    emulated platform is CPU-bound for minutes, a native one mostly waits on downloads and services.
    evidence (--report-dir): collect each platform's facts (ci.probe.facts), its SBOM (syft, on that
    platform's own image) and its vulnerability scan before publishing: --vuln-gate judges every
    platform, and one platform failing it keeps the whole tag unpublished, like any other check.
    """
    from dagger import dag

    engine_platform = str(await dag.default_platform())
    built: list[Built | None] = [None] * len(spec.platforms)

    async def one(index: int, platform: str) -> None:
        built[index] = await build_one(
            spec.on(platform),
            options,
            engine_platform,
            service_checks=service_checks,
            context_dir=context_dir,
        )

    async with anyio.create_task_group() as group:
        for index, platform in enumerate(spec.platforms):
            group.start_soon(one, index, platform)
    parts = [b for b in built if b is not None]
    reports = [b.report for b in parts]
    images = [(b.spec.platform, b.image) for b in parts]
    exported = None
    if export is not None:
        exported = await export_image(images, export, reports)
    if evidence is not None:
        repository = publish.repository if publish is not None else None
        for part in parts:
            if part.image is None:  # its build failed: nothing to describe or scan
                continue
            # The --export tarball of a single-platform image is reused; an index tarball is not
            # (syft would have to pick a platform): each platform is exported alone for its SBOM.
            tarball = exported if len(parts) == 1 else None
            sbom = sbom_maker(evidence, part.spec, repository, part.report)
            await add_facts(part.image, part.spec, part.report, steps=part.steps, tarball=tarball, sbom=sbom)
            await scan_image(part.report, evidence)
    if publish is not None:
        await publish_image(images, spec, publish, reports)
    return reports


async def build_many(plan: BuildPlan, *, progress: bool = True) -> list[CheckReport]:
    """Build the plan's specs with at most `jobs` at a time; reports come back in the input order."""
    specs = plan.specs
    limiter = anyio.CapacityLimiter(max(1, plan.jobs))
    reports: list[list[CheckReport]] = [[] for _ in specs]

    # In a GitHub Actions job log each image's engine progress folds into a group (one at a time:
    # groups do not nest, and concurrent images would interleave inside one).
    grouped = github_groups(plan.verbose) and (plan.jobs == 1 or len(specs) == 1)

    async def one(index: int, spec: ImageSpec) -> None:
        async with limiter:
            if progress:
                where = f" ({', '.join(spec.platforms)})" if spec.multi_platform else ""
                print(f"[build] {spec.tag}{where}: started", file=sys.stderr, flush=True)
            with log_group(f"{spec.tag}: build, checks and report (engine progress)", grouped):
                try:
                    done = await build_and_check(
                        spec,
                        plan.options,
                        service_checks=plan.service_checks,
                        export=plan.exports[index],
                        publish=plan.publish,
                        context_dir=plan.context_dir,
                        evidence=plan.evidence,
                    )
                except Exception as exc:  # one image's surprise must not cancel the others
                    report = CheckReport(spec.tag, tags=spec.all_tags)
                    report.add(failed("pipeline", f"{type(exc).__name__}: {tail(str(exc), 6)}"))
                    done = [report]
            reports[index] = done
            if progress:
                problems = sum(len(r.failures) for r in done)
                state = "passed" if not problems else f"FAILED ({problems} problem(s))"
                print(f"[build] {spec.tag}: {state}", file=sys.stderr, flush=True)

    async with anyio.create_task_group() as group:
        for index, spec in enumerate(specs):
            group.start_soon(one, index, spec)
    return [report for done in reports for report in done]


async def retest_image(
    image: Container,
    spec: ImageSpec,
    options: BuildOptions,
    *,
    service_checks: bool = True,
    name: str | None = None,
    evidence: EvidenceSettings | None = None,
) -> CheckReport:
    """Re-run every check against an already built (or published) image, on spec.platform."""
    report = CheckReport(name or spec.tag, tags=spec.all_tags, platform=spec.platform)
    await check_image(image, spec, options, report, service_checks=service_checks)
    if evidence is not None:
        await add_facts(image, spec, report, sbom=sbom_maker(evidence, spec, None, report))
        await scan_image(report, evidence)
    return report


def summary(reports: Sequence[CheckReport]) -> str:
    """Readable end-of-run summary: every image's results, then every failure again, together.

    Counted per image (tag): an image of several platforms passes only when each platform does.
    """
    lines = [report.render() for report in reports]
    images = group(reports)
    bad = [platforms for platforms in images if not all(r.ok for r in platforms)]
    lines.append("")
    several = sum(len(platforms) for platforms in images) > len(images)
    counted = f" ({sum(len(p) for p in images)} platform images)" if several else ""
    if bad:
        lines.append(f"{len(bad)} of {len(images)} image(s) FAILED{counted}:")
        for report in (r for platforms in bad for r in platforms):
            for result in report.failures:
                lines.append(f"  {report.title}: {result.name}: {result.message}")
    else:
        lines.append(f"all {len(images)} image(s) passed{counted}")
    not_checked = [(r.title, x) for r in reports for x in r.results if x.status == "not-checked"]
    for image, result in not_checked:
        lines.append(f"  note: {image}: {result.name}: {result.message}")
    return "\n".join(lines)


def exit_code(reports: Sequence[CheckReport]) -> int:
    """0 all passed; 2 when every failure is bad input (a refused spec); 1 otherwise."""
    bad = [r for r in reports if not r.ok]
    if not bad:
        return 0
    return 2 if all(r.input_error for r in bad) else 1


def execute(plan: BuildPlan) -> int:
    """Run the plan in one engine session: build every image, print the summary, write the reports."""
    from ci.engine.session import run_session

    for spec in plan.specs:
        for warning in spec.warnings:
            print(f"warning: {spec.tag}: {warning}", file=sys.stderr)

    async def body() -> int:
        reports = await build_many(plan)
        print(summary(reports))
        write_reports(plan.report_dir, reports)
        return exit_code(reports)

    return run_session(body, verbose=plan.verbose, remote=plan.remote)


def write_reports(directory: Path | None, reports: Sequence[CheckReport]) -> None:
    if directory is None:
        return
    from ci.report.files import write_run

    print(f"reports: {write_run(directory, reports)}")
