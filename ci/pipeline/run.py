"""Execute a BuildPlan: build, check, export and publish images, one pipeline per spec, concurrently.

Why every failure becomes a CheckReport entry instead of an exception: a matrix build must tell the
release engineer about *every* broken image in one run, so one image failing (a build step, a check,
even an unexpected engine error) never cancels the others. Engine errors are turned into short,
readable lines (the failing command and the last lines of its stderr), never a traceback.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import time
from collections.abc import Sequence
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
from ci.probe.checks import run_checks
from ci.probe.facts import add_facts
from ci.probe.services import run_service_checks
from ci.report.model import CheckReport, PushedImage, StepTiming, failed, not_checked, passed, tail

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


def one_line(text: str, limit: int = 300) -> str:
    """An engine error as one short line: tracing noise removed, whitespace collapsed."""
    text = re.sub(r"\s*\[traceparent:[0-9a-f-]+\]", "", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


async def build_and_check(
    spec: ImageSpec,
    options: BuildOptions,
    *,
    service_checks: bool = True,
    export: Path | None = None,
    publish: Publish | None = None,
    context_dir: Path = CONTEXT_DIR,
    evidence: EvidenceSettings | None = None,
) -> CheckReport:
    """Build one image, check it, then export/publish it only when every check passed. Never raises.

    evidence (--report-dir): collect the image's facts (ci.probe.facts), its SBOM and its
    vulnerability scan before publishing, so that --vuln-gate can stop the push.
    """
    from dagger import ExecError, QueryError

    report = CheckReport(spec.tag, tags=spec.all_tags)
    started = time.monotonic()
    steps: Sequence[StepTiming] = ()
    try:
        image, steps = await build_in_steps(spec, options, context_dir=context_dir)
    except UserError as exc:
        report.add(failed("build", exc.message))
        report.input_error = True
        return report
    except ExecError as exc:
        report.add(failed("build", describe_exec_error(exc)))
        return report
    except QueryError as exc:
        report.add(failed("build", f"engine error: {tail(str(exc), 8)}"))
        return report
    report.timings["build"] = time.monotonic() - started
    report.add(passed("build", f"built in {report.timings['build']:.0f}s"))
    try:
        await check_image(image, spec, options, report, service_checks=service_checks)
    except QueryError as exc:
        report.add(failed("checks", f"engine error: {tail(str(exc), 8)}"))
    if export is not None:
        if report.ok:
            export.parent.mkdir(parents=True, exist_ok=True)
            written = await image.export(str(export.resolve()))
            report.add(passed("export", f"OCI tarball {written}"))
        else:
            report.add(failed("export", f"not written to {export}: the image failed its checks"))
    if evidence is not None:
        exported = export if export is not None and export.is_file() and report.ok else None
        repository = publish.repository if publish is not None else None
        sbom = sbom_maker(evidence, spec, repository, report)
        await add_facts(image, spec, report, steps=steps, tarball=exported, sbom=sbom)
        await scan_image(report, evidence)
    if publish is not None:
        await publish_image(image, spec, publish, report)
    return report


async def publish_image(image: Container, spec: ImageSpec, publish: Publish, report: CheckReport) -> None:
    """Push `repository:tag` when the report is clean; a failed image is never published."""
    from dagger import QueryError, dag

    target = f"{publish.repository}:{spec.tag}"
    if not report.ok:
        report.add(failed("publish", f"{target} not published: the image failed its checks"))
        return
    if publish.credentials is not None:
        secret = dag.set_secret(f"registry-password-{publish.registry}", publish.credentials.password)
        image = image.with_registry_auth(publish.registry, publish.credentials.username, secret)
    started = time.monotonic()
    try:
        pushed = await image.publish(target)
    except QueryError as exc:
        report.add(failed("publish", f"push to {target} failed: {one_line(str(exc))}"))
        return
    _, _, digest = pushed.partition("@")
    report.pushed = PushedImage(publish.repository, spec.tag, digest)
    report.add(dataclasses.replace(passed("publish", pushed), seconds=round(time.monotonic() - started, 2)))


async def build_many(plan: BuildPlan, *, progress: bool = True) -> list[CheckReport]:
    """Build the plan's specs with at most `jobs` at a time; reports come back in the input order."""
    specs = plan.specs
    limiter = anyio.CapacityLimiter(max(1, plan.jobs))
    reports: list[CheckReport | None] = [None] * len(specs)

    # In a GitHub Actions job log each image's engine progress folds into a group (one at a time:
    # groups do not nest, and concurrent images would interleave inside one).
    grouped = github_groups(plan.verbose) and (plan.jobs == 1 or len(specs) == 1)

    async def one(index: int, spec: ImageSpec) -> None:
        async with limiter:
            if progress:
                print(f"[build] {spec.tag}: started", file=sys.stderr, flush=True)
            with log_group(f"{spec.tag}: build, checks and report (engine progress)", grouped):
                try:
                    report = await build_and_check(
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
            reports[index] = report
            if progress:
                state = "passed" if report.ok else f"FAILED ({len(report.failures)} problem(s))"
                print(f"[build] {spec.tag}: {state}", file=sys.stderr, flush=True)

    async with anyio.create_task_group() as group:
        for index, spec in enumerate(specs):
            group.start_soon(one, index, spec)
    return [r for r in reports if r is not None]


async def retest_image(
    image: Container,
    spec: ImageSpec,
    options: BuildOptions,
    *,
    service_checks: bool = True,
    name: str | None = None,
    evidence: EvidenceSettings | None = None,
) -> CheckReport:
    """Re-run every check against an already built (or published) image."""
    report = CheckReport(name or spec.tag, tags=spec.all_tags)
    await check_image(image, spec, options, report, service_checks=service_checks)
    if evidence is not None:
        await add_facts(image, spec, report, sbom=sbom_maker(evidence, spec, None, report))
        await scan_image(report, evidence)
    return report


def summary(reports: Sequence[CheckReport]) -> str:
    """Readable end-of-run summary: every image's results, then every failure again, together."""
    lines = [report.render() for report in reports]
    bad = [r for r in reports if not r.ok]
    lines.append("")
    if bad:
        lines.append(f"{len(bad)} of {len(reports)} image(s) FAILED:")
        for report in bad:
            for result in report.failures:
                lines.append(f"  {report.image}: {result.name}: {result.message}")
    else:
        lines.append(f"all {len(reports)} image(s) passed")
    not_checked = [(r.image, x) for r in reports for x in r.results if x.status == "not-checked"]
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
