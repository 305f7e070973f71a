"""Promotion: put the exact tested digests under release names, and say precisely what moved.

Why a plan, then a journal: a release engineer needs two guarantees. Nothing is written until every
source is known to exist (a missing digest stops the run before the first copy), and when a copy
fails half way (a 503 from the target, a dropped connection) the run says, tag by tag, what moved,
what was already there and what did not move, so a re-run can finish the job. Re-running is
idempotent: a tag that already points at the digest is left alone ("already there").

Sources come from either the results file of the build that tested and pushed the images (exact
digest handoff: what was checked is what is promoted, even if someone pushed over the staging tag
since) or, without one, the staging tags as they are now.

Before anything is copied, every source digest is verified (ci/supply/policy.py: signature, SBOM and
check-results attestations, the vulnerability gate as of today); an image that fails is refused in
one line and journaled, and nothing of it is copied. After an image's primary tag is copied, its
signature and attestations follow it (and must verify there) before its aliases move.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from ci.model import refs
from ci.model.errors import UserError
from ci.model.refs import Reference
from ci.model.spec import ImageSpec
from ci.registry.skopeo import Credentials, Registries, RegistryError, Transport
from ci.report.results import RunResult
from ci.supply.cosign import Cosign
from ci.supply.policy import EVIDENCE, Gatekeeper, Policy, Refused

Outcome = Literal["moved", "already there", "failed", "not attempted", "would move", "refused"]


@dataclass(frozen=True)
class Promotion:
    """One tested image and every name it gets in the release repository."""

    image: str  # its primary tag, for messages
    source: Reference  # pinned by digest
    targets: tuple[Reference, ...]  # primary tag first, then aliases
    # An image index (multi-platform): each platform's manifest digest, as the results name them;
    # each carries its platform's SBOM attestation (ci.supply.policy). Empty: one image.
    manifests: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        assert self.source.digest is not None
        return self.source.digest


@dataclass(frozen=True)
class Entry:
    image: str
    target: str
    digest: str
    outcome: Outcome
    previous: str | None = None  # what the target tag pointed at before (None: new tag)
    error: str | None = None


@dataclass
class Journal:
    """Every tag's outcome, printed as it happens and written as JSON after every step."""

    source: str
    target: str
    path: Path | None
    entries: list[Entry] = field(default_factory=list)
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    echo: Callable[[str], None] = field(default=print, repr=False)

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)
        note = f" (was {entry.previous})" if entry.previous and entry.outcome == "moved" else ""
        error = f": {entry.error}" if entry.error else ""
        self.echo(f"{entry.outcome:<13} {entry.target} @ {entry.digest}{note}{error}")
        self.save()

    def count(self, *outcomes: Outcome) -> int:
        return sum(1 for e in self.entries if e.outcome in outcomes)

    @property
    def complete(self) -> bool:
        return self.count("failed", "not attempted", "refused") == 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "schema": 1,
                "source": self.source,
                "target": self.target,
                "started": self.started,
                "complete": self.complete,
                "entries": [asdict(e) for e in self.entries],
            },
            indent=2,
        )

    def save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(self.to_json() + "\n", encoding="utf-8")

    def summary(self) -> str:
        refused = f", {self.count('refused')} refused" if self.count("refused") else ""
        return (
            f"{self.count('moved')} moved, {self.count('already there')} already there, "
            f"{self.count('failed')} failed, {self.count('not attempted')} not attempted{refused}"
        )


# --------------------------------------------------------------------------- planning


def _targets(target: Reference, tags: Sequence[str]) -> tuple[Reference, ...]:
    return tuple(target.with_tag(tag) for tag in tags)


def plan_from_tags(
    registries: Registries,
    specs: Sequence[ImageSpec],
    source: Reference,
    target: Reference,
    *,
    aliases: bool,
) -> list[Promotion]:
    """Resolve each image's staging tag to a digest now; every source first, nothing written."""
    plans: list[Promotion] = []
    missing: list[str] = []
    for spec in specs:
        ref = source.with_tag(spec.tag)
        digest = registries.digest(ref)
        if digest is None:
            missing.append(str(ref))
            continue
        tags = spec.all_tags if aliases else (spec.tag,)
        plans.append(Promotion(spec.tag, source.with_digest(digest), _targets(target, tags)))
    if missing:
        raise RegistryError(
            f"nothing promoted: {len(missing)} source image(s) not found: {', '.join(missing)}"
        )
    return plans


