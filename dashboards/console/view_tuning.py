"""The tuning view for security teams: which rules and detectors are noisy, and who moves data.

Per-rule false-positive rates come from analysts' verdicts (triage states), so every "false
positive" click in the queue feeds straight back into the numbers a rule owner tunes against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from dashboards.console.data import RuleStats
from dashboards.console.html import h, level_badge, page, table

TUNING_DAYS: tuple[int, ...] = (7, 30, 90)


def tuning_page(
    days: int,
    rules: Sequence[RuleStats],
    per_rule: Sequence[Mapping[str, Any]],
    per_entity: Sequence[Mapping[str, Any]],
    principals: Sequence[Mapping[str, Any]],
    destinations: Sequence[Mapping[str, Any]],
    dead_letters: Mapping[str, int],
    today: date,
) -> str:
    picker = " ".join(
        f'<a href="/tuning?days={d}" class="{"on" if d == days else ""}">{d} days</a>' for d in TUNING_DAYS
    )
    body = (
        f'<h1>Tuning</h1><p class="picker">Window: {picker}</p>'
        + _rules(rules, per_rule, days, today)
        + _series("Alerts per entity type per day", "Entity type", per_entity, days, today)
        + '<div class="cols"><section class="left">'
        + _top("Top principals", "Principal", principals, "actor")
        + '</section><section class="right">'
        + _top("Top destinations", "Destination", destinations, None)
        + "</section></div>"
        + _dead_letters(dead_letters)
    )
    return page("Tuning", body, active="tuning")


def _rules(rules: Sequence[RuleStats], per_rule: Sequence[Mapping[str, Any]], days: int, today: date) -> str:
    if not rules:
        return '<h2>Rules</h2><p class="empty">No alerts in this window.</p>'
    series = _by_key(per_rule)
    rows = []
    for r in rules:
        rate = "—" if r.fp_rate is None else f"{r.fp_rate:.0%}"
        bar = "" if r.fp_rate is None else f'<span class="bar" data-w="{round(r.fp_rate * 100)}"></span>'
        rows.append(
            [
                f'<a href="/?rule={h(r.rule_id)}&amp;range={_range(days)}">{h(r.rule_id)}</a>',
                str(r.alerts),
                str(r.confirmed),
                str(r.false_positive),
                str(r.open),
                f'<span class="fp">{h(rate)}</span>{bar}',
                sparkline(series.get(r.rule_id, {}), days, today),
            ]
        )
    return (
        "<h2>Rules: volume and false-positive rate</h2>"
        '<p class="small">FP rate = false positives ÷ alerts with a verdict (false positive, escalated or '
        "resolved). Open alerts do not count.</p>"
        + table(["Rule", "Alerts", "Confirmed", "False positive", "Open", "FP rate", "Per day"], rows)
    )


def _series(title: str, label: str, rows: Sequence[Mapping[str, Any]], days: int, today: date) -> str:
    series = _by_key(rows)
    if not series:
        return f'<h2>{h(title)}</h2><p class="empty">Nothing in this window.</p>'
    ordered = sorted(series.items(), key=lambda kv: -sum(kv[1].values()))
    body = [[h(k), str(sum(v.values())), sparkline(v, days, today)] for k, v in ordered]
    return f"<h2>{h(title)}</h2>" + table([label, "Alerts", "Per day"], body)


def _top(title: str, label: str, rows: Sequence[Mapping[str, Any]], link: str | None) -> str:
    if not rows:
        return f'<h2>{h(title)}</h2><p class="empty">Nothing in this window.</p>'
    body = [
        [
            h(r["key"]),
            str(r["alerts"]),
            str(r["subjects"]),
            level_badge(int(r["max_level"])),
            str(r["cleartext"]),
            str(r["fp"]),
        ]
        for r in rows
    ]
    return f"<h2>{h(title)}</h2>" + table(
        [label, "Alerts", "Subjects (sum)", "Max level", "Cleartext", "False positive"], body
    )


def _dead_letters(counts: Mapping[str, int]) -> str:
    if not counts:
        return '<h2>Dead letters</h2><p class="empty">No input was rejected.</p>'
    rows = [[h(k), str(v)] for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]
    return (
        '<h2>Dead letters by reason</h2><p class="small">Input the pipeline could not process '
        "(kept as metadata only, never the payload).</p>" + table(["Reason", "Count"], rows)
    )


def _by_key(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(str(r["key"]), {})[str(r["day"])] = int(r["n"])
    return out


def _range(days: int) -> str:
    return {7: "7d", 30: "30d", 90: "90d"}.get(days, "all")


def sparkline(per_day: Mapping[str, int], days: int, today: date, width: int = 180, height: int = 28) -> str:
    """An inline SVG bar per day (oldest left); no script, so it survives the strict CSP."""
    keys = [(today - timedelta(days=i)).isoformat() for i in range(days - 1, -1, -1)]
    values = [per_day.get(k, 0) for k in keys]
    peak = max(values) or 1
    bw = width / len(values)
    bars = "".join(
        f'<rect x="{i * bw:.1f}" y="{height - v / peak * height:.1f}" width="{max(bw - 1, 1):.1f}" '
        f'height="{v / peak * height:.1f}"><title>{h(k)}: {v}</title></rect>'
        for i, (k, v) in enumerate(zip(keys, values, strict=False))
        if v
    )
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="alerts per day, peak {peak}">{bars}</svg>'
    )
