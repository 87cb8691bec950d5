"""The `healthdlp` command: one entry point, one subcommand per job.

Heavy imports (faust, chdb, scapy) happen inside the subcommand that needs them so that
`healthdlp --help` and `healthdlp rules check` answer instantly.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model.config import Config, load_config, load_hash_key
from model.yamlsrc import ConfigError

EPILOG = """\
examples:
  healthdlp demo                                  embedded pipeline over bundled sample traffic
  healthdlp scan capture.pcap usb.log --format jsonl
                                                  offline scan; one alert JSON per line
  healthdlp sensor net --interface eth0 --bpf 'tcp port 80 or tcp port 2575'
  healthdlp sensor logs /var/log/kern.log '/var/log/dlp/*.jsonl'
  healthdlp sensor syslog --udp 0.0.0.0:514 --tcp 0.0.0.0:601
  healthdlp process --config healthdlp.yaml       the faust worker (Kafka → detectors → ClickHouse)
  healthdlp alerts --severity high --since 24h    stored alerts as a table
  healthdlp console                               triage console in the browser
  healthdlp rules check                           lint rules and context (every error with file:line)
  healthdlp rules test                            run the rules' given/expect test cases
  healthdlp replay --rules DIR --from capture.pcap  what a rule change would alert on, vs. now
  healthdlp detect --jsonl texts.jsonl            findings per line; healthdlp eval CORPUS.jsonl for P/R/F1/F2
  healthdlp edm build patients.csv                keyed-hash fingerprints of a patient index (exact data match)

