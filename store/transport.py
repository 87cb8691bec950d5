"""The only backend-specific code: how finished SQL text reaches a ClickHouse engine.

Two transports implement one small protocol. ``clickhouse`` talks to a server over the native
protocol (clickhouse-driver); ``chdb`` runs the ClickHouse engine in-process. Everything above
this module (schema, migrations, queries, quoting) is shared, which is what keeps the embedded
demo and a production deployment answering the same SQL the same way.

Results are normalised here so that both transports return the same Python values for the
same query: integers as ``int``, floats as ``float``, DateTime as timezone-aware UTC
``datetime``, Date as ``date``, arrays as lists, UUID as ``str``; ``LowCardinality`` and
``Nullable`` are looked through.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from model.config import StoreConfig
from store.sql import quote

_CODE = re.compile(r"Code:\s*(\d+)")


class StoreError(RuntimeError):
    """A database error, with ClickHouse's numeric error code when there is one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def _store_error(e: BaseException) -> StoreError:
    msg = str(e)
    code = getattr(e, "code", None)
    if not isinstance(code, int):
        m = _CODE.search(msg)
        code = int(m.group(1)) if m else None
    msg = msg.split("Stack trace:", 1)[0].strip()  # 18.16 appends a C++ stack trace
    return StoreError(msg, code)


@dataclass(frozen=True)
class Result:
    names: tuple[str, ...]
    types: tuple[str, ...]
    rows: list[tuple[Any, ...]]


class Transport(Protocol):
    name: str

    def execute(self, sql: str) -> None: ...
    def query(self, sql: str) -> Result: ...
    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None: ...
    def close(self) -> None: ...


class ClickHouseTransport:
    """A clickhouse-driver client. Inserts use the driver's native row insert (one INSERT per batch)."""

    name = "clickhouse"

    def __init__(self, cfg: StoreConfig) -> None:
        from clickhouse_driver import Client

        self._client = Client(
            host=cfg.host,
            port=cfg.port,
            user=cfg.user,
            password=cfg.password,
            database="default",  # always exists; every statement names cfg.database explicitly
            client_name="healthdlp",
            connect_timeout=10,
            send_receive_timeout=300,
        )

    def execute(self, sql: str) -> None:
        try:
            self._client.execute(sql)
        except Exception as e:
            raise _store_error(e) from e

    def query(self, sql: str) -> Result:
        try:
            rows, cols = self._client.execute(sql, with_column_types=True)
        except Exception as e:
            raise _store_error(e) from e
        return Result(tuple(c[0] for c in cols), tuple(c[1] for c in cols), [tuple(r) for r in rows])

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES"
        try:
            self._client.execute(sql, [tuple(r) for r in rows], types_check=True)
        except Exception as e:
            raise _store_error(e) from e

    def close(self) -> None:
        self._client.disconnect()


class _ChdbSessions:
    """One chdb session per process (chdb refuses a second path while one is open), shared per path.

    Reference-counted: when the last store on a path closes, the session closes and another path
    may be opened afterwards (tests rely on that).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._path: str | None = None
        self._session: Any = None
        self._refs = 0

    def acquire(self, path: str) -> Any:
        import os

        import chdb.session

        real = os.path.realpath(path)
        with self._lock:
            if self._session is not None:
                if real != self._path:
                    raise StoreError(
                        f"chdb allows one database path per process: {self._path} is open, "
                        f"cannot also open {real}; close the other store first"
                    )
                self._refs += 1
                return self._session
            os.makedirs(real, exist_ok=True)
            try:
                self._session = chdb.session.Session(real)
            except Exception as e:
                raise _store_error(e) from e
            self._path, self._refs = real, 1
            return self._session

    def release(self, session: Any) -> None:
        with self._lock:
            if session is not self._session or self._refs == 0:
                return
            self._refs -= 1
            if self._refs == 0:
                self._session.close()
                self._session, self._path = None, None


_CHDB = _ChdbSessions()


class ChdbTransport:
    """Embedded ClickHouse. Inserts are ``INSERT ... VALUES`` built with :func:`store.sql.quote`."""

    name = "chdb"

    def __init__(self, cfg: StoreConfig) -> None:
        self._session: Any = _CHDB.acquire(cfg.chdb_path)
        self._closed = False

    def _run(self, sql: str, fmt: str) -> Any:
        if self._closed:
            raise StoreError("store is closed")
        try:
            return self._session.query(sql, fmt)
        except Exception as e:
            raise _store_error(e) from e

    def execute(self, sql: str) -> None:
        self._run(sql, "CSV")

    def query(self, sql: str) -> Result:
        raw = self._run(sql, "JSONCompact")
        text = raw.bytes().decode("utf-8") if hasattr(raw, "bytes") else str(raw)
        if not text.strip():
            return Result((), (), [])
        doc = json.loads(text)
        meta = doc.get("meta", [])
        return Result(
            tuple(m["name"] for m in meta),
            tuple(m["type"] for m in meta),
            [tuple(r) for r in doc.get("data", [])],
        )

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        values = ",\n".join("(" + ", ".join(quote(v) for v in r) + ")" for r in rows)
        self._run(f"INSERT INTO {table} ({', '.join(columns)}) VALUES\n{values}", "CSV")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _CHDB.release(self._session)


def open_transport(cfg: StoreConfig) -> Transport:
    if cfg.backend == "clickhouse":
        return ClickHouseTransport(cfg)
    if cfg.backend == "chdb":
        return ChdbTransport(cfg)
    raise ValueError(f"unknown store backend {cfg.backend!r} (chdb | clickhouse)")


# -- value normalisation ------------------------------------------------------------------------

_WRAPPERS = ("LowCardinality(", "Nullable(")


def _inner(t: str, prefix: str) -> str:
    return t[len(prefix) : -1]


def convert(t: str, v: Any, tz: ZoneInfo) -> Any:
    """One value of ClickHouse type ``t`` as the documented Python value (see module docstring)."""
    for w in _WRAPPERS:
        if t.startswith(w):
            return None if v is None else convert(_inner(t, w), v, tz)
    if v is None:
        return None
    if t.startswith("Array("):
        inner = _inner(t, "Array(")
        return [convert(inner, x, tz) for x in v]
    if t.startswith(("UInt", "Int")):
        return int(v)
    if t.startswith("Float"):
        return float(v)
    if t == "DateTime" or t.startswith("DateTime("):
        zone = tz
        m = re.match(r"DateTime\('([^']+)'\)", t)
        if m:
            zone = ZoneInfo(m.group(1))
        if isinstance(v, str):
            v = datetime.strptime(v, "%Y-%m-%d %H:%M:%S")
        if isinstance(v, datetime):
            if v.tzinfo is None:
                v = v.replace(tzinfo=zone)
            return v.astimezone(UTC)
        return v
    if t == "Date" or t == "Date32":
        return date.fromisoformat(v) if isinstance(v, str) else v
    if t == "UUID":
        return str(v)
    return v


def normalise(result: Result, tz: ZoneInfo) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    pairs = list(zip(result.names, result.types, strict=True))
    for row in result.rows:
        out.append({n: convert(t, v, tz) for (n, t), v in zip(pairs, row, strict=True)})
    return out
