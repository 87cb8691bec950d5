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

    healthdlp replay --rules my-rules/ --since 7d [--until 24h] [--baseline stored]

``--since`` replays the *stored events*: raw events never go to the database, so the Kafka
events topic (``kafka.events_topic``, within its retention) is the event store. The window is
judged by the Kafka record timestamp (``7d``/``24h``/``90m`` ago, or an ISO time); records that
do not decode are counted as dead letters. ``--baseline stored`` compares the candidate with the
alerts that were actually raised and stored for that period (what the policy *did*) instead of
re-running the baseline policy. Embedded mode has no Kafka: there ``--since`` is refused; use
``--from``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from healthdlp.progress import ProgressBar
from model.alerts import Alert
from model.config import Config, load_config
from model.events import DeadLetter, Event

ALLOWED = "allowed-by-approval"
#: Events handed to the compare pipeline at once when replaying stored events (sorted by time).
REPLAY_BATCH = 2000


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

    def __init__(self, scanner: Any, baseline: Any | None, candidate: Any) -> None:
        """``baseline`` None: only the candidate runs (the baseline comes from elsewhere, e.g. the store)."""
        from stream.policy import MemoryWindowStore

        self.scanner = scanner
        self.sides = {"candidate": Side(candidate, MemoryWindowStore())}
        if baseline is not None:
            self.sides = {"baseline": Side(baseline, MemoryWindowStore()), **self.sides}
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


def _policies(args: argparse.Namespace, cfg: Config, key: bytes, *, baseline: bool = True) -> tuple[Any, Any]:
    from stream.policy import load_policy

    base = load_policy(args.baseline_rules or cfg.policy.rules,
                       args.baseline_context if args.baseline_context is not None else cfg.policy.context,
                       hash_key=key) if baseline else None
    candidate = load_policy(args.rules, args.context if args.context is not None else cfg.policy.context,
                            hash_key=key)
    return base, candidate


def _print_diff(args: argparse.Namespace, baseline: dict[str, Alert], candidate: dict[str, Alert]) -> None:
    d = diff(baseline, candidate)
    if args.format == "jsonl":
        render_jsonl(d, sys.stdout)
    else:
        render(d, sys.stdout)


def _errors(compare: ComparePipeline) -> str:
    errors = ", ".join(f"{k}={v}" for k, v in sorted(compare.errors.items()))
    return f"; errors: {errors}" if errors else ""


def cmd_replay(args: argparse.Namespace) -> int:
    if args.since and args.sources:
        print("healthdlp replay: give either --from FILES or --since (stored events), not both", file=sys.stderr)
        return 2
    if args.since or args.until:
        return _replay_stored(args)
    if args.baseline == "stored":
        print("healthdlp replay: --baseline stored compares with the alerts stored for a period: give --since",
              file=sys.stderr)
        return 2
    if not args.sources:
        print("healthdlp replay: give --from FILES (captures and logs) or --since 7d (stored events)", file=sys.stderr)
        return 2
    from detectors import build_engine
    from healthdlp.embedded import run_offline
    from model.config import load_hash_key

    cfg = _config(args)
    key = load_hash_key(cfg)
    baseline, candidate = _policies(args, cfg, key)
    compare = ComparePipeline(build_engine(cfg.detectors, key), baseline, candidate)
    summary = run_offline(cfg, args.sources, compare)  # type: ignore[arg-type]
    _print_diff(args, compare.sides["baseline"].alerts, compare.sides["candidate"].alerts)
    print(f"{summary.files} files, {summary.events} events replayed in {summary.elapsed:.2f}s" + _errors(compare),
          file=sys.stderr)
    return 0


# -- replay from stored events (the Kafka events topic) ------------------------------------------


