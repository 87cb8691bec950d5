"""Everything the console reads from or writes to the store, in one place.

Only the AlertStore API is used: ``query_alerts``/``count_alerts`` for the queue (so the queue
means exactly what the store means by a filter), ``set_triage`` for verdicts, and ``select``
with ``%(name)s`` parameters for aggregates. The SQL is plain ClickHouse that runs on 18.16 and
on current ClickHouse/chdb: no CTEs, no JSON functions, no DateTime64, ``FINAL`` for the
ReplacingMergeTree. All store calls go through one lock because the embedded chdb session is
one per process and not documented as thread-safe, while the HTTP server is threaded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from dashboards.console.filters import QueueFilter
from dashboards.glossary import SEVERITIES
from dashboards.triage import CLOSED_STATES, OPEN_STATES, TriageEntry
from model.alerts import Alert

ALERTS = "alerts"
TRIAGE = "alert_triage"
DEAD_LETTERS = "dead_letters"
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class QueuePage:
    alerts: tuple[Alert, ...]
    total: int  # matching alerts (the page shows at most ``limit`` of them)
    counts: Mapping[str, int]  # per severity, under the filter without its severity bound


@dataclass(frozen=True, slots=True)
class RuleStats:
    rule_id: str
    alerts: int
    false_positive: int
    confirmed: int  # escalated or resolved: analysts said "real"
    open: int

    @property
    def fp_rate(self) -> float | None:
        """False positives among alerts with a verdict; None until there is a verdict."""
        judged = self.false_positive + self.confirmed
        return self.false_positive / judged if judged else None


class ConsoleData:
    def __init__(self, store: Any) -> None:
        self.store = store
        self._lock = threading.Lock()

    # --- queue ---------------------------------------------------------------------------
    def queue(self, f: QueueFilter, now: float | None = None) -> QueuePage:
        now = time.time() if now is None else now
        kw = f.store_kwargs(now)
        with self._lock:
            if f.state == "open":
                alerts = [
                    a
                    for s in sorted(OPEN_STATES)
                    for a in self.store.query_alerts(**kw, triage_state=s, limit=f.limit)
                ]
                total = sum(self.store.count_alerts(**kw, triage_state=s) for s in OPEN_STATES)
            else:
                alerts = list(self.store.query_alerts(**kw, limit=f.limit))
                total = int(self.store.count_alerts(**kw))
            counts = self._severity_counts(kw, f.state)
        alerts = sort_alerts(alerts, f.sort)[: f.limit]
        return QueuePage(tuple(alerts), total, counts)

    def _severity_counts(self, kw: dict[str, Any], state: str) -> dict[str, int]:
        """Exact count per severity, from the store's own ``severity_min`` (≥) counts, differenced."""
        base = {k: v for k, v in kw.items() if k != "severity_min"}
        states = sorted(OPEN_STATES) if state == "open" else [None]
        at_least: dict[str, int] = {}
        for sev in SEVERITIES:
            n = 0
            for s in states:
                extra = {"triage_state": s} if s else {}
                n += int(self.store.count_alerts(**base, **extra, severity_min=sev))
            at_least[sev] = n
        out: dict[str, int] = {}
        higher = 0
        for sev in SEVERITIES:  # critical first
            out[sev] = at_least[sev] - higher
            higher = at_least[sev]
        return out

    # --- one alert -----------------------------------------------------------------------
    def alert(self, alert_id: str) -> Alert | None:
        sql = f"SELECT * FROM {ALERTS} FINAL WHERE alert_id = %(id)s LIMIT 1"
        with self._lock:
            rows = self.store.select(sql, {"id": alert_id})
        return row_to_alert(rows[0]) if rows else None

    def history(self, alert_id: str) -> list[TriageEntry]:
        sql = f"SELECT * FROM {TRIAGE} WHERE alert_id = %(id)s"
        with self._lock:
            rows = self.store.select(sql, {"id": alert_id})
        entries = [
            TriageEntry(
                _seconds(r.get("at", r.get("ts", 0))),
                str(r.get("state", "")),
                str(r.get("who", "")),
                str(r.get("note", "")),
            )
            for r in rows
        ]
        return sorted(entries, key=lambda e: e.at)

    def set_triage(self, alert_id: str, state: str, note: str, who: str) -> None:
        with self._lock:
            self.store.set_triage(alert_id, state, note=note, who=who)

    def related(self, alert: Alert, days: float = 30.0, limit: int = 10) -> list[dict[str, Any]]:
        """Other alerts from the same principal (or source when no principal is known)."""
        key, value = ("actor", alert.actor) if alert.actor else ("src", alert.src)
        if not value:
            return []
        sql = (
            f"SELECT alert_id, rule_id, severity, max_level, subjects, channel, dst, triage_state, "
            f"observed_at FROM {ALERTS} FINAL WHERE {key} = %(v)s AND alert_id != %(id)s "
            f"AND observed_at >= %(since)s ORDER BY observed_at DESC LIMIT {int(limit)}"
        )
        with self._lock:
            rows = self.store.select(
                sql, {"v": value, "id": alert.alert_id, "since": _dt(alert.observed_at - days * DAY)}
            )
        return [dict(r, observed_at=_seconds(r["observed_at"])) for r in rows]

    # --- tuning --------------------------------------------------------------------------
    def rule_stats(self, days: float, now: float | None = None) -> list[RuleStats]:
        closed = ", ".join(f"'{s}'" for s in sorted(CLOSED_STATES))
        sql = (
            "SELECT rule_id, count() AS alerts, "
            "countIf(triage_state = 'false_positive') AS fp, "
            "countIf(triage_state IN ('resolved', 'escalated')) AS confirmed, "
            f"countIf(triage_state NOT IN ({closed})) AS open "
            f"FROM {ALERTS} FINAL WHERE observed_at >= %(since)s "
            "GROUP BY rule_id ORDER BY alerts DESC"
        )
        rows = self._select(sql, {"since": self._since(days, now)})
        return [
            RuleStats(str(r["rule_id"]), int(r["alerts"]), int(r["fp"]), int(r["confirmed"]), int(r["open"]))
            for r in rows
        ]

    def per_day(self, column: str, days: float, now: float | None = None) -> list[dict[str, Any]]:
        """Alerts per day per rule (``column='rule_id'``) or per entity type (``'entity'``)."""
        key = "arrayJoin(entities)" if column == "entity" else "rule_id"
        sql = (
            f"SELECT {key} AS key, toDate(observed_at) AS day, count() AS n "
            f"FROM {ALERTS} FINAL WHERE observed_at >= %(since)s "
            "GROUP BY key, day ORDER BY key, day"
        )
        rows = self._select(sql, {"since": self._since(days, now)})
        return [{"key": str(r["key"]), "day": str(r["day"]), "n": int(r["n"])} for r in rows]

    def top(
        self, column: str, days: float, now: float | None = None, limit: int = 10
    ) -> list[dict[str, Any]]:
        """Top principals (``actor``) or destinations (``dst``) by alerts, with subjects and level."""
        if column not in ("actor", "dst"):
            raise ValueError(column)
        sql = (
            f"SELECT {column} AS key, count() AS alerts, sum(subjects) AS subjects, "
            "max(max_level) AS max_level, countIf(encrypted = 0) AS cleartext, "
            "countIf(triage_state = 'false_positive') AS fp "
            f"FROM {ALERTS} FINAL WHERE observed_at >= %(since)s AND {column} != '' "
            f"GROUP BY key ORDER BY alerts DESC, key LIMIT {int(limit)}"
        )
        rows = self._select(sql, {"since": self._since(days, now)})
        return [{k: (str(v) if k == "key" else int(v)) for k, v in r.items()} for r in rows]

    def rule_ids(self) -> list[str]:
        """Every rule that ever alerted (for the queue's rule picker)."""
        rows = self._select(f"SELECT DISTINCT rule_id FROM {ALERTS} ORDER BY rule_id LIMIT 500", {})
        return [str(r["rule_id"]) for r in rows]

    def dead_letters(self) -> dict[str, int]:
        with self._lock:
            return dict(self.store.dead_letter_counts())

    def _select(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.store.select(sql, params))

    @staticmethod
    def _since(days: float, now: float | None) -> datetime:
        return _dt((time.time() if now is None else now) - days * DAY)


