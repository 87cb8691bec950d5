"""Data use agreements and export approvals (§7 m), §10.2, Annex D/E) as context data.

An approval says: *this* dataset scope, up to *this* level, may go to *these* destinations, for
*this* purpose, until *this* date (optionally only by *these* accounts). The policy consults it in
two ways (docs/policy.md, "Approvals"):

* a flow **covered** by a valid approval is allowed: the alert a rule would have raised becomes
  an "allowed-by-approval" record (severity info, triage state ``suppressed``), so the use is
  audited (§9.2 "audit data usage") without paging anyone;
* a flow that **relies on** an approval which is expired, not yet valid or out of scope (level,
  categories, dataset, purpose, destination, principal) is not covered, and the
  ``approval-violation`` kind turns that into an alert of its own.

A flow relies on an approval when it cites one (``attributes.approval_id``, as export tools and
research platforms log it) or when an approval names its destination (asset id or zone).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from model.events import Event
from model.findings import ScanResult
from model.taxonomy import MAX_LEVEL, MIN_LEVEL, DataCategory
from model.yamlsrc import ConfigIssue, LineList, unknown_key_message, where

if TYPE_CHECKING:
    from stream.policy.context import Asset, Flow

APPROVAL_KEYS = ("id", "description", "purpose", "scope", "max_level", "destinations", "principals",
                 "valid_from", "expires")
SCOPE_KEYS = ("categories", "datasets")
_CATEGORIES = tuple(c.value for c in DataCategory)


@dataclass(frozen=True)
class Approval:
    id: str
    purpose: str  # a scenario id (§11) the approval was granted for
    max_level: int
    destinations: tuple[str, ...]  # asset ids or zones
    expires: dt.date
    categories: tuple[str, ...] = ()  # empty: any category
    datasets: tuple[str, ...] = ()  # empty: any dataset
    principals: tuple[str, ...] = ()  # accounts; empty: anyone
    valid_from: dt.date | None = None
    description: str = ""
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "purpose": self.purpose, "max_level": self.max_level,
                "destinations": list(self.destinations), "expires": self.expires.isoformat(),
                "categories": list(self.categories), "datasets": list(self.datasets), "source": self.source}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the approvals say about one flow."""

    covered: Approval | None = None
    problems: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (approval id, reasons) of approvals relied on in vain
    cited: str = ""

    @property
    def relied_in_vain(self) -> bool:
        return self.covered is None and bool(self.problems)


NO_VERDICT = Verdict()


class ApprovalBook:
    """Approvals indexed by destination, checked against a flow at event time in the site's zone."""

    def __init__(self, approvals: Sequence[Approval], timezone: str) -> None:
        self.approvals = tuple(approvals)
        self.by_id = {a.id: a for a in approvals}
        self.tz = zoneinfo.ZoneInfo(timezone)
        self._by_dest: dict[str, list[Approval]] = {}
        for a in approvals:
            for d in a.destinations:
                self._by_dest.setdefault(d, []).append(a)
        self._bounds = {a.id: (self._start(a.valid_from), self._start(a.expires + dt.timedelta(days=1)))
                        for a in approvals}

    def _start(self, day: dt.date | None) -> float | None:
        if day is None:
            return None
        return dt.datetime(day.year, day.month, day.day, tzinfo=self.tz).timestamp()

    def __len__(self) -> int:
        return len(self.approvals)

    def check(self, event: Event, flow: Flow, scan: ScanResult) -> Verdict:
        if not self.approvals and "approval_id" not in event.attributes:
            return NO_VERDICT
        cited = event.attributes.get("approval_id")
        cited = cited.strip() if isinstance(cited, str) else ""
        if cited:
            a = self.by_id.get(cited)
            if a is None:
                return Verdict(None, ((cited, ("the cited approval is not in the context",)),), cited)
            candidates = [a]
        else:
            seen: dict[str, Approval] = {}
            for key in (flow.dst.asset, flow.dst.zone):
                for a in self._by_dest.get(key, ()) if key else ():
                    if self._principal_ok(a, event, flow):
                        seen.setdefault(a.id, a)
            candidates = list(seen.values())
        problems = []
        for a in candidates:
            reasons = self.reasons(a, event, flow, scan, cited=bool(cited))
            if not reasons:
                return Verdict(a, (), cited)
            problems.append((a.id, reasons))
        return Verdict(None, tuple(problems), cited)

    @staticmethod
    def _principal_ok(a: Approval, event: Event, flow: Flow) -> bool:
        if not a.principals:
            return True
        p = flow.principal(event)
        return p.startswith("actor:") and p[6:] in a.principals

    def reasons(self, a: Approval, event: Event, flow: Flow, scan: ScanResult, *, cited: bool) -> tuple[str, ...]:
        """Why ``a`` does not cover this flow (empty: it does)."""
        out: list[str] = []
        start, end = self._bounds[a.id]
        ts = event.observed_at
        if start is not None and ts < start:
            out.append(f"not valid before {a.valid_from.isoformat() if a.valid_from else ''}")
        if end is not None and ts >= end:
            out.append(f"expired on {a.expires.isoformat()}")
        if scan.record_level > a.max_level:
            out.append(f"level L{scan.record_level} above the approved maximum L{a.max_level}")
        if a.categories:
            extra = sorted({c.value for c in scan.categories} - set(a.categories))
            if extra:
                out.append(f"categories outside the approved scope: {', '.join(extra)}")
        dataset = event.attributes.get("dataset")
        if a.datasets and isinstance(dataset, str) and dataset and dataset not in a.datasets:
            out.append(f"dataset {dataset!r} is not in the approved scope")
        if flow.scenarios and a.purpose not in flow.scenarios:
            out.append(f"flow scenario {flow.scenario!r} is not the approved purpose {a.purpose!r}")
        if cited:
            if flow.dst.asset not in a.destinations and flow.dst.zone not in a.destinations:
                out.append(f"destination {flow.dst.asset or flow.dst.zone!r} is not approved")
            if not self._principal_ok(a, event, flow):
                out.append("the principal is not named on the approval")
        return tuple(out)


