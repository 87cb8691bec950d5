"""One alert: every fact, why it fired, what the standard says, what to do, and the verdict form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dashboards.console.data import RuleStats
from dashboards.console.html import (
    encryption_badge,
    h,
    level_badge,
    page,
    severity_badge,
    state_badge,
    table,
    utc_short,
)
from dashboards.glossary import LEVEL_AUDIENCE, category_label, explain_clause, level_name
from dashboards.playbooks import RenderedPlaybook
from dashboards.triage import TRIAGE_ACTIONS, TRIAGE_STATES, TriageEntry
from model.alerts import Alert


def detail_page(
    alert: Alert,
    history: Sequence[TriageEntry],
    playbook: RenderedPlaybook,
    related: Sequence[Mapping[str, Any]],
    rule: RuleStats | None,
    csrf: str,
    error: Mapping[str, str] | None = None,
) -> str:
    g = playbook.grade
    head = (
        f'<p class="crumbs"><a href="/">← queue</a></p>'
        f"<h1>{h(alert.title or alert.rule_id)}</h1>"
        f'<p class="badges">{severity_badge(alert.severity)} {level_badge(alert.max_level)} '
        f'{state_badge(alert.triage_state)} <span class="grade" title="{h(g.meaning)}">'
        f"grade {h(g.grade)} · {h(g.label)}</span></p>"
        f'<p class="summary">{h(playbook.summary)}</p>'
    )
    left = (
        _facts(alert)
        + _why(alert, rule)
        + _rule_checks(alert.details)
        + _evidence(alert)
        + _details(alert.details)
        + _related(related)
    )
    right = _triage_form(alert, csrf, error) + _history(history) + _playbook(playbook)
    cols = f'<section class="left">{left}</section><section class="right">{right}</section>'
    body = f'{head}<div class="cols">{cols}</div>'
    return page(f"Alert {alert.alert_id[:12]}", body, active="queue")


def _facts(a: Alert) -> str:
    cats = "<br>".join(h(category_label(c)) for c in a.categories) or "—"
    rows = [
        ("Alert id", f"<code>{h(a.alert_id)}</code>"),
        ("Rule", f'<a href="/?rule={h(a.rule_id)}&amp;range=30d">{h(a.rule_id)}</a> v{a.rule_version}'),
        ("Observed", f"{h(utc_short(a.observed_at))} → {h(utc_short(a.last_seen))} UTC"),
        ("Channel", f"{h(a.channel)} — {encryption_badge(a.channel, a.encrypted)}"),
        ("Flow", f'<span class="flow">{h(a.src or "?")} → {h(a.dst or "?")}</span>'),
        ("Principal", h(a.actor or "unknown")),
        ("Sensor", h(a.sensor_id or "—")),
        (
            "Max level",
            f"{level_badge(a.max_level)} access: {h(LEVEL_AUDIENCE.get(a.max_level, 'not graded'))}",
        ),
        ("Categories", cats),
        ("Entities", h(", ".join(a.entities) or "—")),
        ("Distinct subjects", f'<b class="num">{a.subjects}</b> <small>(counted by keyed hash)</small>'),
        (
            "Events",
            f'<details><summary>{len(a.event_ids)} event id(s)</summary><code class="ids">'
            + "<br>".join(h(e) for e in a.event_ids)
            + "</code></details>",
        ),
    ]
    dl = "".join(f"<dt>{h(k)}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<h2>Facts</h2><dl class="facts">{dl}</dl>'


#: Detail keys shown in their own sections rather than in the generic explanation list.
_PROMOTED = ("grading_reason", "severity_reason", "playbook")


def _why(a: Alert, rule: RuleStats | None) -> str:
    clauses = (
        "".join(
            f"<li><b>{h(c.ref)}</b>{' — ' + h(c.title) if c.known else ''}"
            f"<br><small>{h(c.meaning or 'No description for this reference.')}</small></li>"
            for c in (explain_clause(x) for x in a.clauses)
        )
        or "<li>No clause recorded by the rule.</li>"
    )
    level = (
        f"<p>The highest level seen is <b>{h(level_name(a.max_level))}</b>: under §6.2 it may be "
        f"seen by {h(LEVEL_AUDIENCE.get(a.max_level, 'nobody specific'))}.</p>"
    )
    history = ""
    if rule is not None:
        rate = "no verdicts yet" if rule.fp_rate is None else f"{rule.fp_rate:.0%} false positive"
        history = (
            f'<p class="context">Rule <b>{h(rule.rule_id)}</b>, last 30 days: {_n(rule.alerts, "alert")}, '
            f"{rule.confirmed} confirmed, {rule.false_positive} false positive ({h(rate)}), "
            f"{rule.open} open.</p>"
        )
    reasons = "".join(
        f"<p><b>{label}:</b> {h(a.details[key])}</p>"
        for key, label in (("grading_reason", "Level"), ("severity_reason", "Severity"))
        if a.details.get(key)
    )
    return f'<h2>Why this fired</h2>{reasons}{level}<ul class="clauses">{clauses}</ul>{history}'


def _rule_checks(details: Mapping[str, Any]) -> str:
    """The rule author's own check and dispose lists (rule YAML ``playbook:``), when the alert has them."""
    pb = details.get("playbook")
    if not isinstance(pb, Mapping):
        return ""
    parts = []
    for key, label in (("check", "Check"), ("dispose", "Dispose")):
        items = pb.get(key)
        if isinstance(items, (list, tuple)) and items:
            parts.append(f"<h3>{label}</h3><ol>" + "".join(f"<li>{h(x)}</li>" for x in items) + "</ol>")
    return "<h2>Rule guidance</h2>" + "".join(parts) if parts else ""


