"""Where a fresh engine's time goes when it restores an image from a registry cache: pull, unpack, re-run.

Read from the engine's own log (tests/infra engines log at debug level) and the registry's access
log of the bench's private registry:

- pull: from the first blob request to the end of the last blob transfer, and the blobs' count and
  bytes (the registry logs each response's completion time, duration and bytes written, to the
  nanosecond; the engine's `fetching layer` lines carry no digest or size in Dagger v0.19.10);
- re-run: the layer commands the engine really ran (`starting container` .. `container done`), by
  the markers of tests/e2e/progress.py (0 when every layer came from the cache);
- unpack: from the last blob transfer until the bench's materialize command started (it needs every
  layer on disk): BuildKit applies the imported layers one after another, decompressing and writing
  every file, before any command can run in the image.

When the build asks for one layer at a time (ci.build.steps syncs after each layer function),
fetching and unpacking interleave: "pull" is then the window over which the blobs came, unpacking
included, and "unpack" only what followed the last blob.

The engine logs whole seconds, so unpack and re-run are +-1 s; the registry's times are exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from tests.e2e.progress import LAYER_EXEC_MARKERS

MATERIALIZE_MARKER = "tfci-bench-materialize"
_TIME = re.compile(r'^time="([^"]+)"')
_FETCH = re.compile(r'msg="fetching layer"')
_START = re.compile(r'msg="starting container" args="(.*?)" ')
_DONE = re.compile(r'msg="container done" args="(.*?)" ')
_BLOB_GET = re.compile(
    r'msg="response completed".*http\.request\.method=GET .*http\.request\.uri="?/v2/\S+/blobs/sha256:'
)
_DURATION = re.compile(r"http\.response\.duration=\"?((?:[0-9.]+(?:ns|µs|us|ms|s|m|h))+)\"?")
_DURATION_PART = re.compile(r"([0-9.]+)(ns|µs|us|ms|s|m|h)")
_WRITTEN = re.compile(r"http\.response\.written=(\d+)")
_UNITS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _seconds(go_duration: str) -> float:
    """A Go duration as the registry logs it (221.8ms, 1m2.5s) in seconds."""
    return sum(float(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(go_duration))


def _when(line: str) -> float | None:
    match = _TIME.match(line)
    if match is None:
        return None
    text = match.group(1).replace("Z", "+00:00")
    if "." in text:  # nanoseconds: Python keeps microseconds
        head, rest = text.split(".", 1)
        digits = re.match(r"\d+", rest)
        assert digits is not None
        text = f"{head}.{digits.group(0)[:6]}{rest[len(digits.group(0)) :]}"
    return datetime.fromisoformat(text).timestamp()


@dataclass
class RestoreSplit:
    blobs: int = 0  # cache blobs the engine fetched
    blob_bytes: int = 0
    pull_s: float | None = None
    unpack_s: float | None = None
    rerun_s: float = 0.0
    rerun: list[str] = field(default_factory=list)  # layers whose command ran again

    def render(self) -> str:
        def s(value: float | None) -> str:
            return "?" if value is None else f"{value:.0f} s"

        ran = ", ".join(self.rerun) if self.rerun else "none"
        return (
            f"pull {s(self.pull_s)} ({self.blobs} blobs, {self.blob_bytes / 1e6:,.0f} MB) / "
            f"unpack {s(self.unpack_s)} / re-run {s(self.rerun_s)} (layer commands run again: {ran})"
        )


def _layer_of(args: str) -> str | None:
    return next((name for name, marker in LAYER_EXEC_MARKERS if marker in args), None)


def restore_split(engine_log: str, registry_log: str) -> RestoreSplit:
    """The split of one restore session: ENGINE_LOG is the engine's log from the session's start,
    REGISTRY_LOG the private registry's (it served only this restore)."""
    split = RestoreSplit()
    first_fetch: float | None = None
    materialize: float | None = None
    started: dict[str, float] = {}
    for line in engine_log.splitlines():
        when = _when(line)
        if when is None:
            continue
        if _FETCH.search(line) is not None:
            first_fetch = when if first_fetch is None else first_fetch
        elif (start := _START.search(line)) is not None:
            if MATERIALIZE_MARKER in start.group(1) and materialize is None:
                materialize = when
            elif (layer := _layer_of(start.group(1))) is not None:
                started[start.group(1)] = when
        elif (done := _DONE.search(line)) is not None and done.group(1) in started:
            split.rerun_s += when - started.pop(done.group(1))
            layer = _layer_of(done.group(1))
            if layer is not None:
                split.rerun.append(layer)
    pull_start: float | None = None
    pull_end: float | None = None
    for line in registry_log.splitlines():
        when = _when(line)
        if when is None or not _BLOB_GET.search(line):
            continue
        duration = _DURATION.search(line)
        took = _seconds(duration.group(1)) if duration else 0.0
        written = _WRITTEN.search(line)
        if written is None or int(written.group(1)) == 0:
            continue
        split.blobs += 1
        split.blob_bytes += int(written.group(1))
        pull_start = when - took if pull_start is None else min(pull_start, when - took)
        pull_end = when if pull_end is None else max(pull_end, when)
    if pull_start is not None and pull_end is not None:
        split.pull_s = pull_end - pull_start
    if materialize is not None and (pull_end is not None or first_fetch is not None):
        unpack_from = pull_end if pull_end is not None else first_fetch
        assert unpack_from is not None
        split.unpack_s = max(0.0, materialize - unpack_from - split.rerun_s)
    return split