# -- parsing ---------------------------------------------------------------------------------------


def _date(v: Any) -> dt.date | None:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str):
        try:
            return dt.date.fromisoformat(v.strip())
        except ValueError:
            return None
    return None


def parse_approvals(nodes: Sequence[tuple[Any, str]], assets: Mapping[str, Asset],
                    issues: list[ConfigIssue]) -> list[Approval]:
    from stream.policy.context import SCENARIOS, ZONES

    out: list[Approval] = []
    seen: dict[str, str] = {}
    for items, loc in nodes:
        if items is None:
            continue
        if not isinstance(items, list):
            issues.append(ConfigIssue(loc, "'approvals' must be a list of approvals"))
            continue
        for i, node in enumerate(items):
            at = items.where(i) if isinstance(items, LineList) else loc
            a = _approval(node, at, assets, SCENARIOS, ZONES, issues)
            if a is None:
                continue
            if a.id in seen:
                issues.append(ConfigIssue(a.source, f"duplicate approval id {a.id!r} (first defined at {seen[a.id]})"))
                continue
            seen[a.id] = a.source
            out.append(a)
    return out


def _strs(node: Any, key: str, loc: str, issues: list[ConfigIssue]) -> tuple[str, ...]:
    v = node.get(key)
    if v is None:
        return ()
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
        issues.append(ConfigIssue(where(node, key, loc), f"'{key}' must be a string or a list of strings"))
        return ()
    return tuple(i.strip() for i in items)


def _approval(node: Any, loc: str, assets: Mapping[str, Asset], scenarios: Sequence[str], zones: Sequence[str],
              issues: list[ConfigIssue]) -> Approval | None:
    if not isinstance(node, dict):
        issues.append(ConfigIssue(loc, "an approval must be a mapping (id, purpose, scope, max_level, ...)"))
        return None
    loc = where(node, default=loc)
    before = len(issues)
    issues.extend(ConfigIssue(where(node, k, loc), unknown_key_message(k, APPROVAL_KEYS))
                  for k in node if k not in APPROVAL_KEYS)
    missing = [k for k in ("id", "purpose", "max_level", "destinations", "expires") if k not in node]
    if missing:
        issues.append(ConfigIssue(loc, f"approval is missing required key(s): {', '.join(missing)}"))
    aid = node.get("id")
    if "id" in node and (not isinstance(aid, str) or not aid.strip()):
        issues.append(ConfigIssue(where(node, "id", loc), "approval 'id' must be a non-empty string"))
    purpose = node.get("purpose")
    if "purpose" in node and purpose not in scenarios:
        issues.append(ConfigIssue(where(node, "purpose", loc),
                                  f"'purpose' must be a scenario ({', '.join(scenarios)}), not {purpose!r}"))
    max_level = node.get("max_level")
    if "max_level" in node and (isinstance(max_level, bool) or not isinstance(max_level, int)
                                or not MIN_LEVEL <= max_level <= MAX_LEVEL):
        issues.append(ConfigIssue(where(node, "max_level", loc), f"'max_level' must be a level 1-5, not {max_level!r}"))
    dests = _strs(node, "destinations", loc, issues)
    for d in dests:
        if d not in assets and d not in zones:
            issues.append(ConfigIssue(where(node, "destinations", loc),
                                      f"destination {d!r} is neither an asset id nor a zone ({', '.join(zones)})"))
    if "destinations" in node and not dests:
        issues.append(ConfigIssue(where(node, "destinations", loc), "'destinations' must name at least one"))
    dates: dict[str, dt.date | None] = {}
    for k in ("valid_from", "expires"):
        if k in node:
            dates[k] = _date(node[k])
            if dates[k] is None:
                issues.append(ConfigIssue(where(node, k, loc), f"'{k}' must be a date YYYY-MM-DD, not {node[k]!r}"))
    if dates.get("valid_from") and dates.get("expires") and dates["valid_from"] > dates["expires"]:  # type: ignore[operator]
        issues.append(ConfigIssue(where(node, "valid_from", loc), "'valid_from' is after 'expires'"))
    scope = node.get("scope", {}) or {}
    cats: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    if not isinstance(scope, dict):
        issues.append(ConfigIssue(where(node, "scope", loc), "'scope' must be a mapping (categories, datasets)"))
    else:
        sat = where(node, "scope", loc)
        issues.extend(ConfigIssue(where(scope, k, sat), unknown_key_message(k, SCOPE_KEYS))
                      for k in scope if k not in SCOPE_KEYS)
        cats = _strs(scope, "categories", sat, issues)
        bad = [c for c in cats if c not in _CATEGORIES]
        if bad:
            issues.append(ConfigIssue(where(scope, "categories", sat),
                                      f"unknown category {bad[0]!r}; known: {', '.join(_CATEGORIES)}"))
        datasets = _strs(scope, "datasets", sat, issues)
    principals = _strs(node, "principals", loc, issues)
    if len(issues) > before:
        return None
    expires = dates["expires"]
    assert expires is not None and isinstance(aid, str) and isinstance(max_level, int)
    return Approval(
        id=aid.strip(), purpose=str(purpose), max_level=max_level, destinations=dests, expires=expires,
        categories=cats, datasets=datasets, principals=principals, valid_from=dates.get("valid_from"),
        description=str(node.get("description", "")), source=loc,
    )
