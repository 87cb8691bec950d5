"""Kind ``doctor-access``: the §11.1 anomalies of a clinician opening patient records.

§11.1 names what counts as abnormal and what the alarm must say: access from non-hospital
addresses or outside working hours; doctors seeing only their department's (or care team's)
patients; audit of access to sensitive data and special-identity patients; an alarm carrying the
user's IP, time, account and accessed content; a permission lock once anomalies reach a level.

The HIS audit log (channel ``his-audit``; also ``db-audit``/``api-log`` if they carry the same
attributes) is the source. Attributes read (docs/policy.md, "Doctor-access attributes"):
``doctor_department`` (else ``department``, as the his-audit mappings name it),
``patient_department``, ``care_team`` (bool: the doctor treats this
patient), ``patient_labels`` (list: ``special-disease``, ``special-identity``, ``vip``, ...),
``action``, ``record_tier``; the account is ``Event.actor`` and the workstation ``Event.src``.

Anomalies are counted per doctor in a window; the alert fires at ``min_anomalies`` (1: every
anomaly is reported, grouped per doctor and window bucket; higher: the "permission lock" level).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

from model.alerts import Alert
from model.events import Event
from model.findings import ScanResult
from stream.policy.base import Evaluator, Gate, window_prefix
from stream.policy.context import UNKNOWN, ZONES, Flow
from stream.policy.grouping import grouped_alert, track_events
from stream.policy.params import (
    WEEKDAYS,
    Param,
    channels,
    hours,
    int_at_least,
    names,
    parse_duration,
    parse_hours,
)
from stream.policy.rule import Rule
from stream.policy.windows import WindowStore

NAME = "doctor-access"
CHECKS = ("off_hours", "outside_network", "outside_department", "sensitive_patient")


def _truthy(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.lower() in ("true", "yes", "1"))


def _labels(v: Any) -> set[str]:
    if isinstance(v, str):
        return {p.strip() for p in v.split(",") if p.strip()}
    if isinstance(v, list | tuple):
        return {str(p) for p in v}
    return set()


@dataclass(frozen=True)
class DoctorAccessEvaluator:
    rule: Rule
    checks: frozenset[str]
    start_min: int
    end_min: int
    days: frozenset[int]
    hospital_zones: frozenset[str]
    sensitive_labels: frozenset[str]
    sensitive_min_level: int
    channels: frozenset[str]
    min_anomalies: int
    window_s: float
    #: Window-key prefix shared with identical rules (set by the policy; "" = this rule's own).
    window_ns: str = ""

    @property
    def gate(self) -> Gate:
        return (0, self.channels)

    def _off_hours(self, ts: float, tz: zoneinfo.ZoneInfo) -> str | None:
        local = dt.datetime.fromtimestamp(ts, tz)
        minute = local.hour * 60 + local.minute
        if self.start_min <= self.end_min:
            inside = self.start_min <= minute < self.end_min
        else:  # a night shift spanning midnight
            inside = minute >= self.start_min or minute < self.end_min
        if inside and local.weekday() in self.days:
            return None
        return f"outside working hours ({local.strftime('%a %H:%M')} local)"

    def anomalies(self, event: Event, scan: ScanResult, flow: Flow) -> list[str]:
        attrs = event.attributes
        out = []
        treating = _truthy(attrs.get("care_team"))
        if "off_hours" in self.checks:
            why = self._off_hours(event.observed_at, flow.context.approvals.tz)
            if why:
                out.append(why)
        if "outside_network" in self.checks and event.src is not None and flow.src.zone != UNKNOWN \
                and flow.src.zone not in self.hospital_zones:
            out.append(f"access from a non-hospital address (zone {flow.src.zone})")
        if "outside_department" in self.checks and not treating:
            mine = attrs.get("doctor_department") or attrs.get("department")
            theirs = attrs.get("patient_department")
            if isinstance(mine, str) and isinstance(theirs, str) and mine and theirs and mine != theirs:
                out.append("patient of another department, doctor not in the care team")
        if "sensitive_patient" in self.checks and not treating:
            labels = _labels(attrs.get("patient_labels")) & self.sensitive_labels
            if labels:
                out.append(f"sensitive patient ({', '.join(sorted(labels))}) outside the care team")
            elif scan.record_level >= self.sensitive_min_level:
                out.append(f"L{scan.record_level} special-disease record outside the care team")
        return out

    def evaluate(self, event: Event, scan: ScanResult, windows: WindowStore, flow: Flow) -> list[Alert]:
        if not event.actor or event.channel not in self.channels:
            return []
        found = self.anomalies(event, scan, flow)
        if not found:
            return []
        principal = flow.principal(event)
        key = f"{window_prefix(self.rule, self.window_ns)}\x1f{principal}"
        events = track_events(windows, key, event, scan, self.window_s, flow=flow)
        subjects = windows.add(key + "\x1fsubjects", scan.subject_hashes, event.observed_at, self.window_s)
        if events.count < self.min_anomalies:
            return []
        attrs = event.attributes
        return [grouped_alert(
            self.rule, NAME, event, flow, group=[f"principal={principal}"], window_s=self.window_s,
            events=events, subjects=subjects,
            extra={"anomalies": found, "anomalous_accesses": events.count, "min_anomalies": self.min_anomalies,
                   "doctor_department": str(attrs.get("doctor_department") or attrs.get("department") or "")[:64],
                   "action": str(attrs.get("action", ""))[:32], "record_tier": str(attrs.get("record_tier", ""))[:32],
                   "source_zone": flow.src.zone},
        )]


class DoctorAccess:
    name = NAME
    summary = "§11.1 anomalies of clinicians reading records: off-hours, off-site, other department, sensitive patient"
    params: ClassVar[Mapping[str, Param]] = MappingProxyType({
        "checks": Param(CHECKS, names(CHECKS, allow_empty=False, what="check"), "which anomalies are looked for"),
        "working_hours": Param("07:00-20:00", hours, "local working hours (context timezone); outside = anomaly"),
        "working_days": Param(WEEKDAYS[:5], names(WEEKDAYS, allow_empty=False, what="weekday"),
                              "days with working hours (mon..sun)"),
        "hospital_zones": Param(("intranet",), names(ZONES, allow_empty=False, what="zone"),
                                "zones a clinician's workstation may be in"),
        "sensitive_labels": Param(("special-disease", "special-identity", "vip"), names(what="label"),
                                  "patient_labels values that make a patient sensitive"),
        "sensitive_min_level": Param(5, int_at_least(1), "record level that makes an access sensitive by itself"),
        "channels": Param(("his-audit",), channels, "channels carrying clinician access records"),
        "min_anomalies": Param(1, int_at_least(1), "anomalous accesses per doctor in the window that raise the alert"),
        "window": Param(8 * 3600.0, parse_duration, "window for counting anomalies (and grouping the alert)"),
    })

    def bind(self, rule: Rule) -> Evaluator:
        p = rule.parameters
        start, end = parse_hours(p["working_hours"])
        return DoctorAccessEvaluator(
            rule, frozenset(p["checks"]), start, end, frozenset(WEEKDAYS.index(d) for d in p["working_days"]),
            frozenset(p["hospital_zones"]), frozenset(p["sensitive_labels"]), int(p["sensitive_min_level"]),
            frozenset(p["channels"]), int(p["min_anomalies"]), float(p["window"]),
        )
