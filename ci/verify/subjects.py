"""What `verify` checks: each row's image kinds and Pythons, resolved by the table's own resolver.

Why the resolver: which package, OS, constraints, extra index and NVIDIA wheels an image kind gets
is the resolver's decision (ci.table.resolve); verify used to re-derive it and could drift. A kind
the resolver refuses for a row (no GPU base, no and-cuda extra for that Python) has no subject.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ci.model import platforms as platform_grammar
from ci.model.errors import UserError
from ci.model.spec import KINDS, ImageSpec, Kind
from ci.select import Selection, load
from ci.table.resolve import BuildRequest, RequestError, resolve
from ci.table.rows import Release, Table


@dataclass(frozen=True)
class Subject:
    """One image kind of one row for one Python on one platform: what a build of it installs."""

    row: Release
    python: str
    kind: Kind
    os_id: str
    spec: ImageSpec = field(compare=False)  # spec.platform is the subject's platform
    platform: str = "linux/amd64"


def subjects(table: Table, row: Release, python: str, kind: Kind, os_id: str | None = None) -> list[Subject]:
    """The subjects of one kind, one per platform it is built for; none when the row has no such image."""
    found = subject(table, row, python, kind, os_id)
    if found is None:
        return []
    return [
        Subject(row, python, kind, found.os_id, found.spec.on(platform), platform)
        for platform in found.spec.platforms
    ]


def subject(table: Table, row: Release, python: str, kind: Kind, os_id: str | None = None) -> Subject | None:
    """The subject of one kind (its default platform), or None when the resolver says the row has no
    such image."""
    info = KINDS[kind]
    request = BuildRequest(
        tf=row.tf,
        python=python,
        variant=info.variant,
        cuda_source=None if info.variant == "cpu" else info.cuda_source,
        os=None if kind == "gpu" else os_id,
    )
    try:
        spec = resolve(table, request)
    except RequestError:
        return None
    return Subject(row, python, kind, spec.os_id, spec, spec.platform)


def subjects_for_rows(
    table: Table,
    rows: Sequence[Release],
    python: str | None = None,
    kinds: Sequence[Kind] = tuple(KINDS),
    os_id: str | None = None,
) -> list[Subject]:
    """Every image kind of every row for each of its Pythons (or the one asked for)."""
    out: list[Subject] = []
    for row in rows:
        for py in row.python if python is None else (python,):
            for kind in kinds:
                out += subjects(table, row, py, kind, os_id)
    return out


def selected_subjects(selection: Selection) -> tuple[Table, list[Subject]]:
    """No selectors: every row; --all: the images of targets:; --tf X (and more): that row, narrowed."""
    table, specs = load(selection.table)
    request = selection.request
    if request is None:
        if not selection.all:
            return table, subjects_for_rows(table, table.releases)
        out: list[Subject] = []
        for spec in specs:
            row = table.release(spec.tf_version)
            assert row is not None
            for found in subjects(table, row, spec.python_version, spec.kind.name, spec.os_id):
                if found not in out:
                    out.append(found)
        return table, out
    if selection.all:
        raise UserError("--all cannot be combined with image selectors (--tf, --python, ...)")
    row = table.release(request.tf)
    if row is None:
        raise UserError(
            f"--tf: unknown TensorFlow version {request.tf!r}; valid: {', '.join(table.tf_versions)}"
        )
    if request.python is not None and request.python not in row.python:
        pythons = ", ".join(row.python)
        raise UserError(
            f"--python: TensorFlow {row.tf} has wheels for Python {pythons}; got {request.python}"
        )
    if request.os is not None and request.os not in table.os_bases:
        raise UserError(f"--os: unknown os {request.os!r}; valid: {', '.join(table.os_bases)}")
    kinds = [
        name
        for name, kind in KINDS.items()
        if (request.variant is None or kind.variant == request.variant)
        and (request.cuda_source is None or kind.cuda_source == request.cuda_source)
    ]
    chosen = subjects_for_rows(table, [row], request.python, kinds, request.os)
    if request.platforms is not None:  # --platform: only those platforms' subjects
        wanted = set()
        for text in request.platforms:
            try:
                name = str(platform_grammar.parse(text))
            except platform_grammar.PlatformError as exc:
                raise UserError(f"--platform: {exc}") from None
            if name not in table.compat.machines:
                valid = ", ".join(table.compat.machines)
                raise UserError(f"--platform: {name!r} is not a platform of {table.display}; valid: {valid}")
            wanted.add(name)
        chosen = [s for s in chosen if s.platform in wanted]
    return table, chosen
