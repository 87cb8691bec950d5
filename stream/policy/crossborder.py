"""Kind ``cross-border-volume``: records sent toward cross-border zones, counted against a limit.

§7 o) and p) allow personal health data to be provided across the border only after
de-identification and committee approval (academic exchange) or with the subjects' consent, and
then **"cumulatively within 250 records"** — the figure is the DRAFT text's (the published
wording is unverified, see the digest §3), so ``limit`` is a parameter and the bundled rule says
where its default comes from. §7 q) adds that health data must not be stored on servers outside
China; Annex F's self-check asks the same.

Counting: distinct data subjects (``count: subjects``, the detectors' keyed hashes) or records
(``count: records``: the event's ``records`` attribute, else 1 per event), per destination (or
per principal / overall, ``group_by``), in a sliding window of up to 31 days. ``immediate_level``
raises an alert on the first event at or above that level regardless of the count (identifying or
special-disease data should not cross at all without an approval; an approval naming the
destination covers it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

from model.alerts import Alert
from model.events import Event
from model.findings import ScanResult
from stream.policy.alerting import record_count
from stream.policy.base import Evaluator, Gate, window_prefix
from stream.policy.context import ZONES, Flow
from stream.policy.grouping import grouped_alert, track_events
from stream.policy.params import Param, int_at_least, level, names, optional, parse_duration
from stream.policy.rule import Rule
from stream.policy.windows import WindowStore

NAME = "cross-border-volume"
_COUNT = ("subjects", "records")
_GROUP = ("destination", "principal", "all")


def _choice(options: tuple[str, ...]):  # type: ignore[no-untyped-def]
    def parse(v: object) -> str:
        if v not in options:
            raise ValueError(f"must be one of {', '.join(options)}, not {v!r}")
        return str(v)

    return parse


@dataclass(frozen=True)
class CrossBorderEvaluator:
    rule: Rule
    zones: frozenset[str]
    limit: int
    count: str
    group_by: str
    window_s: float
    min_level: int
    immediate_level: int | None
    #: Window-key prefix shared with identical rules (set by the policy; "" = this rule's own).
    window_ns: str = ""

    @property
    def gate(self) -> Gate:
        return (self.min_level, None)

    @property
    def index_key(self) -> tuple[str, frozenset[str]]:
        """Only flows toward one of ``zones`` can fire (the policy's rule index)."""
        return ("flow:dst.zone", self.zones)

    def evaluate(self, event: Event, scan: ScanResult, windows: WindowStore, flow: Flow) -> list[Alert]:
        if flow.dst.zone not in self.zones or scan.record_level < self.min_level:
            return []
        if self.group_by == "destination":
            group = f"dst={flow.dst.asset or (event.dst.host if event.dst else flow.dst.zone)}"
        elif self.group_by == "principal":
            group = f"principal={flow.principal(event)}"
        else:
            group = "all"
        key = f"{window_prefix(self.rule, self.window_ns)}\x1f{group}"
        ts = event.observed_at
        subjects = windows.add(key + "\x1fsubjects", scan.subject_hashes, ts, self.window_s)
        n_records = record_count(event) or 1
        recs = windows.add(key + "\x1frecords", [f"{event.event_id}|{n_records}"], ts, self.window_s)
        total_records = sum(int(m.rsplit("|", 1)[1]) for m in recs.members)
        counted = subjects.count if self.count == "subjects" else total_records
        immediate = self.immediate_level is not None and scan.record_level >= self.immediate_level
        if counted < self.limit and not immediate:
            return []
        events = track_events(windows, key, event, scan, self.window_s, flow=flow)
        reasons = []
        if counted >= self.limit:
            reasons.append(f"{counted} {self.count} toward {flow.dst.zone} ≥ limit {self.limit}")
        if immediate:
            reasons.append(f"L{scan.record_level} data toward {flow.dst.zone} (immediate at L{self.immediate_level}+)")
        return [grouped_alert(
            self.rule, NAME, event, flow, group=[group], window_s=self.window_s, events=events, subjects=subjects,
            extra={"violations": reasons, "limit": self.limit, "limit_source": "GB/T 39725 §7 o)/p) DRAFT text: 250",
                   "counted": self.count, "subjects_in_window": subjects.count, "records_in_window": total_records,
                   "group": group},
        )]


class CrossBorderVolume:
    name = NAME
    summary = "subjects or records toward cross-border zones counted against a limit (§7 o)/p) draft: 250)"
    params: ClassVar[Mapping[str, Param]] = MappingProxyType({
        "limit": Param(250, int_at_least(1), "cumulative count that raises the alert (the DRAFT §7 o)/p) says 250)"),
        "count": Param("subjects", _choice(_COUNT), "what is counted: subjects (distinct people) or records"),
        "group_by": Param("destination", _choice(_GROUP), "one count per destination, per principal, or overall"),
        "window": Param(31 * 86400.0, parse_duration, "how long counts accumulate (at most 31 days)"),
        "zones": Param(("cross-border",), names(ZONES, allow_empty=False, what="zone"), "destination zones counted"),
        "min_level": Param(2, level, "lowest record level counted"),
        "immediate_level": Param(None, optional(level), "alert on the first event at or above this level (null: off)"),
    })

    def bind(self, rule: Rule) -> Evaluator:
        p = rule.parameters
        return CrossBorderEvaluator(rule, frozenset(p["zones"]), int(p["limit"]), str(p["count"]), str(p["group_by"]),
                                    float(p["window"]), int(p["min_level"]), p["immediate_level"])
