"""Everything the console reads from or writes to the store, in one place.

Only the AlertStore API is used: ``query_alerts``/``count_alerts`` for the queue (so the queue
means exactly what the store means by a filter), ``set_triage`` for verdicts, and ``select``
with ``%(name)s`` parameters for aggregates. The SQL is plain ClickHouse that runs on 18.16 and
on current ClickHouse/chdb: no CTEs, no JSON functions, no DateTime64, ``FINAL`` for the
ReplacingMergeTree. All store calls go through one lock because the embedded chdb session is
one per process and not documented as thread-safe, while the HTTP server is threaded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from dashboards.console.filters import QueueFilter
from dashboards.glossary import SEVERITIES
from dashboards.triage import CLOSED_STATES, OPEN_STATES, InvalidInput, TriageEntry
from model.alerts import Alert
from store import ALERT_COLUMNS, row_to_alert

DAY = 86400.0
_READ_COLUMNS = ", ".join(c for c in ALERT_COLUMNS if c != "triage_state")


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
    """``database`` qualifies table names: the store's ``select`` runs in the server's default database."""

    def __init__(self, store: Any, database: str) -> None:
        if not database.isidentifier():
            raise ValueError(f"database name {database!r} is not a plain identifier")
        self.store = store
        self.db = database
        self.current = f"{database}.alerts_current"  # deduplicated, with the current triage state
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
        """One alert, deduplicated, with its current triage state (filter inside FINAL, like the store)."""
        sql = (
            f"SELECT {_READ_COLUMNS}, if(triage_current = '', initial_triage_state, triage_current) "
            f"AS triage_state FROM (SELECT {_READ_COLUMNS}, triage_state AS initial_triage_state "
            f"FROM {self.db}.alerts FINAL WHERE alert_id = %(id)s) AS a LEFT JOIN (SELECT alert_id, "
            f"argMax(state, at_s) AS triage_current FROM {self.db}.alert_triage WHERE alert_id = %(id)s "
            "GROUP BY alert_id) AS t USING alert_id LIMIT 1"
        )
        rows = self._select(sql, {"id": alert_id})
        return row_to_alert(rows[0]) if rows else None

    def history(self, alert_id: str) -> list[TriageEntry]:
        sql = (
            f"SELECT state, note, who, at_s FROM {self.db}.alert_triage WHERE alert_id = %(id)s ORDER BY at_s"
        )
        rows = self._select(sql, {"id": alert_id})
        return [TriageEntry(float(r["at_s"]), str(r["state"]), str(r["who"]), str(r["note"])) for r in rows]

    def set_triage(self, alert_id: str, state: str, note: str, who: str) -> None:
        """InvalidInput when the store refuses (e.g. its guard finds an unmasked identifier in the note)."""
        try:
            with self._lock:
                self.store.set_triage(alert_id, state, note=note, who=who)
        except ValueError as e:  # the store's message never repeats the offending value
            raise InvalidInput({"note": str(e)}) from None

    def related(self, alert: Alert, days: float = 30.0, limit: int = 10) -> list[dict[str, Any]]:
        """Other alerts from the same principal (or source when no principal is known)."""
        key, value = ("actor", alert.actor) if alert.actor else ("src", alert.src)
        if not value:
            return []
        sql = (
            "SELECT alert_id, rule_id, severity, max_level, subjects, channel, dst, triage_state, "
            f"observed_at_s FROM {self.current} WHERE {key} = %(v)s AND alert_id != %(id)s "
            f"AND last_seen_s >= %(since)s ORDER BY observed_at_s DESC LIMIT {int(limit)}"
        )
        since = alert.observed_at - days * DAY
        rows = self._select(sql, {"v": value, "id": alert.alert_id, "since": since})
        return [dict(r, observed_at=float(r.pop("observed_at_s"))) for r in rows]

    # --- tuning --------------------------------------------------------------------------
    def rule_stats(self, days: float, now: float | None = None) -> list[RuleStats]:
        closed = ", ".join(f"'{s}'" for s in sorted(CLOSED_STATES))
        sql = (
            "SELECT rule_id, count() AS alerts, "
            "countIf(triage_state = 'false_positive') AS fp, "
            "countIf(triage_state IN ('resolved', 'escalated')) AS confirmed, "
            f"countIf(triage_state NOT IN ({closed})) AS open "
            f"FROM {self.current} WHERE last_seen_s >= %(since)s "
            "GROUP BY rule_id ORDER BY alerts DESC, rule_id"
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
            f"SELECT {key} AS key, intDiv(toUInt64(observed_at_s), 86400) AS dayn, count() AS n "
            f"FROM {self.current} WHERE last_seen_s >= %(since)s "
            "GROUP BY key, dayn ORDER BY key, dayn"
        )
        rows = self._select(sql, {"since": self._since(days, now)})
        return [{"key": str(r["key"]), "day": _day(int(r["dayn"])), "n": int(r["n"])} for r in rows]

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
            f"FROM {self.current} WHERE last_seen_s >= %(since)s AND {column} != '' "
            f"GROUP BY key ORDER BY alerts DESC, key LIMIT {int(limit)}"
        )
        rows = self._select(sql, {"since": self._since(days, now)})
        return [{k: (str(v) if k == "key" else int(v)) for k, v in r.items()} for r in rows]

    def rule_ids(self) -> list[str]:
        """Every rule that ever alerted (for the queue's rule picker)."""
        rows = self._select(f"SELECT DISTINCT rule_id FROM {self.db}.alerts ORDER BY rule_id LIMIT 500", {})
        return [str(r["rule_id"]) for r in rows]

    def dead_letters(self) -> dict[str, int]:
        with self._lock:
            return dict(self.store.dead_letter_counts())

    def _select(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.store.select(sql, params))

    @staticmethod
    def _since(days: float, now: float | None) -> float:
        return (time.time() if now is None else now) - days * DAY


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


def _day(days_since_epoch: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=days_since_epoch)).isoformat()
