"""Exec hygiene for build steps: build-only inputs are present during one exec and gone afterwards.

Why: the CA bundle of a TLS-intercepting proxy, mirror URLs (which may carry credentials), the pip
constraints file and a local Miniconda installer are needed by one exec, not by the image. They are
*mounted* or passed as *secrets* for that exec, and their environment variables are removed right
after, so neither their bytes nor their settings end up in a layer or in the image config.
In-image scripts are files under ci/scripts, mounted for the exec that runs them.

Why the build CA is a secret with a fixed cache key rather than a mounted file: a mounted file's
content is part of every exec's cache key, so a runner whose CA bundle differs by one byte (another
runner image, a ca-certificates update) missed the whole remote layer cache from os_packages on.
What the build trusts does not change what it builds (the downloads are pinned and hashed), so the
bundle is a secret whose cache key is its name. Only --bake-ca, where the CA *is* image content,
copies the file (Layers.ca_trust).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ci.build.options import BuildOptions
from ci.model.urls import has_credentials, url_password
from ci.scripts import script_text

if TYPE_CHECKING:  # dagger is imported lazily so plan/matrix (and unit tests) stay fast
    from dagger import Container, Directory, File, Secret

# Build-time mount points (mounts are not part of any layer).
BUILD_DIR = "/tmp/tfci-build"  # noqa: S108 - a mount point, not a temp file we create
BUILD_CA = f"{BUILD_DIR}/ca.pem"
BUILD_CA_KEY = "tfci-build-ca"  # the build CA's cache key: the same on every runner, whatever the bundle
CA_ENV_VARS: tuple[str, ...] = (
    "PIP_CERT",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "CONDA_SSL_VERIFY",
)


def sh(script: str) -> list[str]:
    """argv for a bash script that stops at the first error (and says which command failed)."""
    return ["bash", "-euo", "pipefail", "-c", script]


def script_file(name: str) -> File:
    """ci/scripts/NAME as a file for the engine (its content is part of the exec's cache key)."""
    from dagger import dag

    return dag.directory().with_new_file(name, script_text(name)).file(name)


def run_script(name: str, *args: str) -> tuple[list[str], tuple[str, File]]:
    """(argv, mount) to run ci/scripts/NAME with bash -euo pipefail and positional args."""
    path = f"{BUILD_DIR}/{name}"
    return ["bash", "-euo", "pipefail", path, *args], (path, script_file(name))


def url_env(name: str, url: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(plain env, secret env) carrying `url` in variable `name`.

    A URL with credentials becomes a secret (the engine keeps it out of the cache metadata and
    scrubs it from output); its password alone is a second secret, so a tool that prints only the
    password part (or the URL with the user stripped) is scrubbed as well.
    """
    if not has_credentials(url):
        return [(name, url)], []
    secrets = [(name, url)]
    password = url_password(url)
    if password:
        secrets.append((f"{name}_SCRUB", password))
    return [], secrets


def ca_file(options: BuildOptions) -> File | None:
    """The build CA as a file, for --bake-ca only: there it is image content (see the module doc)."""
    from dagger import dag

    if options.ca_bundle is None:
        return None
    return dag.host().file(str(options.ca_bundle))


def ca_secret(options: BuildOptions) -> Secret | None:
    """The build CA for build steps: read from the host, keyed by a fixed name, not by its content."""
    from dagger import dag

    if options.ca_bundle is None:
        return None
    return dag.secret(f"file://{options.ca_bundle}", cache_key=BUILD_CA_KEY)


def run(
    ctr: Container,
    options: BuildOptions,
    argv: list[str],
    *,
    env: Iterable[tuple[str, str]] = (),
    mounts: Iterable[tuple[str, File]] = (),
    directories: Iterable[tuple[str, Directory]] = (),
    secrets: Iterable[tuple[str, str]] = (),
    trust_ca: bool = True,
) -> Container:
    """One exec with build-only mounts, env and secrets; the image continues from its filesystem only.

    The exec runs in a throwaway copy of CTR that has the build-only inputs; CTR then takes that
    exec's root filesystem (one layer, as a plain with_exec adds) and keeps its own configuration.
    So nothing of them can stay behind: not a variable, not a mount, not the CA secret (a mounted
    secret cannot be unmounted in Dagger v0.19.10, `withoutMount` leaves it mounted for every later
    exec), and the CA is trusted by build steps only.
    """
    from dagger import dag

    runner = ctr
    env = list(env)
    ca = ca_secret(options) if trust_ca else None
    if ca is not None:
        # world-readable: apt downloads as the unprivileged _apt user
        runner = runner.with_mounted_secret(BUILD_CA, ca, owner="0:0", mode=0o444)
        env += [(name, BUILD_CA) for name in CA_ENV_VARS if name != "CONDA_SSL_VERIFY"]
        env.append(("CONDA_SSL_VERIFY", BUILD_CA))
    for path, file in mounts:
        runner = runner.with_mounted_file(path, file)
    for path, directory in directories:
        runner = runner.with_mounted_directory(path, directory)
    for name, plaintext in secrets:
        digest = hashlib.sha256(plaintext.encode()).hexdigest()[:16]
        runner = runner.with_secret_variable(name, dag.set_secret(f"tfci-{name.lower()}-{digest}", plaintext))
    for name, value in env:
        runner = runner.with_env_variable(name, value)
    return ctr.with_rootfs(runner.with_exec(argv).rootfs())
