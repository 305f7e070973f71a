"""Hostile values for property tests (hypothesis), and the one way a command is judged on them.

Issue 16: every reader and every command's arguments get generated hostile input (deep nesting,
huge numbers, odd unicode, wrong types, odd references and URLs). Whatever comes in, the command
must end with exit 0, 1 or 2, at most a few lines on stderr, no traceback, and none of the secrets
this module puts in the environment anywhere in its output.

Why in-process (ci.cli.main.main with redirected streams): a subprocess per example would cost a
second each; in-process an example costs milliseconds to a table load (~0.2 s), so a bounded,
derandomized run of every property stays well under a minute in `.ci/run`. Nothing reaches a
network or an engine: proxies and the engine address point at a closed port, the engine wait is
zero, and `verify` reads the recorded index.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import tempfile
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from ci.cli.main import main
from ci.model.errors import UserError

# derandomize: a fixed seed, so `.ci/run` is repeatable; bounded counts keep the set fast.
PROPERTY = settings(
    derandomize=True,
    database=None,  # nothing written to .hypothesis/: every run is the same fixed set
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FAST_PROPERTY = settings(PROPERTY, max_examples=80)

SECRET_MARK = "hX7-S3cr3t"  # noqa: S105 - a marker: in every secret below, never in any output
SECRETS: Mapping[str, str] = {
    "REGISTRY_PASSWORD": f"reg-{SECRET_MARK}-1",
    "FROM_REGISTRY_PASSWORD": f"from-{SECRET_MARK}-2",
    "TO_REGISTRY_PASSWORD": f"to-{SECRET_MARK}-3",
    "TFCI_PIP_INDEX_URL": f"https://ci:pip-{SECRET_MARK}-4@pypi.org/simple/",
    "TFCI_APT_MIRROR": f"https://ci:apt-{SECRET_MARK}-5@deb.example/",
    "ACTIONS_RUNTIME_TOKEN": f"gha-{SECRET_MARK}-6",
    "ACTIONS_CACHE_URL": "https://cache.example/",
    "AWS_SECRET_ACCESS_KEY": f"aws-{SECRET_MARK}-7",
    "AWS_SESSION_TOKEN": f"sess-{SECRET_MARK}-8",
}
MAX_STDERR_LINES = 3  # besides `warning: ` lines
T = TypeVar("T")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


CLOSED = closed_port()
NOWHERE = f"127.0.0.1:{CLOSED}"
QUIET_ENV: Mapping[str, str] = {
    **SECRETS,
    "_EXPERIMENTAL_DAGGER_CLI_BIN": "/bin/false",  # a session that starts ends at once
    "_EXPERIMENTAL_DAGGER_RUNNER_HOST": f"tcp://{NOWHERE}",
    "HTTP_PROXY": f"http://{NOWHERE}",
    "HTTPS_PROXY": f"http://{NOWHERE}",
    "http_proxy": f"http://{NOWHERE}",
    "https_proxy": f"http://{NOWHERE}",
    "NO_PROXY": "",
    "no_proxy": "",
}
UNSET = ("GITHUB_STEP_SUMMARY", "DAGGER_SESSION_PORT", "TFCI_DAGGER_LOG")


@contextlib.contextmanager
def environment(extra: Mapping[str, str] = {}) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update({**QUIET_ENV, **extra})
    for name in UNSET:
        if name not in extra:
            os.environ.pop(name, None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run(argv: Sequence[str], env: Mapping[str, str] = {}) -> tuple[int, str, str]:
    """main(argv) in-process, in a fresh working and temporary directory (a relative --out or
    --report-dir lands there); any exception that escapes main() fails, showing its traceback."""
    out, err = io.StringIO(), io.StringIO()
    with (
        tempfile.TemporaryDirectory() as scratch,
        _working_directory(scratch),
        environment({"TMPDIR": scratch, "TFCI_LOG_DIR": f"{scratch}/logs", **env}),
        _no_engine_wait(),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            code = main(list(argv))
        except SystemExit as stop:  # argparse's --help (an abbreviation such as --he counts)
            code = stop.code if isinstance(stop.code, int) else 0
        except BaseException:
            raise AssertionError(f"main({list(argv)!r}) raised:\n{traceback.format_exc()}") from None
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def _working_directory(path: str) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def _no_engine_wait() -> Iterator[None]:
    from ci.engine import session

    saved = session.ENGINE_WAIT_S
    session.ENGINE_WAIT_S = 0
    try:
        yield
    finally:
        session.ENGINE_WAIT_S = saved


def assert_reader(call: Callable[[], object], where: str) -> None:
    """A reader on hostile content: returns, or raises one UserError line naming the file."""
    message = None
    try:
        call()
    except UserError as exc:
        message = exc.message
    if message is not None:
        assert "\n" not in message, message
        assert message.startswith(where), message


def assert_contained(code: int, out: str, err: str, argv: Sequence[str] = ()) -> None:
    """The property every command keeps on hostile input."""
    shown = f"argv={list(argv)!r}\nstdout={out[-2000:]!r}\nstderr={err[-2000:]!r}"
    assert code in (0, 1, 2), shown
    # A documented warning per selected image (end-of-life base, ...) may precede the outcome.
    lines = [line for line in err.splitlines() if not line.startswith("warning: ")]
    assert len(lines) <= MAX_STDERR_LINES, shown
    assert "Traceback" not in out + err, shown
    assert SECRET_MARK not in out + err, shown
    for value in SECRETS.values():
        assert value not in out + err, shown


# --------------------------------------------------------------------------- strategies

ODD_TEXT = (
    "", " ", "-", "--", "\t", "\n", "a\nb", "a\rb", "\x00", "\x7f", "é", "中文", "😀", "\u202e",
    "\ufeff", "\udcff", "x" * 5000, "9" * 5000, "0" * 300, "-1", "1e999", "NaN", "null", "~", "'", '"',
    "`", "|", "$(id)", "../../etc/passwd", "/dev/zero", "/etc/passwd/x", "%s%n", "{tag}", "*", "?",
)  # fmt: skip
ODD_REFS = (
    f"{NOWHERE}/tfci/x", f"{NOWHERE}/tfci/x:tag", f"{NOWHERE}/x@sha256:" + "a" * 64,
    f"u:{SECRET_MARK}-9@{NOWHERE}/x", f"u:p/{SECRET_MARK}-9@{NOWHERE}/x", "user:pw@ghcr.io/o/r",
    f"u:{SECRET_MARK}-12@127.0.0.1", f"docker.io=u:{SECRET_MARK}-13@h",
    "ghcr.io", "ghcr.io/", "ghcr.io//", "ghcr.io/O/R", "https://ghcr.io/o/r", "[::1]:5000/x",
    "localhost:²/x", "localhost:" + "9" * 5000 + "/x", "localhost:0/x", "a" * 300 + ".io/x",
    "h.io/x:" + "t" * 200, "h.io/x@sha256:zz", "h.io/x@", "@", "h.io/x y", "h.io/\u00e9",
)  # fmt: skip
ODD_URLS = (
    "http://[::1/", "https://[", "https://u:p#q@h/", f"https://u:{SECRET_MARK}-10@h/simple/",
    f"https://u:a/{SECRET_MARK}-11@h/", "ftp://x", "https://h:99999999999/", "https://h:x/", "http://",
    "https:// h/", "javascript:alert(1)", "file:///etc/passwd", "https://h/" + "p" * 5000,
)  # fmt: skip

text = st.one_of(st.sampled_from(ODD_TEXT), st.text(max_size=30))
refs = st.one_of(st.sampled_from(ODD_REFS), text)
urls = st.one_of(st.sampled_from(ODD_URLS), text)


def _deep(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text)
huge_numbers = st.sampled_from([10**40, -(10**40), 10**200])  # str(10**4400) would fail in hypothesis too
json_values = st.recursive(
    st.one_of(json_scalars, json_scalars, json_scalars, huge_numbers),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


def _sometimes(good: st.SearchStrategy[T], bad: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """Mostly a plausible value, sometimes (1 in 4) a hostile one: deep fields are reached, then
    broken. (one_of flattens nested one_ofs, so repeating `good` would not weight it.)"""
    # Good first: hypothesis leans towards the first choice (and towards small integers).
    return st.sampled_from((True, True, True, False)).flatmap(lambda ok: good if ok else bad)


def index_documents() -> st.SearchStrategy[str]:
    """index.json texts: near-valid documents with hostile fields, random JSON, deep nesting."""
    tag = st.sampled_from(["2.15.0-python3.11-cpu", "latest", "2.15-cpu"])
    digest = st.sampled_from(["sha256:" + "a" * 64, "sha256:x", "", "sha256:" + "A" * 64])
    pushed = st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {
                "repository": _sometimes(st.just(f"{NOWHERE}/tfci/staging"), refs),
                "tag": _sometimes(tag, text),
                "digest": _sometimes(st.just("sha256:" + "a" * 64), digest),
            }
        ),
        json_values,
    )
    check = st.fixed_dictionaries(
        {
            "name": _sometimes(st.just("build"), text),
            "status": _sometimes(st.sampled_from(["pass", "fail", "not-checked"]), json_scalars),
        },
        optional={
            "message": _sometimes(text, json_values),
            "seconds": _sometimes(st.floats(0, 99), json_values),
        },
    )
    image = st.fixed_dictionaries(
        {
            "tag": _sometimes(tag, st.one_of(text, json_values)),
            "tags": _sometimes(
                st.lists(tag, min_size=1, max_size=3), st.lists(text, max_size=3) | json_values
            ),
            "ok": _sometimes(st.booleans(), json_values),
        },
        optional={
            "pushed": pushed,
            "checks": _sometimes(st.lists(check, max_size=3), json_values),
            "image_id": _sometimes(st.just("sha256:" + "c" * 64), text | json_values),
            "compressed_size": _sometimes(st.integers(0, 10**12), json_values),
            "uncompressed_size": _sometimes(st.integers(0, 10**12), json_values),
            "versions": _sometimes(
                st.dictionaries(st.sampled_from(["tensorflow", "python", "cuda"]), text), json_values
            ),
            "markdown": _sometimes(st.just("t/report.md"), text | json_values),
        },
    )
    documents = st.fixed_dictionaries(
        {
            "schema": _sometimes(st.just(1), json_scalars),
            "images": _sometimes(st.lists(image, max_size=3), json_values),
        }
    ).map(json.dumps)
    raw = st.one_of(
        st.sampled_from(
            [
                _deep(100_000),
                '{"schema": 1, "images": [' + _deep(40) + "]}",
                "[" + "1" * 5000 + "]",
                "",
                "\x00",
                "{",
            ]
        ),
        json_values.map(json.dumps),
    )
    return _sometimes(documents, raw)


def yaml_documents() -> st.SearchStrategy[str]:
    """YAML texts: deep nesting, list keys, huge integers, aliases, tags, random mappings."""
    fixed = [
        _deep(100_000),
        "a:\n  " + "- " * 5000 + "x\n",
        "? [a]\n: b\n",
        "{[a]: b, {c: d}: e}",
        "a: " + "9" * 5000,
        "a: !!int abc\n",
        "a: !!python/object:os.system x\n",
        "a: &x [*x]\n",
        "l0: &l0 [x,x,x,x,x,x,x,x,x]\n"
        + "".join(f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9)),
        "schema: 1\nschema: 2\n",
        "\t",
        "--- a\n--- b\n",
        "3.10: x\n",
        "null: 1\n",
        "schema: 1\nbases: {ubuntu:22.04: {digest: 'sha256:" + "a" * 64 + "', locked: [1]}}\n",
    ]
    return st.one_of(st.sampled_from(fixed), json_values.map(lambda v: json.dumps(v)), text)


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogateescape")
    path.write_bytes(content)
    return path


PATH_KINDS = ("file", "file", "file", "directory", "fifo", "device", "missing", "long-name", "below-a-file")


def hostile_path(directory: Path, name: str, content: str | bytes, kind: str) -> Path:
    """A path a flag could name: usually a file with `content`, else something that is not one."""
    if kind == "directory":
        return directory
    if kind == "fifo":
        path = directory / name
        os.mkfifo(path)
        return path
    if kind == "device":
        return Path("/dev/zero")
    if kind == "missing":
        return directory / "missing" / name
    if kind == "long-name":
        return directory / ("n" * 300)
    if kind == "below-a-file":
        return write(directory / name, content) / "below"
    return write(directory / name, content)


def mutate(data: object, index: int, value: object) -> object:
    """`data` (parsed YAML/JSON) with its index-th node (depth first, wrapping) replaced by `value`."""
    slots: list[tuple[object, object]] = []

    def walk(node: object) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            slots.append((node, key))
            walk(child)

    walk(data)
    if not slots:
        return value
    container, key = slots[index % len(slots)]
    container[key] = value  # type: ignore[index]
    return data


# --------------------------------------------------------------------------- command lines

Flags = Mapping[str, "st.SearchStrategy[str] | None"]  # None: a flag without a value

SELECTORS: Flags = {
    "--tf": _sometimes(
        st.sampled_from(["2.15.0", "2.14.1", "2.21.0"]), st.sampled_from(["9.9.9", "2.15"]) | text
    ),
    "--python": _sometimes(st.sampled_from(["3.11", "3.10"]), st.sampled_from(["3.1", "2.7"]) | text),
    "--variant": _sometimes(st.sampled_from(["cpu", "gpu"]), text),
    "--cuda-source": _sometimes(st.sampled_from(["base", "pip"]), text),
    "--os": _sometimes(st.sampled_from(["debian12", "ubuntu22.04"]), text),
    "--gpu-base": refs,
    "--python-source": _sometimes(st.sampled_from(["system", "miniconda"]), text),
    "--all": None,
}
CPU_IMAGE = [
    "--tf",
    "2.15.0",
    "--python",
    "3.11",
    "--variant",
    "cpu",
    "--os",
    "debian12",
    "--python-source",
    "system",
]


def command_lines(
    command: str, flags: Flags, *, paths: Sequence[Path] = (), base: Sequence[str] = ()
) -> st.SearchStrategy[list[str]]:
    """`command`, usually `base` (a valid start, so later checks are reached; argparse lets a later
    flag win), then up to five of its flags with hostile values (sometimes a path that is not a
    file), rarely a stray token or an unknown flag."""
    values: dict[str, st.SearchStrategy[str] | None] = dict(flags)

    def pair(flag: str) -> st.SearchStrategy[list[str]]:
        strategy = values[flag]
        if strategy is None:
            return st.just([flag])
        if paths:
            strategy = _sometimes(strategy, st.sampled_from([str(p) for p in paths]))
        return strategy.map(lambda value: [flag, value])

    start = _sometimes(st.just(list(base)), st.just([]))
    chosen = st.lists(st.sampled_from(sorted(values)).flatmap(pair), max_size=5)
    stray = _sometimes(
        st.just([]), st.lists(text | st.sampled_from(["--nope", "-x", "--"]), min_size=1, max_size=1)
    )
    return st.tuples(start, chosen, stray).map(
        lambda parts: [command, *parts[0], *(a for p in parts[1] for a in p), *parts[2]]
    )


def hostile_files(directory: Path) -> list[Path]:
    """Files a command line may name: hostile ones, plus a few good ones so later checks run too."""
    from ci.model.paths import DEFAULT_TABLE
    from tests.unit.pem import self_signed_pem

    directory.mkdir(parents=True, exist_ok=True)
    pushed = {"repository": f"{NOWHERE}/tfci/staging", "tag": "latest", "digest": "sha256:" + "a" * 64}
    index = {
        "schema": 1,
        "images": [{"tag": "latest", "tags": ["latest", "2.15-cpu"], "ok": True, "pushed": pushed}],
    }
    files = [
        write(directory / "versions.yaml", DEFAULT_TABLE.read_text()),
        write(directory / "deep.yaml", _deep(50_000)),
        write(directory / "keys.yaml", "? [a]\n: b\n"),
        write(directory / "index.json", json.dumps(index)),
        write(directory / "bad-tag.json", json.dumps(index).replace('"2.15-cpu"', '"bad tag!"')),
        write(directory / "huge.json", '{"schema": 1, "images": [{"tag": ' + "1" * 5000 + "}]}"),
        write(directory / "deep.json", _deep(50_000)),
        write(directory / "ca.pem", self_signed_pem()),
        write(directory / "garbage.pem", "-----BEGIN CERTIFICATE-----\ngarbage\n"),
        write(directory / "auth.json", json.dumps({"auths": {NOWHERE: {"auth": "dTpw"}}})),
        write(directory / "password", f"pw-{SECRET_MARK}-file\n"),
        write(directory / "two-lines", "a\nb\n"),
        directory / "a-directory",
        directory / "fifo",
        Path("/dev/zero"),
        directory / "missing",
        directory / ("n" * 300),
        directory / "index.json" / "below",
    ]
    (directory / "a-directory").mkdir(exist_ok=True)
    if not (directory / "fifo").exists():
        os.mkfifo(directory / "fifo")
    return files
