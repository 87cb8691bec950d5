"""Typed reads from line-aware YAML that collect every problem with file:line instead of raising.

The catalogue is edited by security engineers; they need all mistakes reported at once, each
pointing at its line (model.yamlsrc), not a stack trace on the first one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from model.yamlsrc import ConfigIssue, LineDict, LineList, unknown_key_message, where


class Reader:
    """Reads keys of one YAML mapping, recording issues and which keys were consumed."""

    def __init__(self, node: Any, issues: list[ConfigIssue], what: str, default_where: str) -> None:
        self.issues = issues
        self.what = what
        self.ok = isinstance(node, dict)
        self.node: dict[str, Any] = node if isinstance(node, dict) else {}
        self.default_where = default_where
        if not self.ok:
            self.issues.append(ConfigIssue(self.where(), f"{what} must be a mapping"))
        self.used: set[str] = set()

    def where(self, key: str | None = None) -> str:
        return where(self.node, key, self.default_where) if self.node else self.default_where

    def error(self, key: str | None, message: str) -> None:
        self.issues.append(ConfigIssue(self.where(key), f"{self.what}: {message}"))

    def _get(self, key: str, required: bool) -> Any:
        self.used.add(key)
        if key not in self.node:
            if required and self.ok:
                self.error(None, f"missing required key {key!r}")
            return None
        return self.node[key]

    def text(self, key: str, default: str = "", required: bool = False) -> str:
        v = self._get(key, required)
        if v is None:
            return default
        if not isinstance(v, str) or not v:
            self.error(key, f"{key!r} must be a non-empty string")
            return default
        return v

    def integer(
        self, key: str, default: int = 0, required: bool = False, lo: int = 0, hi: int = 1 << 30
    ) -> int:
        v = self._get(key, required)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            self.error(key, f"{key!r} must be an integer in [{lo}, {hi}], not {v!r}")
            return default
        return v

    def number(self, key: str, default: float = 0.0, lo: float = 0.0, hi: float = 1.0) -> float:
        v = self._get(key, False)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
            self.error(key, f"{key!r} must be a number in [{lo}, {hi}], not {v!r}")
            return default
        return float(v)

    def flag(self, key: str, default: bool = False) -> bool:
        v = self._get(key, False)
        if v is None:
            return default
        if not isinstance(v, bool):
            self.error(key, f"{key!r} must be true or false, not {v!r}")
            return default
        return v

    def strlist(self, key: str, required: bool = False) -> tuple[str, ...]:
        v = self._get(key, required)
        if v is None:
            return ()
        if not isinstance(v, list) or not all(isinstance(i, str) and i for i in v):
            self.error(key, f"{key!r} must be a list of non-empty strings")
            return ()
        return tuple(v)

    def raw(self, key: str, required: bool = False) -> Any:
        return self._get(key, required)

    def finish(self, extra_known: Iterable[str] = ()) -> None:
        """Report keys nobody asked for (typos) with a did-you-mean hint."""
        known = self.used | set(extra_known)
        for key in self.node:
            if key not in known:
                msg = unknown_key_message(key, known)
                self.issues.append(ConfigIssue(self.where(key), f"{self.what}: {msg}"))


def loc_of(node: Any, key: str | int, default: str) -> str:
    """file:line of a mapping key or a list item, when the node came from YAML."""
    if isinstance(node, LineDict) and isinstance(key, str):
        return node.where(key)
    if isinstance(node, LineList) and isinstance(key, int):
        return node.where(key)
    return default
