"""Alerts: a policy decision that an analyst must see, with masked evidence only.

The alert id is derived from the rule and the evidence that triggered it, so at-least-once
delivery (a replayed Kafka batch, a re-scanned pcap) reproduces the same id and the
ReplacingMergeTree in the store collapses the copies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ALERT_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    rule_id: str
    rule_version: int
    title: str
    severity: str
    clauses: tuple[str, ...]
    channel: str
    src: str
    dst: str
    actor: str
    encrypted: bool
    entities: tuple[str, ...]
    categories: tuple[str, ...]
    max_level: int
    subjects: int
    evidence: tuple[str, ...]  # masked renderings only
    subject_hashes: tuple[str, ...]  # keyed hashes, bounded
    event_ids: tuple[str, ...]
    observed_at: float  # first observation covered by the alert
    last_seen: float
    sensor_id: str = ""
    triage_state: str = "new"
    details: Mapping[str, Any] = field(default_factory=dict)
    schema_version: int = ALERT_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The documented alert JSON (docs/contracts.md); times as ISO-8601 UTC."""
        return {
            "schema_version": self.schema_version,
            "alert_id": self.alert_id,
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "title": self.title,
            "severity": self.severity,
            "clauses": list(self.clauses),
            "channel": self.channel,
            "src": self.src,
            "dst": self.dst,
            "actor": self.actor,
            "encrypted": self.encrypted,
            "entities": list(self.entities),
            "categories": list(self.categories),
            "max_level": self.max_level,
            "subjects": self.subjects,
            "evidence": list(self.evidence),
            "subject_hashes": list(self.subject_hashes),
            "event_ids": list(self.event_ids),
            "observed_at": iso_utc(self.observed_at),
            "last_seen": iso_utc(self.last_seen),
            "sensor_id": self.sensor_id,
            "triage_state": self.triage_state,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Alert:
        return cls(
            alert_id=str(d["alert_id"]),
            rule_id=str(d["rule_id"]),
            rule_version=int(d.get("rule_version", 1)),
            title=str(d.get("title", "")),
            severity=str(d["severity"]),
            clauses=tuple(d.get("clauses", ())),
            channel=str(d["channel"]),
            src=str(d.get("src", "")),
            dst=str(d.get("dst", "")),
            actor=str(d.get("actor", "")),
            encrypted=bool(d.get("encrypted", False)),
            entities=tuple(d.get("entities", ())),
            categories=tuple(d.get("categories", ())),
            max_level=int(d.get("max_level", 0)),
            subjects=int(d.get("subjects", 0)),
            evidence=tuple(d.get("evidence", ())),
            subject_hashes=tuple(d.get("subject_hashes", ())),
            event_ids=tuple(d.get("event_ids", ())),
            observed_at=parse_time(d["observed_at"]),
            last_seen=parse_time(d.get("last_seen", d["observed_at"])),
            sensor_id=str(d.get("sensor_id", "")),
            triage_state=str(d.get("triage_state", "new")),
            details=dict(d.get("details", {})),
            schema_version=int(d.get("schema_version", ALERT_SCHEMA_VERSION)),
        )


def make_alert_id(rule_id: str, rule_version: int, keys: Iterable[str]) -> str:
    """Deterministic id: the rule plus the sorted identities (event ids, window key) it covers."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{rule_id}\x1f{rule_version}".encode())
    for k in sorted(set(keys)):
        h.update(b"\x1f")
        h.update(k.encode())
    return h.hexdigest()


def iso_utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


def parse_time(v: Any) -> float:
    if isinstance(v, (int, float)):
        return float(v)
    s = str(v)
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
