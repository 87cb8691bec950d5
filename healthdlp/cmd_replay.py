"""``healthdlp replay``: what a rule or context change would have alerted on, versus the current policy.

    healthdlp replay --rules my-rules/ [--context site.yaml] --from capture.pcap audit/*.csv

Reads the captures and logs once (the same sensors as ``healthdlp scan``), scans every event
once with the detectors, and evaluates it under two policies side by side — the *baseline* (the
configured ``policy.rules``/``policy.context``, else the bundled rules; or ``--baseline-rules``/
``--baseline-context``) and the *candidate* (``--rules``/``--context``) — each with its own
window state. It prints per-rule counts and the alerts only one side raised (``+`` candidate
only, ``-`` baseline only, ``~`` same alert id but different severity or subject count).
Allowed-by-approval records are counted separately. Alert ids include the rule version, so
raising a rule's ``version`` shows all its alerts as added/removed; the per-rule counts still
compare.

``--since 7d`` (replay from stored events) is not available: the store keeps alerts, not events
(see docs/policy.md, "Replay"); replay from the captures and logs instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from model.alerts import Alert
from model.config import Config, load_config
from model.events import DeadLetter, Event

ALLOWED = "allowed-by-approval"


def _config(args: argparse.Namespace) -> Config:
    return load_config(getattr(args, "config", None) or os.environ.get("HEALTHDLP_CONFIG"))


@dataclass
class Side:
    policy: Any
    windows: Any
    alerts: dict[str, Alert] = field(default_factory=dict)


@dataclass(frozen=True)
class _Result:
    alerts: tuple[Alert, ...]
    dead_letters: tuple[DeadLetter, ...]
    events: int
    findings: int


class ComparePipeline:
    """Scan once, evaluate under both policies; quacks like stream.pipeline.Pipeline for run_offline."""

    def __init__(self, scanner: Any, baseline: Any, candidate: Any) -> None:
        from stream.policy import MemoryWindowStore

        self.scanner = scanner
        self.sides = {"baseline": Side(baseline, MemoryWindowStore()),
                      "candidate": Side(candidate, MemoryWindowStore())}
        self.errors: Counter[str] = Counter()

    def process(self, events: Sequence[Event]) -> _Result:
        findings = 0
        for ev in events:
            try:
                scan = self.scanner.scan(ev)
            except Exception:
                self.errors["detect"] += 1
                continue
            findings += len(scan.findings)
            for name, side in self.sides.items():
                try:
                    raised = side.policy.evaluate(ev, scan, side.windows)
                except Exception:
                    self.errors[f"policy.{name}"] += 1
                    continue
                for a in raised:
                    old = side.alerts.get(a.alert_id)
                    if old is None or (a.last_seen, a.subjects) >= (old.last_seen, old.subjects):
                        side.alerts[a.alert_id] = a
        return _Result((), (), len(events), findings)


@dataclass
class Diff:
    added: list[Alert]
    removed: list[Alert]
    changed: list[tuple[Alert, Alert]]
    counts: dict[str, tuple[int, int]]  # rule -> (baseline, candidate), alerts only
    allowed: tuple[int, int]


def _is_allowed(a: Alert) -> bool:
    return a.details.get("decision") == ALLOWED


def diff(baseline: dict[str, Alert], candidate: dict[str, Alert]) -> Diff:
    b = {k: a for k, a in baseline.items() if not _is_allowed(a)}
    c = {k: a for k, a in candidate.items() if not _is_allowed(a)}
    order = lambda a: (a.observed_at, a.rule_id, a.alert_id)  # noqa: E731
    added = sorted((c[k] for k in c.keys() - b.keys()), key=order)
    removed = sorted((b[k] for k in b.keys() - c.keys()), key=order)
    changed = sorted(((b[k], c[k]) for k in b.keys() & c.keys()
                      if (b[k].severity, b[k].subjects) != (c[k].severity, c[k].subjects)), key=lambda p: order(p[1]))
    cb, cc = Counter(a.rule_id for a in b.values()), Counter(a.rule_id for a in c.values())
    counts = {r: (cb[r], cc[r]) for r in sorted(cb.keys() | cc.keys())}
    allowed = (sum(map(_is_allowed, baseline.values())), sum(map(_is_allowed, candidate.values())))
    return Diff(added, removed, changed, counts, allowed)


def _line(sign: str, a: Alert) -> str:
    return (f"  {sign} {a.rule_id:36s} {a.severity:8s} L{a.max_level} subjects={a.subjects:<4d} "
            f"{a.channel:9s} {a.src or '-'} -> {a.dst or '-'}  {a.alert_id}")


def render(d: Diff, out: Any) -> None:
    print(f"{'rule':40s} {'baseline':>9s} {'candidate':>9s} {'delta':>7s}", file=out)
    for rule, (nb, nc) in d.counts.items():
        print(f"{rule:40s} {nb:9d} {nc:9d} {nc - nb:+7d}", file=out)
    print(f"{'(allowed-by-approval records)':40s} {d.allowed[0]:9d} {d.allowed[1]:9d} "
          f"{d.allowed[1] - d.allowed[0]:+7d}", file=out)
    sections = (("only the candidate alerts", d.added, "+"), ("only the baseline alerts", d.removed, "-"))
    for title, items, sign in sections:
        if items:
            print(f"\n{title} ({len(items)}):", file=out)
            for a in items:
                print(_line(sign, a), file=out)
    if d.changed:
        print(f"\nchanged ({len(d.changed)}):", file=out)
        for old, new in d.changed:
            print(_line("~", new) + f"  (was {old.severity}, subjects={old.subjects})", file=out)


def render_jsonl(d: Diff, out: Any) -> None:
    for change, items in (("added", d.added), ("removed", d.removed)):
        for a in items:
            print(json.dumps({"change": change, "alert": a.to_dict()}, ensure_ascii=False), file=out)
    for old, new in d.changed:
        print(json.dumps({"change": "changed", "before": {"severity": old.severity, "subjects": old.subjects},
                          "alert": new.to_dict()}, ensure_ascii=False), file=out)


def cmd_replay(args: argparse.Namespace) -> int:
    if args.since:
        print("healthdlp replay: --since is not available: the store keeps alerts, not events; "
              "replay captures and logs with --from FILES", file=sys.stderr)
        return 2
    if not args.sources:
        print("healthdlp replay: give --from FILES (captures and logs)", file=sys.stderr)
        return 2
    from detectors import build_engine
    from healthdlp.embedded import run_offline
    from model.config import load_hash_key
    from stream.policy import load_policy

    cfg = _config(args)
    key = load_hash_key(cfg)
    baseline = load_policy(args.baseline_rules or cfg.policy.rules,
                           args.baseline_context if args.baseline_context is not None else cfg.policy.context,
                           hash_key=key)
    candidate = load_policy(args.rules, args.context if args.context is not None else cfg.policy.context,
                            hash_key=key)
    compare = ComparePipeline(build_engine(cfg.detectors, key), baseline, candidate)
    summary = run_offline(cfg, args.sources, compare)  # type: ignore[arg-type]
    d = diff(compare.sides["baseline"].alerts, compare.sides["candidate"].alerts)
    if args.format == "jsonl":
        render_jsonl(d, sys.stdout)
    else:
        render(d, sys.stdout)
    errors = ", ".join(f"{k}={v}" for k, v in sorted(compare.errors.items()))
    print(f"{summary.files} files, {summary.events} events replayed in {summary.elapsed:.2f}s"
          + (f"; errors: {errors}" if errors else ""), file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("replay", help="what a rule/context change would have alerted on, versus the current policy",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rules", nargs="+", required=True, metavar="PATH", help="candidate rule files or directories")
    p.add_argument("--context", nargs="*", default=None, metavar="FILE",
                   help="candidate context files (default: the configured policy.context)")
    p.add_argument("--baseline-rules", nargs="*", default=(), metavar="PATH",
                   help="baseline rules (default: policy.rules, else the bundled rules)")
    p.add_argument("--baseline-context", nargs="*", default=None, metavar="FILE",
                   help="baseline context (default: policy.context)")
    p.add_argument("--from", dest="sources", nargs="+", default=[], metavar="FILE", help="captures and logs")
    p.add_argument("--since", help="replay stored events (not available: the store keeps alerts only)")
    p.add_argument("--format", choices=("table", "jsonl"), default="table")
    p.set_defaults(func=cmd_replay)
