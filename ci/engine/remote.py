"""Layers shared across machines: a remote BuildKit cache and a remote engine for a build session.

Why: every CI job starts with an empty engine, so a matrix of N images rebuilt base, OS packages,
Python and Jupyter N times and downloaded every wheel again. The Dagger CLI (v0.19.10) that the SDK
starts for a session reads BuildKit's remote-cache settings and the engine address from its
environment; this module validates the build's flags, turns them into that environment for the
session only, and checks afterwards that an export really reached the registry.

    --cache-to   REPO | REPO:TAG | type=registry,ref=R,mode=max | type=gha,... | type=s3,... | type=local,...
    --cache-from REPO | REPO:TAG | type=... (repeatable)
    --engine     tcp://HOST:PORT | unix:///PATH | ssh://... | kube-pod://... | image://REF | ...

A bare REPO (no tag) means one cache per image: `--cache-to REPO` exports to REPO:<image tag>
(so matrix jobs never overwrite each other), and `--cache-from REPO` imports REPO:<image tag> plus
REPO:<tag> of every target that shares the image's lower layers (same base, OS and Python: base,
OS packages, Python and Jupyter come out identical). `{tag}` in a full config is replaced likewise.

Why the export is verified: the engine runs the export when the session closes and reports a
failure only in its own log (the session, and so the build, stays green). For registry exports the
session therefore also creates a tiny marker result unique to the session, which changes the
exported manifest, and the ref's manifest digest is read back (skopeo) before and after: unchanged
or missing means the export failed, and the build says so and exits 1. Other backends cannot be
read back; the summary says "not verified".
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ci.model import refs
from ci.model.errors import UserError
from ci.model.spec import ImageSpec
from ci.model.tags import platform_tag
from ci.model.urls import redact, url_password
from ci.registry.skopeo import LOGIN_TIMEOUT_S, Registries, RegistryError, answered

ENV_IMPORT = "_EXPERIMENTAL_DAGGER_CACHE_IMPORT_CONFIG"
ENV_EXPORT = "_EXPERIMENTAL_DAGGER_CACHE_EXPORT_CONFIG"
ENV_RUNNER = "_EXPERIMENTAL_DAGGER_RUNNER_HOST"
# The CLI gives the engine 10 s to finish a session, and the engine exports the cache inside that
# call: compressing a fresh TensorFlow image's layers takes minutes on a small runner.
ENV_SHUTDOWN_TIMEOUT = "_EXPERIMENTAL_DAGGER_SHUTDOWN_TIMEOUT"
EXPORT_CLOSE_TIMEOUT_S = 1800
# What engine v0.19.10 registers (engine/server/server.go): importers and exporters by type.
CACHE_TYPES = ("registry", "gha", "s3", "local")
REQUIRED_ATTRS = {"registry": ("ref",), "gha": ("url", "token"), "s3": ("bucket", "region")}
# The CLI's runner schemes (engine/client/drivers of dagger v0.19.10).
RUNNER_SCHEMES = (
    "tcp",
    "unix",
    "ssh",
    "tls",
    "kube-pod",
    "image",
    "container",
    "docker-image",
    "docker-container",
    "image+docker",
    "image+podman",
    "image+nerdctl",
    "image+finch",
    "image+apple",
    "container+docker",
    "container+podman",
    "container+nerdctl",
    "container+finch",
    "container+apple",
    "dagger-cloud",
)
GHA_ENV = {"url": "ACTIONS_CACHE_URL", "token": "ACTIONS_RUNTIME_TOKEN"}
# What buildx does for S3: credentials from the client's AWS_* environment, never from the config.
S3_ENV = {
    "access_key_id": "AWS_ACCESS_KEY_ID",
    "secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "session_token": "AWS_SESSION_TOKEN",
}
# Attributes that are secrets: refused in a flag value (`ps`, shell history, CI logs show it) and
# never shown in a message; they come from the environment variable named here.
SECRET_ATTRS = {"token": GHA_ENV["token"], **{k: v for k, v in S3_ENV.items() if k != "access_key_id"}}
_SECRET_VALUE = re.compile(rf"(?i)(^|,)({'|'.join(SECRET_ATTRS)})=[^,]*")
CACHE_READ_TIMEOUT_S = LOGIN_TIMEOUT_S  # a --cache-to registry must answer the preflight read this fast
# Registry exports default to zstd layers (unless the value names a compression): a fresh engine
# restoring the cache spends its time decompressing and unpacking every layer, one after another on
# one core, and zstd decompresses several times faster than gzip (engine CPU -30% for the CPU image,
# README: Performance). OCI media types are what zstd layers need; GHCR, Docker Hub and
# distribution 2.8+ accept them. force-compression recompresses layers the engine holds as gzip.
ZSTD_EXPORT: tuple[tuple[str, str], ...] = (
    ("compression", "zstd"),
    ("force-compression", "true"),
    ("oci-mediatypes", "true"),
)
MARKER_FILE = "tfci-cache-export-marker"
TAG_PLACEHOLDER = "{tag}"


@dataclass(frozen=True)
class CacheConfig:
    """One BuildKit remote cache entry (type plus attributes); `{tag}` may stand for an image tag."""

    flag: str  # --cache-to / --cache-from: named in every error
    type: str
    attrs: tuple[tuple[str, str], ...]
    per_image: bool  # a bare REPO or a `{tag}` placeholder: one cache per image

    def attr(self, name: str) -> str | None:
        return dict(self.attrs).get(name)

    def for_tag(self, tag: str) -> CacheConfig:
        attrs = tuple((k, v.replace("{tag}", tag)) for k, v in self.attrs)
        return CacheConfig(self.flag, self.type, attrs, per_image=False)

    def render(self) -> str:
        return ",".join([f"type={self.type}", *(f"{k}={v}" for k, v in self.attrs)])

    def describe(self) -> str:
        """For messages: the ref or scope, never a token."""
        where = self.attr("ref") or self.attr("scope") or self.attr("bucket") or self.attr("dest") or ""
        return f"type={self.type}" + (f" {where}" if where else "")


def shown(value: str) -> str:
    """A cache flag's value as messages may show it: every secret attribute's value hidden, and
    anything before a credentials-like `@` in a ref (refs.shown)."""
    value = _SECRET_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}=***", value)
    items = []
    for item in value.split(","):
        key, sep, val = item.partition("=")
        items.append(f"{key}={refs.shown(val)}" if sep else refs.shown(item))
    return ",".join(items)[:300]


def _valid_ref(flag: str, ref: str) -> None:
    """A cache ref is an image reference (ci.model.refs), `{tag}` standing for an image's tag."""
    refs.parse(ref.replace(TAG_PLACEHOLDER, "x"), what=flag)


