"""Kind ``bulk-removable-media``: many distinct data subjects copied to removable media by one principal.

GB/T 39725 §8.3 Table 5 (file sharing) requires removable media to be encrypted or access-controlled
and file sharing to be audited; §10.1 asks for media-use management; §11.4 allows identifiable
data sets to leave only by local operation, virtual desktop or sandbox — never on a USB stick. One
copy of one patient's letter is care; dozens of distinct patients in an hour is an export.

Counting is by *distinct subject hashes* (``ScanResult.subject_hashes``) in a sliding window per
principal (``Event.principal``): copying the same file twice does not double the count, and a
file's ``records`` attribute is reported in the details but never counted as subjects (a row count
is not a person count). The alert id is derived from (rule, principal, window bucket start), so
while the copying goes on the same alert grows (subjects, last_seen) instead of multiplying, and
a replay of the same input yields the same alert.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

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
    masked_evidence,
    parameters_for_details,
    record_count,
    rule_alert_id,
)
from stream.policy.base import Evaluator, Gate, window_prefix
from stream.policy.context import Flow
from stream.policy.grouping import Facts, member_facts
from stream.policy.params import (
    Param,
    boolean,
    channels,
    format_duration,
    int_at_least,
    level,
    parse_duration,
)
from stream.policy.rule import Rule
from stream.policy.windows import WindowSnapshot, WindowStore

NAME = "bulk-removable-media"

#: ``attributes.media`` values (case-insensitive) that name removable media on a file-copy event.
REMOVABLE_MEDIA = frozenset({"usb", "removable", "optical", "cdrom", "dvd", "sd", "mtp", "external"})
#: Evidence kept per event in the window state (the alert keeps at most MAX_EVIDENCE overall).
_EVIDENCE_PER_EVENT = 3


def names_removable_device(event: Event) -> bool:
    """Does a file-copy event say its destination is removable?

    The most explicit fact wins: a removable flag (``device_removable`` from the log sensor's
    file-copy format, or ``removable``), then the bus or media name (``device_bus``/``media``:
    usb, sd, optical ... yes; network, local ... no), and only then a named ``Event.device``.
    """
    attrs = event.attributes
    for key in ("device_removable", "removable"):
        flag = attrs.get(key)
        if isinstance(flag, bool):
            return flag
    for key in ("device_bus", "media"):
        media = attrs.get(key)
        if isinstance(media, str) and media:
            return media.lower() in REMOVABLE_MEDIA
    return bool(event.device)


def _member(event: Event, scan: ScanResult) -> str:
    return json.dumps(
        [event.event_id, scan.record_level, record_count(event), list(scan.entity_types),
         sorted({c.value for c in scan.categories}),
         list(masked_evidence(scan.findings, _EVIDENCE_PER_EVENT)),
         event.channel, event.device, event.encrypted],
        ensure_ascii=False, separators=(",", ":"),
    )


def _device_channels(v: Any) -> tuple[str, ...]:
    return () if v == [] else channels(v)


@dataclass(frozen=True)
class BulkRemovableEvaluator:
    rule: Rule
    min_subjects: int
    window_s: float
    min_level: int
    channels: frozenset[str]
    device_channels: frozenset[str]
    include_encrypted: bool
    #: Window-key prefix shared with identical rules (set by the policy; "" = this rule's own).
    window_ns: str = ""

    def is_removable(self, event: Event) -> bool:
        if event.channel in self.channels:
            return True
        return event.channel in self.device_channels and names_removable_device(event)

    @property
    def gate(self) -> Gate:
        return (self.min_level, self.channels | self.device_channels)

    def evaluate(self, event: Event, scan: ScanResult, windows: WindowStore, flow: Flow) -> list[Alert]:
        if not scan.subject_hashes or scan.record_level < self.min_level or not self.is_removable(event):
            return []
        if event.encrypted and not self.include_encrypted:
            return []
        principal = flow.principal(event)  # Event.principal unless the context names an owner
        key = f"{window_prefix(self.rule, self.window_ns)}\x1f{principal}"
        ts = event.observed_at
        subjects = windows.add(key + "\x1fsubjects", scan.subject_hashes, ts, self.window_s)
        events = windows.add(key + "\x1fevents", [_member(event, scan)], ts, self.window_s)
        if subjects.count < self.min_subjects:
            return []
        return [self._alert(event, scan, principal, subjects, events, flow.dst.zone)]

    def _alert(
        self, event: Event, scan: ScanResult, principal: str, subjects: WindowSnapshot, events: WindowSnapshot,
        zone: str = "",
    ) -> Alert:
        rule = self.rule
        facts = [member_facts(m) for m in events.members]
        max_level = max(f.level for f in facts)
        severity, why = rule.severity.grade(max_level, subjects.count, event.channel, zone)
        bucket = math.floor(event.observed_at / self.window_s) * self.window_s
        reported = [f.records for f in facts if f.records is not None]
        details = {
            "kind": NAME,
            "parameters": parameters_for_details(dict(rule.parameters)),
            "principal": principal,
            "window": {
                "length": format_duration(self.window_s),
                "bucket_start": iso_utc(bucket),
                "first_seen": iso_utc(events.first_seen),
                "subjects_at_least": subjects.dropped > 0,
                "subjects_dropped_at_cap": subjects.dropped,
            },
            "events_in_window": len(facts),
            "records": sum(reported) if reported else None,
            "events_reporting_records": len(reported),
            "channels": sorted({f.channel for f in facts}),
            "devices": sorted({f.device for f in facts if f.device}),
            "level_name": LEVEL_NAMES.get(max_level, ""),
            "grading_reason": self._grading_reason(scan, facts, max_level),
            "severity_reason": why,
            "playbook": rule.playbook.to_dict(),
        }
        return Alert(
            alert_id=rule_alert_id(rule, (f"principal={principal}", f"bucket={bucket!r}")),
            rule_id=rule.id,
            rule_version=rule.version,
            title=rule.title,
            severity=severity.value,
            clauses=rule.clauses,
            channel=event.channel,
            src=endpoint_text(event.src),
            dst=endpoint_text(event.dst),
            actor=event.actor,
            encrypted=all(f.encrypted for f in facts),
            entities=tuple(sorted({e for f in facts for e in f.entities})),
            categories=tuple(sorted({c for f in facts for c in f.categories})),
            max_level=max_level,
            subjects=subjects.count,
            evidence=distinct((e for f in facts for e in f.evidence), MAX_EVIDENCE),
            subject_hashes=subjects.members[:MAX_SUBJECT_HASHES],
            event_ids=tuple(f.event_id for f in facts[:MAX_EVENT_IDS]),
            observed_at=events.first_seen,
            last_seen=events.last_seen,
            sensor_id=event.sensor_id,
            details=details,
        )


    @staticmethod
    def _grading_reason(scan: ScanResult, facts: list[Facts], max_level: int) -> str:
        """The current event's grading, pointing at the event that set the window's level if another did."""
        if scan.record_level >= max_level:
            return scan.grading_reason
        top = next(f.event_id for f in facts if f.level == max_level)
        return f"L{max_level} set by event {top}; this event: {scan.grading_reason}"


class BulkRemovableMedia:
    name = NAME
    summary = "min_subjects+ distinct data subjects copied to removable media by one principal within window"
    params: ClassVar[Mapping[str, Param]] = MappingProxyType({
        "min_subjects": Param(20, int_at_least(2), "distinct subjects in the window that raise an alert"),
        "window": Param(3600.0, parse_duration, "sliding window length, e.g. '15m', '1h' (kept as seconds)"),
        "min_level": Param(3, level, "lowest record level (§6.2) of a copied file that counts"),
        "channels": Param(("usb",), channels, "channels that are removable media by nature"),
        "device_channels": Param(
            ("file-copy",), _device_channels,
            "channels that count only when the event names a removable device "
            "(attributes.removable: true, attributes.media: usb/removable/optical/sd..., or Event.device)",
        ),
        "include_encrypted": Param(True, boolean, "count copies to media the sensor reports as encrypted"),
    })

    def bind(self, rule: Rule) -> Evaluator:
        p = rule.parameters
        overlap = set(p["channels"]) & set(p["device_channels"])
        if overlap:
            raise ValueError(f"channels and device_channels overlap: {', '.join(sorted(overlap))}")
        return BulkRemovableEvaluator(
            rule=rule,
            min_subjects=int(p["min_subjects"]),
            window_s=float(p["window"]),
            min_level=int(p["min_level"]),
            channels=frozenset(p["channels"]),
            device_channels=frozenset(p["device_channels"]),
            include_encrypted=bool(p["include_encrypted"]),
        )
