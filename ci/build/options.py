"""Build-time options: where packages come from and which CA the build trusts.

Why separate from ImageSpec: the spec says *what* an image is (and decides its tag); options say
*how this build machine reaches the internet* (mirrors, a TLS-intercepting proxy's CA, a local
Miniconda installer). Two builds of one spec with different options must produce the same image, so
nothing here may end up in the image unless the user asks (bake_ca). Validation happens here, once,
so layers can trust every field; a bad value is a UserError naming the flag and what is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ci.model.errors import UserError
from ci.model.inputs import read_ca_bundle
from ci.model.urls import check_url

DEFAULT_MINICONDA_BASE_URL = "https://repo.anaconda.com/miniconda/"


def _check_file(flag: str, path: Path) -> Path:
    try:
        if not path.exists():
            raise UserError(f"{flag} {path}: no such file")
        if not path.is_file():
            raise UserError(f"{flag} {path}: not a regular file")
        return path.resolve()
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, a loop of links
        raise UserError(f"{flag} {path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None


@dataclass(frozen=True)
class BuildOptions:
    """How to reach package sources during a build. Validated (and normalised) on construction.

    apt_mirror: base URL serving /debian, /debian-security and/or /ubuntu (e.g.
        "http://mirror.example/"); used while apt runs, the image keeps the distribution's sources.
    pip_index_url / pip_extra_index_url: PyPI replacement / addition for the pip layers only.
    Mirror URLs may carry credentials (https://user:token@host/); the layers then hand them to
    the engine as secrets (never in a command line, layer or log) and messages show them redacted.
    miniconda_base_url: where `spec.miniconda.filename` is downloaded from.
    miniconda_file: a local installer used instead of downloading; still sha256-checked.
    ca_bundle: PEM bundle trusted by the build's network steps only (mounted for those execs,
        never in a layer) unless bake_ca.
    bake_ca: also install ca_bundle into the image's system trust store.
    require_gpu: checks fail when TensorFlow sees no GPU (otherwise that check is reported as
        not run).
    """

    apt_mirror: str | None = None
    pip_index_url: str | None = None
    pip_extra_index_url: str | None = None
    miniconda_base_url: str = DEFAULT_MINICONDA_BASE_URL
    miniconda_file: Path | None = None
    ca_bundle: Path | None = None
    bake_ca: bool = False
    require_gpu: bool = False

    def __post_init__(self) -> None:
        # object.__setattr__: the dataclass is frozen, but normalising once here keeps callers simple.
        if self.apt_mirror is not None:
            object.__setattr__(self, "apt_mirror", check_url("--apt-mirror", self.apt_mirror).rstrip("/"))
        if self.pip_index_url is not None:
            check_url("--pip-index-url", self.pip_index_url)
        if self.pip_extra_index_url is not None:
            check_url("--pip-extra-index-url", self.pip_extra_index_url)
        object.__setattr__(
            self,
            "miniconda_base_url",
            check_url("--miniconda-base-url", self.miniconda_base_url, require_slash=True),
        )
        if self.miniconda_file is not None:
            object.__setattr__(
                self, "miniconda_file", _check_file("--miniconda-file", Path(self.miniconda_file))
            )
        if self.ca_bundle is not None:
            bundle = _check_file("--ca-cert", Path(self.ca_bundle))
            read_ca_bundle(bundle, "--ca-cert")
            object.__setattr__(self, "ca_bundle", bundle)
        if self.bake_ca and self.ca_bundle is None:
            raise UserError("--bake-ca needs --ca-cert FILE (the bundle to install into the image)")
