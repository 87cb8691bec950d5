"""Kind ``approval-violation``: a flow that relies on an approval which does not cover it.

A flow relies on an approval when it cites one (``attributes.approval_id``) or when an approval in
the context names its destination (asset or zone) and, if the approval lists principals, its
principal. It is covered when one such approval is valid at event time and in scope (level,
categories, dataset, purpose, destination). When none is — the approval expired, is not yet
valid, or the flow exceeds its scope — this kind raises an alert naming every approval relied on
and why each fails (§7 m): the user stays within the data use agreement; Annex D: exports need
approval; §11.4: data destroyed 30 days after the term, so use after expiry is itself a finding).

Grouped per (principal, approvals relied on) and day: a nightly job running on an expired
agreement is one alert that grows, not one per file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

from model.alerts import Alert
from model.events import Event
from model.findings import ScanResult
from stream.policy.base import Evaluator, Gate, window_prefix
from stream.policy.context import Flow
from stream.policy.grouping import grouped_alert, track_events
from stream.policy.params import Param, level, parse_duration
from stream.policy.rule import Rule
from stream.policy.windows import WindowStore

NAME = "approval-violation"


@dataclass(frozen=True)
class ApprovalViolationEvaluator:
    rule: Rule
    min_level: int
    window_s: float
    #: Window-key prefix shared with identical rules (set by the policy; "" = this rule's own).
    window_ns: str = ""

    @property
    def gate(self) -> Gate:
        return (self.min_level, None)

    def evaluate(self, event: Event, scan: ScanResult, windows: WindowStore, flow: Flow) -> list[Alert]:
        if scan.record_level < self.min_level:
            return []
        verdict = flow.approvals(event, scan)
        if not verdict.relied_in_vain:
            return []
        principal = flow.principal(event)
        ids = sorted(a for a, _ in verdict.problems)
        key = f"{window_prefix(self.rule, self.window_ns)}\x1f{principal}\x1f{','.join(ids)}"
        events = track_events(windows, key, event, scan, self.window_s, flow=flow)
        subjects = windows.add(key + "\x1fsubjects", scan.subject_hashes, event.observed_at, self.window_s)
        problems = [{"approval": a, "reasons": list(r)} for a, r in verdict.problems]
        return [grouped_alert(
            self.rule, NAME, event, flow, group=[f"principal={principal}", f"approvals={','.join(ids)}"],
            window_s=self.window_s, events=events, subjects=subjects,
            extra={"approval_problems": problems, "cited": verdict.cited},
        )]


class ApprovalViolation:
    name = NAME
    summary = "a flow relying on an approval (cited, or naming its destination) that is expired or out of scope"
    params: ClassVar[Mapping[str, Param]] = MappingProxyType({
        "min_level": Param(2, level, "lowest record level that needs an approval at all"),
        "window": Param(86400.0, parse_duration, "grouping window of the alert (per principal and approvals)"),
    })

    def bind(self, rule: Rule) -> Evaluator:
        p = rule.parameters
        return ApprovalViolationEvaluator(rule, int(p["min_level"]), float(p["window"]))
