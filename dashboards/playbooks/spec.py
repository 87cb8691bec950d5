"""The playbook data model: phases, the facts templates may use, grades, steps, playbooks."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

BUNDLED_DIR = Path(__file__).resolve().parent
DEFAULT_ID = "default"

#: §9.4 phases in the order a response runs through them; every playbook covers all of them.
PHASES: tuple[str, ...] = ("contain", "assess", "preserve", "report", "notify", "review")
PHASE_TITLES: dict[str, str] = {
    "contain": "Contain",
    "assess": "Assess scope",
    "preserve": "Preserve evidence",
    "report": "Report in writing",
    "notify": "Notify",
    "review": "Review",
}

#: The alert facts a template may use. Anything else is a load-time error (no attribute access).
FACTS: tuple[str, ...] = (
    "alert_id",
    "rule_id",
    "title",
    "severity",
    "channel",
    "src",
    "dst",
    "actor",
    "encryption",
    "entities",
    "categories",
    "max_level",
    "level_name",
    "level_audience",
    "subjects",
    "observed_at",
    "last_seen",
    "sensor_id",
    "event_count",
    "evidence_count",
    "clauses",
    "grade",
    "grade_label",
)


@dataclass(frozen=True, slots=True)
class GradeRule:
    grade: str
    label: str
    meaning: str
    min_level: int = 0
    min_subjects: int = 0
    channels: tuple[str, ...] = ()
    encrypted: bool | None = None

    @property
    def catch_all(self) -> bool:
        return not (self.min_level or self.min_subjects or self.channels or self.encrypted is not None)

    def matches(self, level: int, subjects: int, channel: str, encrypted: bool) -> bool:
        return (
            level >= self.min_level
            and subjects >= self.min_subjects
            and (not self.channels or channel in self.channels)
            and (self.encrypted is None or encrypted == self.encrypted)
        )


@dataclass(frozen=True, slots=True)
class Step:
    phase: str
    title: str
    clauses: tuple[str, ...]
    actions: tuple[str, ...]  # templates over FACTS


@dataclass(frozen=True, slots=True)
class Playbook:
    playbook_id: str  # the rule id it answers, or "default"
    version: int
    title: str
    summary: str
    clauses: tuple[str, ...]
    grading: tuple[GradeRule, ...]
    steps: tuple[Step, ...]
    report: Mapping[str, str]  # cause / impact / handling prompts (templates)
    source: str  # file:line, for "edit this playbook" hints

    def grade(self, level: int, subjects: int, channel: str, encrypted: bool) -> GradeRule:
        """First matching grade; the loader guarantees the last one matches everything."""
        for rule in self.grading:
            if rule.matches(level, subjects, channel, encrypted):
                return rule
        return self.grading[-1]


@dataclass(frozen=True)
class PlaybookSet:
    by_id: Mapping[str, Playbook]

    def for_rule(self, rule_id: str) -> Playbook:
        return self.by_id.get(rule_id) or self.by_id[DEFAULT_ID]

    def __len__(self) -> int:
        return len(self.by_id)


def template_fields(text: str) -> list[str]:
    """The ``{name}`` fields of a step template; ValueError for braces that are not plain names."""
    names: list[str] = []
    for _literal, field, spec, conv in string.Formatter().parse(text):
        if field is None:
            continue
        if not field.isidentifier() or spec or conv:
            raise ValueError(f"{{{field}}} must be a plain fact name like {{subjects}}")
        names.append(field)
    return names