configuration: --config FILE or $HEALTHDLP_CONFIG (YAML, see config/healthdlp.example.yaml);
without one, the embedded defaults apply (chdb store under ./var, no servers needed).
"""

SEVERITIES = ("info", "low", "medium", "high", "critical")

#: Subcommands that live in their own modules, each with ``register(subparsers)``: an explicit
#: registry, no discovery. Registration only adds parsers; heavy imports wait for the command.
COMMAND_MODULES: tuple[str, ...] = (
    "healthdlp.cmd_detect",
    "healthdlp.cmd_edm",
    "healthdlp.cmd_policy",
    "healthdlp.cmd_replay",
)
#: Sensor kinds in their own modules, registered under `healthdlp sensor`.
SENSOR_MODULES: tuple[str, ...] = ("healthdlp.cmd_syslog",)


def _load(args: argparse.Namespace) -> Config:
    path = args.config or os.environ.get("HEALTHDLP_CONFIG")
    return load_config(path)


def _parse_since(text: str) -> float:
    """``--since``: a duration back from now or an ISO time, as ``healthdlp replay`` takes it."""
    import time

    from stream.event_log import parse_time_spec

    try:
        return parse_time_spec(text, time.time())
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


# --- scan / demo -------------------------------------------------------------------------------


def _build_pipeline(cfg: Config) -> Any:
    from stream.pipeline import build_pipeline

    return build_pipeline(cfg, load_hash_key(cfg))


def cmd_scan(args: argparse.Namespace) -> int:
    from healthdlp.embedded import DeadLetterFile, run_offline

    cfg = _load(args)
    pipeline = _build_pipeline(cfg)
    dl_file = DeadLetterFile(args.dead_letters) if args.dead_letters else None

    def on_dead(letters: Sequence[Any]) -> None:
        if dl_file is not None:
            dl_file.write(letters)

    def progress(path: Path, n: int) -> None:
        if not args.quiet:
            print(f"scanned {path} ({n} events)", file=sys.stderr)

    summary = run_offline(cfg, args.paths, pipeline, on_dead_letters=on_dead, progress=progress)
    alerts = summary.sorted_alerts()
    if args.format == "jsonl":
        for a in alerts:
            print(json.dumps(a.to_dict(), ensure_ascii=False))
    else:
        from store.format import format_table

        print(format_table(alerts))
    if not args.quiet:
        _print_summary(summary, sys.stderr)
    return 0


def _print_summary(summary: Any, out: Any) -> None:
    by_rule: dict[str, int] = {}
    for a in summary.alerts.values():
        by_rule[a.rule_id] = by_rule.get(a.rule_id, 0) + 1
    print(
        f"{summary.files} files, {summary.events} events, {summary.findings} findings, "
        f"{len(summary.alerts)} alerts in {summary.elapsed:.2f}s",
        file=out,
    )
    for rule, n in sorted(by_rule.items()):
        print(f"  {n:5d}  {rule}", file=out)
    if summary.dead_letters:
        reasons = ", ".join(f"{r}={n}" for r, n in summary.dead_letters.most_common())
        print(f"dead letters: {reasons}", file=out)


def cmd_demo(args: argparse.Namespace) -> int:
    from healthdlp.demo import run_demo

    cfg = _load(args)
    return run_demo(cfg, console=args.console)


# --- sensors, worker ---------------------------------------------------------------------------


def _stop_on_signals() -> threading.Event:
    import signal

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def cmd_sensor(args: argparse.Namespace) -> int:
    from sensors.kafka_sink import open_sink
    from sensors.kafka_topics import ensure_topics

    cfg = _load(args)
    if not cfg.kafka.spool_dir:  # with a spool the broker may be down at start; the spool creates topics
        ensure_topics(cfg.kafka)
    sink = open_sink(cfg.kafka, cfg.sensor_id)
    stop = _stop_on_signals()
    try:
        if args.kind == "net":
            from sensors.net import NetSensor, build_kind

            kind = build_kind()
            print(f"healthdlp sensor net: {kind} build"
                  + ("" if kind == "compiled" else " (scripts/build-native.sh builds the faster compiled one)"),
                  file=sys.stderr)
            net = NetSensor(cfg.net, cfg.sensor_id, sink)
            if args.pcap:
                for p in args.pcap:
                    net.run_pcap(p)
            else:
                iface = args.interface or cfg.net.interface
                if not iface:
                    raise SystemExit("healthdlp sensor net: give --interface or --pcap (or net.interface)")
                net.run_live(iface, args.bpf or cfg.net.bpf, stop)
            stats = net.stats
        else:
            from sensors.logs import LogSensor

            logs_cfg = cfg.logs
            if args.paths:
                logs_cfg = dataclasses.replace(logs_cfg, paths=tuple(args.paths))
            if not logs_cfg.paths:
                raise SystemExit("healthdlp sensor logs: give paths or globs (or logs.paths)")
            log_sensor = LogSensor(logs_cfg, cfg.sensor_id, sink)
            if args.once:
                log_sensor.run_once()
            else:
                log_sensor.run(stop)
            stats = log_sensor.stats
    finally:
        sink.flush()
    print(json.dumps(dict(stats), default=str), file=sys.stderr)
    return 0


def cmd_process(args: argparse.Namespace) -> int:
    from stream.app import run_worker

    cfg = _load(args)
    run_worker(cfg)
    return 0


# --- store ---------------------------------------------------------------------------------------


def _open_store(cfg: Config) -> Any:
    from store import open_store

    store = open_store(cfg.store)
    store.migrate()
    return store


def cmd_alerts(args: argparse.Namespace) -> int:

    from store.format import format_jsonl, format_table

    cfg = _load(args)
    store = _open_store(cfg)
    try:
        alerts = store.query_alerts(
            since=args.since,
            rule_id=args.rule,
            severity_min=args.severity,
            channel=args.channel,
            min_level=args.min_level,
            triage_state=args.state,
            limit=args.limit,
        )
        print(format_jsonl(alerts) if args.format == "jsonl" else format_table(alerts))
    finally:
        store.close()
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    from dashboards import serve_console

    cfg = _load(args)
    store = _open_store(cfg)
    print(f"healthdlp console on http://{args.host}:{args.port}/ (Ctrl-C stops)", file=sys.stderr)
    serve_console(store, args.host, args.port, database=cfg.store.database)
    return 0


# --- detectors --------------------------------------------------------------------------


def cmd_detectors(args: argparse.Namespace) -> int:
    from detectors import build_engine

    cfg = _load(args)
    engine = build_engine(cfg.detectors, b"listing-only")
    for d in engine.describe():
        ex = "; ".join(getattr(d, "examples", ())[:2])
        print(f"{d.id:32s} {d.entity_type:26s} {getattr(d.category, 'value', d.category)!s:22s} "
              f"L{d.level}  {d.kind:10s} {ex}")
    return 0


# --- parser --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="healthdlp",
        description="Streaming DLP sensor for personal health data, judged by GB/T 39725-2020.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", help="YAML config file (default: $HEALTHDLP_CONFIG, else embedded defaults)")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO (never logs raw content)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="run the embedded pipeline over bundled sample traffic")
    d.add_argument("--console", action="store_true", help="then serve the triage console")
    d.set_defaults(func=cmd_demo)

    s = sub.add_parser("scan", help="scan pcap/pcapng/log files or directories offline",
                       description="Runs sensors → detectors → policy in-process over the inputs and "
                                   "prints the alerts. Captures are recognised by magic number.")
    s.add_argument("paths", nargs="+", metavar="PATH")
    s.add_argument("--format", choices=("table", "jsonl"), default="table")
    s.add_argument("--dead-letters", metavar="FILE", help="append unreadable input (raw) to this JSONL file")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress or summary on stderr")
    s.set_defaults(func=cmd_scan)

    sn = sub.add_parser("sensor", help="run a sensor that sends events to Kafka")
    kinds = sn.add_subparsers(dest="kind", required=True, metavar="KIND")
    net = kinds.add_parser("net", help="packets: a live interface or capture files",
                           description="Captures packets (scapy, BPF), reassembles TCP, extracts HTTP/FHIR, "
                                       "HL7-MLLP and TLS metadata, and sends event batches to Kafka.")
    net.add_argument("--interface", help="capture interface (default: net.interface)")
    net.add_argument("--bpf", help="BPF filter (default: net.bpf)")
    net.add_argument("--pcap", nargs="+", metavar="FILE", help="read these capture files instead of an interface")
    net.set_defaults(func=cmd_sensor)
    logs = kinds.add_parser("logs", help="log files: follow, checkpoint, send",
                            description="Follows files and globs across rotation, parses USB/file-copy/JSON "
                                        "records, and sends event batches to Kafka; resumes from checkpoints.")
    logs.add_argument("paths", nargs="*", metavar="PATH", help="files or globs (default: logs.paths)")
    logs.add_argument("--once", action="store_true", help="read what is there, checkpoint, exit")
    logs.set_defaults(func=cmd_sensor)
    for name in SENSOR_MODULES:
        importlib.import_module(name).register(kinds)

    pr = sub.add_parser("process", help="run the faust worker: Kafka events → detectors → policy → ClickHouse")
    pr.set_defaults(func=cmd_process)

    a = sub.add_parser("alerts", help="list stored alerts")
    a.add_argument("--since", type=_parse_since,
                   help="how far back: 30m, 24h, 1h30m, 7d, 2w, or an ISO time (2026-11-18T08:00+08:00)")
    a.add_argument("--rule")
    a.add_argument("--severity", choices=SEVERITIES, help="minimum severity")
    a.add_argument("--channel")
    a.add_argument("--min-level", type=int, choices=range(1, 6))
    a.add_argument("--state", help="triage state, e.g. new")
    a.add_argument("--limit", type=int, default=50)
    a.add_argument("--format", choices=("table", "jsonl"), default="table")
    a.set_defaults(func=cmd_alerts)

    c = sub.add_parser("console", help="serve the triage console")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=8039)
    c.set_defaults(func=cmd_console)

    dt = sub.add_parser("detectors", help="detector catalogue")
    dt.add_argument("action", choices=("list",))
    dt.set_defaults(func=cmd_detectors)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except ConfigError as e:
        print("configuration error:", file=sys.stderr)
        for issue in e.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"healthdlp: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