def parse_cache(flag: str, value: str, environ: Mapping[str, str] | None = None) -> CacheConfig:
    """Validate one --cache-to/--cache-from value; UserError names the flag and what is valid."""
    export = flag == "--cache-to"
    environ = os.environ if environ is None else environ
    show = repr(shown(value))
    if not value or any(c in value for c in ";\n\r\t ") or "\\" in value:
        raise UserError(f"{flag} {show}: no spaces, ';' or '\\' (one cache per flag; repeat the flag)")
    if "=" not in value:  # shorthand: a registry repository, optionally with a tag
        _valid_ref(flag, value)
        has_tag = ":" in value.rsplit("/", 1)[-1]
        ref = value if has_tag else f"{value}:{{tag}}"
        short = (("ref", ref), ("mode", "max"), *ZSTD_EXPORT) if export else (("ref", ref),)
        return CacheConfig(flag, "registry", short, per_image="{tag}" in ref)
    pairs: list[tuple[str, str]] = []
    for item in value.split(","):
        key, sep, val = item.partition("=")
        if not sep or not key or not val:
            raise UserError(f"{flag} {show}: expected comma-separated key=value pairs, got {shown(item)!r}")
        if key.lower() in SECRET_ATTRS:
            raise UserError(
                f"{flag} {show}: {key}= is a secret and a flag value shows in `ps`, shell history and "
                f"CI logs; leave it out: it is taken from ${SECRET_ATTRS[key.lower()]}"
            )
        pairs.append((key, val))
    attrs = dict(pairs)
    if len(attrs) != len(pairs):
        raise UserError(f"{flag} {show}: a key appears twice")
    kind = attrs.pop("type", None)
    if kind not in CACHE_TYPES:
        raise UserError(
            f"{flag} {show}: type must be one of {', '.join(CACHE_TYPES)}; got {str(kind)[:40]!r}"
        )
    for key, env in {"gha": GHA_ENV, "s3": S3_ENV}.get(kind or "", {}).items():
        if key not in attrs and environ.get(env):
            attrs[key] = environ[env]
    if kind == "local":
        required: tuple[str, ...] = ("dest",) if export else ("src",)
    else:
        required = REQUIRED_ATTRS[kind]
    missing = [k for k in required if k not in attrs]
    if missing:
        hint = ""
        if kind == "gha":
            hint = (
                " (ACTIONS_CACHE_URL and ACTIONS_RUNTIME_TOKEN from the environment, e.g. via "
                "crazy-max/ghaction-github-runtime; this engine speaks only GitHub's v1 cache protocol)"
            )
        raise UserError(f"{flag} {show}: type={kind} needs {', '.join(missing)}{hint}")
    if kind == "registry":
        _valid_ref(flag, attrs["ref"])
    if "mode" in attrs and attrs["mode"] not in ("min", "max"):
        raise UserError(f"{flag} {show}: mode must be min or max; got {attrs['mode'][:40]!r}")
    if export and kind == "registry" and "mode" not in attrs:
        attrs["mode"] = "max"  # every intermediate layer, not only the final image's
    if export and kind == "registry" and "compression" not in attrs:
        for key, default in ZSTD_EXPORT:
            attrs.setdefault(key, default)
    per_image = any("{tag}" in v for v in attrs.values())
    return CacheConfig(flag, kind, tuple(attrs.items()), per_image=per_image)