def plan_from_results(
    registries: Registries,
    results: Sequence[RunResult],
    target: Reference,
    *,
    aliases: bool,
    source: Reference | None,
    warn: Callable[[str], None],
) -> list[Promotion]:
    """Exactly the digests a build pushed after every check passed; refuse if one is gone."""
    plans: list[Promotion] = []
    missing: list[str] = []
    for result in results:
        if not result.ok or result.pushed is None:
            why = "failed its checks" if not result.ok else "was not pushed"
            warn(f"{result.tag}: skipped, it {why} in {result.source}")
            continue
        pushed = refs.parse(f"{result.pushed.repository}:{result.pushed.tag}", what=result.source)
        pinned = pushed.with_digest(result.pushed.digest)
        if registries.digest(pinned) is None:
            missing.append(str(pinned))
            continue
        now = registries.digest(pushed)
        if now != result.pushed.digest:
            warn(
                f"{pushed} has moved since the build ({now or 'deleted'}); promoting the tested "
                f"{result.pushed.digest}"
            )
        tags = result.tags if aliases else (result.tag,)
        platforms = result.pushed.platforms
        manifests = tuple(digest for _, digest in platforms) if len(platforms) > 1 else ()
        plans.append(Promotion(result.tag, pinned, _targets(target, tags), manifests))
    if missing:
        raise RegistryError(f"nothing promoted: tested digest(s) missing from staging: {', '.join(missing)}")
    if not plans:
        raise RegistryError("nothing promoted: the results name no image that passed and was pushed")
    return plans


# --------------------------------------------------------------------------- executing


def verify_sources(
    gatekeeper: Gatekeeper, plans: Sequence[Promotion], journal: Journal, echo: Callable[[str], None]
) -> list[Promotion]:
    """Every source digest against the policy, before anything is written; the refused ones are
    journaled (one line each) and left out."""
    verified = []
    for plan in plans:
        try:
            echo(f"{'verified':<13} {plan.source}: {gatekeeper.check(plan.source, plan.manifests)}")
        except Refused as why:
            journal.add(Entry(plan.image, str(plan.targets[0]), plan.digest, "refused", error=str(why)))
            continue
        verified.append(plan)
    return verified


def promote(
    registries: Registries,
    plans: Sequence[Promotion],
    journal: Journal,
    *,
    dry_run: bool,
    gatekeeper: Gatekeeper | None = None,
) -> None:
    """Copy tag by tag, primary tag first, then (with a gatekeeper) the signature and attestations
    before the aliases; stop at the first failure and journal the rest."""
    pending = [(plan, target) for plan in plans for target in plan.targets]
    for index, (plan, target) in enumerate(pending):
        try:
            previous = registries.digest(target)
            if previous == plan.digest:
                journal.add(Entry(plan.image, str(target), plan.digest, "already there", previous))
            elif dry_run:
                journal.add(Entry(plan.image, str(target), plan.digest, "would move", previous))
            else:
                registries.copy(plan.source, target)
                journal.add(Entry(plan.image, str(target), plan.digest, "moved", previous))
            if gatekeeper is not None and target == plan.targets[0]:
                evidence = f"{target.name} ({EVIDENCE})"
                if dry_run:
                    outcome: Outcome = "would move"
                else:
                    pinned = target.with_digest(plan.digest)
                    carried = gatekeeper.carry(plan.source, pinned, plan.manifests)
                    outcome = "moved" if carried else "already there"
                journal.add(Entry(plan.image, evidence, plan.digest, outcome))
        except RegistryError as err:
            journal.add(Entry(plan.image, str(target), plan.digest, "failed", error=str(err)))
            for rest_plan, rest_target in pending[index + 1 :]:
                journal.add(Entry(rest_plan.image, str(rest_target), rest_plan.digest, "not attempted"))
            raise


# --------------------------------------------------------------------------- the whole command


@dataclass(frozen=True)
class PromoteRequest:
    """Everything `promote` was asked, validated by the command; credentials never in a repr."""

    target: Reference
    source: Reference | None  # --from; None with --results: the results name each source
    results: tuple[RunResult, ...]  # --results; empty: resolve `specs` at `source` now
    specs: tuple[ImageSpec, ...]
    aliases: bool
    dry_run: bool
    journal: Path
    source_credentials: Credentials | None
    target_credentials: Credentials | None
    transport: Transport
    policy: Policy | None = None  # None: --no-verify (copy without checking any evidence)


