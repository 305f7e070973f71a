"""Everything `build` can check before the engine builds anything.

Why: a GPU image takes an hour or more to build and check. A typo in --publish, an --export path
that is a directory, a password file without a user, a registry that is down or a rejected
password must end the command in seconds (exit 2 for bad input, exit 1 for a registry that refuses
or does not answer, one line each), not after the build.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ci.errors import UserError
from ci.registry import Credentials, Reference, Registries, RegistryError, parse_repository


@dataclass(frozen=True)
class Publish:
    """Where a passing image is pushed (`{repository}:{spec.tag}`) and with which credentials.

    Why only the primary tag: floating aliases move in `promote`, after a release engineer (or a
    green pipeline) accepts the tested digests; a build never moves `latest`.
    """

    registry: str  # host[:port], the key for registry auth
    repository: str  # registry/path, without a tag
    credentials: Credentials | None = None  # handed to the engine as a secret, never printed

    def __repr__(self) -> str:  # keep the password out of tracebacks and debug prints
        user = self.credentials.username if self.credentials else None
        return f"Publish({self.repository!r}, user={user!r})"


class PreflightFailed(Exception):
    """A registry refused or did not answer before the build: exit 1, one line."""


def publish_target(text: str, credentials: Credentials | None) -> Publish:
    ref: Reference = parse_repository(text, "--publish")
    return Publish(ref.registry, ref.name, credentials)


def check_export_path(path: Path) -> None:
    """The tarball's file must be writable as a file: not a directory, in a writable directory."""
    if path.is_dir():
        raise UserError(f"--export {path}: is a directory; give a file name such as {path}/{{tag}}.tar")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"--export {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK):
        raise UserError(f"--export {path}: {parent} is not writable")


def check_report_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise UserError(f"--report-dir {path}: exists and is not a directory")


def check_registry(registries: Registries, publish: Publish) -> None:
    """The --publish registry answers and accepts the credentials, before any build work."""
    try:
        if publish.credentials is not None:
            registries.login(publish.registry, publish.credentials)
        else:
            registries.check_reachable(publish.registry)
    except RegistryError as err:
        raise PreflightFailed(f"--publish {publish.repository}: {err}") from None
