"""The Kubernetes example's probe targets answer on a running image (its real CMD).

Why: the unit tests check the probes against ci/model/contract.py; this checks the contract's paths
against the image itself, from a second container on the network, as the kubelet would reach them
(the readiness probe's 127.0.0.1 becomes the service's host name).
"""

from __future__ import annotations

from typing import Any

import pytest

from ci.build.client import client_container
from ci.build.layers import build_image
from ci.probe.services.session import HOST, session_inputs, start_session
from tests.e2e import specs
from tests.unit.examples.test_examples import probe_targets

pytestmark = [pytest.mark.engine, pytest.mark.anyio]


async def test_every_probe_target_answers_on_the_running_image(dagger_client: Any) -> None:
    image = await build_image(specs.cpu_spec(), specs.options()).sync()
    client = client_container(specs.cpu_spec(), specs.options())
    session = await start_session(image, specs.cpu_spec(), *session_inputs(client))
    try:
        for kind, port, path in sorted(probe_targets(), key=str):
            if kind == "tcp":
                probe = f"bash -c 'exec 3<>/dev/tcp/{HOST}/{port}'"
            else:
                probe = f"curl -fsS -o /dev/null http://{HOST}:{port}{path}"
            out = await session.sh(f"for i in $(seq 90); do {probe} && exit 0; sleep 2; done; exit 1")
            assert out.code == 0, f"{kind} {port} {path}: {out.stderr[-300:]}"
    finally:
        await session.service.stop(kill=True)
