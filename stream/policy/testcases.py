"""Rule test cases as data: YAML given/expect pairs next to the rules (``*.test.yaml``).

A security team that tunes a rule must be able to say, in the rule's own terms, what it must and
must not alert on, and have a tool check it (``healthdlp policy test``). A test file::

    rules: [rules.yaml]          # relative to this file; default: the rule files next to it
    context: [context.yaml]      # optional context files, same convention, or an inline context mapping
    cases:
      - name: cleartext L4 to the internet alerts
        given:                   # one event, or a list of events (windows: given in time order)
          - channel: http
            src: 10.1.2.3:51544
            dst: 203.0.113.9:80
            scan: {level: 4, subjects: 1, categories: [personal_attribute, health_status]}
        expect:
          alerts: [{rule: cleartext-health-data, severity: high}]
          allowed: []            # allowed-by-approval records expected (rule, approval)

Event keys: ``channel``, ``source_kind`` (net), ``at`` (ISO time; default 2025-11-24 10:00
+08:00, a Monday morning) or ``t`` (offset from that, e.g. ``90s``/``2h``), ``src``/``dst``
(``host[:port]``), ``src_name``/``dst_name`` (AE title, host name), ``sni``, ``actor``,
``device``, ``encrypted``, ``attributes``, ``repeat`` (copies, ``step`` apart, default 60 s) and
``scan`` (a hand-built scan result: ``level``, ``subjects`` — a count of fresh subjects
per event or a list of labels, equal labels being the same person —, ``categories``,
``entities``, ``classes`` for special-disease findings, ``identifiers: false`` to make the
subject findings non-identifying) and/or ``content`` (the message text; scanned by the real
detectors unless ``scan`` is given; ``{i}`` is replaced by the repeat index).

``expect.alerts`` lists exactly the rules that must alert (each entry may also pin ``severity``,
``subjects``, ``max_level``, ``count`` = how many alert ids); ``[]`` means none. Every problem is
reported with the case's file:line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.alerts import Alert
from model.events import Endpoint, Event, TlsInfo
from model.findings import Explanation, Finding, ScanResult
from model.taxonomy import DataCategory
from model.yamlsrc import ConfigError, ConfigIssue, LineDict, LineList, load_yaml_file, unknown_key_message, where
from stream.policy.allowed import DECISION
from stream.policy.context import build_context
from stream.policy.loader import BUNDLED_RULES, is_test_file, load_policy
from stream.policy.params import parse_duration
from stream.policy.policy import Policy
from stream.policy.windows import MemoryWindowStore

TEST_KEY = b"policy-test-key"
START = dt.datetime(2025, 11, 24, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp()
FILE_KEYS = ("rules", "context", "cases")
CASE_KEYS = ("name", "given", "expect")
EVENT_KEYS = ("channel", "source_kind", "at", "t", "src", "dst", "src_name", "dst_name", "sni", "actor", "device",
              "encrypted", "attributes", "repeat", "step", "scan", "content", "content_type")
SCAN_KEYS = ("level", "subjects", "categories", "entities", "classes", "identifiers")
EXPECT_KEYS = ("alerts", "allowed")
ALERT_KEYS = ("rule", "severity", "subjects", "max_level", "count", "approval")

Scanner = Callable[[Event], ScanResult]


@dataclass
class CaseResult:
    file: str
    name: str
    where: str
    problems: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def find_test_files(paths: Sequence[str]) -> list[Path]:
    """``*.test.yaml`` files named, or found in the directories named (recursively)."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(c for c in p.rglob("*") if c.is_file() and is_test_file(c)))
        elif p.is_file():
            out.append(p)
        else:
            raise ConfigError([ConfigIssue(f"{p}:0", "no such test file or directory")])
    return out


def default_test_paths(rule_paths: Sequence[str]) -> list[str]:
    """Where tests for these rules live: the rule directories, or the directories of rule files."""
    paths = rule_paths or (str(BUNDLED_RULES),)
    return sorted({str(Path(p) if Path(p).is_dir() else Path(p).parent) for p in paths})


# -- building events and scans ---------------------------------------------------------------------


