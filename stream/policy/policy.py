"""The loaded policy: enabled rules bound to their kinds, evaluated per event against the context.

``Policy.evaluate`` is the pure decision step of the pipeline: (event, scan, window state) →
alerts. Per event it (1) resolves the flow once against the context (scenario, roles, zones,
opening form), (2) visits only the rules that could fire — rules are indexed by their equality
conditions (``match: {actor: ..}``, ``scenario``, ``dst_asset`` ...) and by their kind's gate
(lowest level, channels) — evaluating rules that differ only in id, version, title and
playbook once and deriving the others' alerts, (3) turns what a rule raised for a flow covered by
a valid approval into an allowed-by-approval record (:mod:`stream.policy.allowed`), and (4) adds the resolved flow
to every alert's details. It does not catch exceptions: the pipeline turns a failing event into a
dead letter, so a bug is visible and counted instead of silently dropping the event's alerts.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from model.alerts import Alert, make_alert_id
from model.events import Event
from model.findings import ScanResult
from stream.policy.alerting import alert_keys, rule_details
from stream.policy.allowed import allowed_records
from stream.policy.base import OPEN_GATE, Evaluator, Gate, window_prefix
from stream.policy.conditions import FieldIn, FlowIn
from stream.policy.context import Context, Flow, empty_context
from stream.policy.facts import facts_for
from stream.policy.rule import Rule
from stream.policy.windows import WindowSnapshot, WindowStore

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
        for i, (rule, ev, gate) in enumerate(entries):
            key = self._key(rule, ev, gate)
            if key is None:
                self.always.append(i)
                continue
            field, values = key
            self.fields.add(field)
            for v in values:
                self.buckets.setdefault((field, v), []).append(i)

    @staticmethod
    def _key(rule: Rule, evaluator: Evaluator, gate: Gate) -> tuple[str, frozenset[str]] | None:
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
        # a kind's own necessary condition (scenario-mismatch: its scenarios; cross-border: zones)
        own = getattr(evaluator, "index_key", None)
        if own is not None and (best is None or (_SELECTIVITY.get(own[0], 5), len(own[1]))
                                < (_SELECTIVITY.get(best[0], 5), len(best[1]))):
            best = own
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


class _SharedWindows:
    """The window store as one event's rules see it: a twin's repeat of an add is answered from memory.

    Twins (see :func:`stream.policy.base.window_prefix`) add the same members to the same key at
    the same time; the repeat would leave the state as it is and return the same members, so the
    first add's snapshot is returned instead. One instance per event: nothing outlives it.
    """

    __slots__ = ("inner", "seen")

    def __init__(self, inner: WindowStore) -> None:
        self.inner = inner
        self.seen: dict[str, tuple[tuple[str, ...], float, float, WindowSnapshot]] = {}

    def add(self, key: str, members: Iterable[str], ts: float, window_s: float) -> WindowSnapshot:
        items = tuple(members)
        hit = self.seen.get(key)
        if hit is not None and hit[0] == items and hit[1] == ts and hit[2] == window_s:
            return hit[3]
        snap = self.inner.add(key, items, ts, window_s)
        self.seen[key] = (items, ts, window_s, snap)
        return snap


def _share_windows(entries: Sequence[tuple[Rule, Evaluator]]) -> tuple[list[Evaluator], bool]:
    """Evaluators with twins (same kind, parameters, match and unless) rebound to share their windows.

    The shared prefix is the smallest ``id@version`` of the twins, so it does not depend on the
    order of the rule files. Returns the evaluators and whether any window is shared.
    """
    groups: dict[Any, list[int]] = {}
    for i, (rule, ev) in enumerate(entries):
        if not (dataclasses.is_dataclass(ev) and any(f.name == "window_ns" for f in dataclasses.fields(ev))):
            continue
        try:
            key = (rule.kind, json.dumps(rule.parameters, sort_keys=True, default=repr), rule.match, rule.unless)
            hash(key)
        except TypeError:
            continue
        groups.setdefault(key, []).append(i)
    out = [ev for _, ev in entries]
    shared = False
    for members in groups.values():
        if len(members) < 2:
            continue
        shared = True
        prefix = min(window_prefix(entries[i][0]) for i in members)
        for i in members:
            out[i] = dataclasses.replace(out[i], window_ns=prefix)  # type: ignore[type-var]
    return out, shared


def _intern_filters(rules: Sequence[Rule]) -> tuple[list[int], int]:
    """A filter id per rule, equal for rules with equal ``match``/``unless`` (-1: matches every event)."""
    ids: dict[Any, int] = {}
    out = []
    for rule in rules:
        if not rule.match.conditions and rule.unless is None:
            out.append(-1)
            continue
        key: Any = (rule.match, rule.unless)
        try:
            hash(key)
        except TypeError:
            key = id(rule)
        out.append(ids.setdefault(key, len(ids)))
    return out, len(ids)


def _twin_groups(entries: Sequence[tuple[Rule, Evaluator]]) -> list[int]:
    """A group id per rule, equal for rules whose alerts differ only in id, version, title and playbook.

    Such rules (same kind and evaluator type, parameters, match, unless, severity model and
    clauses; windowed ones already share their windows, :func:`_share_windows`) raise the same
    alerts for the same event but for those fields, so the policy evaluates the first of them once
    per event and derives the others' alerts from its (:func:`_derive`). -1: a rule of its own.
    """
    groups: dict[Any, list[int]] = {}
    for i, (rule, ev) in enumerate(entries):
        # a member is not evaluated when its group's first rule raised nothing, so its state must be
        # none or the group's own (windows shared by window_ns)
        if not (getattr(ev, "stateless", False) or getattr(ev, "window_ns", "")):
            continue
        try:
            key = (rule.kind, type(ev), json.dumps(rule.parameters, sort_keys=True, default=repr), rule.match,
                   rule.unless, rule.severity, rule.clauses)
            hash(key)
        except TypeError:
            continue
        groups.setdefault(key, []).append(i)
    out = [-1] * len(entries)
    n = 0
    for members in groups.values():
        if len(members) < 2:
            continue
        for i in members:
            out[i] = n
        n += 1
    return out


def _derive(raised: Sequence[Alert], rule: Rule) -> list[Alert] | None:
    """What ``rule`` raises, given what a twin of it raised for the same event (None: cannot tell).

    Everything but the rule's own id, version, title and playbook is the twin's; the alert id is
    recomputed from the keys the twin's id was made from (:func:`stream.policy.alerting.rule_alert_id`).
    Built directly: ``dataclasses.replace`` cost more than the rest of a cheap alert.
    """
    playbook = rule_details(rule)[1]
    rid, version, title = rule.id, rule.version, rule.title
    out = []
    for a in raised:
        keys = alert_keys(a.alert_id)
        if keys is None:
            return None
        details = dict(a.details)
        if "playbook" in details:
            details["playbook"] = playbook
        out.append(Alert(
            make_alert_id(rid, version, keys), rid, version, title, a.severity, a.clauses, a.channel, a.src,
            a.dst, a.actor, a.encrypted, a.entities, a.categories, a.max_level, a.subjects, a.evidence,
            a.subject_hashes, a.event_ids, a.observed_at, a.last_seen, a.sensor_id, a.triage_state, details,
            a.schema_version,
        ))
    return out


class _Active(NamedTuple):
    rule: Rule
    evaluator: Evaluator
    min_level: int
    channels: frozenset[str] | None
    filter_id: int
    twin_group: int


class Policy:
    """All loaded rules (``rules``, including disabled ones), the evaluators of the enabled ones, the context."""

    def __init__(self, rules: Sequence[Rule], evaluators: Sequence[Evaluator], context: Context | None = None) -> None:
        if len(rules) != len(evaluators):
            raise ValueError("one evaluator per rule")
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.context = context if context is not None else empty_context()
        self._evaluators = tuple(evaluators)
        enabled = [(r, e) for r, e in zip(rules, evaluators, strict=True) if r.enabled]
        bound, self._shares_windows = _share_windows(enabled)
        filter_ids, self._n_filters = _intern_filters([r for r, _ in enabled])
        twins = _twin_groups(list(zip([r for r, _ in enabled], bound, strict=True)))
        active = []
        for (r, _), e, fid, tg in zip(enabled, bound, filter_ids, twins, strict=True):
            min_level, channels = getattr(e, "gate", OPEN_GATE)
            active.append(_Active(r, e, min_level, channels, fid, tg))
        self._active = tuple(active)
        self._index = _Index([(a.rule, a.evaluator, (a.min_level, a.channels)) for a in self._active])

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    @property
    def active(self) -> tuple[Rule, ...]:
        return tuple(a.rule for a in self._active)

    def with_context(self, context: Context) -> Policy:
        """The same rules against another context (``healthdlp replay`` compares both)."""
        return Policy(self.rules, self._evaluators, context)

    def evaluate(self, event: Event, scan: ScanResult, windows: WindowStore) -> list[Alert]:
        flow = self.context.resolve(event)
        alerts: list[Alert] = []
        level = scan.record_level
        channel = event.channel
        active = self._active
        # one verdict per distinct match/unless pair, not per rule
        verdicts: list[bool | None] = [None] * self._n_filters
        rule_windows = _SharedWindows(windows) if self._shares_windows else windows
        # what the first rule of each twin group raised for this event (before approvals)
        twin_raised: dict[int, list[Alert]] = {}
        for i in self._index.candidates(event, flow):
            rule, evaluator, min_level, channels, fid, group = active[i]
            if level < min_level or (channels is not None and channel not in channels):
                continue
            if fid >= 0:
                ok = verdicts[fid]
                if ok is None:
                    ok = verdicts[fid] = rule.applies(event, flow)
                if not ok:
                    continue
            if group < 0:
                raised = evaluator.evaluate(event, scan, rule_windows, flow)
            else:
                first = twin_raised.get(group)
                derived = None if first is None else _derive(first, rule) if first else first
                if derived is None:
                    derived = evaluator.evaluate(event, scan, rule_windows, flow)
                    if first is None:
                        twin_raised[group] = derived
                raised = derived
            if not raised:
                continue
            if rule.honour_approvals:
                verdict = flow.approvals(event, scan)
                if verdict.covered is not None:
                    raised = allowed_records(rule, raised, verdict.covered, event, scan, flow, rule_windows)
            flow_details = facts_for(event, scan, flow).flow_dict
            alerts.extend(_with_flow(a, flow_details) for a in raised)
        return alerts


def _with_flow(alert: Alert, flow_details: dict[str, Any]) -> Alert:
    """``alert`` with the resolved flow in its details.

    The kinds build a fresh details dict for every alert they return and hand the alert over, so
    the flow is added in place (``dataclasses.replace`` cost more than the rest of a cheap alert).
    """
    details = alert.details
    if type(details) is dict:
        details["flow"] = flow_details
        return alert
    return dataclasses.replace(alert, details={**details, "flow": flow_details})
