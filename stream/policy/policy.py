"""The loaded policy: enabled rules bound to their kinds, evaluated per event against the context.

``Policy.evaluate`` is the pure decision step of the pipeline: (event, scan, window state) →
alerts. Per event it (1) resolves the flow once against the context (scenario, roles, zones,
opening form), (2) visits only the rules that could fire — rules are indexed by their equality
conditions (``match: {actor: ..}``, ``scenario``, ``dst_asset`` ...) and by their kind's gate
(lowest level, channels) — (3) turns what a rule raised for a flow covered by a valid approval
into an allowed-by-approval record (:mod:`stream.policy.allowed`), and (4) adds the resolved flow
to every alert's details. It does not catch exceptions: the pipeline turns a failing event into a
dead letter, so a bug is visible and counted instead of silently dropping the event's alerts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from model.alerts import Alert
from model.events import Event
from model.findings import ScanResult
from stream.policy.allowed import allowed_records
from stream.policy.base import OPEN_GATE, Evaluator, Gate
from stream.policy.conditions import FieldIn, FlowIn
from stream.policy.context import Context, Flow, empty_context
from stream.policy.rule import Rule
from stream.policy.windows import WindowStore

_EVENT_FIELDS = ("channel", "source_kind", "sensor_id", "actor", "device")
#: Which condition to index a rule by when it has several: the most selective kind of fact first
#: (one account or asset among hundreds), the least selective (a channel) last.
_SELECTIVITY = {"actor": 0, "device": 0, "flow:src.asset": 0, "flow:dst.asset": 0, "sensor_id": 1,
                "flow:scenario": 2, "flow:src.zone": 3, "flow:dst.zone": 3, "flow:src.role": 3,
                "flow:dst.role": 3, "flow:dst.opening_form": 3, "flow:dst.sharing": 4, "channel": 4,
                "source_kind": 5}


class _Index:
    """Rule positions by the one exact-value condition or channel gate each rule is cheapest to find by.

    A superset filter: every candidate is still checked in full (``rule.applies`` and the kind),
    so the index can only save work, never change a decision.
    """

    def __init__(self, entries: Sequence[tuple[Rule, Evaluator, Gate]]) -> None:
        self.always: list[int] = []
        self.buckets: dict[tuple[str, str], list[int]] = {}
        self.fields: set[str] = set()
        for i, (rule, _ev, gate) in enumerate(entries):
            key = self._key(rule, gate)
            if key is None:
                self.always.append(i)
                continue
            field, values = key
            self.fields.add(field)
            for v in values:
                self.buckets.setdefault((field, v), []).append(i)

    @staticmethod
    def _key(rule: Rule, gate: Gate) -> tuple[str, frozenset[str]] | None:
        best: tuple[str, frozenset[str]] | None = None
        for c in rule.match.conditions:
            if isinstance(c, FieldIn) and c.field in _EVENT_FIELDS:
                cand = (c.field, c.values)
            elif isinstance(c, FlowIn) and c.path != "crossing":
                cand = ("flow:" + c.path, c.values)
            else:
                continue
            rank = (_SELECTIVITY.get(cand[0], 5), len(cand[1]))
            if best is None or rank < (_SELECTIVITY.get(best[0], 5), len(best[1])):
                best = cand
        if best is None and gate[1] is not None:
            best = ("channel", gate[1])
        return best

    def candidates(self, event: Event, flow: Flow) -> list[int]:
        if not self.buckets:
            return self.always
        hits = list(self.always)
        get = self.buckets.get
        for f in self.fields:
            if f.startswith("flow:"):
                path = f[5:]
                if path == "scenario":
                    values: Sequence[str] = flow.scenarios
                else:
                    side, attr = path.split(".", 1)
                    values = (str(getattr(getattr(flow, side), attr)),)
            else:
                values = (str(getattr(event, f)),)
            for v in values:
                found = get((f, v))
                if found:
                    hits.extend(found)
        if len(hits) > 1:
            hits = sorted(set(hits))
        return hits


class Policy:
    """All loaded rules (``rules``, including disabled ones), the evaluators of the enabled ones, the context."""

    def __init__(self, rules: Sequence[Rule], evaluators: Sequence[Evaluator], context: Context | None = None) -> None:
        if len(rules) != len(evaluators):
            raise ValueError("one evaluator per rule")
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.context = context if context is not None else empty_context()
        self._evaluators = tuple(evaluators)
        self._active = tuple(
            (r, e, getattr(e, "gate", OPEN_GATE)) for r, e in zip(rules, evaluators, strict=True) if r.enabled
        )
        self._index = _Index(self._active)

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    @property
    def active(self) -> tuple[Rule, ...]:
        return tuple(r for r, _, _ in self._active)

    def with_context(self, context: Context) -> Policy:
        """The same rules against another context (``healthdlp replay`` compares both)."""
        return Policy(self.rules, self._evaluators, context)

    def evaluate(self, event: Event, scan: ScanResult, windows: WindowStore) -> list[Alert]:
        flow = self.context.resolve(event)
        alerts: list[Alert] = []
        level = scan.record_level
        channel = event.channel
        active = self._active
        for i in self._index.candidates(event, flow):
            rule, evaluator, (min_level, channels) = active[i]
            if level < min_level or (channels is not None and channel not in channels):
                continue
            if not rule.applies(event, flow):
                continue
            raised = evaluator.evaluate(event, scan, windows, flow)
            if not raised:
                continue
            if rule.honour_approvals:
                verdict = flow.approvals(event, scan)
                if verdict.covered is not None:
                    raised = allowed_records(rule, raised, verdict.covered, event, scan, flow, windows)
            flow_details = flow.to_dict()
            alerts.extend(dataclasses.replace(a, details={**a.details, "flow": flow_details}) for a in raised)
        return alerts

