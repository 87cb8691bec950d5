"""SQL text handling shared by both backends: literal quoting and ``%(name)s`` parameters.

Both transports receive finished SQL text built here, so there is exactly one quoting function
to review (:func:`quote`). The clickhouse-driver's own parameter formatting is deliberately not
used: if it were, the two backends would quote differently and a query could behave
differently in the embedded mode and in production.

The scanner below understands just enough of ClickHouse's lexical rules (string literals with
backslash escapes, quoted identifiers, comments) to know whether a ``%(name)s`` or a ``;`` is
code or data. That is what lets ``LIKE '%x%'`` coexist with parameters and what lets
:func:`check_read_only` refuse a second statement smuggled after a ``;``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_PLACEHOLDER = re.compile(r"%\(([A-Za-z_][A-Za-z0-9_]*)\)s")

#: First keywords a read-only query may start with.
READ_KEYWORDS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN"})


def check_identifier(name: str, what: str = "identifier") -> str:
    """Database and table names come from configuration, never from users; allow plain identifiers only."""
    if not isinstance(name, str) or not _IDENT.fullmatch(name):
        raise ValueError(f"{what} {name!r} is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*)")
    return name


#: Backslash, quote and control characters escaped; everything else (all of Unicode) as is.
#: ``str.translate`` keeps quoting at C speed: inserts on chdb quote every value of every row.
_ESCAPES: dict[int, str] = {o: f"\\x{o:02x}" for o in [*range(0x20), 0x7F]}
_ESCAPES[ord("\\")] = "\\\\"
_ESCAPES[ord("'")] = "\\'"


def _quote_float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _quote_seq(value: list[Any] | tuple[Any, ...]) -> str:
    return "[" + ", ".join([quote(v) for v in value]) + "]"


def _quote_str(value: str) -> str:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError("string is not valid UTF-8 (lone surrogate)") from e
    return "'" + value.translate(_ESCAPES) + "'"


def quote(value: Any) -> str:
    """A ClickHouse literal for ``value``; the only place user data becomes SQL text.

    Strings are single-quoted with backslash escapes (control characters as ``\\xHH``); ints and
    floats are written in full (``nan``/``inf`` as ClickHouse spells them); bools become 1/0 (18.16
    has no Bool type); lists and tuples become arrays; datetimes become ``toDateTime(epoch)``;
    ``None`` becomes NULL. Anything else (bytes, dicts, objects) is refused: raw payload bytes
    must never reach the database, and a dict has no single literal form in both versions.
    """
    fast = _FAST.get(type(value))
    if fast is not None:
        return fast(value)
    if value is None:
        return "NULL"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _quote_float(value)
    if isinstance(value, str):
        return _quote_str(value)
    if isinstance(value, datetime):
        ts = value.timestamp() if value.tzinfo is not None else value.replace(tzinfo=UTC).timestamp()
        return f"toDateTime({int(ts)})"
    if isinstance(value, date):
        return f"toDate('{value.isoformat()}')"
    if isinstance(value, (list, tuple)):
        return _quote_seq(value)
    if isinstance(value, (set, frozenset)):
        return _quote_seq(sorted(value))
    raise TypeError(f"cannot quote a value of type {type(value).__name__} as a ClickHouse literal")


#: Exact-type fast paths (bool is not int here: type(True) is bool, handled below).
_FAST: dict[type, Callable[[Any], str]] = {
    str: _quote_str,
    int: str,
    float: _quote_float,
    list: _quote_seq,
    tuple: _quote_seq,
}


def _scan(sql: str) -> Iterator[tuple[str, int, int]]:
    """Yield (kind, start, end) spans: kind is "code", "string", "ident" or "comment".

    Unterminated literals and comments run to the end of the text and are reported as such, so a
    placeholder or ``;`` inside them is never treated as code. Where this scanner and the server
    could disagree it errs towards "code": ``#`` comments (newer servers only) and nested
    ``/* */`` are not recognised, so a ``;`` hidden there is still seen as a statement break.
    """
    i, n, start = 0, len(sql), 0
    while i < n:
        ch = sql[i]
        if ch in "'\"`":
            if i > start:
                yield "code", start, i
            j = i + 1
            while j < n:
                if sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # doubled quote: '' inside a literal
                        j += 2
                        continue
                    break
                j += 1
            end = min(j + 1, n)
            yield ("string" if ch == "'" else "ident"), i, end
            i = start = end
            continue
        if sql.startswith("--", i):
            if i > start:
                yield "code", start, i
            j = sql.find("\n", i)
            end = n if j < 0 else j
            yield "comment", i, end
            i = start = end
            continue
        if sql.startswith("/*", i):
            if i > start:
                yield "code", start, i
            j = sql.find("*/", i + 2)
            end = n if j < 0 else j + 2
            yield "comment", i, end
            i = start = end
            continue
        i += 1
    if start < n:
        yield "code", start, n


def substitute(sql: str, params: Mapping[str, Any] | None) -> str:
    """Replace ``%(name)s`` placeholders in code (never inside literals) with :func:`quote` d values.

    Without params the text is returned unchanged. With params, ``%%`` in code stands for a
    literal ``%`` (the DB-API pyformat convention). A placeholder written inside quotes
    (``'%(x)s'``) is an error rather than a silent non-substitution: quoting is our job.
    """
    if params is None:
        return sql
    out: list[str] = []
    for kind, a, b in _scan(sql):
        part = sql[a:b]
        if kind != "code":
            if kind == "string" and _PLACEHOLDER.search(part):
                raise ValueError(
                    "placeholder inside a string literal: write %(name)s without quotes, it is quoted for you"
                )
            out.append(part)
            continue
        out.append(_substitute_code(part, params))
    return "".join(out)


def _substitute_code(part: str, params: Mapping[str, Any]) -> str:
    pieces: list[str] = []
    i = 0
    while True:
        j = part.find("%", i)
        if j < 0:
            pieces.append(part[i:])
            return "".join(pieces)
        pieces.append(part[i:j])
        if part.startswith("%%", j):
            pieces.append("%")
            i = j + 2
            continue
        m = _PLACEHOLDER.match(part, j)
        if m is None:
            pieces.append("%")  # a modulo operator or a stray percent: leave it
            i = j + 1
            continue
        name = m.group(1)
        if name not in params:
            raise ValueError(f"missing SQL parameter {name!r}")
        pieces.append(quote(params[name]))
        i = m.end()


def strip_comments(sql: str) -> str:
    """The code and literals of ``sql`` without comments (for statement classification)."""
    return "".join(sql[a:b] if kind != "comment" else " " for kind, a, b in _scan(sql))


def split_statements(sql: str) -> list[str]:
    """Split a script at ``;`` in code (not in literals or comments); drop empty statements."""
    stmts: list[str] = []
    buf: list[str] = []
    for kind, a, b in _scan(sql):
        part = sql[a:b]
        if kind != "code":
            buf.append(part)
            continue
        pieces = part.split(";")
        for k, piece in enumerate(pieces):
            buf.append(piece)
            if k < len(pieces) - 1:
                stmts.append("".join(buf))
                buf = []
    stmts.append("".join(buf))
    return [s.strip() for s in stmts if strip_comments(s).strip()]


def first_keyword(sql: str) -> str:
    code = strip_comments(sql).lstrip(" \t\r\n(")
    m = re.match(r"[A-Za-z]+", code)
    return m.group(0).upper() if m else ""


def check_read_only(sql: str) -> str:
    """Accept one read-only statement (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN); return it.

    This is a guard against mistakes and smuggled statements in the analyst query path, not an
    access-control system: dashboards should still connect as a ClickHouse ``readonly`` user.
    """
    stmts = split_statements(sql)
    if len(stmts) != 1:
        raise ValueError(f"expected exactly one SQL statement, got {len(stmts)}")
    kw = first_keyword(stmts[0])
    if kw not in READ_KEYWORDS:
        raise ValueError(f"only read-only statements are allowed here, not {kw or 'an empty statement'}")
    return stmts[0]
