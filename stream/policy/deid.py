"""Kind ``deid-assertion``: checking in flight that data declared de-identified really is (§10.2).

§10.2 sends de-identified data to research and secondary use with rules a monitor can check on
the wire: direct identifiers removed (names, ID/phone/insurance/record numbers ...),
quasi-identifiers generalised, and "the number of people sharing all the same attribute values
at least 5". Presidio-like tools *perform* de-identification; this kind *audits* flows that claim
it (dlp-anchors §3 #6).

A flow is *declared* de-identified by ``attributes.deidentified: true`` (export tools and research
platforms log it) or by being in one of ``declared_scenarios`` (e.g. clinical-research,
secondary-use: every flow of theirs must be de-identified). Two checks:

1. **direct identifiers**: any identifier finding (``Finding.is_identifier``: 身份证, phone, MRN,
   name ...) in a declared flow is a violation at once;
2. **k over a window**: records are read from the content (a JSON object, array, NDJSON, FHIR
   Bundle, or CSV with a header), the configured quasi-identifier fields of each record (default
   birth date + sex + postcode) are combined and hashed with the site key (never kept in clear),
   and the class sizes are estimated over a sliding window per dataset (``attributes.dataset``,
   else the destination). With at least ``min_records`` records in the window, the smallest class
   is the estimated k; below ``k`` (default 5) is a violation. A whole extract usually travels in
   one event and is judged at once; for record-per-event streams ``settle`` waits until a class
   had time to fill before judging it (otherwise every class is small when it first appears).
   ``rare_fields`` (default the
   diagnosis) are checked alone the same way: a diagnosis shared by fewer than k records is a
   quasi-identifier by itself (§11.4: "only 4 cervical-cancer patients this year: generalise").
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

from model.alerts import Alert
from model.events import Event
from model.findings import ScanResult
from stream.policy.base import Evaluator, Gate, window_prefix
from stream.policy.context import SCENARIOS, Flow
from stream.policy.grouping import grouped_alert, track_events
from stream.policy.params import Param, field_groups, int_at_least, names, optional, parse_duration
from stream.policy.rule import Rule
from stream.policy.windows import WindowStore

NAME = "deid-assertion"
DEFAULT_QIS = (("birthDate", "birth_date", "dob", "出生日期"), ("gender", "sex", "性别"),
               ("postalCode", "postcode", "zip", "邮编", "邮政编码"))
DEFAULT_RARE = (("diagnosis", "icd10", "diagnosis_code", "诊断"),)
#: Records read from one event at most (the rest is counted as unread).
MAX_RECORDS = 5000
_PROCESS_KEY = os.urandom(32)


def _flatten(obj: Any, out: dict[str, str], prefix: str = "", depth: int = 0) -> None:
    """Leaf values by their last key name (``patient.birthDate`` → ``birthDate``); lists of scalars joined."""
    if depth > 6:
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict | list):
                _flatten(v, out, str(k), depth + 1)
            elif v is not None:
                out.setdefault(str(k), str(v))
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, dict):
                _flatten(v, out, prefix, depth + 1)
            elif v is not None and prefix:
                out.setdefault(prefix, str(v))


def records(content: bytes, content_type: str) -> Iterator[dict[str, str]]:
    """The records of a message as flat field → text maps (best effort; unparseable → none)."""
    text = content.decode("utf-8", "replace").lstrip("\ufeff").strip()
    if not text:
        return
    if text[0] in "[{":
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
            lines = [ln for ln in text.splitlines() if ln.strip()]
            for ln in lines:  # NDJSON
                try:
                    obj = json.loads(ln)
                except ValueError:
                    return
                if isinstance(obj, dict):
                    yield _flat(obj)
            return
        items: list[Any]
        if isinstance(doc, dict) and isinstance(doc.get("entry"), list):  # FHIR Bundle
            items = [e.get("resource", e) for e in doc["entry"] if isinstance(e, dict)]
        elif isinstance(doc, dict):
            lists = [v for v in doc.values() if isinstance(v, list) and v and all(isinstance(i, dict) for i in v)]
            items = lists[0] if len(lists) == 1 and len(lists[0]) > 1 else [doc]
        elif isinstance(doc, list):
            items = doc
        else:
            return
        for it in items:
            if isinstance(it, dict):
                yield _flat(it)
        return
    if "," in text.split("\n", 1)[0] or content_type in ("text/csv", "application/csv"):
        for row in csv.DictReader(io.StringIO(text)):
            yield {str(k).strip(): str(v).strip() for k, v in row.items() if k is not None and v is not None}


def _flat(obj: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    _flatten(obj, out)
    return out


def _value(rec: Mapping[str, str], alternatives: tuple[str, ...]) -> str | None:
    for name in alternatives:
        v = rec.get(name)
        if v is not None and v.strip():
            return v.strip().lower()
    return None


@dataclass(frozen=True)
class DeidEvaluator:
    rule: Rule
    declared_scenarios: frozenset[str]
    qis: tuple[tuple[str, ...], ...]
    rare: tuple[tuple[str, ...], ...]
    k: int
    min_records: int
    window_s: float
    settle: float | None = None
    #: Window-key prefix shared with identical rules (set by the policy; "" = this rule's own).
    window_ns: str = ""

    @property
    def gate(self) -> Gate:
        return (0, None)

    def declared(self, event: Event, flow: Flow) -> bool:
        return event.attributes.get("deidentified") is True or any(s in self.declared_scenarios for s in flow.scenarios)

    def _classes(self, members: tuple[str, ...], now: float) -> tuple[Counter[str], list[str]]:
        """Class sizes, and the classes old enough to judge (first record ≥ ``settle`` before ``now``)."""
        sizes: Counter[str] = Counter()
        first: dict[str, float] = {}
        for m in members:
            cls, _, rest = m.partition("|")
            sizes[cls] += 1
            t = float(rest.rsplit("|", 1)[1])
            if t < first.get(cls, float("inf")):
                first[cls] = t
        horizon = now - (self.settle or 0.0)
        return sizes, [c for c, t in first.items() if t <= horizon]

    def _hash(self, key: bytes, label: str, value: str) -> str:
        return hashlib.blake2b(f"{label}\x1f{value}".encode(), key=key[:64], digest_size=10).hexdigest()

    def evaluate(self, event: Event, scan: ScanResult, windows: WindowStore, flow: Flow) -> list[Alert]:
        if not self.declared(event, flow):
            return []
        direct = sorted({f.entity_type for f in scan.findings if f.is_identifier})
        dataset = event.attributes.get("dataset")
        group = f"dataset:{dataset}" if isinstance(dataset, str) and dataset else \
            f"dst:{flow.dst.asset or (event.dst.host if event.dst else event.device or flow.principal(event))}"
        key = f"{window_prefix(self.rule, self.window_ns)}\x1f{group}"
        ts = event.observed_at
        hkey = flow.context.hash_key or _PROCESS_KEY
        qi_members: list[str] = []
        rare_members: list[str] = []
        read = 0
        for i, rec in enumerate(records(event.content, event.content_type)):
            if i >= MAX_RECORDS:
                break
            read += 1
            rid = f"{event.event_id}#{i}"
            vals = [_value(rec, alts) for alts in self.qis]
            if self.qis and all(v is not None for v in vals):
                qi_members.append(f"{self._hash(hkey, 'qi', chr(31).join(v or '' for v in vals))}|{rid}|{ts:.0f}")
            for j, alts in enumerate(self.rare):
                v = _value(rec, alts)
                if v is not None:
                    rare_members.append(f"{j}:{self._hash(hkey, 'rare', v)}|{rid}|{ts:.0f}")
        qi_snap = windows.add(key + "\x1fqi", qi_members, ts, self.window_s) if self.qis else None
        rare_snap = windows.add(key + "\x1frare", rare_members, ts, self.window_s) if self.rare else None
        problems: list[str] = []
        stats: dict[str, Any] = {"records_read": read, "dataset_group": group}
        if direct:
            problems.append(f"direct identifiers present: {', '.join(direct)}")
        if qi_snap is not None and qi_snap.count >= self.min_records and qi_members:
            sizes, settled = self._classes(qi_snap.members, ts)
            k_est = min(sizes[c] for c in settled) if settled else self.k
            small = [sizes[c] for c in settled if sizes[c] < self.k]
            stats.update({"k_estimate": k_est, "qi_records_in_window": qi_snap.count, "qi_classes": len(sizes),
                          "qi_classes_below_k": len(small), "records_in_small_classes": sum(small)})
            if k_est < self.k:
                problems.append(f"quasi-identifier combination ({' + '.join(a[0] for a in self.qis)}) has estimated "
                                f"k = {k_est} < {self.k} over {qi_snap.count} records")
        if rare_snap is not None and rare_snap.count >= self.min_records and rare_members:
            sizes, settled = self._classes(rare_snap.members, ts)
            rare_small = [c for c in settled if sizes[c] < self.k]
            stats["rare_values_below_k"] = len(rare_small)
            if rare_small:
                problems.append(f"{len(rare_small)} value(s) of {', '.join(a[0] for a in self.rare)} shared by fewer "
                                f"than {self.k} records in the window")
        if not problems:
            return []
        events = track_events(windows, key, event, scan, self.window_s, flow=flow)
        subjects = windows.add(key + "\x1fsubjects", scan.subject_hashes, ts, self.window_s)
        return [grouped_alert(self.rule, NAME, event, flow, group=[group], window_s=self.window_s, events=events,
                              subjects=subjects, extra={"violations": problems, "k_required": self.k, **stats,
                                                        "declared_by": "attribute" if event.attributes.get(
                                                            "deidentified") is True else "scenario"})]


class DeidAssertion:
    name = NAME
    summary = "flows declared de-identified that carry direct identifiers or quasi-identifier classes below k"
    params: ClassVar[Mapping[str, Param]] = MappingProxyType({
        "declared_scenarios": Param((), names(SCENARIOS, what="scenario"),
                                    "scenarios whose flows must all be de-identified (or attributes.deidentified)"),
        "quasi_identifiers": Param(DEFAULT_QIS, field_groups,
                                   "fields combined into the quasi-identifier (alternative names per field)"),
        "rare_fields": Param(DEFAULT_RARE, field_groups, "fields whose values must each be shared by k records"),
        "k": Param(5, int_at_least(2), "minimum class size (§10.2: at least 5)"),
        "min_records": Param(50, int_at_least(2), "records in the window before k is estimated"),
        "window": Param(86400.0, parse_duration, "window per dataset for the k estimate"),
        "settle": Param(None, optional(parse_duration),
                        "judge a class only once its first record is this old (record-per-event streams); "
                        "null: at once (a whole extract travels in one event)"),
    })

    def bind(self, rule: Rule) -> Evaluator:
        p = rule.parameters
        return DeidEvaluator(rule, frozenset(p["declared_scenarios"]), tuple(p["quasi_identifiers"]),
                             tuple(p["rare_fields"]), int(p["k"]), int(p["min_records"]), float(p["window"]),
                             p["settle"])
