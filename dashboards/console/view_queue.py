"""The alert queue: what needs a human now, newest first, with the counts that set priorities."""

from __future__ import annotations

from collections.abc import Sequence

from dashboards.console.data import QueuePage
from dashboards.console.filters import RANGES, SORTS, QueueFilter
from dashboards.console.html import (
    encryption_badge,
    h,
    level_badge,
    options,
    page,
    severity_badge,
    state_badge,
    utc_short,
)
from dashboards.glossary import SEVERITIES, level_name
from dashboards.triage import TRIAGE_STATES
from model.alerts import Alert
from model.taxonomy import CHANNELS, LEVEL_NAMES


def queue_page(f: QueueFilter, q: QueuePage, rules: Sequence[str]) -> str:
    body = (
        "<h1>Alert queue</h1>" + _counts(f, q) + _filter_form(f, rules) + _notice(f, q) + _table(f, q.alerts)
    )
    return page("Alert queue", body, active="queue")


def _counts(f: QueueFilter, q: QueuePage) -> str:
    chips = "".join(
        f'<a class="count sev-{h(s)}" href="/?{h(f.query_string(severity=s))}" '
        f'title="show {h(s)} and above"><b>{q.counts.get(s, 0)}</b> {h(s)}</a>'
        for s in SEVERITIES
    )
    total = sum(q.counts.values())
    total_html = f'<span class="total">{total} in range</span>'
    return f'<div class="counts" aria-label="alerts per severity">{chips}{total_html}</div>'


def _filter_form(f: QueueFilter, rules: Sequence[str]) -> str:
    rule_opts = options([("", "any rule"), *((r, r) for r in rules)], f.rule)
    if f.rule and f.rule not in rules:
        rule_opts += options([(f.rule, f.rule)], f.rule)
    fields = [
        ("range", "Time", options([(r, r) for r in RANGES], f.range)),
        ("severity", "Severity ≥", options([("", "any"), *((s, s) for s in SEVERITIES)], f.severity)),
        ("rule", "Rule", rule_opts),
        ("channel", "Channel", options([("", "any"), *((c, c) for c in sorted(CHANNELS))], f.channel)),
        (
            "level",
            "Level ≥",
            options([("", "any"), *((str(n), name) for n, name in LEVEL_NAMES.items())], str(f.level or "")),
        ),
        (
            "state",
            "Triage",
            options(
                [
                    ("", "any"),
                    ("open", "open (not closed)"),
                    *((s, s.replace("_", " ")) for s in TRIAGE_STATES),
                ],
                f.state,
            ),
        ),
        ("sort", "Sort", options(list(SORTS.items()), f.sort)),
    ]
    selects = "".join(
        f'<label>{h(label)}<select name="{name}" class="autosubmit">{opts}</select></label>'
        for name, label, opts in fields
    )
    hidden = "".join(
        f'<input type="hidden" name="{n}" value="{h(v)}">'
        for n, v in (("since", f.since), ("until", f.until))
        if v is not None
    )
    return (
        f'<form class="filters" method="get" action="/">{selects}{hidden}'
        f'<label>Limit<input name="limit" type="number" min="1" max="1000" value="{f.limit}"></label>'
        '<button type="submit">Apply</button><a class="reset" href="/">Reset</a></form>'
    )


def _notice(f: QueueFilter, q: QueuePage) -> str:
    shown = len(q.alerts)
    if q.total > shown:
        return (
            f'<p class="notice">Showing {shown} of {q.total} matching alerts, sorted by '
            f"{h(SORTS[f.sort].lower())} among the newest {shown}. Narrow the filters to see the rest.</p>"
        )
    return f'<p class="notice">{q.total} matching alert{"s" if q.total != 1 else ""}.</p>'


def _sort_link(f: QueueFilter, key: str, label: str) -> str:
    cls = ' class="sorted"' if f.sort == key else ""
    return f'<a href="/?{h(f.query_string(sort=key))}"{cls}>{h(label)}</a>'


def _table(f: QueueFilter, alerts: Sequence[Alert]) -> str:
    if not alerts:
        return '<p class="empty">No alerts match. Widen the time range or clear filters.</p>'
    head = (
        f"<th>{_sort_link(f, 'newest', 'Observed (UTC)')}</th>"
        f"<th>{_sort_link(f, 'severity', 'Severity')}</th><th>Rule</th><th>Channel</th>"
        "<th>Flow</th><th>Principal</th>"
        f"<th>{_sort_link(f, 'level', 'Level')}</th><th>{_sort_link(f, 'subjects', 'Subjects')}</th>"
        "<th>Entities</th><th>State</th>"
    )
    rows = "".join(_row(a) for a in alerts)
    return f'<table class="grid queue" id="queue"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _row(a: Alert) -> str:
    href = f"/alerts/{h(a.alert_id)}"
    ents = ", ".join(a.entities[:3]) + (f" +{len(a.entities) - 3}" if len(a.entities) > 3 else "")
    lock = encryption_badge(a.channel, a.encrypted, quiet=True)
    return (
        f'<tr data-href="{href}" tabindex="0">'
        f'<td class="time"><a href="{href}">{h(utc_short(a.observed_at))}</a></td>'
        f"<td>{severity_badge(a.severity)}</td>"
        f'<td><span class="rule">{h(a.rule_id)}</span><br><small>{h(a.title)}</small></td>'
        f"<td>{h(a.channel)} {lock}</td>"
        f'<td class="flow">{h(a.src)} → {h(a.dst)}</td>'
        f"<td>{h(a.actor or '—')}</td>"
        f'<td title="{h(level_name(a.max_level))}">{level_badge(a.max_level)}</td>'
        f'<td class="num">{a.subjects}</td>'
        f"<td><small>{h(ents)}</small></td>"
        f"<td>{state_badge(a.triage_state)}</td></tr>"
    )
