"""Build, check and export images: one pipeline per spec, several specs concurrently.

Why every failure becomes a CheckReport entry instead of an exception: a matrix build must tell the
release engineer about *every* broken image in one run, so one image failing (a build step, a check,
even an unexpected engine error) never cancels the others. Engine errors are turned into short,
readable lines (the failing command and the last lines of its stderr), never a traceback.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from ci.checks import run_checks
from ci.errors import UserError
from ci.layers import CONTEXT_DIR, build_image
from ci.options import BuildOptions
from ci.preflight import Publish
from ci.report import CheckReport, PushedImage, StepTiming, failed, not_checked, passed, tail
from ci.services import run_service_checks
from ci.spec import ImageSpec

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


def export_path(template: str, spec: ImageSpec, several: bool) -> Path:
    """--export FILE; with several images FILE must contain {tag} (one tarball per image)."""
    if "{tag}" in template:
        return Path(template.replace("{tag}", spec.tag))
    if several:
        raise UserError(f"--export {template}: several images are built; put {{tag}} in the file name")
    return Path(template)


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
        await run_service_checks(image, spec, options, report)
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
    report_facts: bool = False,
) -> CheckReport:
    """Build one image, check it, then export/publish it only when every check passed. Never raises.

    report_facts: build layer function by layer function (timed) and collect the image's facts
    for --report-dir (ci.facts) after everything else.
    """
    from dagger import ExecError, QueryError

    from ci.layer_steps import build_in_steps

    report = CheckReport(spec.tag, tags=spec.all_tags)
    started = time.monotonic()
    steps: Sequence[StepTiming] = ()
    try:
        if report_facts:
            image, steps = await build_in_steps(spec, options, context_dir=context_dir)
        else:
            image = await build_image(spec, options, context_dir=context_dir).sync()
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
    if publish is not None:
        await publish_image(image, spec, publish, report)
    if report_facts:
        from ci.facts import add_facts

        exported = export if export is not None and export.is_file() and report.ok else None
        await add_facts(image, spec, report, steps=steps, tarball=exported)
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


async def build_many(
    specs: Sequence[ImageSpec],
    options: BuildOptions,
    *,
    jobs: int,
    service_checks: bool = True,
    export: str | None = None,
    publish: Publish | None = None,
    context_dir: Path = CONTEXT_DIR,
    progress: bool = True,
    report_facts: bool = False,
) -> list[CheckReport]:
    """Build several specs with at most `jobs` at a time; reports come back in the input order."""
    import sys

    limiter = anyio.CapacityLimiter(max(1, jobs))
    reports: list[CheckReport | None] = [None] * len(specs)
    paths = [export_path(export, s, len(specs) > 1) if export else None for s in specs]

    async def one(index: int, spec: ImageSpec) -> None:
        async with limiter:
            if progress:
                print(f"[build] {spec.tag}: started", file=sys.stderr, flush=True)
            try:
                report = await build_and_check(
                    spec,
                    options,
                    service_checks=service_checks,
                    export=paths[index],
                    publish=publish,
                    context_dir=context_dir,
                    report_facts=report_facts,
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
    report_facts: bool = False,
) -> CheckReport:
    """Re-run every check against an already built (or published) image."""
    report = CheckReport(name or spec.tag, tags=spec.all_tags)
    await check_image(image, spec, options, report, service_checks=service_checks)
    if report_facts:
        from ci.facts import add_facts

        await add_facts(image, spec, report)
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
