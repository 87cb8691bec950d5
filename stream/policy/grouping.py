"""Alert builders the context-aware kinds share: one alert per event, or one per (key, window bucket).

Per-event alerts take their id from the event id (a replay reproduces them). Grouped alerts take
theirs from (rule, group key, bucket start), like the bulk rule: while the behaviour goes on the
same alert is re-emitted with more subjects and a later ``last_seen``; the store keeps the latest.
What a grouped alert reports of its events comes from the window state (masked facts per event,
:func:`event_member`), so it is the same in the worker (faust table) and embedded mode.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from model.alerts import Alert, iso_utc
from model.events import Event
from model.findings import ScanResult
from model.taxonomy import LEVEL_NAMES
from stream.policy.alerting import (
    MAX_EVENT_IDS,
    MAX_EVIDENCE,
    MAX_SUBJECT_HASHES,
    distinct,
    endpoint_text,
    is_encrypted,
    masked_evidence,
    record_count,
    rule_alert_id,
    rule_details,
)
from stream.policy.context import Flow
from stream.policy.facts import EVIDENCE_PER_EVENT, facts_for
from stream.policy.params import format_duration
from stream.policy.rule import Rule
from stream.policy.windows import WindowSnapshot, WindowStore


def _base_details(rule: Rule, kind: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    parameters, playbook = rule_details(rule)
    d: dict[str, Any] = {"kind": kind, "parameters": parameters}
    d.update(extra)
    d["playbook"] = playbook
    return d


def event_alert(
    rule: Rule, kind: str, event: Event, scan: ScanResult, flow: Flow, extra: Mapping[str, Any],
    *, level: int | None = None,
) -> Alert:
    """One alert about one event; ``extra`` says why (it must hold no raw content)."""
    f = facts_for(event, scan, flow)
    lv = scan.record_level if level is None else level
    subjects = f.subjects
    severity, why = rule.severity.grade(lv, len(subjects), event.channel, flow.dst.zone)
    details = _base_details(rule, kind, {
        **extra, "level_name": f.level_name if level is None else LEVEL_NAMES.get(lv, ""),
        "grading_reason": scan.grading_reason, "severity_reason": why, "principal": f.principal,
        "records": f.records,
    })
    return Alert(
        alert_id=rule_alert_id(rule, (event.event_id,)),
        rule_id=rule.id, rule_version=rule.version, title=rule.title, severity=severity.value,
        clauses=rule.clauses, channel=event.channel, src=f.src_text, dst=f.dst_text,
        actor=event.actor, encrypted=f.encrypted, entities=scan.entity_types,
        categories=f.categories, max_level=lv, subjects=len(subjects),
        evidence=f.evidence, subject_hashes=subjects[:MAX_SUBJECT_HASHES],
        event_ids=(event.event_id,), observed_at=event.observed_at, last_seen=event.observed_at,
        sensor_id=event.sensor_id, details=details,
    )


# -- grouped --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What the window remembers of one contributing event (masked, bounded)."""

    event_id: str
    level: int
    records: int | None
    entities: tuple[str, ...]
    categories: tuple[str, ...]
    evidence: tuple[str, ...]
    channel: str
    device: str
    encrypted: bool


def event_member(event: Event, scan: ScanResult, level: int | None = None) -> str:
    return json.dumps(
        [event.event_id, scan.record_level if level is None else level, record_count(event),
         list(scan.entity_types), sorted({c.value for c in scan.categories}),
         list(masked_evidence(scan.findings, EVIDENCE_PER_EVENT)), event.channel, event.device,
         is_encrypted(event)],
        ensure_ascii=False, separators=(",", ":"),
    )


@lru_cache(maxsize=65536)
def member_facts(member: str) -> Facts:
    eid, lv, n, ents, cats, ev, ch, dev, enc = json.loads(member)
    return Facts(eid, int(lv), n, tuple(ents), tuple(cats), tuple(ev), ch, dev, bool(enc))


