"""Reading versions.yaml and checking its fields, each failure one line naming file, row and field.

Why a small framework: about sixty fields are checked the same few ways (a non-empty string, a
choice, a list, a version, a specifier); `Row` does each once, so every message has the same shape.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ci.model import inputs, refs
from ci.model.errors import table_error


class _StrictLoader(inputs.SAFE_LOADER):  # type: ignore[misc,valid-type]
    """The safe loader, refusing duplicate mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: yaml.constructor.SafeConstructor, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    mapping: dict[Any, Any] = loader.construct_mapping(node)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def display_name(path: Path) -> str:
    """The path as the user would recognise it: relative to the cwd when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def read_yaml(path: Path, shown: str) -> object:
    """versions.yaml through the one input reader (size, depth, keys), duplicate keys refused."""
    return inputs.read_yaml(path, "", "the versions table (YAML)", shown=shown, loader=_StrictLoader)


class Row:
    """One mapping in the table plus where it is, so every check can say file/row/field."""

    def __init__(
        self, file: str, where: str, value: object, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> None:
        self.file = file
        self.where = where
        if not isinstance(value, dict):
            self.fail(None, f"expected a mapping with keys {', '.join(required)}; got {kind(value)}")
        self.data: dict[Any, Any] = value
        allowed = required + optional
        for key in value:
            if key not in allowed:
                self.fail(str(key), f"unknown key; valid keys: {', '.join(allowed)}")
        for key in required:
            if key not in value:
                self.fail(key, "missing (required)")

    def fail(self, field: str | None, problem: str) -> NoReturn:
        raise table_error(self.file, self.where, field, problem)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str) -> object:
        return self.data.get(key)

    def string(self, key: str, pattern: re.Pattern[str] | None = None, hint: str = "") -> str:
        value = self.data.get(key)
        if isinstance(value, float | int) and not isinstance(value, bool):
            self.fail(key, f'got the number {value!r}; write it as a quoted string, e.g. "{value}"')
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"expected a non-empty string; got {kind(value)}")
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(key, f"{value!r} is malformed{'; expected ' + hint if hint else ''}")
        return value

    def opt_string(self, key: str, pattern: re.Pattern[str] | None = None, hint: str = "") -> str | None:
        return self.string(key, pattern, hint) if self.has(key) else None

    def reference(self, key: str) -> str:
        """An image reference as a Dockerfile's FROM takes it (a bare name means Docker Hub)."""
        value = self.string(key)
        try:
            refs.split(value, hub=True)
        except refs.ReferenceError as exc:
            self.fail(key, f"{value!r} is not an image reference like 'ubuntu:22.04': {exc}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        if key not in self.data:
            return default
        value = self.data[key]
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false; got {kind(value)}")
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.string(key)
        if value not in choices:
            self.fail(key, f"{value!r} is not valid; expected one of {', '.join(choices)}")
        return value

    def string_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if not isinstance(value, list) or not value:
            self.fail(key, f"expected a non-empty list of strings; got {kind(value)}")
        out: list[str] = []
        for item in value:
            if isinstance(item, float | int) and not isinstance(item, bool):
                self.fail(key, f'got the number {item!r}; write it as a quoted string, e.g. "{item}"')
            if not isinstance(item, str) or not item:
                self.fail(key, f"expected strings; got {kind(item)}")
            if item in out:
                self.fail(key, f"{item!r} is listed twice")
            out.append(item)
        return tuple(out)

    def version(self, key: str, value: str | None = None, parts: tuple[int, ...] = (2, 3)) -> str:
        text = self.string(key) if value is None else value
        check_version(text, parts, lambda problem: self.fail(key, problem))
        return text

    def specifier(self, key: str, value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"expected a version specifier string like '<2.0'; got {kind(value)}")
        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            self.fail(key, f"{value!r} is not a valid version specifier (PEP 440), e.g. '>=1.23.5,<2.0.0'")
        return value


def check_version(text: str, parts: tuple[int, ...], fail: Callable[[str], NoReturn]) -> Version:
    """Parse a plain release version ("3.10", "2.15.0") with packaging and insist on canonical form."""
    try:
        parsed = Version(text)
    except InvalidVersion:
        fail(f"{text!r} is not a version; expected {_parts_hint(parts)}")
    if str(parsed) != text or parsed.is_prerelease or parsed.local or len(parsed.release) not in parts:
        fail(f"{text!r} is not a plain release version; expected {_parts_hint(parts)}")
    return parsed


def _parts_hint(parts: tuple[int, ...]) -> str:
    examples = {1: "12", 2: "3.10", 3: "2.15.0", 4: "8.9.6.50"}
    return " or ".join(f"a version like {examples[n]!r}" for n in parts)


def kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def section(top: Row, key: str, expected: type) -> Any:  # noqa: ANN401 - raw YAML
    value = top.raw(key)
    if not isinstance(value, expected) or not value:
        top.fail(key, f"expected a non-empty {'mapping' if expected is dict else 'list'}; got {kind(value)}")
    return value