def parse_engine(value: str) -> str:
    """--engine SCHEME://ADDRESS; a password in it is refused (flag values show in `ps`)."""
    if url_password(value) or "@" in value.partition("://")[2].split("/", 1)[0].rpartition("@")[0]:
        raise UserError(
            f"--engine {redact(value)[:200]!r}: a password does not belong in a flag value (it shows in "
            "`ps` and shell history); use an SSH key or the engine's own authentication"
        )
    scheme, sep, rest = value.partition("://")
    if not sep or not rest or scheme not in RUNNER_SCHEMES or any(c.isspace() for c in value):
        raise UserError(
            f"--engine {redact(value)[:200]!r}: expected SCHEME://ADDRESS with SCHEME one of "
            f"{', '.join(RUNNER_SCHEMES[:6])}, ... (e.g. tcp://127.0.0.1:1234)"
        )
    return value


def share_key(spec: ImageSpec) -> tuple[object, ...]:
    """Images with equal keys build identical base, OS, Python and Jupyter layers (ci/build/layers.py),
    platform by platform (the installer named is the default platform's, whichever are built)."""
    default = spec.hosts[0].miniconda if spec.hosts else spec.miniconda
    installer = default.filename if default else None
    return (spec.base_image, spec.base_digest, spec.os_id, spec.python_source, spec.python_version, installer)


def _default_platform(spec: ImageSpec) -> str:
    return spec.hosts[0].platform if spec.hosts else spec.platform


