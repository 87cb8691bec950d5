"""Numbered SQL migrations, rendered for the server's version and recorded in ``schema_migrations``.

Migrations are data files (``store/migrations/NNNN_name.sql``) in ClickHouse dialect, applied
in number order. One file serves every supported server; what differs between versions is
written as *gated* text and rendered here:

* clause macros ``{{lowcard T}}``, ``{{codec C}}``, ``{{ttl EXPR}}``, ``{{if_not_exists}}`` expand
  to ``LowCardinality(T)``, ``CODEC(C)``, ``TTL EXPR``, ``IF NOT EXISTS`` on servers that have the
  feature and to ``T`` / nothing on older ones (the test server is ClickHouse 18.16);
* a statement preceded by a ``-- requires: X.Y`` comment line runs only on servers >= X.Y;
* ``{{db}}`` is the configured database (checked to be a plain identifier).

Every statement must be idempotent (``CREATE ... IF NOT EXISTS``; ALTERs that add with
``{{if_not_exists}}``), because two processes may migrate at once: each applies the pending
statements, tolerates "already exists" errors, and records the migration *after* applying it.
A migration can therefore be recorded twice; readers group by name.

Which gated parts were left out is recorded with the migration (``gated_off``). Upgrading the
server does not re-render an applied migration; add a new migration for the feature instead.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from store.sql import check_identifier, first_keyword, split_statements, strip_comments
from store.transport import StoreError, Transport

Version = tuple[int, ...]

_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")
_MACRO = re.compile(r"\{\{\s*([a-z_]+)\s*(.*?)\s*\}\}", re.S)
_REQUIRES = re.compile(r"^\s*--\s*requires:\s*(\d+)\.(\d+)\s*$", re.M)

#: ClickHouse error codes meaning "this idempotent statement was already applied" (a concurrent
#: migrator won the race, or 18.16 lacks IF NOT EXISTS for ALTER ... ADD COLUMN).
#: 15 DUPLICATE_COLUMN, 57 TABLE_ALREADY_EXISTS, 82 DATABASE_ALREADY_EXISTS.
ALREADY_DONE_CODES = frozenset({15, 57, 82})


@dataclass(frozen=True)
class Feature:
    """A clause that only newer servers understand: its rendering with and without support.

    ``since`` is conservative: 20.1 is a release where all of these are generally available;
    the servers verified are 18.16 (without) and 26.9 (with).
    """

    since: tuple[int, int]
    on: str  # "{arg}" is the macro's argument
    off: str


FEATURES: dict[str, Feature] = {
    "lowcard": Feature((20, 1), "LowCardinality({arg})", "{arg}"),
    "codec": Feature((20, 1), "CODEC({arg})", ""),
    "ttl": Feature((20, 1), "TTL {arg}", ""),
    "if_not_exists": Feature((20, 1), "IF NOT EXISTS", ""),
}


def parse_version(text: str) -> Version:
    """'18.16.1' -> (18, 16, 1); '26.9.2.1' -> (26, 9, 2, 1)."""
    parts = re.findall(r"\d+", text)
    if not parts:
        raise ValueError(f"cannot parse ClickHouse version {text!r}")
    return tuple(int(p) for p in parts)


@dataclass(frozen=True)
class Migration:
    number: int
    name: str  # file stem, e.g. "0001_core"
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Rendered:
    statements: tuple[str, ...]
    gated_off: tuple[str, ...]  # features and "requires X.Y" statements left out on this server


def load_migrations(files: dict[str, str] | None = None) -> list[Migration]:
    """The bundled migrations (or ``files``: name -> text, for tests), validated and in order."""
    if files is None:
        root = importlib.resources.files("store.migrations")
        files = {p.name: p.read_text(encoding="utf-8") for p in root.iterdir() if p.name.endswith(".sql")}
    migrations: list[Migration] = []
    for fname, text in files.items():
        m = _NAME.fullmatch(fname)
        if m is None:
            raise ValueError(f"migration file name {fname!r} must look like 0001_name.sql")
        migrations.append(Migration(int(m.group(1)), fname[:-4], text))
    migrations.sort(key=lambda m: m.number)
    for i, mig in enumerate(migrations, start=1):
        if mig.number != i:
            raise ValueError(f"migrations must be numbered 1..N without gaps or repeats; {mig.name} is #{i}")
        for stmt in split_statements(mig.text):
            check_idempotent(mig.name, stmt)
    return migrations


def check_idempotent(name: str, stmt: str) -> None:
    """Refuse statements that cannot safely run twice (a second migrator, a retried migration)."""
    code = " ".join(strip_comments(stmt).split()).upper()
    kw = first_keyword(stmt)
    if kw == "CREATE":
        if "IF NOT EXISTS" not in code:
            raise ValueError(f"{name}: CREATE without IF NOT EXISTS is not idempotent: {code[:80]}")
    elif kw == "ALTER":
        if " ADD " in code and "{{IF_NOT_EXISTS}}" not in code and "IF NOT EXISTS" not in code:
            raise ValueError(f"{name}: ALTER ... ADD needs {{{{if_not_exists}}}}: {code[:80]}")
        if any(w in code for w in (" DROP ", " DELETE ", " UPDATE ", " RENAME ")):
            raise ValueError(f"{name}: destructive ALTER is not allowed in a migration: {code[:80]}")
    else:
        raise ValueError(f"{name}: only CREATE and ALTER statements belong in migrations, not {kw or '?'}")


def render(migration: Migration, version: Version, database: str) -> Rendered:
    """The statements of ``migration`` as the server of ``version`` accepts them."""
    db = check_identifier(database, "database")
    gated_off: list[str] = []
    out: list[str] = []
    for stmt in split_statements(migration.text):
        code = strip_comments(stmt).strip()  # comments may mention macros; send the code only
        req = _REQUIRES.search(stmt)
        if req is not None and version[:2] < (int(req.group(1)), int(req.group(2))):
            gated_off.append(f"requires {req.group(1)}.{req.group(2)}: {' '.join(code.split())[:60]}")
            continue
        out.append(_MACRO.sub(_expander(version, db, gated_off, migration.name), code))
    return Rendered(tuple(out), tuple(dict.fromkeys(gated_off)))


def _expander(version: Version, db: str, gated_off: list[str], name: str) -> Callable[[re.Match[str]], str]:
    def expand(m: re.Match[str]) -> str:
        macro, arg = m.group(1), m.group(2)
        if macro == "db":
            return db
        feature = FEATURES.get(macro)
        if feature is None:
            known = ", ".join(["db", *sorted(FEATURES)])
            raise ValueError(f"{name}: unknown macro {{{{{macro}}}}}; known: {known}")
        if version[:2] >= feature.since:
            return feature.on.format(arg=arg)
        gated_off.append(macro)
        return feature.off.format(arg=arg)

    return expand


def bootstrap_sql(database: str) -> list[str]:
    db = check_identifier(database, "database")
    return [
        f"CREATE DATABASE IF NOT EXISTS {db}",
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations ("
        " name String, checksum String, server_version String, gated_off String,"
        " applied_s Float64, applied_at DateTime DEFAULT toDateTime(applied_s)"
        ") ENGINE = MergeTree ORDER BY name",
    ]


def applied_migrations(transport: Transport, database: str) -> dict[str, str]:
    """name -> checksum of the migrations recorded as applied."""
    db = check_identifier(database, "database")
    res = transport.query(f"SELECT name, any(checksum) FROM {db}.schema_migrations GROUP BY name")
    return {str(r[0]): str(r[1]) for r in res.rows}


def already_done(e: StoreError) -> bool:
    """True when the error says the statement's effect is already there.

    18.16 reports a duplicate column on ALTER ... ADD as code 44 (ILLEGAL_COLUMN), a code it also
    uses for real errors (e.g. LowCardinality not allowed), so 44 counts only with "already exists".
    """
    if e.code in ALREADY_DONE_CODES:
        return True
    return e.code == 44 and "already exists" in str(e)


def execute_idempotent(transport: Transport, sql: str) -> None:
    try:
        transport.execute(sql)
    except StoreError as e:
        if not already_done(e):
            raise


def migrate(
    transport: Transport, database: str, server_version: str, migrations: list[Migration] | None = None
) -> list[str]:
    """Apply pending migrations in order; return the names applied by this call."""
    version = parse_version(server_version)
    for sql in bootstrap_sql(database):
        execute_idempotent(transport, sql)
    if migrations is None:
        migrations = load_migrations()
    done = applied_migrations(transport, database)
    applied: list[str] = []
    for mig in migrations:
        if mig.name in done:
            if done[mig.name] != mig.checksum:
                raise StoreError(
                    f"migration {mig.name} was changed after it was applied (checksum differs); "
                    "add a new migration instead of editing an applied one"
                )
            continue
        rendered = render(mig, version, database)
        for sql in rendered.statements:
            try:
                execute_idempotent(transport, sql)
            except StoreError as e:
                raise StoreError(f"migration {mig.name} failed: {e}", e.code) from e
        transport.insert(
            f"{database}.schema_migrations",
            ("name", "checksum", "server_version", "gated_off", "applied_s"),
            [(mig.name, mig.checksum, server_version, ",".join(rendered.gated_off), time.time())],
        )
        applied.append(mig.name)
    return applied
