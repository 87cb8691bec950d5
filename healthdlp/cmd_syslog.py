"""``healthdlp sensor syslog``: run the syslog receiver (UDP/TCP/TLS) and send its events to Kafka.

Addresses come from ``logs.syslog`` in the config and can be overridden on the command line.
Events go to Kafka through the sensors' sink (with the disk spool when ``kafka.spool_dir`` is
set, which is what keeps syslog events through a broker outage), or, with ``--print``, to stdout
as JSON lines (for trying a device's output without a broker).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import threading
from typing import Any

from model.codec import event_to_json
from model.config import load_config
from model.events import DeadLetter, Event


class _PrintSink:
    """Events as JSON lines on stdout; dead letters as metadata on stderr (never their payload)."""

    def __init__(self, out: Any = None) -> None:
        self.out = out or sys.stdout
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        line = json.dumps(event_to_json(event), ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self.out.write(line + "\n")

    def dead_letter(self, letter: DeadLetter) -> None:
        with self._lock:
            sys.stderr.write(f"dead letter: {letter.reason}: {letter.detail}\n")

    def flush(self) -> None:
        with self._lock:
            self.out.flush()

    def close(self) -> None:
        self.flush()


def cmd_syslog(args: argparse.Namespace) -> int:
    from sensors.logs.syslog import SyslogReceiver

    cfg = load_config(getattr(args, "config", None) or os.environ.get("HEALTHDLP_CONFIG"))
    overrides = {k: v for k, v in (("udp", args.udp), ("tcp", args.tcp), ("tls", args.tls),
                                   ("tls_cert", args.tls_cert), ("tls_key", args.tls_key),
                                   ("tls_client_ca", args.tls_client_ca)) if v is not None}
    logs_cfg = dataclasses.replace(cfg.logs, syslog=dataclasses.replace(cfg.logs.syslog, **overrides))
    if not (logs_cfg.syslog.udp or logs_cfg.syslog.tcp or logs_cfg.syslog.tls):
        raise SystemExit("healthdlp sensor syslog: give --udp, --tcp or --tls HOST:PORT (or logs.syslog in the config)")
    sink: Any
    if args.print:
        sink = _PrintSink()
    else:
        from sensors.kafka_sink import open_sink
        from sensors.kafka_topics import BrokerUnavailable, ensure_topics

        try:
            ensure_topics(cfg.kafka)
        except BrokerUnavailable:
            if not cfg.kafka.spool_dir:
                raise
        sink = open_sink(cfg.kafka, cfg.sensor_id)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    if args.duration:
        threading.Timer(args.duration, stop.set).start()
    receiver = SyslogReceiver(logs_cfg, cfg.sensor_id, sink)
    receiver.start()
    for kind, (host, port) in receiver.addresses.items():
        print(f"listening {kind} {host}:{port}", file=sys.stderr, flush=True)
    try:
        stop.wait()
    finally:
        receiver.stop()
        sink.close()
    stats = receiver.stats
    print(json.dumps({"syslog": stats, "sink": getattr(sink, "stats", {})}, sort_keys=True), file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("syslog", help="receive syslog (UDP/TCP/TLS, RFC 3164/5424) and send events to Kafka")
    p.add_argument("--udp", metavar="HOST:PORT", help="UDP listen address (default: logs.syslog.udp)")
    p.add_argument("--tcp", metavar="HOST:PORT", help="TCP listen address, octet-counting or newline framing")
    p.add_argument("--tls", metavar="HOST:PORT", help="TLS listen address (RFC 5425); needs --tls-cert/--tls-key")
    p.add_argument("--tls-cert", metavar="FILE")
    p.add_argument("--tls-key", metavar="FILE")
    p.add_argument("--tls-client-ca", metavar="FILE", help="require client certificates signed by this CA")
    p.add_argument("--print", action="store_true", help="write events to stdout as JSON lines instead of Kafka")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0 = until signalled)")
    p.set_defaults(func=cmd_syslog)
