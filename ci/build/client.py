"""The client the service checks use: the image's own base plus an SSH/HTTP client.

Why built here and handed to the probe: the client is a small image build (base + apt), so it uses
the build's layer functions; the service checks receive it ready-made and never depend on how
images are built. Using the image's own base means no second image to pull or pin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci.build import apt
from ci.build.layers import Layers
from ci.build.options import BuildOptions
from ci.model.spec import ImageSpec

if TYPE_CHECKING:
    from dagger import Container

CLIENT_PACKAGES = ("openssh-client", "sshpass", "curl", "ca-certificates", "rsync")


def client_container(spec: ImageSpec, options: BuildOptions) -> Container:
    from dagger import dag

    base = Layers(options).base(dag.container(), spec)
    return apt.install(base, options, apt.cache_key(spec), CLIENT_PACKAGES)
