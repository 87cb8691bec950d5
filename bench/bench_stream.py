"""Streaming path throughput: sensor sink → Kafka → faust worker → ClickHouse, and its parts.

    .venv/bin/python bench/bench_stream.py [--events 20000] [--alerts 50000] [--skip-worker]

Starts its own Kafka-protocol broker (Tansu) and ClickHouse server through ``tests/services.py``
(the same services the integration tests use) and measures, in one run:

* **sink**: ``KafkaSink.emit`` of N mixed events (clinical HTTP bodies, USB file copies, benign
  traffic) until the broker acknowledged all of them: events/s, including JSON encoding;
* **worker**: the real worker (``python -m stream.app``, what ``healthdlp process`` runs) started
  first and idle, then the N events produced; the clock stops when the worker's committed offsets
  reach the end of every partition. The worker commits only after the alerts are in ClickHouse,
  so this is detectors + policy + store write + alerts topic publish, per event, end to end;
* **store**: ``AlertStore.insert_alerts`` of M alerts in batches of 1,000 into the ClickHouse
  server and into embedded chdb: rows/s.

One worker process uses one core for the pipeline (plus the broker and ClickHouse on the other):
the worker figure is events/s per worker. Nothing here is a timed test; the figures go to the
README ("Measured figures").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from healthdlp.synth import Synth, csv_export, patient_json  # noqa: E402
from model.alerts import Alert, make_alert_id  # noqa: E402
from model.config import Config, load_config  # noqa: E402
from model.events import Endpoint, Event  # noqa: E402

BENIGN = (b'{"status":"ok","items":[{"sku":"A-1009","qty":3},{"sku":"B-2210","qty":1}],'
          b'"trace":"4bf92f3577b34da6a3ce929d0e0e4736","ts":1700000000123}')


def make_events(n: int, seed: int = 39725) -> list[Event]:
    """A third clinical HTTP posts, a third USB copies of small exports, a third benign JSON."""
    synth = Synth(seed)
    out: list[Event] = []
    for i in range(n):
        kind = i % 3
        ts = 1_764_000_000.0 + i * 0.01
        if kind == 0:
            body = patient_json(synth.patient())
            out.append(Event(f"bench-http-{i}", "bench", ts, "net", "http",
                             src=Endpoint(f"10.20.{i % 200}.{i % 250 + 1}", 40000 + i % 20000),
                             dst=Endpoint("10.20.0.9", 80), content=body, content_type="application/json",
                             size=len(body)))
        elif kind == 1:
            body = csv_export(synth.patients(3)).encode()
            out.append(Event(f"bench-usb-{i}", "bench", ts, "log", "usb", actor=f"clerk{i % 50}",
                             device=f"USB-{i % 7}", content=body, size=len(body)))
        else:
            out.append(Event(f"bench-ok-{i}", "bench", ts, "net", "http",
                             src=Endpoint("10.30.1.4", 50000 + i % 10000), dst=Endpoint("10.30.0.2", 8080),
                             content=BENIGN, content_type="application/json", size=len(BENIGN)))
    return out


def make_alerts(m: int) -> list[Alert]:
    return [Alert(
        alert_id=make_alert_id("cleartext-health-data", 1, (f"bench-{i}",)), rule_id="cleartext-health-data",
        rule_version=1, title="Cleartext level-4 personal health data over http", severity="high",
        clauses=("§8.1",), channel="http", src=f"10.0.{i % 250}.{i % 200}", dst="10.0.0.9", actor="",
        encrypted=False, entities=("CN_RESIDENT_ID", "DIAGNOSIS"), categories=("personal-attribute",),
        max_level=4, subjects=1, evidence=("身份证号:1101**********123X",), subject_hashes=(f"h{i:016x}",),
        event_ids=(f"bench-{i}",), observed_at=1_764_000_000.0 + i, last_seen=1_764_000_000.0 + i,
        sensor_id="bench") for i in range(m)]


def write_config(tmp: Path, bootstrap: str, ch_port: int) -> Config:
    import yaml

    tag = uuid.uuid4().hex[:8]
    doc = {
        "sensor_id": "bench",
        "hash_key_file": str(tmp / "hash.key"),
        "kafka": {"bootstrap": bootstrap, "events_topic": f"bench-{tag}.events",
                  "alerts_topic": f"bench-{tag}.alerts", "dlq_topic": f"bench-{tag}.dlq",
                  "partitions": 3, "batch_events": 100, "linger_ms": 20},
        "store": {"backend": "clickhouse", "port": ch_port, "database": f"bench_{tag}"},
        "stream": {"app_id": f"bench-{tag}", "data_dir": str(tmp / "faust"), "take_max": 200,
                   "take_within": 0.5, "web_port": 0},
    }
    path = tmp / "healthdlp.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    (tmp / "hash.key").write_text("bench-hash-key-0123456789abcdef")
    return load_config(path)


def bench_sink(cfg: Config, events: list[Event]) -> tuple[float, int]:
    """Seconds until the broker acknowledged every message, and how many messages that was."""
    from sensors.kafka_sink import KafkaSink

    t0 = time.perf_counter()
    with KafkaSink(cfg.kafka, cfg.sensor_id) as sink:
        for ev in events:
            sink.emit(ev)
        sink.flush()
        stats = sink.stats
    if stats.get("errors") or stats.get("acked_messages") != stats.get("messages"):
        raise SystemExit(f"the sink lost messages: {stats}")
    return time.perf_counter() - t0, stats["acked_messages"]


def _committed_total(cfg: Config) -> int:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=cfg.kafka.bootstrap)
    try:
        offsets = admin.list_group_offsets(cfg.stream.app_id).get(cfg.stream.app_id, {})
    finally:
        admin.close()
    return sum(max(0, meta.offset) for tp, meta in offsets.items() if tp.topic == cfg.kafka.events_topic)


def bench_worker(cfg: Config, config_path: Path, events: list[Event], tmp: Path) -> dict[str, Any]:
    """Start the worker idle, produce, stop the clock when every partition's offset is committed."""
    log = tmp / "worker.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HEALTHDLP_HASH_KEY": "bench-hash-key"}
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "stream.app", "--config", str(config_path)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while "Ready" not in log.read_text(errors="replace") and "ready" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"worker did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        time.sleep(2.0)  # let the group assignment settle before the clock starts
        t0 = time.perf_counter()
        produce, end = bench_sink(cfg, events)  # end: messages the broker acknowledged
        while True:
            done = _committed_total(cfg)
            if done >= end:
                break
            if proc.poll() is not None or time.perf_counter() - t0 > 1800:
                raise SystemExit(f"worker stopped at {done}/{end}:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.25)
        elapsed = time.perf_counter() - t0
        return {"events": len(events), "messages": end, "seconds": round(elapsed, 2),
                "events_per_s": round(len(events) / elapsed), "produce_seconds": round(produce, 2)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def bench_store(cfg: Config, alerts: list[Alert], backend: str, tmp: Path) -> float:
    from dataclasses import replace

    from store import AlertStore
    from store.transport import open_transport

    scfg = cfg.store if backend == "clickhouse" else replace(cfg.store, backend="chdb", chdb_path=str(tmp / "chdb"))
    store = AlertStore(scfg, open_transport(scfg))
    try:
        store.migrate()
        t0 = time.perf_counter()
        for i in range(0, len(alerts), 1000):
            store.insert_alerts(alerts[i:i + 1000])
        return time.perf_counter() - t0
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20000, help="events through sink and worker (default 20000)")
    ap.add_argument("--alerts", type=int, default=50000, help="alerts inserted into each store (default 50000)")
    ap.add_argument("--skip-worker", action="store_true", help="only the sink and store figures")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args(argv)

    from tests import services

    events = make_events(args.events)
    mb = sum(len(e.content or b"") for e in events) / 1e6
    results: dict[str, Any] = {"events": len(events), "content_mb": round(mb, 2)}
    broker, ch = services.start_broker(), services.start_clickhouse()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-stream-") as d:
            tmp = Path(d)
            bootstrap = f"127.0.0.1:{broker.port}"
            cfg = write_config(tmp, bootstrap, ch.port)
            from sensors.kafka_topics import ensure_topics

            ensure_topics(cfg.kafka)
            sink_s, _ = bench_sink(cfg, events)
            results["sink_events_per_s"] = round(len(events) / sink_s)
            alerts = make_alerts(args.alerts)
            for backend in ("clickhouse", "chdb"):
                s = bench_store(cfg, alerts, backend, tmp)
                results[f"store_{backend}_rows_per_s"] = round(len(alerts) / s)
            if not args.skip_worker:
                (tmp / "w").mkdir()
                cfg2 = write_config(tmp / "w", bootstrap, ch.port)  # fresh topics, database and group
                ensure_topics(cfg2.kafka)
                results["worker"] = bench_worker(cfg2, tmp / "w" / "healthdlp.yaml", events, tmp)
    finally:
        broker.stop()
        ch.stop()
    if args.json:
        print(json.dumps(results))
    else:
        for k, v in results.items():
            print(f"{k:28s} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
