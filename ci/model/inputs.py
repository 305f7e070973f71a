"""Files a command reads because a flag (or the table's place) names them: one reader, one error shape.

Why one: the table, the lock, results and index files, password files, CA bundles and auth files
are all user input. Each used to be opened its own way, and each way failed differently (a
directory, a missing file, a file that is not text, a named pipe that blocks forever, /dev/zero
read until memory ran out, nesting past Python's recursion limit, an integer too long to print);
here a problem is always one line naming the flag (or file), the field, and what was expected.

The limits, the same for every file:

- only a regular file is read (opened without blocking: a FIFO or a device is refused, not read);
- at most MAX_INPUT_BYTES, refused from its size before it is read whole;
- YAML and JSON nest at most MAX_DEPTH collections deep (YAML aliases counted as expanded, at most
  MAX_NODES nodes after expansion), checked on the token or event stream, without recursion,
  before the recursive parser sees the text;
- an integer has at most MAX_INT_DIGITS digits (Python refuses to print one of 4300);
- a YAML mapping key is a string (a list, a mapping, a number or a boolean as a key is refused).
"""

from __future__ import annotations

import json
import os
import re
import ssl
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ci.model.errors import UserError

MAX_INPUT_BYTES = 8 * 1024 * 1024  # the host's whole CA bundle is ~220 KB; index.json ~1 KB per image
MAX_DEPTH = 32  # nested lists/mappings; the deepest file we write (index.json) nests 4
MAX_NODES = 1_000_000  # YAML nodes after alias expansion (a "billion laughs" file expands to 10^9)
MAX_INT_DIGITS = 30  # sizes in bytes have 13; Python cannot even print an int of 4300 digits
MAX_PASSWORD_CHARS = 4096  # registry tokens are a few hundred characters


def shown_as(path: Path, flag: str) -> str:
    """How messages name a file a flag gave: `--results /x/index.json` (or the file alone)."""
    return f"{flag} {path}" if flag else str(path)


# --------------------------------------------------------------------------- bytes and text


def read_input(path: Path, flag: str, expected: str, *, shown: str | None = None) -> bytes:
    """A regular file a flag names, read whole if it is within MAX_INPUT_BYTES; else a UserError."""
    where = shown if shown is not None else shown_as(path, flag)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise UserError(f"{where}: no such file") from None
    except OSError as exc:
        raise UserError(f"{where}: cannot read ({exc.strerror})") from None
    except ValueError:  # a NUL byte or an unencodable character in the name
        raise UserError(f"{where}: not a usable file name") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise UserError(f"{where}: is a directory, expected {expected}")
        if not stat.S_ISREG(info.st_mode):
            raise UserError(f"{where}: not a regular file ({_kind(info.st_mode)}), expected {expected}")
        if info.st_size > MAX_INPUT_BYTES:
            raise UserError(f"{where}: {_too_big(info.st_size)}")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_INPUT_BYTES:  # the file may grow while it is read
            chunk = os.read(fd, min(1 << 20, MAX_INPUT_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_INPUT_BYTES:
            raise UserError(f"{where}: {_too_big(size)}")
        return b"".join(chunks)
    except OSError as exc:
        raise UserError(f"{where}: cannot read ({exc.strerror})") from None
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def _too_big(size: int) -> str:
    return f"is {size} bytes or more; input files are limited to {MAX_INPUT_BYTES} bytes (8 MiB)"


def read_text(path: Path, flag: str, expected: str, *, shown: str | None = None) -> str:
    data = read_input(path, flag, expected, shown=shown)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        where = shown if shown is not None else shown_as(path, flag)
        raise UserError(f"{where}: not UTF-8 text, expected {expected}") from None


# --------------------------------------------------------------------------- JSON

_JSON_SCAN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]|-?[0-9][0-9.eE+-]*')
_JSON_PATH = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}:,]')
_COLON = re.compile(r"\s*:")


