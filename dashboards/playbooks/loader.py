"""Load and validate playbook YAML; every problem is reported with file:line, all at once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dashboards.glossary import explain_clause
from dashboards.playbooks.spec import (
    BUNDLED_DIR,
    DEFAULT_ID,
    FACTS,
    PHASES,
    GradeRule,
    Playbook,
    PlaybookSet,
    Step,
    template_fields,
)
from model.yamlsrc import ConfigError, ConfigIssue, LineDict, load_yaml_file, unknown_key_message, where

_TOP_KEYS = ("playbook", "version", "title", "summary", "clauses", "grading", "steps", "report")
_GRADE_KEYS = ("grade", "label", "meaning", "when")
_WHEN_KEYS = ("min_level", "min_subjects", "channels", "encrypted")
_STEP_KEYS = ("phase", "title", "clauses", "actions")
_REPORT_KEYS = ("cause", "impact", "handling")


def load_playbooks(paths: Sequence[str | Path] = ()) -> PlaybookSet:
    """The bundled playbooks, then ``paths`` (files or directories) which override by id."""
    issues: list[ConfigIssue] = []
    bundled = _load_files(sorted(BUNDLED_DIR.glob("*.yaml")), issues)
    extra = _load_files(_expand(paths, issues), issues)
    merged = {**bundled, **extra}
    if DEFAULT_ID not in merged and not issues:
        issues.append(ConfigIssue(f"{BUNDLED_DIR}:0", f"no {DEFAULT_ID!r} playbook"))
    if issues:
        raise ConfigError(issues)
    return PlaybookSet(merged)


def _expand(paths: Iterable[str | Path], issues: list[ConfigIssue]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted([*p.glob("*.yaml"), *p.glob("*.yml")]))
        elif p.is_file():
            out.append(p)
        else:
            issues.append(ConfigIssue(f"{p}:0", "playbook file or directory does not exist"))
    return out


def _load_files(files: Iterable[Path], issues: list[ConfigIssue]) -> dict[str, Playbook]:
    found: dict[str, Playbook] = {}
    for f in files:
        try:
            node = load_yaml_file(f)
        except ConfigError as e:
            issues.extend(e.issues)
            continue
        pb = parse_playbook(node, str(f), issues)
        if pb is None:
            continue
        if pb.playbook_id in found:
            issues.append(
                ConfigIssue(
                    pb.source,
                    f"playbook {pb.playbook_id!r} is also defined at {found[pb.playbook_id].source}",
                )
            )
            continue
        found[pb.playbook_id] = pb
    return found


def parse_playbook(node: Any, source: str, issues: list[ConfigIssue]) -> Playbook | None:
    """Validate one playbook document; append every problem to ``issues``; None if unusable."""
    if not isinstance(node, LineDict):
        issues.append(ConfigIssue(f"{source}:1", "a playbook must be a mapping"))
        return None
    before = len(issues)
    _check_keys(node, _TOP_KEYS, issues)
    pid = _text(node, "playbook", issues)
    title = _text(node, "title", issues)
    version = node.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        issues.append(ConfigIssue(node.where("version"), "'version' must be a positive integer"))
        version = 1
    summary = _text(node, "summary", issues, required=False)
    _check_template(summary, node.where("summary"), issues)
    clauses = _clauses(node, "clauses", issues)
    grading = _grading(node, issues)
    steps = _steps(node, issues)
    report = _report(node, issues)
    if len(issues) > before:
        return None
    return Playbook(pid, version, title, summary, clauses, grading, steps, report, node.where())


def _check_keys(node: LineDict, known: Sequence[str], issues: list[ConfigIssue]) -> None:
    for key in node:
        if key not in known:
            issues.append(ConfigIssue(node.where(key), unknown_key_message(key, known)))


def _text(node: LineDict, key: str, issues: list[ConfigIssue], required: bool = True) -> str:
    value = node.get(key)
    if value is None:
        if required:
            issues.append(ConfigIssue(node.where(), f"missing {key!r}"))
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        issues.append(ConfigIssue(node.where(key), f"{key!r} must be non-empty text"))
        return ""
    return value.strip()


def _clauses(node: LineDict, key: str, issues: list[ConfigIssue]) -> tuple[str, ...]:
    value = node.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
        issues.append(
            ConfigIssue(
                node.where(key if key in node else None),
                f"{key!r} must be a non-empty list of clause references",
            )
        )
        return ()
    for c in value:
        if not explain_clause(c).known:
            issues.append(
                ConfigIssue(
                    node.where(key),
                    f"unknown clause reference {c!r} (e.g. 'GB/T 39725-2020 §9.4', 'Annex F')",
                )
            )
    return tuple(value)


def _grading(node: LineDict, issues: list[ConfigIssue]) -> tuple[GradeRule, ...]:
    items = node.get("grading")
    if not isinstance(items, list) or not items:
        issues.append(
            ConfigIssue(
                node.where("grading" if "grading" in node else None),
                "'grading' must be a non-empty list of grades",
            )
        )
        return ()
    rules = [r for r in (_grade(item, issues) for item in items) if r is not None]
    if len(rules) == len(items) and not rules[-1].catch_all:
        issues.append(ConfigIssue(where(items[-1]), "the last grade must match every alert (empty 'when')"))
    return tuple(rules)


def _grade(item: Any, issues: list[ConfigIssue]) -> GradeRule | None:
    if not isinstance(item, LineDict):
        issues.append(ConfigIssue(where(item), "each grade must be a mapping"))
        return None
    _check_keys(item, _GRADE_KEYS, issues)
    grade = _text(item, "grade", issues)
    label = _text(item, "label", issues)
    meaning = _text(item, "meaning", issues, required=False)
    when = item.get("when", {})
    if not isinstance(when, dict):
        issues.append(ConfigIssue(item.where("when"), "'when' must be a mapping"))
        return None
    if isinstance(when, LineDict):
        _check_keys(when, _WHEN_KEYS, issues)
    kw: dict[str, Any] = {}
    for key in ("min_level", "min_subjects"):
        v = when.get(key, 0)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            issues.append(ConfigIssue(where(when, key), f"{key!r} must be a non-negative integer"))
        else:
            kw[key] = v
    channels = when.get("channels", [])
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        issues.append(ConfigIssue(where(when, "channels"), "'channels' must be a list of channel names"))
    else:
        kw["channels"] = tuple(channels)
    enc = when.get("encrypted")
    if enc is not None and not isinstance(enc, bool):
        issues.append(ConfigIssue(where(when, "encrypted"), "'encrypted' must be true or false"))
    else:
        kw["encrypted"] = enc
    return GradeRule(grade, label, meaning, **kw)


def _steps(node: LineDict, issues: list[ConfigIssue]) -> tuple[Step, ...]:
    items = node.get("steps")
    if not isinstance(items, list) or not items:
        issues.append(
            ConfigIssue(node.where("steps" if "steps" in node else None), "'steps' must be a non-empty list")
        )
        return ()
    steps: list[Step] = []
    last_phase = -1
    for item in items:
        step = _step(item, issues)
        if step is None:
            continue
        idx = PHASES.index(step.phase)
        if idx < last_phase:
            issues.append(
                ConfigIssue(
                    where(item, "phase"),
                    f"phase {step.phase!r} comes after {PHASES[last_phase]!r}; order is {', '.join(PHASES)}",
                )
            )
        last_phase = max(last_phase, idx)
        steps.append(step)
    missing = [p for p in PHASES if p not in {s.phase for s in steps}]
    if missing and len(steps) == len(items):
        issues.append(ConfigIssue(node.where("steps"), f"missing §9.4 phase(s): {', '.join(missing)}"))
    return tuple(steps)


def _step(item: Any, issues: list[ConfigIssue]) -> Step | None:
    if not isinstance(item, LineDict):
        issues.append(ConfigIssue(where(item), "each step must be a mapping"))
        return None
    before = len(issues)
    _check_keys(item, _STEP_KEYS, issues)
    phase = _text(item, "phase", issues)
    if phase and phase not in PHASES:
        issues.append(ConfigIssue(item.where("phase"), f"'phase' must be one of {', '.join(PHASES)}"))
    title = _text(item, "title", issues)
    _check_template(title, item.where("title"), issues)
    clauses = _clauses(item, "clauses", issues)
    actions = item.get("actions")
    if not isinstance(actions, list) or not actions or not all(isinstance(a, str) for a in actions):
        issues.append(
            ConfigIssue(
                item.where("actions" if "actions" in item else None),
                "'actions' must be a non-empty list of text",
            )
        )
        actions = []
    for i, a in enumerate(actions):
        _check_template(a, actions.where(i) if hasattr(actions, "where") else item.where(), issues)
    if len(issues) > before:
        return None
    return Step(phase, title, clauses, tuple(a.strip() for a in actions))


def _report(node: LineDict, issues: list[ConfigIssue]) -> dict[str, str]:
    value = node.get("report", {})
    if not isinstance(value, LineDict):
        if value:
            issues.append(ConfigIssue(node.where("report"), "'report' must be a mapping"))
        return {}
    _check_keys(value, _REPORT_KEYS, issues)
    out: dict[str, str] = {}
    for key in _REPORT_KEYS:
        text = _text(value, key, issues, required=False)
        _check_template(text, value.where(key), issues)
        if text:
            out[key] = text
    return out


def _check_template(text: str, loc: str, issues: list[ConfigIssue]) -> None:
    try:
        names = template_fields(text)
    except ValueError as e:
        issues.append(ConfigIssue(loc, f"bad template: {e}"))
        return
    for name in names:
        if name not in FACTS:
            hint = unknown_key_message(name, FACTS).split("; ", 1)[1]
            issues.append(ConfigIssue(loc, f"unknown fact {{{name}}}; {hint}"))