def _endpoint(v: Any, name: str = "") -> Endpoint | None:
    if v is None:
        return None
    text = str(v)
    host, port = text, None
    if text.count(":") == 1:
        host, _, p = text.partition(":")
        port = int(p) if p.isdigit() else None
    elif text.startswith("[") and "]:" in text:
        host, _, p = text[1:].partition("]:")
        port = int(p) if p.isdigit() else None
    return Endpoint(host, port, name)


def _time(spec: LineDict, issues: list[ConfigIssue]) -> float:
    if "at" in spec:
        v = spec["at"]
        try:
            when = v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(str(v))
        except ValueError:
            issues.append(ConfigIssue(spec.where("at"), f"'at' must be an ISO time, not {v!r}"))
            return START
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
        return when.timestamp()
    if "t" in spec:
        try:
            return START + (0.0 if spec["t"] in (0, "0") else parse_duration(spec["t"]))
        except ValueError as e:
            issues.append(ConfigIssue(spec.where("t"), f"'t' {e}"))
    return START


def _subject_hash(label: str) -> str:
    return hashlib.blake2b(label.encode(), digest_size=12).hexdigest()


def build_scan(spec: Any, loc: str, serial: str, issues: list[ConfigIssue]) -> ScanResult:
    if not isinstance(spec, dict):
        issues.append(ConfigIssue(loc, "'scan' must be a mapping (" + ", ".join(SCAN_KEYS) + ")"))
        return ScanResult((), 0, (), ())
    issues.extend(ConfigIssue(where(spec, k, loc), unknown_key_message(k, SCAN_KEYS))
                  for k in spec if k not in SCAN_KEYS)
    level = spec.get("level", 0)
    subj = spec.get("subjects", 0)
    labels = [f"{serial}#{i}" for i in range(subj)] if isinstance(subj, int) else [str(s) for s in subj or []]
    ident = spec.get("identifiers", True) is not False
    cats = {DataCategory(c) for c in spec.get("categories", []) if c in DataCategory._value2member_map_}
    bad = [c for c in spec.get("categories", []) if c not in DataCategory._value2member_map_]
    if bad:
        issues.append(ConfigIssue(where(spec, "categories", loc), f"unknown category {bad[0]!r}"))
    findings: list[Finding] = []
    pos = 0
    for lab in labels:
        h = _subject_hash(lab)
        findings.append(Finding("test-id", 1, "CN_RESIDENT_ID", pos, pos + 18, 0.95, DataCategory.PERSONAL_ATTRIBUTE,
                                4, h, f"1101**********{h[:4]}", is_identifier=ident))
        cats.add(DataCategory.PERSONAL_ATTRIBUTE)
        pos += 20
    for ent in spec.get("entities", []) or []:
        findings.append(Finding("test-ent", 1, str(ent), pos, pos + 4, 0.9, DataCategory.HEALTH_STATUS, level,
                                _subject_hash(f"{serial}:{ent}"), f"[{ent}]"))
        pos += 6
    for cls in spec.get("classes", []) or []:
        findings.append(Finding("special_disease", 1, "SPECIAL_DISEASE", pos, pos + 4, 0.9, DataCategory.HEALTH_STATUS,
                                5, _subject_hash(f"{serial}:{cls}"), f"[special disease: {cls}]",
                                Explanation(note=f"class:{cls}")))
        cats.add(DataCategory.HEALTH_STATUS)
        pos += 6
    return ScanResult(tuple(findings), int(level), tuple(sorted(cats, key=lambda c: c.value)),
                      tuple(_subject_hash(lab) for lab in labels) if ident else (), f"test case: L{level}")


