"""AlertStore: alerts, triage and dead letters in ClickHouse (server) or chdb (embedded).

One class, one set of SQL texts; the backend only decides how the text travels
(:mod:`store.transport`). Reads are deduplicated with ``FINAL`` so that at-least-once delivery
(a replayed Kafka batch, a re-scanned pcap) never shows an analyst the same alert twice, and the
current triage state (the latest ``alert_triage`` row) is joined in.

Nothing here formats user input into SQL: filters become ``%(name)s`` parameters quoted by
:func:`store.sql.quote`. The database name comes from configuration and must be a plain
identifier.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

from model.alerts import Alert
from model.config import StoreConfig
from model.events import DeadLetter
from model.taxonomy import Severity
from store import guard
from store.migrate import Migration
from store.migrate import migrate as run_migrations
from store.sql import check_identifier, check_read_only, substitute
from store.transport import StoreError, Transport, normalise, open_transport

SEVERITY_RANK: dict[str, int] = {s.value: s.rank for s in Severity}

#: The triage vocabulary. ``new`` is where every alert starts.
TRIAGE_STATES: tuple[str, ...] = (
    "new",
    "acknowledged",
    "investigating",
    "escalated",
    "resolved",
    "false_positive",
    "suppressed",
)

#: Columns written for an alert, in insert order (DateTime columns are DEFAULTs of the *_s ones).
ALERT_COLUMNS: tuple[str, ...] = (
    "alert_id", "rule_id", "rule_version", "title", "severity", "severity_rank", "clauses",
    "channel", "src", "dst", "actor", "encrypted", "entities", "categories", "max_level",
    "subjects", "evidence", "subject_hashes", "event_ids", "observed_at_s", "last_seen_s",
    "sensor_id", "triage_state", "details", "schema_version", "version",
)  # fmt: skip

_READ_COLUMNS = tuple(c for c in ALERT_COLUMNS if c != "triage_state")

DEAD_LETTER_COLUMNS: tuple[str, ...] = (
    "stage", "reason", "detail", "source", "size", "payload_sha256", "observed_at_s", "schema_version",
)  # fmt: skip

_MAX_DETAIL = 2000
_MAX_SOURCE = 1000
_MAX_NOTE = 4000
_MAX_WHO = 256


def alert_version(alert: Alert) -> int:
    """The ReplacingMergeTree version: later ``last_seen`` wins (an alert grown by more subjects)."""
    return max(0, int(alert.last_seen * 1000))


def check_alert(alert: Alert, index: int = 0) -> None:
    """Raise ValueError, naming the field, for an alert the store must not hold.

    Besides type/range checks this is the defence-in-depth check of the "no raw identifiers in
    the database" rule (:mod:`store.guard`). The message never repeats the offending value.
    """
    where = f"alert #{index} ({alert.alert_id or '?'})"
    if not alert.alert_id:
        raise ValueError(f"{where}: field 'alert_id' must not be empty")
    if alert.severity not in SEVERITY_RANK:
        allowed = ", ".join(SEVERITY_RANK)
        raise ValueError(f"{where}: field 'severity' is {alert.severity!r}, not one of {allowed}")
    for name in ("rule_version", "max_level", "subjects", "schema_version"):
        if int(getattr(alert, name)) < 0:
            raise ValueError(f"{where}: field {name!r} must not be negative")
    texts = [("title", alert.title)] + [(f"evidence[{i}]", e) for i, e in enumerate(alert.evidence)]
    for name, text in texts:
        kind = guard.first_identifier_kind(text)
        if kind is not None:
            raise ValueError(
                f"{where}: field {name!r} looks like it holds an unmasked {kind}; "
                "evidence must be masked before it is stored"
            )


def alert_row(alert: Alert) -> tuple[Any, ...]:
    details = json.dumps(
        dict(alert.details), sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return (
        alert.alert_id, alert.rule_id, int(alert.rule_version), alert.title, alert.severity,
        SEVERITY_RANK[alert.severity], list(alert.clauses), alert.channel, alert.src, alert.dst,
        alert.actor, 1 if alert.encrypted else 0, list(alert.entities), list(alert.categories),
        int(alert.max_level), int(alert.subjects), list(alert.evidence), list(alert.subject_hashes),
        list(alert.event_ids), float(alert.observed_at), float(alert.last_seen), alert.sensor_id,
        alert.triage_state, details, int(alert.schema_version), alert_version(alert),
    )  # fmt: skip


def row_to_alert(row: Mapping[str, Any]) -> Alert:
    try:
        details = json.loads(row["details"]) if row["details"] else {}
    except ValueError:
        details = {}
    return Alert(
        alert_id=row["alert_id"],
        rule_id=row["rule_id"],
        rule_version=int(row["rule_version"]),
        title=row["title"],
        severity=row["severity"],
        clauses=tuple(row["clauses"]),
        channel=row["channel"],
        src=row["src"],
        dst=row["dst"],
        actor=row["actor"],
        encrypted=bool(row["encrypted"]),
        entities=tuple(row["entities"]),
        categories=tuple(row["categories"]),
        max_level=int(row["max_level"]),
        subjects=int(row["subjects"]),
        evidence=tuple(row["evidence"]),
        subject_hashes=tuple(row["subject_hashes"]),
        event_ids=tuple(row["event_ids"]),
        observed_at=float(row["observed_at_s"]),
        last_seen=float(row["last_seen_s"]),
        sensor_id=row["sensor_id"],
        triage_state=row["triage_state"],
        details=details if isinstance(details, dict) else {"value": details},
        schema_version=int(row["schema_version"]),
    )


def dead_letter_row(letter: DeadLetter) -> tuple[Any, ...]:
    """Metadata of a dead letter; the payload itself is reduced to its size and SHA-256."""
    payload = letter.payload or b""
    return (
        letter.stage,
        letter.reason,
        guard.redact(letter.detail)[:_MAX_DETAIL],
        guard.redact(letter.source)[:_MAX_SOURCE],
        len(payload),
        hashlib.sha256(payload).hexdigest() if payload else "",
        float(letter.observed_at),
        int(letter.schema_version),
    )


class AlertStore:
    """Read and write alerts, triage and dead-letter metadata. Thread-safe (one lock per store)."""

    def __init__(self, cfg: StoreConfig, transport: Transport) -> None:
        self.backend: str = transport.name
        self._cfg = cfg
        self._t = transport
        self._lock = threading.RLock()
        self._last_triage_at = 0.0
        try:
            self._db = check_identifier(cfg.database, "store.database")
            res = transport.query("SELECT version(), timezone()")
        except Exception:
            transport.close()  # the chdb session is shared: never leak a reference
            raise
        self.server_version: str = str(res.rows[0][0])
        self._tz = ZoneInfo(str(res.rows[0][1]) or "UTC")

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._t.close()

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def migrate(self, migrations: Sequence[Migration] | None = None) -> list[str]:
        """Apply pending migrations (default: the bundled ones); returns the names applied."""
        with self._lock:
            return run_migrations(
                self._t, self._db, self.server_version, None if migrations is None else list(migrations)
            )

    # -- writes ---------------------------------------------------------------------------------

    def insert_alerts(self, alerts: Sequence[Alert]) -> int:
        """Insert (or replace, by alert id) ``alerts`` in batches; all are checked before any is written."""
        for i, a in enumerate(alerts):
            check_alert(a, i)
        rows = [alert_row(a) for a in alerts]
        self._insert_batched(f"{self._db}.alerts", ALERT_COLUMNS, rows)
        return len(rows)

    def record_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Store what failed and why. Identifier-looking text in detail/source is redacted, not refused:
        losing a dead letter is worse than losing a few characters of it."""
        rows = [dead_letter_row(d) for d in letters]
        self._insert_batched(f"{self._db}.dead_letters", DEAD_LETTER_COLUMNS, rows)
        return len(rows)

    def set_triage(self, alert_id: str, state: str, note: str = "", who: str = "") -> None:
        """Append a triage decision; the latest one is the alert's current state."""
        if state not in TRIAGE_STATES:
            raise ValueError(f"triage state {state!r} is not one of {', '.join(TRIAGE_STATES)}")
        kind = guard.first_identifier_kind(note) or guard.first_identifier_kind(who)
        if kind is not None:
            raise ValueError(f"field 'note' or 'who' looks like it holds an unmasked {kind}; mask it first")
        if len(note) > _MAX_NOTE or len(who) > _MAX_WHO:
            raise ValueError(f"triage note is limited to {_MAX_NOTE} characters and who to {_MAX_WHO}")
        with self._lock:
            found = self._scalar(
                f"SELECT count() FROM {self._db}.alerts WHERE alert_id = %(id)s", {"id": alert_id}
            )
            if not found:
                raise ValueError(f"no alert with id {alert_id!r}")
            at = max(time.time(), self._last_triage_at + 1e-6)  # strictly increasing within a store
            self._last_triage_at = at
            self._t.insert(
                f"{self._db}.alert_triage",
                ("alert_id", "state", "note", "who", "at_s"),
                [(alert_id, state, note, who, at)],
            )

    def _insert_batched(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        batch = max(1, self._cfg.insert_batch)
        with self._lock:
            for start in range(0, len(rows), batch):
                self._t.insert(table, columns, rows[start : start + batch])

    # -- reads ----------------------------------------------------------------------------------

    def query_alerts(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        rule_id: str | None = None,
        severity_min: str | None = None,
        channel: str | None = None,
        min_level: int | None = None,
        triage_state: str | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """Deduplicated alerts, most recent activity first.

        ``since``/``until`` select alerts whose activity overlaps [since, until): last_seen >= since
        and observed_at < until. ``severity_min`` and ``min_level`` are inclusive lower bounds;
        ``triage_state`` filters on the *current* state.
        """
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise ValueError("limit must be a non-negative integer")
        sql, params = self._alerts_sql(since, until, rule_id, severity_min, channel, min_level, triage_state)
        sql += " ORDER BY last_seen_s DESC, alert_id LIMIT %(limit)s"
        params["limit"] = limit
        return [row_to_alert(r) for r in self.select(sql, params)]

    def count_alerts(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        rule_id: str | None = None,
        severity_min: str | None = None,
        channel: str | None = None,
        min_level: int | None = None,
        triage_state: str | None = None,
    ) -> int:
        """How many distinct alerts match (same filters as :meth:`query_alerts`)."""
        sql, params = self._alerts_sql(since, until, rule_id, severity_min, channel, min_level, triage_state)
        return self._scalar(f"SELECT count() FROM ({sql}) AS matching", params)

    def iter_alerts(self, *, since: float | None = None, until: float | None = None,
                    page: int = 5000) -> Iterator[Alert]:
        """Every deduplicated alert whose activity overlaps [since, until), in pages of ``page``.

        For reading a whole period back (``healthdlp replay --baseline stored``) without the
        ``limit`` of :meth:`query_alerts`; pages are ordered by (alert_id) so none is skipped.
        """
        if not isinstance(page, int) or isinstance(page, bool) or page < 1:
            raise ValueError("page must be a positive integer")
        sql, params = self._alerts_sql(since, until, None, None, None, None, None)
        sql += " ORDER BY alert_id LIMIT %(offset)s, %(page)s"
        offset = 0
        while True:
            rows = self.select(sql, {**params, "offset": offset, "page": page})
            yield from (row_to_alert(r) for r in rows)
            if len(rows) < page:
                return
            offset += page

    def triage_history(self, alert_id: str) -> list[dict[str, Any]]:
        """Every triage decision on one alert, oldest first."""
        return self.select(
            f"SELECT state, note, who, at_s, at FROM {self._db}.alert_triage "
            "WHERE alert_id = %(id)s ORDER BY at_s",
            {"id": alert_id},
        )

    def dead_letter_counts(self) -> dict[str, int]:
        rows = self.select(f"SELECT reason, count() AS n FROM {self._db}.dead_letters GROUP BY reason")
        return {str(r["reason"]): int(r["n"]) for r in rows}

    def select(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run one read-only statement with ``%(name)s`` parameters; rows as dicts.

        Values have the same Python types on both backends (see :mod:`store.transport`).
        """
        text = check_read_only(substitute(sql, params))
        with self._lock:
            result = self._t.query(text)
        return normalise(result, self._tz)

    def _scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        rows = self.select(sql, params)
        return int(next(iter(rows[0].values()))) if rows else 0

    def _alerts_sql(
        self,
        since: float | None,
        until: float | None,
        rule_id: str | None,
        severity_min: str | None,
        channel: str | None,
        min_level: int | None,
        triage_state: str | None,
    ) -> tuple[str, dict[str, Any]]:
        """The deduplicated, triage-joined alert query (no ORDER/LIMIT) and its parameters.

        Alert filters sit inside the FINAL subquery (after FINAL's merge, so an updated alert is
        judged by its latest version; never PREWHERE, which would run before the merge). The
        coarse DateTime bound lets the server skip whole monthly partitions.
        """
        where: list[str] = []
        params: dict[str, Any] = {}
        if since is not None:
            where.append("last_seen_s >= %(since)s")
            params["since"] = float(since)
        if until is not None:
            where.append("observed_at <= toDateTime(%(until_ceil)s) AND observed_at_s < %(until)s")
            params["until"], params["until_ceil"] = float(until), int(until) + 1
        if rule_id is not None:
            where.append("rule_id = %(rule_id)s")
            params["rule_id"] = rule_id
        if severity_min is not None:
            if severity_min not in SEVERITY_RANK:
                raise ValueError(f"severity_min {severity_min!r} is not one of {', '.join(SEVERITY_RANK)}")
            where.append("severity_rank >= %(severity_rank)s")
            params["severity_rank"] = SEVERITY_RANK[severity_min]
        if channel is not None:
            where.append("channel = %(channel)s")
            params["channel"] = channel
        if min_level is not None:
            where.append("max_level >= %(min_level)s")
            params["min_level"] = int(min_level)
        outer = ""
        if triage_state is not None:
            if triage_state not in TRIAGE_STATES:
                raise ValueError(f"triage_state {triage_state!r} is not one of {', '.join(TRIAGE_STATES)}")
            outer = " WHERE triage_state = %(triage_state)s"
            params["triage_state"] = triage_state
        cols = ", ".join(_READ_COLUMNS)
        sql = (
            f"SELECT {cols}, if(triage_current = '', initial_triage_state, triage_current) AS triage_state "
            f"FROM (SELECT {cols}, triage_state AS initial_triage_state FROM {self._db}.alerts FINAL "
            f"WHERE {' AND '.join(where) or '1'}) AS a "
            f"LEFT JOIN (SELECT alert_id, argMax(state, at_s) AS triage_current FROM {self._db}.alert_triage "
            f"GROUP BY alert_id) AS t USING alert_id{outer}"
        )
        return sql, params


def open_store(cfg: StoreConfig) -> AlertStore:
    """An AlertStore on ``cfg.backend`` ("chdb": embedded at cfg.chdb_path; "clickhouse": a server).

    Call :meth:`AlertStore.migrate` once at startup; it is cheap when the schema is current.
    """
    check_identifier(cfg.database, "store.database")
    return AlertStore(cfg, open_transport(cfg))


__all__ = [
    "ALERT_COLUMNS",
    "SEVERITY_RANK",
    "TRIAGE_STATES",
    "AlertStore",
    "StoreError",
    "alert_row",
    "check_alert",
    "open_store",
    "row_to_alert",
]