def track_events(windows: WindowStore, key: str, event: Event, scan: ScanResult, window_s: float,
                 level: int | None = None, flow: Flow | None = None) -> WindowSnapshot:
    """Add the event's member string to ``key``'s events window (computed once per event given ``flow``)."""
    member = event_member(event, scan, level) if flow is None else \
        facts_for(event, scan, flow).member_at(scan.record_level if level is None else level)
    return windows.add(key + "\x1fevents", [member], event.observed_at, window_s)


@dataclass(frozen=True)
class WindowSummary:
    """What a grouped alert reports of the events in its window, aggregated from their member strings."""

    facts: tuple[Facts, ...]
    max_level: int
    records: int | None
    channels: list[str]
    devices: list[str]
    encrypted: bool
    entities: tuple[str, ...]
    categories: tuple[str, ...]
    evidence: tuple[str, ...]
    event_ids: tuple[str, ...]


@lru_cache(maxsize=4096)
def summarise(members: tuple[str, ...]) -> WindowSummary:
    """Cached by the window's members: rules sharing a window (same principal, same events) summarise it once."""
    facts = tuple(member_facts(m) for m in members)
    reported = [f.records for f in facts if f.records is not None]
    return WindowSummary(
        facts=facts, max_level=max((f.level for f in facts), default=0),
        records=sum(reported) if reported else None,
        channels=sorted({f.channel for f in facts}), devices=sorted({f.device for f in facts if f.device}),
        encrypted=all(f.encrypted for f in facts), entities=tuple(sorted({e for f in facts for e in f.entities})),
        categories=tuple(sorted({c for f in facts for c in f.categories})),
        evidence=distinct((e for f in facts for e in f.evidence), MAX_EVIDENCE),
        event_ids=tuple(f.event_id for f in facts[:MAX_EVENT_IDS]),
    )


def grouped_alert(
    rule: Rule, kind: str, event: Event, flow: Flow, *, group: Iterable[str], window_s: float,
    events: WindowSnapshot, subjects: WindowSnapshot | None, extra: Mapping[str, Any],
    count: int | None = None,
) -> Alert:
    """The alert of one group (``group`` = identity parts, e.g. principal) for the current bucket."""
    summary = summarise(events.members)
    max_level = summary.max_level
    n_subjects = subjects.count if subjects is not None else 0
    severity, why = rule.severity.grade(max_level, n_subjects if count is None else count, event.channel,
                                        flow.dst.zone)
    bucket = math.floor(event.observed_at / window_s) * window_s
    details = _base_details(rule, kind, {
        **extra,
        "principal": flow.principal(event),
        "window": {"length": format_duration(window_s), "bucket_start": iso_utc(bucket),
                   "first_seen": iso_utc(events.first_seen),
                   "subjects_at_least": bool(subjects is not None and subjects.dropped > 0)},
        "events_in_window": len(summary.facts),
        "records": summary.records,
        "channels": list(summary.channels),
        "devices": list(summary.devices),
        "level_name": LEVEL_NAMES.get(max_level, ""),
        "severity_reason": why,
    })
    return Alert(
        alert_id=rule_alert_id(rule, [*group, f"bucket={bucket!r}"]),
        rule_id=rule.id, rule_version=rule.version, title=rule.title, severity=severity.value,
        clauses=rule.clauses, channel=event.channel, src=endpoint_text(event.src), dst=endpoint_text(event.dst),
        actor=event.actor, encrypted=summary.encrypted, entities=summary.entities,
        categories=summary.categories, max_level=max_level,
        subjects=n_subjects, evidence=summary.evidence,
        subject_hashes=subjects.members[:MAX_SUBJECT_HASHES] if subjects is not None else (),
        event_ids=summary.event_ids,
        observed_at=events.first_seen, last_seen=events.last_seen, sensor_id=event.sensor_id, details=details,
    )
