"""Service checks: boot the image's real CMD and use it like a user would, over the network.

Why a service and a separate client container: the image's promise is "docker run it, then ssh in
(or `ssh host CMD`, scp), open JupyterLab under /jupyter/ and TensorBoard under /monitor/". Only
the real boot path (boot.sh -> supervisord -> sshd/jupyter/tensorboard) proves that; running the
programs by hand in a build container would not. The client (the image's own base +
openssh-client, sshpass, curl) reaches the image by a service binding, exactly like a second
machine on the network.

Two scenarios, each a real boot: the main session (ci.probe.services.everyday) and the restart
scenario with every hostile input (ci.probe.services.restart); both run against a Session
(ci.probe.services.session).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from ci.model.spec import ImageSpec
from ci.probe.runner import run_all, why
from ci.probe.services.everyday import SERVICE_CHECKS
from ci.probe.services.restart import RESTART_CHECKS, start_restart
from ci.probe.services.session import session_inputs, start_session
from ci.report.model import CheckReport, failed

if TYPE_CHECKING:
    from dagger import Container


async def run_service_checks(
    image: Container, client: Container, spec: ImageSpec, report: CheckReport
) -> CheckReport:
    """Start the image as a service, run every check, then the restart scenario; always stop both.

    client: the container the checks run in (ci.build.client.client_container).
    """
    from dagger import QueryError

    keyed, password, token, nonce = session_inputs(client)
    try:
        session = await start_session(image, spec, keyed, password, token, nonce)
    except (QueryError, TimeoutError) as exc:
        report.add(failed("service start", f"the image's CMD did not come up: {why(exc)}"))
    else:
        try:
            await run_all(report, SERVICE_CHECKS, session)
        finally:
            with anyio.move_on_after(60, shield=True):
                await session.service.stop(kill=True)

    try:
        restart = await start_restart(image, spec, keyed, password, nonce)
    except (QueryError, TimeoutError) as exc:
        report.add(failed("restart scenario", f"first boot or restart did not come up: {why(exc)}"))
        return report
    try:
        await run_all(report, RESTART_CHECKS, restart)
    finally:
        with anyio.move_on_after(60, shield=True):
            await restart.second.service.stop(kill=True)
    return report