def build_events(given: Any, loc: str, case_id: str, issues: list[ConfigIssue]
                 ) -> list[tuple[Event, dict[str, Any] | None, str]]:
    """(event, scan spec or None, file:line) per event, repeats expanded, in time order."""
    specs = given if isinstance(given, list) else [given]
    out: list[tuple[Event, dict[str, Any] | None, str]] = []
    for i, spec in enumerate(specs):
        at = given.where(i) if isinstance(given, LineList) else where(spec, default=loc)
        if not isinstance(spec, LineDict):
            issues.append(ConfigIssue(at, "an event must be a mapping (channel, src, dst, scan|content ...)"))
            continue
        issues.extend(ConfigIssue(spec.where(k), unknown_key_message(k, EVENT_KEYS)) for k in spec
                      if k not in EVENT_KEYS)
        if "scan" not in spec and "content" not in spec:
            issues.append(ConfigIssue(spec.where(), "give 'scan' (hand-built) or 'content' (scanned), or both"))
        t0 = _time(spec, issues)
        repeat = spec.get("repeat", 1)
        step = parse_duration(spec["step"]) if "step" in spec else 60.0
        for r in range(int(repeat) if isinstance(repeat, int) and repeat > 0 else 1):
            eid = f"{case_id}-{i}-{r}"
            tls = TlsInfo(sni=str(spec["sni"])) if "sni" in spec else None
            content = str(spec.get("content", "")).replace("{i}", str(r)).encode("utf-8")
            ev = Event(
                event_id=eid, sensor_id="policy-test", observed_at=t0 + r * step,
                source_kind=str(spec.get("source_kind", "net")), channel=str(spec.get("channel", "http")),
                src=_endpoint(spec.get("src"), str(spec.get("src_name", ""))),
                dst=_endpoint(spec.get("dst"), str(spec.get("dst_name", ""))),
                actor=str(spec.get("actor", "")), device=str(spec.get("device", "")),
                encrypted=spec.get("encrypted", False) is True, tls=tls, content=content,
                content_type=str(spec.get("content_type", "text/plain")), size=len(content),
                attributes=dict(spec.get("attributes", {}) or {}),
            )
            out.append((ev, spec.get("scan") if "scan" in spec else None, spec.where()))
    return out


# -- running ---------------------------------------------------------------------------------------


def _resolve(base: Path, items: Any, loc: str, issues: list[ConfigIssue]) -> list[str]:
    vals = [items] if isinstance(items, str) else items
    if not isinstance(vals, list) or not all(isinstance(v, str) for v in vals):
        issues.append(ConfigIssue(loc, "must be a file name or a list of file names"))
        return []
    return [str((base / v).resolve()) for v in vals]


def run_test_file(path: Path, scanner: Callable[[], Scanner] | None = None,
                  policy_override: Policy | None = None) -> list[CaseResult]:
    """Run every case of one test file; a broken file raises ConfigError (file:line)."""
    doc = load_yaml_file(path)
    issues: list[ConfigIssue] = []
    if not isinstance(doc, LineDict):
        raise ConfigError([ConfigIssue(f"{path}:1", "a test file must be a mapping (rules, context, cases)")])
    issues.extend(ConfigIssue(doc.where(k), unknown_key_message(k, FILE_KEYS)) for k in doc if k not in FILE_KEYS)
    base = path.parent
    rules = _resolve(base, doc["rules"], doc.where("rules"), issues) if "rules" in doc else [
        str(p) for p in sorted(base.iterdir()) if p.suffix in (".yaml", ".yml") and not is_test_file(p)
        and p.name != "context.yaml"]
    inline = doc.get("context") if isinstance(doc.get("context"), dict) else None
    context = [] if inline is not None or "context" not in doc else _resolve(
        base, doc["context"], doc.where("context"), issues)
    cases = doc.get("cases")
    if not isinstance(cases, LineList) or not cases:
        issues.append(ConfigIssue(doc.where("cases") if "cases" in doc else doc.where(), "'cases' must be a list"))
    if issues:
        raise ConfigError(issues)
    policy = policy_override or load_policy(rules, context, hash_key=TEST_KEY)
    if inline is not None and policy_override is None:
        ctx = build_context([inline], [doc.where("context")])
        ctx.hash_key = TEST_KEY
        policy = policy.with_context(ctx)
    assert isinstance(cases, LineList)
    results = []
    for i, case in enumerate(cases):
        results.append(run_case(case, cases.where(i), str(path), policy, scanner, f"c{i}"))
    return results


