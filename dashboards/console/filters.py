"""Queue filters: parse and validate query-string parameters into the store's filter arguments.

Every parameter is checked against a closed set or a bounded format, so nothing an analyst (or
an attacker) types reaches SQL except through the store's own parameter quoting.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from dashboards.glossary import SEVERITIES
from dashboards.triage import TRIAGE_STATES, InvalidInput
from model.alerts import parse_time
from model.taxonomy import CHANNELS, MAX_LEVEL, MIN_LEVEL

RANGES: dict[str, float | None] = {
    "1h": 3600.0,
    "24h": 86400.0,
    "7d": 7 * 86400.0,
    "30d": 30 * 86400.0,
    "90d": 90 * 86400.0,
    "all": None,
}
SORTS: dict[str, str] = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "severity": "Severity",
    "level": "Max level",
    "subjects": "Distinct subjects",
}
DEFAULT_LIMIT = 200
MAX_LIMIT = 1000
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")


@dataclass(frozen=True, slots=True)
class QueueFilter:
    range: str = "7d"
    since: float | None = None  # explicit bounds override the range preset
    until: float | None = None
    severity: str = ""  # minimum severity
    rule: str = ""
    channel: str = ""
    level: int = 0  # minimum level
    state: str = ""  # "" = any, "open" = not closed, else a triage state
    sort: str = "newest"
    limit: int = DEFAULT_LIMIT

    def window(self, now: float | None = None) -> tuple[float | None, float | None]:
        if self.since is not None or self.until is not None:
            return self.since, self.until
        span = RANGES[self.range]
        return ((now if now is not None else time.time()) - span if span else None), None

    def store_kwargs(self, now: float | None = None) -> dict[str, Any]:
        """Arguments for ``AlertStore.query_alerts``/``count_alerts`` (no limit, no open-state)."""
        since, until = self.window(now)
        kw: dict[str, Any] = {"since": since, "until": until}
        if self.severity:
            kw["severity_min"] = self.severity
        if self.rule:
            kw["rule_id"] = self.rule
        if self.channel:
            kw["channel"] = self.channel
        if self.level:
            kw["min_level"] = self.level
        if self.state and self.state != "open":
            kw["triage_state"] = self.state
        return kw

    def query_string(self, **changes: Any) -> str:
        """This filter (with ``changes``) as a URL query string, defaults left out."""
        f = replace(self, **changes)
        pairs = [(k, v) for k, v in _as_pairs(f) if v not in ("", None, 0) and _DEFAULTS.get(k) != v]
        return urlencode(pairs)

    def as_dict(self) -> dict[str, Any]:
        return dict(_as_pairs(self))


def _as_pairs(f: QueueFilter) -> list[tuple[str, Any]]:
    return [
        ("range", f.range),
        ("since", f.since),
        ("until", f.until),
        ("severity", f.severity),
        ("rule", f.rule),
        ("channel", f.channel),
        ("level", f.level),
        ("state", f.state),
        ("sort", f.sort),
        ("limit", f.limit),
    ]


_DEFAULTS = dict(_as_pairs(QueueFilter()))


def parse_filter(query: Mapping[str, list[str]]) -> QueueFilter:
    """Build a QueueFilter from ``parse_qs`` output; InvalidInput names every bad field."""
    problems: dict[str, str] = {}

    def one(name: str) -> str:
        values = query.get(name) or [""]
        return values[-1].strip()

    kw: dict[str, Any] = {}
    rng = one("range") or "7d"
    if rng not in RANGES:
        problems["range"] = f"must be one of {', '.join(RANGES)}"
    kw["range"] = rng
    for name in ("since", "until"):
        raw = one(name)
        if raw:
            try:
                kw[name] = parse_time(float(raw) if _is_number(raw) else raw)
            except (ValueError, OverflowError):
                problems[name] = "must be an ISO-8601 time or epoch seconds"
    sev = one("severity")
    if sev and sev not in SEVERITIES:
        problems["severity"] = f"must be one of {', '.join(SEVERITIES)}"
    kw["severity"] = sev
    rule = one("rule")
    if rule and not _RULE_ID.match(rule):
        problems["rule"] = "must be a rule id (letters, digits, - _ . :)"
    kw["rule"] = rule
    channel = one("channel")
    if channel and channel not in CHANNELS:
        problems["channel"] = "must be a known channel"
    kw["channel"] = channel
    kw["level"] = _int_in(one("level"), "level", MIN_LEVEL, MAX_LEVEL, 0, problems)
    state = one("state")
    if state and state != "open" and state not in TRIAGE_STATES:
        problems["state"] = f"must be open or one of {', '.join(TRIAGE_STATES)}"
    kw["state"] = state
    sort = one("sort") or "newest"
    if sort not in SORTS:
        problems["sort"] = f"must be one of {', '.join(SORTS)}"
    kw["sort"] = sort
    kw["limit"] = _int_in(one("limit"), "limit", 1, MAX_LIMIT, DEFAULT_LIMIT, problems)
    if problems:
        raise InvalidInput(problems)
    return QueueFilter(**kw)


def _is_number(s: str) -> bool:
    return bool(re.fullmatch(r"\d+(\.\d+)?", s))


def _int_in(raw: str, name: str, lo: int, hi: int, default: int, problems: dict[str, str]) -> int:
    if not raw:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        problems[name] = f"must be an integer from {lo} to {hi}"
        return default
    return int(raw)
