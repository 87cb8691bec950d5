"""Quoting, parameter substitution and the read-only statement check (no database needed).

The real parsers are exercised in test_integration.py (values round-trip through both engines);
here the exact text is pinned down, including injection attempts.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pytest

from model.taxonomy import Severity
from store.sql import check_identifier, check_read_only, quote, split_statements, substitute

# -- quote --------------------------------------------------------------------------------------

QUOTE_CASES = [
    (None, "NULL"),
    (True, "1"),
    (False, "0"),
    (0, "0"),
    (-17, "-17"),
    (2**64 - 1, "18446744073709551615"),
    (1.5, "1.5"),
    (1700000000.125, "1700000000.125"),
    (math.inf, "inf"),
    (-math.inf, "-inf"),
    ("", "''"),
    ("plain", "'plain'"),
    ("O'Brien", "'O\\'Brien'"),
    ("back\\slash", "'back\\\\slash'"),
    ("a\\'b", "'a\\\\\\'b'"),
    ("line\nbreak\ttab\r\x00nul\x1b[31m", "'line\\x0abreak\\x09tab\\x0d\\x00nul\\x1b[31m'"),
    ("张三 病历", "'张三 病历'"),
    (["a", "b'c"], "['a', 'b\\'c']"),
    ((1, 2), "[1, 2]"),
    ([], "[]"),
    ([["x"], []], "[['x'], []]"),
    (Severity.HIGH, "'high'"),
    (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "toDateTime(1704164645)"),
    (date(2024, 1, 2), "toDate('2024-01-02')"),
]


@pytest.mark.parametrize(("value", "expected"), QUOTE_CASES)
def test_quote(value: object, expected: str) -> None:
    assert quote(value) == expected


def test_quote_nan() -> None:
    assert quote(math.nan) == "nan"


@pytest.mark.parametrize("value", [b"raw bytes", {"a": 1}, object(), 1 + 2j])
def test_quote_refuses_other_types(value: object) -> None:
    with pytest.raises(TypeError):
        quote(value)


def test_quote_refuses_lone_surrogate() -> None:
    with pytest.raises(ValueError, match="UTF-8"):
        quote("bad \udc80 text")


# A quoted string must never contain an unescaped quote: every "'" inside is preceded by an odd
# number of backslashes.
INJECTIONS = [
    "' OR 1=1 --",
    "x'); DROP TABLE healthdlp.alerts; --",
    "\\' OR 1=1 --",
    "\\\\' OR 1=1 --",
    "'' OR ''='",
    "%(other)s",
    "/* ' */ OR 1",
    "\x00' OR 1=1",
    "''; SELECT * FROM system.users; --",
]


@pytest.mark.parametrize("attack", INJECTIONS)
def test_quoted_injection_stays_one_literal(attack: str) -> None:
    q = quote(attack)
    assert q.startswith("'") and q.endswith("'")
    body = q[1:-1]
    i = 0
    while i < len(body):
        if body[i] == "\\":
            i += 2
            continue
        assert body[i] != "'", f"unescaped quote at {i} in {q!r}"
        i += 1
    # and the scanner agrees: the whole thing is one statement whose only string is the literal
    assert split_statements(f"SELECT {q}") == [f"SELECT {q}"]


# -- substitute ---------------------------------------------------------------------------------


def test_substitute_basic() -> None:
    sql = "SELECT * FROM t WHERE a = %(a)s AND b IN %(bs)s AND c > %(c)s LIMIT %(n)s"
    out = substitute(sql, {"a": "x'y", "bs": ["p", "q"], "c": 1.5, "n": 10})
    assert out == "SELECT * FROM t WHERE a = 'x\\'y' AND b IN ['p', 'q'] AND c > 1.5 LIMIT 10"


def test_substitute_without_params_is_identity() -> None:
    sql = "SELECT '%(a)s', 5 % 3, '%' LIKE '%x%'"
    assert substitute(sql, None) == sql


def test_substitute_leaves_literals_and_comments_alone() -> None:
    sql = "SELECT x FROM t WHERE s LIKE '%abc%' -- %(a)s in a comment\n AND a = %(a)s /* %(b)s */"
    out = substitute(sql, {"a": 1})
    assert out == "SELECT x FROM t WHERE s LIKE '%abc%' -- %(a)s in a comment\n AND a = 1 /* %(b)s */"


def test_substitute_percent_escapes_and_modulo() -> None:
    assert substitute("SELECT 10 %% 3, 10 % 3, %(x)s", {"x": 2}) == "SELECT 10 % 3, 10 % 3, 2"


def test_substitute_value_cannot_create_placeholders() -> None:
    # a value that looks like a placeholder is data, substituted once and never re-scanned
    out = substitute("SELECT %(a)s, %(b)s", {"a": "%(b)s", "b": "' OR 1 --"})
    assert out == "SELECT '%(b)s', '\\' OR 1 --'"


def test_substitute_missing_param() -> None:
    with pytest.raises(ValueError, match="missing SQL parameter 'b'"):
        substitute("SELECT %(a)s, %(b)s", {"a": 1})


def test_substitute_refuses_placeholder_inside_quotes() -> None:
    with pytest.raises(ValueError, match="inside a string literal"):
        substitute("SELECT * FROM t WHERE a = '%(a)s'", {"a": "x"})


def test_substitute_handles_quoted_identifiers() -> None:
    out = substitute('SELECT `we%(ird)s`, "col;x" FROM t WHERE a = %(a)s', {"a": 1})
    assert out == 'SELECT `we%(ird)s`, "col;x" FROM t WHERE a = 1'


# -- statements and read-only check ---------------------------------------------------------------


def test_split_statements_respects_literals_and_comments() -> None:
    script = "CREATE TABLE a (s String DEFAULT ';'); -- c;\n/* ; */ CREATE TABLE b (x UInt8);\n;"
    assert split_statements(script) == [
        "CREATE TABLE a (s String DEFAULT ';')",
        "-- c;\n/* ; */ CREATE TABLE b (x UInt8)",
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "  -- leading comment\n select 1",
        "WITH 1 AS x SELECT x",
        "(SELECT 1)",
        "SHOW TABLES FROM healthdlp",
        "DESCRIBE TABLE healthdlp.alerts",
        "SELECT 'a;b' AS s;",
    ],
)
def test_read_only_accepts(sql: str) -> None:
    assert check_read_only(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO t VALUES (1)",
        "DROP TABLE healthdlp.alerts",
        "ALTER TABLE healthdlp.alerts DELETE WHERE 1",
        "SELECT 1; DROP TABLE healthdlp.alerts",
        "SELECT 1 /* */; SELECT 2",
        "/* SELECT */ TRUNCATE TABLE t",
        "",
        "-- only a comment",
    ],
)
def test_read_only_refuses(sql: str) -> None:
    with pytest.raises(ValueError):
        check_read_only(sql)


def test_smuggled_statement_through_a_parameter_is_refused_or_inert() -> None:
    sql = substitute("SELECT * FROM t WHERE a = %(a)s", {"a": "x'; DROP TABLE t; --"})
    assert len(split_statements(sql)) == 1
    assert check_read_only(sql) == sql


@pytest.mark.parametrize("name", ["healthdlp", "t_1", "_x"])
def test_identifier_ok(name: str) -> None:
    assert check_identifier(name) == name


@pytest.mark.parametrize("name", ["", "1abc", "a-b", "a.b", "a;b", "a b", "x" * 65, "`x`"])
def test_identifier_refused(name: str) -> None:
    with pytest.raises(ValueError):
        check_identifier(name)