def run_case(case: Any, loc: str, file: str, policy: Policy, scanner: Callable[[], Scanner] | None,
             case_id: str) -> CaseResult:
    issues: list[ConfigIssue] = []
    name = str(case.get("name", case_id)) if isinstance(case, dict) else case_id
    res = CaseResult(file, name, loc)
    if not isinstance(case, LineDict):
        res.problems.append("a case must be a mapping (name, given, expect)")
        return res
    issues.extend(ConfigIssue(case.where(k), unknown_key_message(k, CASE_KEYS)) for k in case if k not in CASE_KEYS)
    for k in ("given", "expect"):
        if k not in case:
            issues.append(ConfigIssue(loc, f"case is missing {k!r}"))
    events = build_events(case.get("given", []), loc, case_id, issues)
    expect = case.get("expect", {})
    if not isinstance(expect, dict):
        issues.append(ConfigIssue(case.where("expect"), "'expect' must be a mapping (alerts, allowed)"))
        expect = {}
    issues.extend(ConfigIssue(where(expect, k, loc), unknown_key_message(k, EXPECT_KEYS)) for k in expect
                  if k not in EXPECT_KEYS)
    if issues:
        res.problems.extend(str(i) for i in issues)
        return res
    windows = MemoryWindowStore()
    latest: dict[str, Alert] = {}
    for n, (ev, scan_spec, at) in enumerate(sorted(events, key=lambda e: e[0].observed_at)):
        if scan_spec is not None:
            scan = build_scan(scan_spec, at, f"{case_id}-{ev.event_id}", issues)
        else:
            if scanner is None:
                res.problems.append(f"{at}: 'content' needs the detectors; run with a scanner")
                return res
            scan = scanner()(ev)
        for a in policy.evaluate(ev, scan, windows):
            latest[a.alert_id] = a
        del n
    if issues:
        res.problems.extend(str(i) for i in issues)
        return res
    alerts = list(latest.values())
    res.alerts = alerts
    raised = [a for a in alerts if a.details.get("decision") != DECISION]
    allowed = [a for a in alerts if a.details.get("decision") == DECISION]
    _compare(res, "alerts", expect.get("alerts", []), raised, where(expect, "alerts", loc))
    _compare(res, "allowed", expect.get("allowed", []), allowed, where(expect, "allowed", loc))
    return res


def _compare(res: CaseResult, what: str, want: Any, got: list[Alert], loc: str) -> None:
    if not isinstance(want, list):
        res.problems.append(f"{loc}: expect.{what} must be a list")
        return
    by_rule: dict[str, list[Alert]] = {}
    for a in got:
        by_rule.setdefault(a.rule_id, []).append(a)
    wanted_rules = []
    for item in want:
        spec = {"rule": item} if isinstance(item, str) else item
        if not isinstance(spec, dict) or "rule" not in spec:
            res.problems.append(f"{loc}: each expected {what} entry needs 'rule'")
            continue
        bad = [k for k in spec if k not in ALERT_KEYS]
        if bad:
            res.problems.append(f"{where(spec, bad[0], loc)}: {unknown_key_message(bad[0], ALERT_KEYS)}")
        rule = str(spec["rule"])
        wanted_rules.append(rule)
        mine = by_rule.get(rule, [])
        if not mine:
            res.problems.append(f"{where(spec, 'rule', loc)}: expected {what[:-1] if what == 'alerts' else what} from "
                                f"{rule!r}, got none")
            continue
        top = max(mine, key=lambda a: (a.subjects, a.last_seen))
        checks = {"severity": top.severity, "subjects": top.subjects, "max_level": top.max_level, "count": len(mine),
                  "approval": top.details.get("approval", {}).get("id") if what == "allowed" else None}
        for k, actual in checks.items():
            if k in spec and spec[k] != actual:
                res.problems.append(f"{where(spec, k, loc)}: {rule}: expected {k} {spec[k]!r}, got {actual!r}")
    extra = sorted(set(by_rule) - set(wanted_rules))
    for rule in extra:
        a = by_rule[rule][0]
        why = a.details.get("violation") or a.details.get("violations") or a.details.get("anomalies") or ""
        res.problems.append(f"{loc}: unexpected {what} from {rule!r} ({a.severity}) {why}".rstrip())
