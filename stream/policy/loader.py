"""Load and validate rule files: every problem in every file is reported at once, with file:line.

A rule file holds one rule (a mapping) or several (a list of mappings). Validation covers unknown
keys (with a did-you-mean), wrong types, unknown kinds, bad parameters, bad conditions, bad
severity models and duplicate rule ids across all files; nothing is loaded unless everything is
valid, because a half-loaded policy silently misses alerts. Context files (assets, zones,
approvals: :mod:`stream.policy.context`) load in the same pass, so ``healthdlp policy check``
reports rule and context problems together, and a rule naming an asset the context lacks is an
error too.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model.yamlsrc import (
    ConfigError,
    ConfigIssue,
    LineList,
    load_yaml_file,
    load_yaml_text,
    unknown_key_message,
    where,
)
from stream.policy.base import Evaluator
from stream.policy.conditions import FlowIn, Match, parse_match
from stream.policy.context import Context, load_context
from stream.policy.kinds import KINDS
from stream.policy.policy import Policy
from stream.policy.rule import Playbook, Rule
from stream.policy.severity import parse_severity

BUNDLED_RULES = Path(__file__).resolve().parent / "rules"
STANDARD = "GB/T 39725-2020"

RULE_KEYS = ("id", "version", "title", "description", "clauses", "kind", "severity", "playbook",
             "parameters", "match", "unless", "enabled", "approvals")
REQUIRED = ("id", "version", "title", "description", "clauses", "kind", "severity", "playbook")
PLAYBOOK_KEYS = ("id", "check", "dispose")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_CLAUSE = re.compile(r"§\s*\d+(\.\d+)*")


def load_policy(paths: Sequence[str] = (), context: Sequence[str] = (), *, hash_key: bytes = b"") -> Policy:
    """Rules from files and directories (``*.yaml``/``*.yml``); ``()`` loads the bundled rules.

    ``context``: context files/directories (``()``: the empty context, where every private
    address is the controller's intranet and every public one the internet). ``hash_key`` keys
    the hashes a kind keeps of quasi-identifier combinations (the detectors' HMAC key).
    """
    issues: list[ConfigIssue] = []
    ctx = _context(context, issues, hash_key)
    files = _rule_files(paths or (str(BUNDLED_RULES),), issues)
    rules: list[Rule] = []
    for f in files:
        try:
            data = load_yaml_file(f)
        except ConfigError as e:
            issues.extend(e.issues)
            continue
        rules.extend(_parse_document(data, str(f), issues))
    return _finish(rules, issues, ctx)


def load_policy_text(text: str, source: str = "<string>", context: Context | None = None) -> Policy:
    """Rules from YAML text (tests, ``policy check`` of a snippet); same validation as files."""
    issues: list[ConfigIssue] = []
    data = load_yaml_text(text, source)
    return _finish(_parse_document(data, source, issues), issues, context)


def _context(paths: Sequence[str], issues: list[ConfigIssue], hash_key: bytes) -> Context | None:
    try:
        ctx = load_context(paths)
    except ConfigError as e:
        issues.extend(e.issues)
        return None
    ctx.hash_key = hash_key
    return ctx


def _check_assets(rules: list[Rule], ctx: Context, issues: list[ConfigIssue]) -> None:
    """A rule that names an asset the context does not define can never match: say so at load."""
    if not ctx.assets:
        return
    for r in rules:
        for block in (r.match, r.unless):
            for c in block.conditions if block is not None else ():
                if isinstance(c, FlowIn) and c.path in ("src.asset", "dst.asset"):
                    for v in sorted(c.values - set(ctx.by_id)):
                        issues.append(ConfigIssue(r.source, f"rule {r.id!r}: asset {v!r} is not defined in the "
                                                            f"context ({', '.join(ctx.sources)})"))


def _finish(rules: list[Rule], issues: list[ConfigIssue], context: Context | None = None) -> Policy:
    if context is not None:
        _check_assets(rules, context, issues)
    first: dict[str, Rule] = {}
    for r in rules:
        if r.id in first:
            msg = f"duplicate rule id {r.id!r} (first defined at {first[r.id].source})"
            issues.append(ConfigIssue(r.source, msg))
        else:
            first[r.id] = r
    evaluators: list[Evaluator] = []
    for r in rules:
        try:
            evaluators.append(KINDS[r.kind].bind(r))
        except ValueError as e:
            issues.append(ConfigIssue(r.source, f"rule {r.id!r}: {e}"))
    if issues:
        raise ConfigError(issues)
    return Policy(rules, evaluators, context)


def is_test_file(p: Path) -> bool:
    """Rule test cases live next to the rules as ``*.test.yaml``; a rules directory skips them."""
    return p.name.endswith((".test.yaml", ".test.yml"))


def _rule_files(paths: Sequence[str], issues: list[ConfigIssue]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(c for c in p.iterdir() if c.suffix in (".yaml", ".yml") and c.is_file()
                           and not is_test_file(c))
            if not found:
                issues.append(ConfigIssue(f"{p}:0", "directory holds no rule files (*.yaml, *.yml)"))
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            issues.append(ConfigIssue(f"{p}:0", "no such rule file or directory"))
    return files


def _parse_document(data: Any, source: str, issues: list[ConfigIssue]) -> list[Rule]:
    if data is None:
        issues.append(ConfigIssue(f"{source}:1", "the rule file is empty"))
        return []
    nodes = data if isinstance(data, list) else [data]
    rules = []
    for i, node in enumerate(nodes):
        if not isinstance(node, dict):
            loc = data.where(i) if isinstance(data, LineList) else f"{source}:1"
            issues.append(ConfigIssue(loc, "a rule must be a mapping (id, version, title, kind, ...)"))
            continue
        rule = parse_rule(node, issues)
        if rule is not None:
            rules.append(rule)
    return rules


def parse_rule(node: dict[str, Any], issues: list[ConfigIssue]) -> Rule | None:
    """One rule from its YAML mapping; appends every problem to ``issues`` and returns None if any."""
    before = len(issues)
    unknown = [k for k in node if k not in RULE_KEYS]
    issues.extend(ConfigIssue(where(node, k), unknown_key_message(k, RULE_KEYS)) for k in unknown)
    missing = [k for k in REQUIRED if k not in node]
    if missing:
        issues.append(ConfigIssue(where(node), f"rule is missing required key(s): {', '.join(missing)}"))
    rid, version, kind = _rule_id(node, issues), _version(node, issues), _kind(node, issues)
    title, description = _text(node, "title", issues), _text(node, "description", issues)
    clauses, enabled = _clauses(node, issues), _enabled(node, issues)
    severity = None
    if "severity" in node:
        severity, sev_issues = parse_severity(node["severity"], where(node, "severity"))
        issues.extend(sev_issues)
    playbook = _playbook(node, rid, issues)
    parameters = _parameters(node, kind, issues)
    match, unless = _block(node, "match", issues), _block(node, "unless", issues)
    honour = node.get("approvals", "honour")
    if honour not in ("honour", "ignore"):
        issues.append(ConfigIssue(where(node, "approvals"), f"'approvals' must be honour or ignore, not {honour!r}"))
    if len(issues) > before or None in (rid, version, kind, severity, playbook):
        return None
    assert rid is not None and version is not None and kind is not None  # for mypy: checked above
    assert severity is not None and playbook is not None
    return Rule(
        id=rid, version=version, title=title, description=description, clauses=clauses, kind=kind,
        severity=severity, playbook=playbook, parameters=parameters, match=match or Match(), unless=unless,
        enabled=enabled, source=where(node), honour_approvals=honour == "honour",
    )


def _version(node: dict[str, Any], issues: list[ConfigIssue]) -> int | None:
    version = node.get("version")
    if "version" not in node:
        return None
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        msg = f"'version' must be an integer ≥ 1, not {version!r}"
        issues.append(ConfigIssue(where(node, "version"), msg))
        return None
    return version


def _enabled(node: dict[str, Any], issues: list[ConfigIssue]) -> bool:
    enabled = node.get("enabled", True)
    if not isinstance(enabled, bool):
        issues.append(ConfigIssue(where(node, "enabled"), "'enabled' must be true or false"))
        return False
    return enabled


def _block(node: dict[str, Any], key: str, issues: list[ConfigIssue]) -> Match | None:
    if key not in node:
        return None
    match, found = parse_match(node[key], where(node, key), key)
    issues.extend(found)
    return match


def _rule_id(node: dict[str, Any], issues: list[ConfigIssue]) -> str | None:
    rid = node.get("id")
    if "id" not in node:
        return None
    if not isinstance(rid, str) or not _ID.match(rid):
        msg = f"'id' must be 2-64 lowercase letters, digits, '.', '_' or '-', not {rid!r}"
        issues.append(ConfigIssue(where(node, "id"), msg))
        return None
    return rid


def _text(node: dict[str, Any], key: str, issues: list[ConfigIssue]) -> str:
    v = node.get(key, "")
    if key in node and (not isinstance(v, str) or not v.strip()):
        issues.append(ConfigIssue(where(node, key), f"{key!r} must be a non-empty string"))
        return ""
    return str(v).strip()


def _clauses(node: dict[str, Any], issues: list[ConfigIssue]) -> tuple[str, ...]:
    """Clause references; a bare "§8.1 Table 3" is prefixed with the standard so alerts read uniformly."""
    v = node.get("clauses")
    if "clauses" not in node:
        return ()
    if not isinstance(v, list) or not v or not all(isinstance(c, str) and c.strip() for c in v):
        msg = "'clauses' must be a non-empty list of clause references"
        issues.append(ConfigIssue(where(node, "clauses"), msg))
        return ()
    out = []
    for i, c in enumerate(v):
        c = c.strip()
        if not _CLAUSE.search(c):
            loc = v.where(i) if isinstance(v, LineList) else where(node, "clauses")
            msg = f"clause {c!r} names no section; write e.g. '§8.2 Table 4 (transmission)'"
            issues.append(ConfigIssue(loc, msg))
        out.append(f"{STANDARD} {c}" if c.startswith("§") else c)
    return tuple(out)


def _kind(node: dict[str, Any], issues: list[ConfigIssue]) -> str | None:
    kind = node.get("kind")
    if "kind" not in node:
        return None
    if not isinstance(kind, str) or kind not in KINDS:
        close = difflib.get_close_matches(str(kind), list(KINDS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known kinds: {', '.join(sorted(KINDS))}"
        issues.append(ConfigIssue(where(node, "kind"), f"unknown kind {kind!r}{hint}"))
        return None
    return kind


def _parameters(node: dict[str, Any], kind: str | None, issues: list[ConfigIssue]) -> dict[str, Any]:
    raw = node.get("parameters", {})
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        issues.append(ConfigIssue(where(node, "parameters"), "'parameters' must be a mapping"))
        return {}
    if kind is None:
        return {}
    spec = KINDS[kind].params
    out = {name: p.default for name, p in spec.items()}
    for name, value in raw.items():
        if name not in spec:
            issues.append(ConfigIssue(where(raw, name), f"kind {kind!r}: " + unknown_key_message(name, spec)))
            continue
        try:
            out[name] = spec[name].parse(value)
        except ValueError as e:
            issues.append(ConfigIssue(where(raw, name), f"parameter {name!r} {e}"))
    return out


def _playbook(node: dict[str, Any], rid: str | None, issues: list[ConfigIssue]) -> Playbook | None:
    pb = node.get("playbook")
    if "playbook" not in node:
        return None
    loc = where(node, "playbook")
    if not isinstance(pb, dict):
        issues.append(ConfigIssue(loc, "'playbook' must be a mapping with 'check' and 'dispose' step lists"))
        return None
    bad = False
    for k in pb:
        if k not in PLAYBOOK_KEYS:
            issues.append(ConfigIssue(where(pb, k), unknown_key_message(k, PLAYBOOK_KEYS)))
            bad = True
    steps: dict[str, tuple[str, ...]] = {}
    for k in ("check", "dispose"):
        v = pb.get(k)
        if not isinstance(v, list) or not v or not all(isinstance(s, str) and s.strip() for s in v):
            issues.append(ConfigIssue(where(pb, k, loc), f"playbook {k!r} must be a non-empty list of steps"))
            bad = True
            continue
        steps[k] = tuple(s.strip() for s in v)
    pid = pb.get("id", rid or "")
    if "id" in pb and (not isinstance(pid, str) or not pid):
        issues.append(ConfigIssue(where(pb, "id", loc), "playbook 'id' must be a non-empty string"))
        bad = True
    if bad:
        return None
    return Playbook(id=str(pid), check=steps["check"], dispose=steps["dispose"])