def validate(request: PromoteRequest) -> None:
    """Every source and target name, checked before any registry is contacted (UserError, exit 2).

    Why here and not only in the results reader: a target is `--to` plus a tag, and the two are
    only put together here; a name that does not parse must stop the run before the first copy, not
    after two tags have moved.
    """
    for result in request.results:
        if result.pushed is None or not result.ok:
            continue
        pushed = refs.parse(result.pushed.repository, what=f"{result.source}: pushed.repository")
        source = request.source
        if source is not None and (pushed.registry, pushed.repository) != (
            source.registry,
            source.repository,
        ):
            raise UserError(f"--from {source.name} does not match {pushed.name} in {result.source}")
        for tag in result.tags if request.aliases else (result.tag,):
            refs.parse(str(request.target.with_tag(tag)), what=f"{result.source}: target tag {tag!r}")
    for spec in request.specs:
        for tag in spec.all_tags if request.aliases else (spec.tag,):
            refs.parse(str(request.target.with_tag(tag)), what=f"target tag {tag!r}")


def run_promote(
    request: PromoteRequest, warn: Callable[[str], None], echo: Callable[[str], None] = print
) -> int:
    """Validate every name, log in, plan and verify every source, then copy; 0 done, 1 an image was
    refused or a registry failed (the journal says what moved), UserError (exit 2) before anything
    is contacted or written."""
    validate(request)
    with request.transport.open() as registries, _gatekeeper(request, registries) as gatekeeper:
        source_name = request.source.name if request.source else "results"
        journal = Journal(source_name, request.target.name, request.journal, echo=echo)
        try:
            # Preflight: both registries answer and accept their own credentials before any copy.
            # Source credentials belong to --from only; a registry a results file names without
            # --from is read anonymously (or with --authfile's entry for it), never with them.
            login_all(
                registries,
                request.source.registry if request.source else None,
                request.target.registry,
                request.source_credentials,
                request.target_credentials,
            )
            if request.results:
                plans = plan_from_results(
                    registries,
                    request.results,
                    request.target,
                    aliases=request.aliases,
                    source=request.source,
                    warn=warn,
                )
            else:
                assert request.source is not None  # the command requires --from without --results
                plans = plan_from_tags(
                    registries, request.specs, request.source, request.target, aliases=request.aliases
                )
            if gatekeeper is not None:
                plans = verify_sources(gatekeeper, plans, journal, echo)
            promote(registries, plans, journal, dry_run=request.dry_run, gatekeeper=gatekeeper)
        except RegistryError as err:
            moved = journal.summary() if journal.entries else "nothing written"
            where = f"; journal: {request.journal}" if journal.entries else ""
            print(f"error: promote: {err} ({moved}{where})", file=sys.stderr)
            return 1
    if journal.count("refused"):
        print(
            f"error: promote: {journal.count('refused')} image(s) refused, nothing of them copied "
            f"({journal.summary()}; journal: {request.journal})",
            file=sys.stderr,
        )
        return 1
    echo(f"promote: {journal.summary()}; journal: {request.journal}")
    return 0


@contextmanager
def _gatekeeper(request: PromoteRequest, registries: Registries) -> Iterator[Gatekeeper | None]:
    if request.policy is None:
        yield None
        return
    with Cosign(request.policy.cosign, registries) as cosign:
        yield Gatekeeper(cosign, request.policy)


def login_all(
    registries: Registries,
    source: str | None,
    target: str,
    source_creds: Credentials | None,
    target_creds: Credentials | None,
) -> None:
    """Check each registry's own credentials up front. One registry serving as both source and
    target gets the target's credentials (they must be able to push); a credential is never used
    for any other registry."""
    logins: dict[str, Credentials] = {}
    if source_creds is not None:
        if source is None:
            raise UserError("source credentials need --from REGISTRY/REPO (the registry they belong to)")
        logins[source] = source_creds
    if target_creds is not None:
        logins[target] = target_creds
    for registry, creds in sorted(logins.items()):
        registries.login(registry, creds)
