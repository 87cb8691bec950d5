"""A JSON reader that remembers where every scalar is.

``json.loads`` forgets offsets, but findings must point at the value in the scanned text (so a
structured hit and a free-text hit on the same value coincide and overlap resolution keeps one).
Strings are read by the C ``scanstring`` of the standard library, so this stays fast; depth and
size are bounded so a hostile body cannot exhaust the stack.
"""

from __future__ import annotations

import json.decoder
from dataclasses import dataclass
from typing import TypeAlias

import regex

_WS = regex.compile(r"[ \t\n\r]*")
_NUMBER = regex.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]
MAX_DEPTH = 128


class JsonPosError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Leaf:
    """A scalar: its text (strings unescaped; numbers, true/false/null as written) and its span
    (inside the quotes for strings)."""

    value: str
    start: int
    end: int
    is_string: bool = True


Node: TypeAlias = "dict[str, Node] | list[Node] | Leaf"


def parse(text: str, pos: int = 0, end: int | None = None) -> tuple[Node, int]:
    """Parse one JSON value starting at ``pos``; returns (node, position after it)."""
    limit = len(text) if end is None else end
    node, p = _value(text, _skip(text, pos), 0, limit)
    return node, _skip(text, p)


def loads(text: str, pos: int = 0, end: int | None = None) -> Node:
    """The whole of ``text[pos:end]`` must be one JSON value."""
    limit = len(text) if end is None else end
    node, p = parse(text, pos, limit)
    if p < limit:
        raise JsonPosError(f"extra data at {p}")
    return node


def _skip(text: str, pos: int) -> int:
    m = _WS.match(text, pos)
    return m.end() if m else pos


def _value(text: str, p: int, depth: int, limit: int) -> tuple[Node, int]:
    if depth > MAX_DEPTH:
        raise JsonPosError("too deep")
    if p >= limit:
        raise JsonPosError("unexpected end")
    c = text[p]
    if c == '"':
        try:
            s, q = _scanstring(text, p + 1, True)
        except ValueError as e:
            raise JsonPosError(str(e)) from None
        return Leaf(s, p + 1, q - 1), q
    if c == "{":
        return _object(text, p + 1, depth, limit)
    if c == "[":
        return _array(text, p + 1, depth, limit)
    for word in ("true", "false", "null"):
        if text.startswith(word, p):
            return Leaf(word, p, p + len(word), False), p + len(word)
    m = _NUMBER.match(text, p)
    if m is None or m.end() == p:
        raise JsonPosError(f"bad value at {p}")
    return Leaf(m.group(), p, m.end(), False), m.end()


def _object(text: str, p: int, depth: int, limit: int) -> tuple[Node, int]:
    out: dict[str, Node] = {}
    p = _skip(text, p)
    if p < limit and text[p] == "}":
        return out, p + 1
    while True:
        if p >= limit or text[p] != '"':
            raise JsonPosError(f"expected key at {p}")
        try:
            key, p = _scanstring(text, p + 1, True)
        except ValueError as e:
            raise JsonPosError(str(e)) from None
        p = _skip(text, p)
        if p >= limit or text[p] != ":":
            raise JsonPosError(f"expected ':' at {p}")
        val, p = _value(text, _skip(text, p + 1), depth + 1, limit)
        out[key] = val
        p = _skip(text, p)
        if p < limit and text[p] == ",":
            p = _skip(text, p + 1)
            continue
        if p < limit and text[p] == "}":
            return out, p + 1
        raise JsonPosError(f"expected ',' or '}}' at {p}")


def _array(text: str, p: int, depth: int, limit: int) -> tuple[Node, int]:
    out: list[Node] = []
    p = _skip(text, p)
    if p < limit and text[p] == "]":
        return out, p + 1
    while True:
        val, p = _value(text, p, depth + 1, limit)
        out.append(val)
        p = _skip(text, p)
        if p < limit and text[p] == ",":
            p = _skip(text, p + 1)
            continue
        if p < limit and text[p] == "]":
            return out, p + 1
        raise JsonPosError(f"expected ',' or ']' at {p}")