_SEV_RANK = {s: i for i, s in enumerate(reversed(SEVERITIES))}  # info 0 … critical 4


def sort_alerts(alerts: Sequence[Alert], sort: str) -> list[Alert]:
    """Order a page of alerts; ties always fall back to newest first."""
    newest = sorted(alerts, key=lambda a: (a.observed_at, a.alert_id), reverse=True)
    keys = {
        "newest": None,
        "oldest": lambda a: (a.observed_at, a.alert_id),
        "severity": lambda a: -_SEV_RANK.get(a.severity, -1),
        "level": lambda a: -a.max_level,
        "subjects": lambda a: -a.subjects,
    }
    key = keys.get(sort)
    return sorted(newest, key=key) if key else newest


_ALERT_FIELDS = {f.name for f in fields(Alert)}


def row_to_alert(row: Mapping[str, Any]) -> Alert:
    """An ``alerts`` row (any backend's Python types) back into the model's Alert."""
    d = {k: v for k, v in row.items() if k in _ALERT_FIELDS}
    for k in ("clauses", "entities", "categories", "evidence", "subject_hashes", "event_ids"):
        d[k] = tuple(str(x) for x in (d.get(k) or ()))
    for k in ("observed_at", "last_seen"):
        d[k] = _seconds(row.get(f"{k}_ts", d.get(k, 0)))
    details = d.get("details") or {}
    if isinstance(details, (str, bytes)):
        try:
            details = json.loads(details or "{}")
        except ValueError:
            details = {"raw_details": "unparseable"}
    d["details"] = details if isinstance(details, dict) else {}
    d["encrypted"] = bool(d.get("encrypted", False))
    for k in ("rule_version", "max_level", "subjects", "schema_version"):
        if k in d:
            d[k] = int(d[k])
    return Alert(**d)


def _seconds(v: Any) -> float:
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).timestamp()
    return float(v or 0)


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(max(ts, 0.0), tz=UTC).replace(tzinfo=None)
