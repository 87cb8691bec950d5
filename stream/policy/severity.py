"""The severity model of a rule: a grade per record level, raised one step for bulk.

GB/T 39725 §6.2 grades harm by level (L3 moderate, L4 high, L5 serious) and §8.1 Table 3 scales
the measures with it, so severity follows the level of the data first. How many people a flow
exposes is the second axis (§8.3 Table 5 asks to audit volumes): ``raise_at_subjects`` lifts the
grade one step when a single alert covers that many distinct data subjects. Where the data went
is the third: ``raise_on_zones`` lifts it one step when the destination zone is one of those
(internet, cross-border: §7 q) and §8.3 make leaving the controller's environment the aggravating
fact), and ``raise_on_channels`` when the channel is one of those (removable media). The raises
add up, capped at critical.
"""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass
from typing import Any

from model.taxonomy import CHANNELS, LEVEL_NAMES, MAX_LEVEL, MIN_LEVEL, Severity
from model.yamlsrc import ConfigIssue, LineDict, unknown_key_message, where

_ORDER = list(Severity)
_KEYS = ("by_level", "raise_at_subjects", "raise_on_zones", "raise_on_channels")


@dataclass(frozen=True)
class SeverityModel:
    by_level: tuple[tuple[int, Severity], ...]  # ascending levels
    raise_at_subjects: int | None = None
    raise_on_zones: tuple[str, ...] = ()
    raise_on_channels: tuple[str, ...] = ()

    def base(self, level: int) -> Severity:
        """The grade of the highest configured level ≤ ``level`` (the lowest one below all of them)."""
        chosen = self.by_level[0][1]
        for lv, sev in self.by_level:
            if lv <= level:
                chosen = sev
        return chosen

    def grade(self, level: int, subjects: int, channel: str = "", zone: str = "") -> tuple[Severity, str]:
        """The severity and a one-line reason an analyst can read in the alert."""
        sev = self.base(level)
        reason = f"{LEVEL_NAMES.get(level, f'L{level}')} → {sev.value}"
        steps = []
        if self.raise_at_subjects is not None and subjects >= self.raise_at_subjects:
            steps.append(f"{subjects} subjects ≥ {self.raise_at_subjects}")
        if zone and zone in self.raise_on_zones:
            steps.append(f"destination zone {zone}")
        if channel and channel in self.raise_on_channels:
            steps.append(f"channel {channel}")
        for why in steps:
            raised = _ORDER[min(_ORDER.index(sev) + 1, len(_ORDER) - 1)]
            reason += f"; raised to {raised.value}: {why}"
            sev = raised
        return sev, reason

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"by_level": {str(lv): s.value for lv, s in self.by_level}}
        if self.raise_at_subjects is not None:
            d["raise_at_subjects"] = self.raise_at_subjects
        if self.raise_on_zones:
            d["raise_on_zones"] = list(self.raise_on_zones)
        if self.raise_on_channels:
            d["raise_on_channels"] = list(self.raise_on_channels)
        return d


def parse_severity(node: Any, loc: str) -> tuple[SeverityModel | None, list[ConfigIssue]]:
    """Validate a ``severity:`` mapping; every problem is reported with its line."""
    if not isinstance(node, dict):
        return None, [ConfigIssue(loc, "'severity' must be a mapping (" + ", ".join(_KEYS) + ")")]
    issues = [ConfigIssue(where(node, k), unknown_key_message(k, _KEYS)) for k in node if k not in _KEYS]
    by_level = _parse_by_level(node, loc, issues)
    raise_at = node.get("raise_at_subjects")
    if raise_at is not None and (isinstance(raise_at, bool) or not isinstance(raise_at, int) or raise_at < 1):
        msg = "'raise_at_subjects' must be an integer ≥ 1"
        issues.append(ConfigIssue(where(node, "raise_at_subjects"), msg))
        raise_at = None
    zones = _names(node, "raise_on_zones", _zones(), issues)
    chans = _names(node, "raise_on_channels", tuple(sorted(CHANNELS)), issues)
    if issues or not by_level:
        return None, issues
    return SeverityModel(by_level=tuple(by_level), raise_at_subjects=raise_at, raise_on_zones=zones,
                         raise_on_channels=chans), []


def _zones() -> tuple[str, ...]:
    from stream.policy.context import UNKNOWN, ZONES

    return (*ZONES, UNKNOWN)


def _names(node: Any, key: str, known: tuple[str, ...], issues: list[ConfigIssue]) -> tuple[str, ...]:
    v = node.get(key)
    if v is None:
        return ()
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        issues.append(ConfigIssue(where(node, key), f"'{key}' must be a list of names"))
        return ()
    for i in items:
        if i not in known:
            close = difflib.get_close_matches(i, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; one of {', '.join(known)}"
            issues.append(ConfigIssue(where(node, key), f"{key}: unknown {i!r}{hint}"))
    return tuple(items)


def _parse_by_level(node: Any, loc: str, issues: list[ConfigIssue]) -> list[tuple[int, Severity]]:
    table = node.get("by_level")
    at = where(node, "by_level", loc)
    if not isinstance(table, dict) or not table:
        msg = "'by_level' must map levels (1-5) to severities, e.g. {3: medium, 4: high}"
        issues.append(ConfigIssue(at, msg))
        return []
    names = [s.value for s in Severity]
    out: list[tuple[int, Severity]] = []
    for key, value in table.items():
        kat = table.where(key) if isinstance(table, LineDict) else at
        lv = int(key) if str(key).isdigit() else None
        if lv is None or not MIN_LEVEL <= lv <= MAX_LEVEL:
            issues.append(ConfigIssue(kat, f"level {key!r} must be {MIN_LEVEL}..{MAX_LEVEL}"))
            continue
        if value not in names:
            close = difflib.get_close_matches(str(value), names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; one of {', '.join(names)}"
            issues.append(ConfigIssue(kat, f"unknown severity {value!r}{hint}"))
            continue
        out.append((lv, Severity(value)))
    out.sort()
    for (lo, slo), (hi, shi) in itertools.pairwise(out):
        if shi.rank < slo.rank:
            msg = f"L{hi} ({shi.value}) must not be graded below L{lo} ({slo.value})"
            issues.append(ConfigIssue(at, msg))
    return out
