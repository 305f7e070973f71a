"""Read the engine's progress output (the Dagger CLI's plain log): which layer execs ran or were CACHED.

Why from the progress log: it is what the engine itself reports per operation ("Container.withExec
CACHED" vs "DONE"), so a test can prove that layers were reused without timing anything. Used by
the cross-engine cache test and the benchmark.
"""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_EXEC = re.compile(r"^(\d+)\s*: [┆ ]*withExec (.*)$")
_STATUS = re.compile(r"^(\d+)\s*: [┆ ]*Container\.withExec (CACHED|DONE|ERROR|CANCELED)\b")

# A distinctive piece of each layer's exec (ci/layers.py), in layer order.
LAYER_EXEC_MARKERS: tuple[tuple[str, str], ...] = (
    ("os_packages", "apt-get -q -o APT::Keep-Downloaded-Packages=true"),
    ("timezone", "/usr/share/zoneinfo/Asia/Shanghai /etc/localtime"),
    ("locale", "locale-gen"),
    ("sshd", "rm -f /etc/ssh/ssh_host_*"),
    ("python", " -m venv "),  # system Python
    ("python", "bash /tmp/miniconda.sh -b -p"),  # Miniconda
    ("jupyter", "set -- jupyterlab"),
    ("tensorflow", "set -- tensorflow"),
    ("runtime_files", "find /init -type d"),
)


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