def _evidence(a: Alert) -> str:
    if not a.evidence:
        return "<h2>Masked evidence</h2><p>None recorded.</p>"
    items = "".join(f"<li><code>{h(e)}</code></li>" for e in a.evidence)
    return f'<h2>Masked evidence</h2><ul class="evidence">{items}</ul>'


def _details(details: Mapping[str, Any]) -> str:
    rest = {k: v for k, v in details.items() if k not in _PROMOTED}
    if not rest:
        return ""
    return f'<h2>Explanation</h2><div class="details">{_value(rest, 0)}</div>'


def _value(v: Any, depth: int) -> str:
    if depth > 4:
        return "<i>…</i>"
    if isinstance(v, Mapping):
        return (
            "<dl>"
            + "".join(f"<dt>{h(k)}</dt><dd>{_value(x, depth + 1)}</dd>" for k, x in v.items())
            + "</dl>"
        )
    if isinstance(v, (list, tuple)):
        return "<ul>" + "".join(f"<li>{_value(x, depth + 1)}</li>" for x in v[:50]) + "</ul>"
    return h(v)


def _related(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "<h2>Same principal, last 30 days</h2><p>No other alerts.</p>"
    body = [
        [
            f'<a href="/alerts/{h(r["alert_id"])}">{h(utc_short(float(r["observed_at"])))}</a>',
            severity_badge(str(r["severity"])),
            h(r["rule_id"]),
            h(r["channel"]),
            h(r["dst"]),
            level_badge(int(r["max_level"])),
            h(r["subjects"]),
            state_badge(str(r["triage_state"])),
        ]
        for r in rows
    ]
    return "<h2>Same principal, last 30 days</h2>" + table(
        ["Observed", "Severity", "Rule", "Channel", "Destination", "Level", "Subjects", "State"], body
    )


def _triage_form(a: Alert, csrf: str, error: Mapping[str, str] | None) -> str:
    buttons = "".join(
        f'<button type="submit" name="state" value="{h(t.state)}" class="act act-{h(t.state)}" '
        f'title="{h(t.hint)}"{" data-needs-note=1" if t.needs_note else ""}>{h(t.label)}</button>'
        for t in TRIAGE_ACTIONS
    )
    problems = "".join(f"<li><b>{h(k)}</b>: {h(v)}</li>" for k, v in (error or {}).items())
    err = f'<ul class="problems">{problems}</ul>' if problems else ""
    return (
        f'<h2>Triage</h2>{err}<form class="triage" method="post" action="/alerts/{h(a.alert_id)}/triage">'
        f'<input type="hidden" name="csrf" value="{h(csrf)}">'
        '<label>Who<input name="who" class="who" required maxlength="64" placeholder="analyst name"></label>'
        '<label>Note<textarea name="note" maxlength="2000" rows="3" '
        'placeholder="What you checked, what you decided and why (required to escalate or close)">'
        f'</textarea></label><div class="actions">{buttons}</div></form>'
    )


def _history(history: Sequence[TriageEntry]) -> str:
    if not history:
        return '<h3>History</h3><p class="empty">No triage yet.</p>'
    items = "".join(
        f'<li><span class="time">{h(utc_short(e.at))}</span> {state_badge(e.state)} '
        f'<b>{h(e.who or "unknown")}</b><span class="hint"> {h(TRIAGE_STATES.get(e.state, ""))}</span>'
        + (f'<div class="note">{h(e.note)}</div>' if e.note else "")
        + "</li>"
        for e in reversed(history)
    )
    return f'<h3>History</h3><ol class="history">{items}</ol>'


def _playbook(pb: RenderedPlaybook) -> str:
    steps = "".join(
        f'<li class="step phase-{h(s.phase)}"><span class="phase">{h(s.phase_title)}</span> '
        f"<b>{h(s.title)}</b>"
        "<ul>" + "".join(f"<li>{h(x)}</li>" for x in s.actions) + "</ul>"
        '<p class="cites">'
        + " · ".join(f'<abbr title="{h(c.title + ": " + c.meaning)}">{h(c.ref)}</abbr>' for c in s.clauses)
        + "</p></li>"
        for s in pb.steps
    )
    return (
        f"<h2>Playbook: {h(pb.playbook.title)}</h2>"
        f'<p class="small">Emergency disposal per GB/T 39725-2020 §9.4 · playbook '
        f"<code>{h(pb.playbook.playbook_id)}</code> v{pb.playbook.version}</p>"
        f'<ol class="playbook">{steps}</ol>'
        "<h3>Incident report draft</h3>"
        '<p class="small">Written report after handling: event description, cause and impact analysis, '
        "handling.</p>"
        f'<textarea id="report" class="report" readonly rows="18">{h(pb.report)}</textarea>'
        '<button type="button" class="copy" data-copy="report">Copy incident report draft</button>'
    )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
