"""The loaded policy: enabled rules bound to their kinds, evaluated per event.

``Policy.evaluate`` is the pure decision step of the pipeline: (event, scan, window state) →
alerts. It does not catch exceptions: the pipeline turns a failing event into a dead letter, so a
bug is visible and counted instead of silently dropping the event's alerts.
"""

from __future__ import annotations

from collections.abc import Sequence

from model.alerts import Alert
from model.events import Event
from model.findings import ScanResult
from stream.policy.base import Evaluator
from stream.policy.rule import Rule
from stream.policy.windows import WindowStore


class Policy:
    """All loaded rules (``rules``, including disabled ones) and the evaluators of the enabled ones."""

    def __init__(self, rules: Sequence[Rule], evaluators: Sequence[Evaluator]) -> None:
        if len(rules) != len(evaluators):
            raise ValueError("one evaluator per rule")
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._active = tuple((r, e) for r, e in zip(rules, evaluators, strict=True) if r.enabled)

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    @property
    def active(self) -> tuple[Rule, ...]:
        return tuple(r for r, _ in self._active)

    def evaluate(self, event: Event, scan: ScanResult, windows: WindowStore) -> list[Alert]:
        alerts: list[Alert] = []
        for rule, evaluator in self._active:
            if rule.applies(event):
                alerts.extend(evaluator.evaluate(event, scan, windows))
        return alerts
