"""Fill a playbook with an alert's facts and draft the written incident report (§9.4 item 4).

Output here is plain text; the console escapes it when it puts it in HTML. Facts are masked
alert fields only (the store never holds raw values), and the report names no data subject:
it carries the distinct-subject *count*, never the subject hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from dashboards.glossary import LEVEL_AUDIENCE, ClauseInfo, category_label, explain_clause, level_name
from dashboards.playbooks.spec import PHASE_TITLES, GradeRule, Playbook
from dashboards.triage import TRIAGE_STATES, TriageEntry
from model.alerts import Alert
from model.taxonomy import CLEARTEXT_CAPABLE


@dataclass(frozen=True, slots=True)
class RenderedStep:
    number: int
    phase: str
    phase_title: str
    title: str
    clauses: tuple[ClauseInfo, ...]
    actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RenderedPlaybook:
    playbook: Playbook
    grade: GradeRule
    summary: str
    steps: tuple[RenderedStep, ...]
    report: str  # the "copy incident report draft" text


def utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def alert_facts(alert: Alert, grade: GradeRule | None = None) -> dict[str, str]:
    """Every name in FACTS, as display text."""
    return {
        "alert_id": alert.alert_id,
        "rule_id": alert.rule_id,
        "title": alert.title or alert.rule_id,
        "severity": alert.severity,
        "channel": alert.channel,
        "src": alert.src or "unknown source",
        "dst": alert.dst or "unknown destination",
        "actor": alert.actor or "unknown principal",
        "encryption": _encryption(alert),
        "entities": ", ".join(alert.entities) or "none recorded",
        "categories": "; ".join(category_label(c) for c in alert.categories) or "none recorded",
        "max_level": str(alert.max_level),
        "level_name": level_name(alert.max_level),
        "level_audience": LEVEL_AUDIENCE.get(alert.max_level, "not graded"),
        "subjects": str(alert.subjects),
        "observed_at": utc(alert.observed_at),
        "last_seen": utc(alert.last_seen),
        "sensor_id": alert.sensor_id or "unknown sensor",
        "event_count": str(len(alert.event_ids)),
        "evidence_count": str(len(alert.evidence)),
        "clauses": ", ".join(alert.clauses) or "none",
        "grade": grade.grade if grade else "",
        "grade_label": grade.label if grade else "",
    }


def _encryption(alert: Alert) -> str:
    if alert.encrypted:
        return "encrypted"
    return "cleartext" if alert.channel in CLEARTEXT_CAPABLE else "not reported as encrypted"


def render_playbook(
    playbook: Playbook, alert: Alert, history: Sequence[TriageEntry] = (), now: float | None = None
) -> RenderedPlaybook:
    grade = playbook.grade(alert.max_level, alert.subjects, alert.channel, alert.encrypted)
    facts = alert_facts(alert, grade)
    steps = tuple(
        RenderedStep(
            number=i,
            phase=s.phase,
            phase_title=PHASE_TITLES[s.phase],
            title=s.title.format_map(facts),
            clauses=tuple(explain_clause(c) for c in s.clauses),
            actions=tuple(a.format_map(facts) for a in s.actions),
        )
        for i, s in enumerate(playbook.steps, start=1)
    )
    summary = playbook.summary.format_map(facts)
    draft = incident_report(playbook, alert, grade, steps, history, now)
    return RenderedPlaybook(playbook, grade, summary, steps, draft)


def incident_report(
    playbook: Playbook,
    alert: Alert,
    grade: GradeRule,
    steps: Sequence[RenderedStep],
    history: Sequence[TriageEntry],
    now: float | None = None,
) -> str:
    """Draft of the written report: event description, cause and impact analysis, handling."""
    f = alert_facts(alert, grade)
    prepared = utc(now) if now is not None else utc(datetime.now(tz=UTC).timestamp())
    lines = [
        "INCIDENT REPORT (DRAFT) - personal health data",
        "Written per GB/T 39725-2020 §9.4: event description, cause and impact analysis, handling.",
        f"Prepared: {prepared}   Prepared by: ________   Alert: {f['alert_id']}",
        f"Incident grade: {grade.grade} ({grade.label}){' - ' + grade.meaning if grade.meaning else ''}",
        "",
        "1. EVENT DESCRIPTION",
        f"   What:     {f['title']} (rule {f['rule_id']} v{alert.rule_version}, severity {f['severity']})",
        f"   When:     first seen {f['observed_at']}, last seen {f['last_seen']}",
        f"   Where:    {f['src']} -> {f['dst']} over {f['channel']} ({f['encryption']}), "
        f"sensor {f['sensor_id']}",
        f"   Who:      {f['actor']}",
        f"   Data:     {f['categories']}",
        f"   Level:    {f['level_name']} - access limited to {f['level_audience']}",
        f"   Entities: {f['entities']}",
        f"   Subjects: {f['subjects']} distinct data subjects (counted by keyed hash; no identifiers here)",
        f"   Record:   {f['event_count']} events, {f['evidence_count']} masked evidence samples "
        "held in the alert store",
        "",
        "2. CAUSE ANALYSIS",
        *_para(playbook.report.get("cause", "Describe how the data left its authorised scope."), f),
        "   Confirmed cause: ________",
        "",
        "3. IMPACT ANALYSIS",
        *_para(playbook.report.get("impact", "Describe who and what is affected."), f),
        "",
        "4. HANDLING",
        *_para(playbook.report.get("handling", "List what was done, by whom and when."), f),
        *_history_lines(history),
        "   Playbook steps:",
        *(f"   [ ] {s.number}. {s.phase_title}: {s.title}" for s in steps),
        "",
        "5. CLAUSES",
        *(
            f"   {c.ref} - {c.title}"
            for c in (explain_clause(x) for x in (*alert.clauses, *playbook.clauses))
        ),
    ]
    return "\n".join(lines) + "\n"


def _para(template: str, facts: dict[str, str]) -> list[str]:
    return [f"   {line}" for line in template.format_map(facts).splitlines() if line.strip()]


def _history_lines(history: Sequence[TriageEntry]) -> list[str]:
    if not history:
        return ["   Triage history: none recorded yet."]
    out = ["   Triage history:"]
    for h in history:
        note = " ".join(h.note.split())
        state = TRIAGE_STATES.get(h.state, h.state)
        out.append(
            f"   - {utc(h.at)}  {h.state} ({state})  by {h.who or 'unknown'}" + (f": {note}" if note else "")
        )
    return out