def parse_json(text: str, where: str) -> object:
    """json.loads after the depth and integer limits were checked on the token stream."""
    depth = 0
    for match in _JSON_SCAN.finditer(text):
        token = match.group()
        first = token[0]
        if first == '"':
            continue
        if first in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise UserError(
                    f"{where}: {_json_field(text, match.start())}: {_deeper(text, match.start())}"
                )
        elif first in "]}":
            depth -= 1
        elif not any(c in token for c in ".eE") and len(token.lstrip("-")) > MAX_INT_DIGITS:
            raise UserError(
                f"{where}: {_json_field(text, match.start())}: an integer of {len(token.lstrip('-'))} "
                f"digits (at most {MAX_INT_DIGITS}) {_line(text, match.start())}"
            )
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise UserError(f"{where}: not JSON ({' '.join(str(exc).split())[:200]})") from None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _line(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    return f"(line {line}, column {offset - (text.rfind(chr(10), 0, offset) + 1) + 1})"


def _deeper(text: str, offset: int) -> str:
    return f"nested deeper than {MAX_DEPTH} levels {_line(text, offset)}"


def _json_field(text: str, end: int) -> str:
    """The field that holds the token at `end`, as `images[0].versions` (a second, rare pass)."""
    frames: list[list[object]] = []  # [kind, key or index]
    for match in _JSON_PATH.finditer(text, 0, end):
        lexeme = match.group()
        if lexeme in ("{", "["):
            frames.append([lexeme, None if lexeme == "{" else 0])
        elif lexeme in ("]", "}"):
            if frames:
                frames.pop()
        elif lexeme == ",":
            if frames and frames[-1][0] == "[":
                frames[-1][1] = int(str(frames[-1][1])) + 1
        elif lexeme[0] == '"' and frames and frames[-1][0] == "{" and _COLON.match(text, match.end()):
            try:
                frames[-1][1] = json.loads(lexeme)
            except ValueError:
                frames[-1][1] = lexeme.strip('"')
    return _path_text([value for _, value in frames]) or "top level"


def _path_text(parts: list[object]) -> str:
    out = ""
    for part in parts:
        if part is None:
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = str(part)[:60]
            out += f".{name}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name) else f"[{name!r}]"
    out = out.lstrip(".")
    return out if len(out) <= 120 else out[:117] + "..."


def read_json(path: Path, flag: str, expected: str, *, shown: str | None = None) -> object:
    where = shown if shown is not None else shown_as(path, flag)
    return parse_json(read_text(path, flag, expected, shown=shown), where)


# --------------------------------------------------------------------------- YAML

# libyaml's parser when PyYAML was built with it (its wheels are): ten times faster on the table.
Loader = type[yaml.SafeLoader] | type[yaml.CSafeLoader]
SAFE_LOADER: Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class _Frame:
    """One open YAML collection while the event stream is checked."""

    mapping: bool
    anchor: str | None
    children: int = 0  # nodes finished directly below (a mapping counts keys and values)
    key: str | None = None  # the current key of a mapping, for messages
    height: int = 1  # levels of nesting from here down, aliases expanded
    nodes: int = 1  # nodes from here down, aliases expanded

    @property
    def label(self) -> object:
        return self.key if self.mapping else self.children


def check_yaml(text: str, where: str, loader: Loader = SAFE_LOADER) -> None:
    """The limits, on PyYAML's event stream (iterative), before the recursive composer runs."""
    try:
        parser = loader(text)  # the reader refuses NUL and other control characters right here
    except yaml.YAMLError as exc:
        raise UserError(f"{where}: {yaml_problem(exc)}") from None
    stack: list[_Frame] = []
    anchors: dict[str, tuple[int, int, str | None]] = {}  # anchor -> (height, nodes, scalar tag)

    def fail(event: yaml.Event, problem: str) -> UserError:
        mark = event.start_mark
        at = _path_text([f.label for f in stack]) or "top level"
        place = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        return UserError(f"{where}: {at}: {problem}{place}")

    def add(event: yaml.Event, height: int, nodes: int, tag: str | None, text: str) -> None:
        """A finished node (scalar, alias or collection) under the innermost open collection."""
        if not stack:
            return
        top = stack[-1]
        if len(stack) + height > MAX_DEPTH:
            raise fail(event, f"nested deeper than {MAX_DEPTH} levels (aliases expanded)")
        top.height = max(top.height, height + 1)
        top.nodes += nodes
        if top.nodes > MAX_NODES:
            raise fail(event, f"expands to more than {MAX_NODES} nodes (aliases)")
        if top.mapping and top.children % 2 == 0:  # a key
            top.key = None  # a bad key is reported at its mapping
            if tag is None:
                raise fail(event, "a list or mapping as a mapping key; keys are strings")
            if tag not in (_STR_TAG, _MERGE_TAG):
                raise fail(event, f"the key {text[:60]} is not a string; quote it: '{text[:60]}'")
            top.key = text
        top.children += 1

    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, yaml.ScalarEvent):
                tag = event.tag if event.tag and event.tag != "!" else None
                tag = tag or parser.resolve(  # type: ignore[no-untyped-call]
                    yaml.ScalarNode, event.value, event.implicit
                )
                if tag == _INT_TAG and len(re.sub(r"[^0-9A-Za-z]", "", event.value)) > MAX_INT_DIGITS:
                    raise fail(event, f"an integer of more than {MAX_INT_DIGITS} digits")
                if event.anchor:
                    anchors[event.anchor] = (0, 1, tag)
                add(event, 0, 1, tag, event.value)
            elif isinstance(event, yaml.AliasEvent):
                name = event.anchor or ""
                if any(f.anchor == name for f in stack):
                    raise fail(event, f"alias *{name} refers to a collection that contains it")
                height, nodes, tag = anchors.get(name, (0, 1, _STR_TAG))
                add(event, height, nodes, tag, f"*{name}")
            elif isinstance(event, yaml.CollectionStartEvent):
                top = stack[-1] if stack else None
                if top is not None and top.mapping and top.children % 2 == 0:
                    top.key = None
                    raise fail(event, "a list or mapping as a mapping key; keys are strings")
                if len(stack) + 1 > MAX_DEPTH:
                    raise fail(event, f"nested deeper than {MAX_DEPTH} levels")
                stack.append(_Frame(isinstance(event, yaml.MappingStartEvent), event.anchor))
            elif isinstance(event, yaml.CollectionEndEvent):
                done = stack.pop()
                if done.anchor:
                    anchors[done.anchor] = (done.height, done.nodes, None)
                add(event, done.height, done.nodes, None, "")
    except yaml.YAMLError as exc:
        raise UserError(f"{where}: {yaml_problem(exc)}") from None
    finally:
        parser.dispose()


def yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    place = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    if "maximum nesting depth" in str(problem):  # libyaml's own limit, met while looking ahead
        return f"nested deeper than {MAX_DEPTH} levels ({place})"
    return f"invalid YAML: {place + ': ' if place else ''}{' '.join(str(problem).split())}"


def parse_yaml(text: str, where: str, loader: Loader = SAFE_LOADER) -> object:
    check_yaml(text, where, loader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - SafeLoader or a subclass of it
    except yaml.YAMLError as exc:
        raise UserError(f"{where}: {yaml_problem(exc)}") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. `!!int abc`, `!!float x`
        raise UserError(f"{where}: invalid YAML: {' '.join(str(exc).split())[:200]}") from None


def read_yaml(
    path: Path,
    flag: str,
    expected: str,
    *,
    shown: str | None = None,
    loader: Loader = SAFE_LOADER,
) -> object:
    where = shown if shown is not None else shown_as(path, flag)
    return parse_yaml(read_text(path, flag, expected, shown=shown), where, loader)


# --------------------------------------------------------------------------- the special files


def read_ca_bundle(path: Path, flag: str) -> bytes:
    """A PEM bundle for TLS, loaded by the ssl module up front so a wrong file is a one-line error."""
    data = read_input(path, flag, "a PEM file")
    where = shown_as(path, flag)
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise UserError(f"{where}: not a PEM certificate bundle (no BEGIN CERTIFICATE)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cadata=data.decode("ascii"))
    except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise UserError(f"{where}: not a parseable PEM certificate bundle ({reason})") from None
    if not context.cert_store_stats().get("x509"):
        raise UserError(f"{where}: not a parseable PEM certificate bundle (no certificate in it)")
    return data


def read_password_file(path: Path, flag: str) -> str:
    raw = read_input(path, flag, "a file holding the password")
    where = shown_as(path, flag)
    try:
        password = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise UserError(f"{where}: not UTF-8 text (expected the password on one line)") from None
    if not password:
        raise UserError(f"{where}: the file is empty")
    if "\n" in password or "\r" in password:
        raise UserError(f"{where}: holds several lines; expected the password alone")
    if len(password) > MAX_PASSWORD_CHARS:
        raise UserError(f"{where}: longer than {MAX_PASSWORD_CHARS} characters; expected a password or token")
    if any(not c.isprintable() for c in password):
        raise UserError(f"{where}: holds control characters; expected the password alone")
    return password


@dataclass(frozen=True)
class AuthFile:
    """A validated Docker/containers auth file: its bytes (for skopeo) and the registries it names."""

    data: bytes = field(repr=False)
    registries: frozenset[str]


def read_authfile(path: Path, flag: str = "--authfile") -> AuthFile:
    where = shown_as(path, flag)
    expected = 'a Docker/containers auth file ({"auths": {REGISTRY: {"auth": ...}}})'
    text = read_text(path, flag, expected)
    data = parse_json(text, where)
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected {expected}")
    auths = data.get("auths", {})
    if not isinstance(auths, dict) or not all(isinstance(v, dict) for v in auths.values()):
        raise UserError(f"{where}: field 'auths' must map each registry to an object")
    for registry, entry in auths.items():
        for key in ("auth", "identitytoken"):
            if key in entry and not isinstance(entry[key], str):
                raise UserError(f"{where}: field 'auths[{registry[:60]!r}].{key}' must be a string")
    return AuthFile(text.encode("utf-8"), frozenset(auths))
