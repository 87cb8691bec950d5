"""YAML that remembers where each value came from, so every config error can say file:line.

Detectors, rules and the main config are data (YAML). A security engineer editing them needs
errors that point at the line, all of them at once, not a stack trace on the first one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class LineDict(dict[str, Any]):
    """A mapping that knows the file and line of itself and of each key."""

    source: str = "<string>"
    line: int = 0
    key_lines: dict[str, int]

    def where(self, key: str | None = None) -> str:
        ln = self.key_lines.get(key, self.line) if key is not None else self.line
        return f"{self.source}:{ln}"


class LineList(list[Any]):
    source: str = "<string>"
    line: int = 0
    item_lines: list[int]

    def where(self, index: int | None = None) -> str:
        ln = self.item_lines[index] if index is not None and index < len(self.item_lines) else self.line
        return f"{self.source}:{ln}"


@dataclass(frozen=True)
class ConfigIssue:
    where: str  # "file:line"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ConfigError(Exception):
    """One or more configuration problems, each with file:line. Stops startup."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


def _make_loader(source: str) -> type[yaml.SafeLoader]:
    class _Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LineDict:
        loader.flatten_mapping(node)
        d = LineDict()
        d.source = source
        d.line = node.start_mark.line + 1
        d.key_lines = {}
        for knode, vnode in node.value:
            key = loader.construct_object(knode, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in d:
                raise ConfigError([ConfigIssue(f"{source}:{knode.start_mark.line + 1}", f"duplicate key {key!r}")])
            d[key] = loader.construct_object(vnode, deep=True)
            d.key_lines[key] = knode.start_mark.line + 1
        return d

    def construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LineList:
        lst = LineList(loader.construct_object(n, deep=True) for n in node.value)
        lst.source = source
        lst.line = node.start_mark.line + 1
        lst.item_lines = [n.start_mark.line + 1 for n in node.value]
        return lst

    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    return _Loader


def load_yaml_text(text: str, source: str = "<string>") -> Any:
    """Parse YAML; syntax errors become ConfigError with file:line."""
    try:
        return yaml.load(text, Loader=_make_loader(source))  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise ConfigError([ConfigIssue(f"{source}:{line}", f"YAML syntax: {e.problem or e}")]) from None
    except ValueError as e:  # a constructor refused a value, e.g. the impossible date 2025-13-01
        raise ConfigError([ConfigIssue(f"{source}:0", f"YAML value: {e} (quote dates you mean as text)")]) from None


def load_yaml_file(path: str | Path) -> Any:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError([ConfigIssue(f"{p}:0", f"cannot read: {e.strerror}")]) from None
    return load_yaml_text(text, str(p))


def where(node: Any, key: str | None = None, default: str = "<config>:0") -> str:
    """file:line of ``node`` (or of ``key`` inside it) when the node came from YAML."""
    if isinstance(node, LineDict):
        return node.where(key)
    if isinstance(node, LineList):
        return node.where()
    return default


def unknown_key_message(key: str, known: Iterable[str]) -> str:
    known = list(known)
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(sorted(known))}"
    return f"unknown key {key!r}{hint}"
