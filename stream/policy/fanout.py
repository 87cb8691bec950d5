"""Kind ``subject-fanout``: distinct data subjects per principal, across channels, per level tier.

One question covers bulk export, online-query scraping and a patient account fetching other
patients (IDOR): *how many different people's data did this principal touch recently?* It is
asked across every channel at once — an HTTP download, a USB copy and a database query by the
same account land in the same window — because the principal is resolved once for all of them
(``Flow.principal``: the actor; else the owner the context names for a workstation or a USB key;
else the source host). Subjects are the detectors' keyed hashes, so the same patient on
different channels counts once.

Thresholds are per level (§6.2: the higher the level, the smaller the audience): a window tier
per configured level counts subjects seen in events of *at least* that level, and the alert fires
when any tier reaches its threshold, e.g. ``{3: 200, 4: 50, 5: 10}``. §8.3 Table 5 (online query:
"monitor batch queries and alarm on high-frequency queries"; API: log callers) and §11.1 (anomaly
detection, permission lock) are the clauses this serves.
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
from stream.policy.params import Param, level_thresholds, optional_channels, parse_duration
from stream.policy.rule import Rule
from stream.policy.windows import WindowSnapshot, WindowStore

NAME = "subject-fanout"


@dataclass(frozen=True)
class FanoutEvaluator:
    rule: Rule
    window_s: float
    tiers: tuple[tuple[int, int], ...]  # (level, threshold), ascending level
    channels: frozenset[str] | None
    #: Window-key prefix shared with identical rules (set by the policy; "" = this rule's own).
    window_ns: str = ""

    @property
    def gate(self) -> Gate:
        return (self.tiers[0][0], self.channels)

    def evaluate(self, event: Event, scan: ScanResult, windows: WindowStore, flow: Flow) -> list[Alert]:
        lv = scan.record_level
        if not scan.subject_hashes or lv < self.tiers[0][0]:
            return []
        principal = flow.principal(event)
        key = f"{window_prefix(self.rule, self.window_ns)}\x1f{principal}"
        ts = event.observed_at
        crossed: list[tuple[int, int, WindowSnapshot]] = []
        counts: dict[str, int] = {}
        for tier_level, threshold in self.tiers:
            if lv < tier_level:
                break
            snap = windows.add(f"{key}\x1fL{tier_level}", scan.subject_hashes, ts, self.window_s)
            counts[f"L{tier_level}"] = snap.count
            if snap.count >= threshold:
                crossed.append((tier_level, threshold, snap))
        events = track_events(windows, key, event, scan, self.window_s, flow=flow)
        if not crossed:
            return []
        # report the widest crossed tier (most subjects); name every tier that crossed
        tier_level, threshold, subjects = max(crossed, key=lambda c: c[2].count)
        return [grouped_alert(
            self.rule, NAME, event, flow, group=[f"principal={principal}"], window_s=self.window_s,
            events=events, subjects=subjects,
            extra={"tier": f"L{tier_level}+", "threshold": threshold,
                   "tiers_crossed": [f"L{t}+" for t, _, _ in crossed], "subjects_by_tier": counts},
        )]


class SubjectFanout:
    name = NAME
    summary = "distinct data subjects touched by one principal across channels within window, per level tier"
    params: ClassVar[Mapping[str, Param]] = MappingProxyType({
        "window": Param(3600.0, parse_duration, "sliding window, e.g. '15m', '1h', '1d'"),
        "thresholds": Param({"3": 200, "4": 50, "5": 10}, level_thresholds,
                            "level → distinct subjects (seen in events of at least that level) that raise the alert"),
        "channels": Param(None, optional_channels, "channels counted (null: every channel)"),
    })

    def bind(self, rule: Rule) -> Evaluator:
        p = rule.parameters
        tiers = tuple(sorted((int(k), int(v)) for k, v in p["thresholds"].items()))
        ch = p["channels"]
        return FanoutEvaluator(rule, float(p["window"]), tiers, None if ch is None else frozenset(ch))
