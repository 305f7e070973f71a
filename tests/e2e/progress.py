"""Which layer execs really ran: from the engine's own log, and from the session's progress log.

Why the engine log is the proof: the engine logs `msg="container done" args="[/.init ...]"` for
every command it actually runs (tests/infra engines log at debug level), so a layer whose command
is absent there was reused, whatever the client saw. The progress log's per-call label
("Container.withExec CACHED" / "DONE") is only what the client's call cache saw: a call answered
from an imported remote cache may read "DONE [0.0s]" although nothing ran. Used by the
cross-engine cache test and the benchmark.
"""

from __future__ import annotations

import re

from ci.build.execs import BUILD_DIR
from ci.build.layers import OS_PACKAGES

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_EXEC = re.compile(r"^(\d+)\s*: [┆ ]*withExec (.*)$")
_STATUS = re.compile(r"^(\d+)\s*: [┆ ]*Container\.withExec (CACHED|DONE|ERROR|CANCELED)\b")
_RAN = re.compile(r'msg="container done" args="(.*?)" call_id=')

# A distinctive piece of each layer's exec (ci/build/layers.py), in layer order: most run a file of
# ci/scripts mounted under BUILD_DIR, with the requirements as arguments for the pip layers.
LAYER_EXEC_MARKERS: tuple[tuple[str, str], ...] = (
    # the first package: the wheel prefetch and the service checks' client run apt-install.sh too
    ("os_packages", f"{BUILD_DIR}/apt-install.sh {OS_PACKAGES[0]} "),
    ("timezone", "/usr/share/zoneinfo/Asia/Shanghai /etc/localtime"),
    ("locale", f"{BUILD_DIR}/locale.sh "),
    ("sshd", f"{BUILD_DIR}/sshd.sh"),
    ("python", f"{BUILD_DIR}/system-python.sh "),  # system Python
    ("python", f"{BUILD_DIR}/miniconda.sh "),  # Miniconda
    ("jupyter", f"{BUILD_DIR}/uv-install.sh jupyterlab"),
    ("tensorflow", f"{BUILD_DIR}/uv-install.sh tensorflow"),
    ("system_files", f"{BUILD_DIR}/system-files.sh "),
)  # runtime_files runs no command (ci/build/layers.py): it is a file copy


# The wheel prefetch's commands (ci/build/prefetch.py): a side container, not a layer.
PREFETCH_MARKERS = (f"{BUILD_DIR}/uv-prefetch.sh ", f"{BUILD_DIR}/apt-install.sh python3")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def exec_statuses(log: str) -> list[tuple[str, str]]:
    """(command, last status) of every withExec span in the log, in order of first appearance."""
    commands: dict[str, str] = {}
    status: dict[str, str] = {}
    for line in strip_ansi(log).splitlines():
        if m := _STATUS.match(line):
            status[m.group(1)] = m.group(2)
        elif (m := _EXEC.match(line)) and m.group(1) not in commands:
            commands[m.group(1)] = m.group(2)
    return [(command, status.get(span, "?")) for span, command in commands.items()]


def layer_statuses(log: str) -> dict[str, list[str]]:
    """Layer name -> statuses of the execs that are that layer's (several images: several entries)."""
    found: dict[str, list[str]] = {name: [] for name, _ in LAYER_EXEC_MARKERS}
    for command, state in exec_statuses(log):
        for name, marker in LAYER_EXEC_MARKERS:
            if marker in command:
                found[name].append(state)
                break
    return found


def commands_run(engine_log: str) -> list[str]:
    """The args of every command the engine ran, from its log (escaped as the log writes them)."""
    return [m.group(1) for m in _RAN.finditer(engine_log)]


def layers_run(engine_log: str) -> dict[str, int]:
    """Layer name -> how many times the engine ran that layer's command (0: reused)."""
    counts = {name: 0 for name, _ in LAYER_EXEC_MARKERS}
    for args in commands_run(engine_log):
        for name, marker in LAYER_EXEC_MARKERS:
            if marker in args:
                counts[name] += 1
                break
    return counts


def prefetch_runs(engine_log: str) -> int:
    """How many of the wheel prefetch's commands the engine ran (0: answered from the cache)."""
    return sum(1 for args in commands_run(engine_log) if any(m in args for m in PREFETCH_MARKERS))