def cache_tag(spec: ImageSpec) -> str:
    """The ref an image's session exports its layers to: the tag, or for a session that builds only
    another platform (a workflow job on an arm64 runner) the platform tag, so the jobs of one
    image never overwrite each other's cache."""
    if _default_platform(spec) in spec.platforms:
        return spec.tag
    return platform_tag(spec.tag, spec.platforms[0])


def _cache_tags(spec: ImageSpec, platforms: Sequence[str]) -> list[str]:
    """Where each platform's layers of `spec` are exported: the tag for the default platform's."""
    default = _default_platform(spec)
    return [spec.tag if p == default else platform_tag(spec.tag, p) for p in platforms]


def _placeholder(config: CacheConfig) -> str:
    return (config.attr("ref") or "").rsplit(":", 1)[0] or config.describe()


def _expand_imports(
    config: CacheConfig, specs: Sequence[ImageSpec], targets: Sequence[ImageSpec]
) -> list[str]:
    if not config.per_image:
        return [config.render()]
    tags: list[str] = []
    for spec in specs:
        tags += _cache_tags(spec, spec.platforms)
        for target in targets:
            if share_key(target) == share_key(spec):
                tags += _cache_tags(target, spec.platforms)
    return [config.for_tag(tag).render() for tag in dict.fromkeys(tags)]


@dataclass
class RemoteSession:
    """The session environment (engine, cache imports/exports) and the export check after it."""

    engine: str | None = None
    imports: list[str] = field(default_factory=list)  # rendered configs, in order
    exports: list[CacheConfig] = field(default_factory=list)  # tags already filled in
    plain_http: frozenset[str] = frozenset()  # registries read back over plain HTTP (--plain-http)
    ca_bundle: Path | None = None  # extra CA for reading registries back (--registry-ca-cert)
    _before: dict[str, str | None] = field(default_factory=dict)

    def registry_digest(self, config: CacheConfig, *, strict: bool = False) -> str | None:
        """sha256 of the manifest at the config's ref, or None when there is none (or no skopeo).

        skopeo reads the same credentials a `docker login` wrote, which is also where the engine's
        session gets them for the export; no secret passes through this process' arguments.
        `strict`: a registry that does not answer at all raises RegistryError (preflight).
        """
        ref = config.attr("ref")
        if ref is None or not skopeo_available():
            return None
        try:
            with Registries(
                plain_http=self.plain_http, ca_bundle=self.ca_bundle, timeout=CACHE_READ_TIMEOUT_S
            ) as client:
                return client.digest(refs.parse(ref, what=config.flag))
        except RegistryError as err:
            if strict and not answered(str(err)):
                raise
            return None
        except UserError:
            return None

    def read_exports(self) -> None:
        """Before any engine work: each registry export's ref as it is now (what the check after the
        session compares with); a registry that does not answer raises RegistryError, in seconds
        rather than after the build (it used to be 120 s of silence, then a traceback)."""
        for config in self.exports:
            if config.type == "registry" and config.render() not in self._before:
                self._before[config.render()] = self.registry_digest(config, strict=True)

    @property
    def exporting(self) -> bool:
        return bool(self.exports)

    def environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if self.engine:
            env[ENV_RUNNER] = self.engine
        if self.imports:
            env[ENV_IMPORT] = ";".join(self.imports)
        if self.exports:
            env[ENV_EXPORT] = ";".join(e.render() for e in self.exports)
            env[ENV_SHUTDOWN_TIMEOUT] = os.environ.get(ENV_SHUTDOWN_TIMEOUT) or f"{EXPORT_CLOSE_TIMEOUT_S}s"
        return env

    @contextmanager
    def session_env(self) -> Iterator[None]:
        """Set the variables for the session's CLI (it inherits this process' environment), then
        restore them; the registry refs of exports are read before the session starts."""
        env = self.environment()
        saved = {name: os.environ.get(name) for name in env}
        for config in self.exports:  # read in preflight already (read_exports); else now
            if config.type == "registry" and config.render() not in self._before:
                self._before[config.render()] = self.registry_digest(config)
        os.environ.update(env)
        if self.exports:
            _allow_long_session_close(EXPORT_CLOSE_TIMEOUT_S + 60)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    async def mark(self) -> None:
        """A result unique to this session, so that a successful export always changes the manifest."""
        if not any(e.type == "registry" for e in self.exports):
            return
        from dagger import dag

        await dag.directory().with_new_file(MARKER_FILE, os.urandom(16).hex()).sync()

    def report(self, out: TextIO) -> bool:
        """After the session: one line per export; False when an export demonstrably failed."""
        ok = True
        for config in self.exports:
            if config.type != "registry" or not skopeo_available():
                why = "only registry exports are read back" if config.type != "registry" else "no skopeo"
                print(f"cache export: {config.describe()}: not verified ({why})", file=out)
                continue
            before = self._before.get(config.render())
            after = self.registry_digest(config)
            if after is None or after == before:
                ok = False
                state = "no cache there" if after is None else f"still the previous cache {after[:19]}"
                print(
                    f"cache export FAILED: {config.describe()}: {state}; the engine reports why only in "
                    "its own log (unreachable registry, missing push permission?)",
                    file=out,
                )
            else:
                print(f"cache export: {config.describe()} written (manifest {after[:19]})", file=out)
        return ok


