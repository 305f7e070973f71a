"""`assemble`: one image index per tag from the platforms that separate runs pushed by digest.

Why: the workflow builds each platform of a multi-platform image on a runner of that
architecture (no emulation there), and each job pushes its platform under a platform tag
(ci.model.tags.platform_tag) and records the digest in its index.json. This step reads those
files, and only when every platform the table gives the image passed and was pushed, puts the
canonical image index (ci.registry.index) under the image's own tag in the same repository. It
writes one index.json for the whole run, the one `promote --results` reads: the tag's entry names
the index digest, each platform's manifest digest and every check. An image with a failed or
missing platform gets no index (nothing half-published) and makes the command exit 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ci.model import refs
from ci.model.platforms import canonical
from ci.model.spec import ImageSpec
from ci.registry.index import put_index
from ci.registry.skopeo import Credentials, Registries, RegistryError
from ci.report.model import PushedImage
from ci.report.results import JsonDict, assembled_entry


@dataclass(frozen=True)
class AssembleRequest:
    entries: tuple[JsonDict, ...]  # every image entry of the run's results (ci.report.results.read_indexes)
    targets: Mapping[str, ImageSpec]  # the table's targets by primary tag: platforms and aliases
    credentials: Credentials | None


@dataclass(frozen=True)
class Outcome:
    entries: list[JsonDict]  # the run's index.json entries, one per tag
    problems: list[str]  # why an image got no index


def _platform_of(entry: JsonDict) -> list[str]:
    return [str(p["platform"]) for p in entry.get("platforms", []) if p.get("platform")]


def assemble(
    request: AssembleRequest, registries: Registries, echo: Callable[[str], None] = print
) -> Outcome:
    """Group the results by tag; tag each complete multi-platform image with its index."""
    groups: dict[str, list[JsonDict]] = {}
    for entry in request.entries:
        groups.setdefault(str(entry["tag"]), []).append(entry)
    out: list[JsonDict] = []
    problems: list[str] = []
    logged_in: set[str] = set()
    for tag, entries in groups.items():
        if len(entries) == 1 and _complete(entries[0], tag):
            out.append(entries[0])  # one platform pushed under its own tag: nothing to assemble
            continue
        target = request.targets.get(tag)
        want = (
            target.platforms if target is not None else canonical(p for e in entries for p in _platform_of(e))
        )
        tags = target.all_tags if target is not None else (tag,)
        problem = _problem(tag, entries, want)
        pushed = None
        if problem is None:
            try:
                pushed = _put(registries, logged_in, request.credentials, tag, entries)
            except RegistryError as err:
                problem = f"{tag}: {err}"
        if problem is not None:
            problems.append(problem)
            print(f"error: not assembled: {problem}", file=sys.stderr)
        else:
            assert pushed is not None
            shown = ", ".join(f"{p} {d}" for p, d in pushed.platforms)
            echo(f"assembled {pushed.repository}:{tag}@{pushed.digest} ({shown})")
        out.append(assembled_entry(entries, tags, pushed))
    return Outcome(out, problems)


def _complete(entry: JsonDict, tag: str) -> bool:
    pushed = entry.get("pushed")
    return isinstance(pushed, dict) and pushed.get("tag") == tag


def _problem(tag: str, entries: Sequence[JsonDict], want: Sequence[str]) -> str | None:
    have = [p for e in entries for p in _platform_of(e)]
    if sorted(have) != sorted(set(have)):
        return f"{tag}: a platform appears in two results ({', '.join(have)})"
    missing = [p for p in want if p not in have]
    if missing:
        return f"{tag}: no result for {', '.join(missing)} (the tag holds {', '.join(want)})"
    failed = [p for e in entries if e.get("ok") is not True for p in _platform_of(e)]
    if failed:
        return f"{tag}: {', '.join(failed)} failed its checks; no platform of it is published under the tag"
    unpushed = [p for e in entries if not isinstance(e.get("pushed"), dict) for p in _platform_of(e)]
    if unpushed:
        return f"{tag}: {', '.join(unpushed)} was not pushed (build --publish)"
    repositories = {e["pushed"]["repository"] for e in entries}
    if len(repositories) != 1:
        return (
            f"{tag}: the platforms were pushed to different repositories ({', '.join(sorted(repositories))})"
        )
    return None


def _put(
    registries: Registries,
    logged_in: set[str],
    credentials: Credentials | None,
    tag: str,
    entries: Sequence[JsonDict],
) -> PushedImage:
    repository = refs.parse_repository(entries[0]["pushed"]["repository"], "results")
    if credentials is not None and repository.registry not in logged_in:
        registries.login(repository.registry, credentials)
        logged_in.add(repository.registry)
    manifests = [(p, str(e["pushed"]["digest"])) for e in entries for p in _platform_of(e)]
    digest = put_index(registries, repository, tag, manifests)
    ordered = tuple((p, d) for p in canonical(m[0] for m in manifests) for q, d in manifests if q == p)
    return PushedImage(repository.name, tag, digest, ordered)
