"""Everything `build` can check before the engine builds anything, and the plan it then executes.

Why: a GPU image takes an hour or more to build and check. A typo in --publish, an --export path
that is a directory, a password file without a user, a registry that is down, a rejected password
or a locked base that vanished must end the command in seconds (exit 2 for bad input, exit 1 for a
registry that refuses or does not answer, one line each), not after the build. make_plan runs
every such check and returns a BuildPlan whose every field is valid; ci.pipeline.run executes it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from ci import select
from ci.build import installer
from ci.build.options import BuildOptions
from ci.build.python import refuse_if_unbuildable
from ci.engine.remote import RemoteSession, from_flags
from ci.model.errors import UserError
from ci.model.outputs import check_output_dir, check_output_file
from ci.model.paths import CONTEXT_DIR, DEFAULT_WAIVERS
from ci.model.refs import is_tag, parse_repository
from ci.model.spec import ImageSpec
from ci.model.vulns import Severity
from ci.pipeline.evidence import EvidenceSettings, settings
from ci.registry.bases import check_bases, parse_mirrors
from ci.registry.skopeo import Credentials, Registries, RegistryError, Transport
from ci.report.files import step_summary


@dataclass(frozen=True)
class Publish:
    """Where a passing image is pushed (`{repository}:{spec.tag}`) and with which credentials.

    Why only the primary tag: floating aliases move in `promote`, after a release engineer (or a
    green pipeline) accepts the tested digests; a build never moves `latest`.
    """

    registry: str  # host[:port], the key for registry auth
    repository: str  # registry/path, without a tag
    credentials: Credentials | None = None  # handed to the engine as a secret, never printed
    # The tag pushed, {tag} standing for the image's primary tag: the workflow pushes each platform
    # of a multi-platform image from its own runner as `{tag}-linux-arm64` (`assemble` then tags
    # the index); by default the primary tag itself.
    tag_template: str = "{tag}"
    transport: Transport = field(default_factory=Transport)  # skopeo's view of the registry

    def tag_for(self, tag: str) -> str:
        return self.tag_template.replace("{tag}", tag)

    def __repr__(self) -> str:  # keep the password out of tracebacks and debug prints
        user = self.credentials.username if self.credentials else None
        return f"Publish({self.repository!r}, user={user!r})"


class PreflightFailed(Exception):
    """A registry refused or did not answer before the build: exit 1, one line."""


@dataclass(frozen=True)
class VulnInputs:
    """--vuln-gate, --waivers, --vuln-db (build and test)."""

    gate: Severity | None = None
    waivers: Path = DEFAULT_WAIVERS
    database: Path | None = None


def evidence_settings(report_dir: Path | None, vuln: VulnInputs) -> EvidenceSettings | None:
    """With --report-dir: syft, osv-scanner and the waivers, checked now. The gate needs the report
    (the SBOM and findings it judges are written there, and signed later)."""
    if report_dir is None:
        if vuln.gate is not None:
            raise UserError(
                "--vuln-gate needs --report-dir DIR (the SBOM and the findings it gates on go there)"
            )
        return None
    return settings(vuln.gate, vuln.waivers, vuln.database)


@dataclass(frozen=True)
class BuildInputs:
    """What the `build` command was asked, parsed from its flags but not yet checked."""

    selection: select.Selection
    options: BuildOptions
    jobs: int = 2
    service_checks: bool = True
    export: str | None = None
    publish: str | None = None
    publish_credentials: Credentials | None = None
    report_dir: Path | None = None
    transport: Transport = field(default_factory=Transport)
    base_mirrors: tuple[str, ...] = ()
    base_check: bool = True
    cache_to: tuple[str, ...] = ()
    cache_from: tuple[str, ...] = ()
    engine: str | None = None
    verbose: bool = False
    context_dir: Path = CONTEXT_DIR
    vuln: VulnInputs = field(default_factory=VulnInputs)


@dataclass(frozen=True)
class BuildPlan:
    """A build whose every input was checked: specs, options, outputs, registries and the session."""

    specs: tuple[ImageSpec, ...]
    options: BuildOptions
    jobs: int
    service_checks: bool
    exports: tuple[Path | None, ...]  # one per spec
    publish: Publish | None
    report_dir: Path | None
    remote: RemoteSession
    verbose: bool
    context_dir: Path
    evidence: EvidenceSettings | None = None  # with --report-dir: SBOM and vulnerability scan


def publish_target(
    text: str, credentials: Credentials | None, transport: Transport | None = None, *, several: bool = False
) -> Publish:
    """--publish REGISTRY/REPO[:TAG]; TAG may use {tag} (the image's primary tag), and must when
    several images are built."""
    repository, sep, template = _split_tag(text)
    ref = parse_repository(repository, "--publish")
    if sep:
        example = template.replace("{tag}", "2.15.0-python3.11-cpu-debian12")
        if not is_tag(example):
            raise UserError(f"--publish {text}: {template!r} is not a tag (or a tag template using {{tag}})")
        if several and "{tag}" not in template:
            raise UserError(f"--publish {text}: several images are built; put {{tag}} in the tag")
    return Publish(ref.registry, ref.name, credentials, template or "{tag}", transport or Transport())


def _split_tag(text: str) -> tuple[str, str, str]:
    """REGISTRY/REPO[:TAG] -> (REGISTRY/REPO, ":", TAG); a registry's :PORT is not a tag."""
    head, sep, tail = text.rpartition(":")
    if sep and "/" not in tail and "/" in head:
        return head, sep, tail
    return text, "", ""


def export_path(template: str, spec: ImageSpec, several: bool) -> Path:
    """--export FILE; with several images FILE must contain {tag} (one tarball per image)."""
    if "{tag}" in template:
        return Path(template.replace("{tag}", spec.tag))
    if several:
        raise UserError(f"--export {template}: several images are built; put {{tag}} in the file name")
    return Path(template)


def check_export_path(path: Path) -> None:
    """The tarball's file must be writable as a file: not a directory, in a writable directory."""
    check_output_file(path, "--export", example=f"{path}/{{tag}}.tar")


def check_report_dir(path: Path) -> None:
    """--report-dir is written after the build: /etc/passwd/x must fail now, not lose index.json."""
    check_output_dir(path, "--report-dir")


def check_context_dir(path: Path) -> None:
    """--context must be a context/ like the repository's (the boot script is what every image runs)."""
    if not (path / "boot" / "boot.sh").is_file():
        raise UserError(
            f"--context {path}: no boot/boot.sh in it; give a directory laid out like the "
            f"repository's context/ (default: {CONTEXT_DIR})"
        )


def check_registry(registries: Registries, publish: Publish) -> None:
    """The --publish registry answers and accepts the credentials, before any build work."""
    try:
        if publish.credentials is not None:
            registries.login(publish.registry, publish.credentials)
        else:
            registries.check_reachable(publish.registry)
    except RegistryError as err:
        raise PreflightFailed(f"--publish {publish.repository}: {err}") from None


def check_registries(inputs: BuildInputs, publish: Publish | None, specs: tuple[ImageSpec, ...]) -> None:
    """Registries, in seconds, before any build work; raises PreflightFailed with the reason.

    The --publish registry must answer and accept the credentials; every base pinned by digest
    (versions.lock.yaml) must still be there (a moved tag is only a warning: builds use the digest).
    """
    bases = {spec.base_image: spec.base_digest for spec in specs if spec.base_digest}
    check_bases_now = bool(bases) and inputs.base_check
    if publish is None and not check_bases_now:
        return
    mirrors = parse_mirrors(list(inputs.base_mirrors))
    with inputs.transport.open() as registries:
        if publish is not None:
            check_registry(registries, publish)
        if not check_bases_now:
            return
        try:
            findings = check_bases(registries, {k: v for k, v in bases.items() if v}, mirrors)
        except RegistryError as err:
            raise PreflightFailed(
                f"cannot check the locked base images ({err}); --no-base-check skips this"
            ) from None
        for finding in findings:
            if finding.severity == "warning":
                print(f"warning: base {finding.message}", file=sys.stderr)
        errors = [f.message for f in findings if f.severity == "error"]
        if errors:
            raise PreflightFailed(f"base image {'; '.join(errors)}")


def fetch_installers(specs: tuple[ImageSpec, ...], options: BuildOptions) -> None:
    """The pinned uv on the host (downloaded and verified once, then cached) before any layer needs it.

    One binary per platform the images are built for: uv runs on the engine's machine, which is
    the image's platform natively, and an emulating engine's platform is normally one of them too
    (an engine of another platform gets its binary when ci.build.cross first asks for it).
    """
    wanted = {(spec.installer, platform): None for spec in specs for platform in spec.platforms}
    for pin, platform in wanted:
        try:
            installer.binary(pin, options.ca_bundle, platform=platform)
        except installer.InstallerUnavailable as err:
            raise PreflightFailed(f"the pip layers' installer: {err}") from None


def make_plan(inputs: BuildInputs) -> BuildPlan:
    """Check every input that can fail before engine work; UserError (exit 2) or PreflightFailed (1)."""
    if inputs.jobs < 1:
        raise UserError(f"--jobs {inputs.jobs}: expected a number >= 1")
    if inputs.report_dir is not None:
        check_report_dir(inputs.report_dir)
        step_summary()  # $GITHUB_STEP_SUMMARY, written with the reports
    parse_mirrors(list(inputs.base_mirrors))  # a bad value is bad input even when no base is locked
    evidence = evidence_settings(inputs.report_dir, inputs.vuln)
    check_context_dir(inputs.context_dir)
    specs = select.selected_specs(inputs.selection, explicit=True)
    publish = (
        publish_target(inputs.publish, inputs.publish_credentials, inputs.transport, several=len(specs) > 1)
        if inputs.publish
        else None
    )
    for spec in specs:  # a refused spec or an unverifiable installer: seconds, not an hour
        refuse_if_unbuildable(spec, inputs.options)
    exports: tuple[Path | None, ...] = tuple(
        export_path(inputs.export, spec, len(specs) > 1) if inputs.export else None for spec in specs
    )
    for path in exports:  # validate the file names before hours of building
        if path is not None:
            check_export_path(path)
    targets = select.load(inputs.selection.table)[1] if inputs.cache_from else ()
    remote = from_flags(
        cache_to=inputs.cache_to,
        cache_from=inputs.cache_from,
        engine=inputs.engine,
        specs=specs,
        targets=targets,
        plain_http=inputs.transport.plain_http,
        ca_bundle=inputs.transport.ca_bundle,
    )
    check_registries(inputs, publish, specs)
    try:
        remote.read_exports()
    except RegistryError as err:
        raise PreflightFailed(f"--cache-to: {err}") from None
    fetch_installers(specs, inputs.options)
    return BuildPlan(
        specs=specs,
        options=inputs.options,
        jobs=inputs.jobs,
        service_checks=inputs.service_checks,
        exports=exports,
        publish=publish,
        report_dir=inputs.report_dir,
        remote=remote,
        verbose=inputs.verbose,
        context_dir=inputs.context_dir,
        evidence=evidence,
    )