def from_flags(
    *,
    cache_to: Sequence[str] = (),
    cache_from: Sequence[str] = (),
    engine: str | None = None,
    specs: Sequence[ImageSpec] = (),
    targets: Sequence[ImageSpec] = (),
    environ: Mapping[str, str] | None = None,
    plain_http: frozenset[str] = frozenset(),
    ca_bundle: Path | None = None,
) -> RemoteSession:
    """Validate the flags against the selected images (before any engine work)."""
    environ = os.environ if environ is None else environ
    if environ.get("DAGGER_SESSION_PORT") and (cache_to or cache_from or engine):
        # Under `dagger run` the SDK joins that session: the CLI has already read its settings, so
        # these flags would be ignored and an export would only run after this process exits.
        flag = "--cache-to" if cache_to else "--cache-from" if cache_from else "--engine"
        raise UserError(
            f"{flag}: not under `dagger run` (that session's CLI was configured before this command "
            "started); run `python ci/main.py build ...` directly, with _EXPERIMENTAL_DAGGER_CLI_BIN "
            "pointing at the dagger CLI"
        )
    session = RemoteSession(
        engine=parse_engine(engine) if engine is not None else None,
        plain_http=plain_http,
        ca_bundle=ca_bundle,
    )
    for value in cache_from:
        session.imports += _expand_imports(parse_cache("--cache-from", value, environ), specs, targets)
    for value in cache_to:
        config = parse_cache("--cache-to", value, environ)
        if config.per_image:
            if len(specs) != 1:
                raise UserError(
                    f"--cache-to {shown(value)!r}: {len(specs)} images share one session and one cache "
                    f"export; give an explicit tag ({_placeholder(config)}:TAG) or build one image per job"
                )
            config = config.for_tag(cache_tag(specs[0]))
        session.exports.append(config)
    session.imports = list(dict.fromkeys(session.imports))
    return session


def _allow_long_session_close(seconds: int) -> None:
    """Let the SDK wait for the CLI to finish the export instead of killing it after 300 s.

    Why: dagger-io 0.19.10 waits a fixed 300 s for the `dagger session` process to exit
    (provisioning/_session.py, Pclose.timeout, "to give time for any cache exports") and then kills
    it, which cuts the export short. The SDK has no setting for it; the pin is exact, so this
    adjusts that one default and leaves everything else alone.
    """
    from dagger.provisioning import _session

    init = getattr(getattr(_session, "Pclose", None), "__init__", None)
    if init is not None and getattr(init, "__defaults__", None) == (300,):
        init.__defaults__ = (seconds,)


def skopeo_available() -> bool:
    return shutil.which("skopeo") is not None