def _kafka_bootstrap(args: argparse.Namespace, cfg: Config) -> str:
    """The bootstrap servers if Kafka is configured (``--bootstrap``, else ``kafka.bootstrap`` in the config file).

    The built-in default (127.0.0.1:9092) does not count: without a config that names a broker
    this is the embedded mode, which has no Kafka and so no stored events.
    """
    if args.bootstrap:
        return str(args.bootstrap)
    if cfg.source in ("", "<defaults>") or not os.path.exists(cfg.source):
        return ""
    from model.yamlsrc import load_yaml_file

    doc = load_yaml_file(cfg.source)
    kafka = doc.get("kafka") if isinstance(doc, dict) else None
    return cfg.kafka.bootstrap if isinstance(kafka, dict) and kafka.get("bootstrap") else ""


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def _replay_stored(args: argparse.Namespace) -> int:
    from detectors import build_engine
    from model.config import load_hash_key
    from stream.event_log import EventLogError, EventLogReader, parse_time_spec

    err = sys.stderr
    if not args.since:
        print("healthdlp replay: --until needs --since", file=err)
        return 2
    now = time.time()
    try:
        since = parse_time_spec(args.since, now)
        until = parse_time_spec(args.until, now) if args.until else None
    except ValueError as e:
        print(f"healthdlp replay: {e}", file=err)
        return 2
    if since >= (until if until is not None else now):
        print(f"healthdlp replay: the window {_when(since)} .. {_when(until or now)} is empty (--since must be "
              "before --until and now)", file=err)
        return 2
    cfg = _config(args)
    bootstrap = _kafka_bootstrap(args, cfg)
    if not bootstrap:
        print(f"healthdlp replay: --since reads the stored events from the Kafka events topic, and this configuration "
              f"({cfg.source}) names no kafka.bootstrap: the embedded mode has no Kafka and keeps alerts, not events. "
              "Replay captures and logs with --from FILES, or set kafka.bootstrap (or --bootstrap HOST:PORT).",
              file=err)
        return 2
    key = load_hash_key(cfg)
    stored = args.baseline == "stored"
    baseline, candidate = _policies(args, cfg, key, baseline=not stored)
    compare = ComparePipeline(build_engine(cfg.detectors, key), baseline, candidate)
    kcfg = dataclasses.replace(cfg.kafka, bootstrap=bootstrap)
    t0 = time.perf_counter()
    bar = ProgressBar(err, enabled=err.isatty() and not args.quiet)
    with EventLogReader(kcfg, since, until, topic=args.topic) as reader:
        try:
            st = reader.open()
            print(f"healthdlp replay: topic {reader.topic} ({st.partitions} partitions) from {_when(since)} to "
                  f"{_when(until) if until else 'now'}: {st.path}, {st.planned:,} records before the end offsets",
                  file=err)
            batch: list[Event] = []
            for events in reader.batches(progress=bar):
                batch.extend(events)
                if len(batch) >= REPLAY_BATCH:
                    compare.process(sorted(batch, key=lambda e: e.observed_at))
                    batch = []
            if batch:
                compare.process(sorted(batch, key=lambda e: e.observed_at))
            bar(st.records, max(st.planned, st.records), force=True)
        except EventLogError as e:
            print(f"healthdlp replay: {e}", file=err)
            return 2
        finally:
            bar.close()
    dead = ", ".join(f"{k}={v}" for k, v in sorted(st.dead.items()))
    for dl in st.dead_letters[:5]:
        print(f"  dead letter {dl.source}: {dl.reason}: {dl.detail}", file=err)
    summary = (f"{st.records:,} records read, {st.in_window:,} in the window, {st.events:,} events replayed in "
               f"{time.perf_counter() - t0:.2f}s ({st.path})" + (f"; dead letters: {dead}" if dead else "")
               + _errors(compare))
    if st.in_window == 0:
        print(f"healthdlp replay: no events stored in the window ({_when(since)} to "
              f"{_when(until) if until else 'now'}) on topic {reader.topic}: nothing to replay. "
              "(Older events may have passed the topic's retention.)", file=err)
        print(summary, file=err)
        return 0
    if stored:
        try:
            base_alerts = _stored_alerts(cfg, max(since, st.first_ms / 1000.0), until if until is not None else now)
        except Exception as e:  # StoreError, a connection refused: the store is another service
            print(f"healthdlp replay: cannot read the stored alerts ({cfg.store.backend}): {e}", file=err)
            return 2
        if st.first_ms / 1000.0 > since + 3600:
            print(f"healthdlp replay: the oldest event in the window is from {_when(st.first_ms / 1000.0)} (the "
                  "topic's retention, or a quiet start); stored alerts are compared from then on", file=err)
    else:
        base_alerts = compare.sides["baseline"].alerts
    _print_diff(args, base_alerts, compare.sides["candidate"].alerts)
    print(summary, file=err)
    return 0


def _stored_alerts(cfg: Config, since: float, until: float) -> dict[str, Alert]:
    from store import open_store

    with open_store(cfg.store) as s:
        return {a.alert_id: a for a in s.iter_alerts(since=since, until=until)}


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
    p.add_argument("--since", metavar="WHEN",
                   help="replay the stored events (Kafka events topic) since 7d / 24h / 90m ago or an ISO time")
    p.add_argument("--until", metavar="WHEN", help="end of the --since window (default: now)")
    p.add_argument("--baseline", choices=("policy", "stored"), default="policy",
                   help="policy: re-run the baseline rules (default); stored: the alerts stored for the period")
    p.add_argument("--bootstrap", metavar="HOST:PORT", help="Kafka bootstrap servers (default: kafka.bootstrap)")
    p.add_argument("--topic", help="events topic to read (default: kafka.events_topic)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--format", choices=("table", "jsonl"), default="table")
    p.set_defaults(func=cmd_replay)
