"""The one way the probe runs a command in a container, and the one loop that runs a list of checks.

Why one runner: the in-image checks, the report's manifest collectors and the service checks' client
all run shell snippets and ci/scripts files in a container and read exit code, stdout and stderr;
each used to do it its own way. Every exec carries a nonce in its environment: checks must really
run against the image each time (the engine would otherwise answer a repeated check from its
cache), while collectors pass a fixed nonce so the same image gives cacheable answers.

Why a check never raises for a failed check: a release engineer wants every problem of an image in
one report, not the first one. run_all turns an engine error or a timeout into a failed result.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from ci.model.spec import ImageSpec
from ci.report.model import CheckReport, CheckResult, failed, tail
from ci.scripts import script_text

if TYPE_CHECKING:
    from dagger import Container

NONCE_ENV = "TFCI_CHECK_NONCE"
SCRIPT_DIR = "/tmp/tfci-probe"  # noqa: S108 - where ci/scripts files are mounted for one exec


@dataclass(frozen=True)
class Output:
    code: int
    stdout: str
    stderr: str

    @property
    def both(self) -> str:
        return f"{self.stdout}\n{self.stderr}"


class Runner:
    """Runs shell snippets and ci/scripts files in a container, never cached across runs.

    timeout: seconds a command may take (a `timeout` inside the container, and a deadline on the
    wait here); None for the image checks, whose slow part is a bounded TensorFlow import.
    """

    def __init__(
        self, container: Container, spec: ImageSpec, nonce: str | None = None, timeout: int | None = None
    ) -> None:
        self.container = container
        self.spec = spec
        self.nonce = nonce or secrets.token_hex(8)
        self.timeout = timeout

    @property
    def python(self) -> str:
        return self.spec.python

    async def sh(self, script: str, *, container: Container | None = None) -> Output:
        return await self._exec(["bash", "-o", "pipefail", "-c", script], container=container)

    async def script(self, name: str, *args: str, env: Iterable[tuple[str, str]] = ()) -> Output:
        """Run ci/scripts/NAME: .py with the image's Python, .sh with bash; mounted for this exec."""
        from dagger import dag

        path = f"{SCRIPT_DIR}/{name}"
        ctr = self.container.with_mounted_file(
            path, dag.directory().with_new_file(name, script_text(name)).file(name)
        )
        for key, value in env:
            ctr = ctr.with_env_variable(key, value)
        interpreter = [self.python] if name.endswith(".py") else ["bash", "-o", "pipefail"]
        return await self._exec([*interpreter, path, *args], container=ctr)

    async def _exec(self, argv: list[str], *, container: Container | None) -> Output:
        from dagger import ReturnType

        ctr = (container or self.container).with_env_variable(NONCE_ENV, self.nonce)
        if self.timeout is not None:
            argv = ["timeout", str(self.timeout), *argv]
        done = ctr.with_exec(argv, expect=ReturnType.ANY)
        with anyio.fail_after(None if self.timeout is None else self.timeout + 60):
            code = await done.exit_code()
            return Output(code, await done.stdout(), await done.stderr())


def why(exc: BaseException) -> str:
    """One line for an engine error or a timeout (whose message is empty)."""
    if isinstance(exc, TimeoutError):
        return f"timed out ({type(exc).__name__})"
    return tail(str(exc), 6)


async def run_all(
    report: CheckReport, checks: Sequence[Callable[..., Awaitable[CheckResult]]], *args: object
) -> CheckReport:
    """Run each check(*args) in order, timing it; an engine error or a timeout fails that check only."""
    from dagger import QueryError

    for check in checks:
        started = time.monotonic()
        try:
            result = await check(*args)
        except (QueryError, TimeoutError) as exc:
            result = failed(check.__name__.removeprefix("check_"), f"error: {why(exc)}")
        report.add(dataclasses.replace(result, seconds=round(time.monotonic() - started, 2)))
    return report
