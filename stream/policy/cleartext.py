"""Kind ``cleartext-transfer``: graded health data crossing the wire unencrypted.

GB/T 39725 §8.2 Table 4 requires encryption in transmission for every flow scenario, §10.1 asks
for cryptography for confidentiality in transmission, and §8.1 Table 3 scales the controls with
the level. One alert per offending event: the event id makes the alert id, so a replayed capture
or Kafka batch reproduces the same alert instead of a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

from model.alerts import Alert
from model.events import Event
from model.findings import ScanResult
from model.taxonomy import CLEARTEXT_CAPABLE
from stream.policy.alerting import (
    MAX_SUBJECT_HASHES,
    is_encrypted,
    rule_alert_id,
    rule_details,
)
from stream.policy.base import Evaluator, Gate
from stream.policy.context import Flow
from stream.policy.facts import facts_for
from stream.policy.params import Param, cleartext_channels, level
from stream.policy.rule import Rule
from stream.policy.windows import WindowStore

NAME = "cleartext-transfer"


@dataclass(frozen=True)
class CleartextEvaluator:
    #: keeps no window state: a twin rule's alerts can be derived from another twin's (stream.policy.policy)
    stateless: ClassVar[bool] = True
    rule: Rule
    min_level: int
    channels: frozenset[str]

    @property
    def gate(self) -> Gate:
        return (self.min_level, self.channels)

    def evaluate(self, event: Event, scan: ScanResult, windows: WindowStore, flow: Flow) -> list[Alert]:
        if scan.record_level < self.min_level or event.channel not in self.channels or is_encrypted(event):
            return []
        rule = self.rule
        parameters, playbook = rule_details(rule)
        f = facts_for(event, scan, flow)
        subjects = f.subjects
        severity, why = rule.severity.grade(scan.record_level, len(subjects), event.channel, flow.dst.zone)
        details = {
            "kind": NAME,
            "parameters": parameters,
            "level_name": f.level_name,
            "grading_reason": scan.grading_reason,
            "severity_reason": why,
            "findings": len(scan.findings),
            "records": f.records,
            "principal": event.principal,
            "content_type": event.content_type,
            "size": event.size,
            "truncated": event.truncated,
            "playbook": playbook,
        }
        return [
            Alert(
                alert_id=rule_alert_id(rule, (event.event_id,)),
                rule_id=rule.id,
                rule_version=rule.version,
                title=rule.title,
                severity=severity.value,
                clauses=rule.clauses,
                channel=event.channel,
                src=f.src_text,
                dst=f.dst_text,
                actor=event.actor,
                encrypted=False,
                entities=scan.entity_types,
                categories=f.categories,
                max_level=scan.record_level,
                subjects=len(subjects),
                evidence=f.evidence,
                subject_hashes=subjects[:MAX_SUBJECT_HASHES],
                event_ids=(event.event_id,),
                observed_at=event.observed_at,
                last_seen=event.observed_at,
                sensor_id=event.sensor_id,
                details=details,
            )
        ]


class CleartextTransfer:
    name = NAME
    summary = "unencrypted transfer of data graded at or above min_level on a cleartext-capable channel"
    params: ClassVar[Mapping[str, Param]] = MappingProxyType({
        "min_level": Param(3, level, "lowest record level (§6.2) that must not travel in cleartext"),
        "channels": Param(
            tuple(sorted(CLEARTEXT_CAPABLE)),
            cleartext_channels,
            "channels watched (a subset of the cleartext-capable ones; default all of them)",
        ),
    })

    def bind(self, rule: Rule) -> Evaluator:
        p = rule.parameters
        return CleartextEvaluator(rule, int(p["min_level"]), frozenset(p["channels"]))
