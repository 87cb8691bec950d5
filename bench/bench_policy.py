"""Policy evaluation cost per event as the rule count grows, against the detection cost of the same events.

    .venv/bin/python bench/bench_policy.py [--events 3000] [--rules 10,100,1000] [--repeat 3]

Builds a mixed synthetic event stream the way the sensors emit it (HTTP/FHIR JSON posts and
responses, HL7 ADT over MLLP, USB copies, HIS-audit log lines, TLS flows without content, and
benign API traffic), scans every event once with the real detectors engine (the detection cost),
then evaluates the same (event, scan) pairs under policies of 10, 100 and 1,000 rules with the
merged context of the eight scenario packs (15 assets, 3 approvals), windows in memory.

How the rule sets grow: the bundled and pack rules (27 rules, every kind) stay as they are; the
rest are copies scoped the way a hospital tunes — per department account (``match: {actor:}``),
per asset (``dst_asset``), per scenario and per channel — as the ``scoped`` column. The
``unscoped`` column is the worst case (every copy applies to every event, no match block) to show
what the dispatch index saves. Time per event is the median of ``--repeat`` runs, one core.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from detectors import build_engine
from healthdlp.synth import Synth, csv_export, hl7_adt, patient_json
from model.config import DetectorsConfig
from model.events import Endpoint, Event, TlsInfo
from model.findings import ScanResult
from stream.policy import BUNDLED_RULES, MemoryWindowStore, load_policy

POLICY = Path(__file__).resolve().parent.parent / "stream" / "policy"
PACKS = sorted(p for p in (POLICY / "packs").iterdir() if p.is_dir())
KEY = b"bench-policy-key"
T0 = 1_764_036_000.0  # Tue 2025-11-25 10:00 +08:00

CLIENTS = ["10.12.3.41", "10.12.5.5", "10.50.3.3", "10.60.1.1", "10.10.8.5", "10.30.4.4", "100.70.1.9", "203.0.113.50"]
SERVERS = [("192.0.2.5", 80), ("198.51.100.33", 80), ("198.51.100.70", 80), ("203.0.113.130", 80),
           ("10.10.1.20", 8080), ("10.9.0.20", 80), ("192.0.2.70", 80), ("93.184.216.34", 80)]


def make_events(n: int, seed: int = 39725) -> list[Event]:
    rng = random.Random(seed)
    synth = Synth(seed)
    users = [f"D{10000 + i}" for i in range(200)]
    out: list[Event] = []
    for i in range(n):
        ts = T0 + i * 0.5
        kind = rng.random()
        actor = rng.choice(users) if rng.random() < 0.7 else ""
        src = Endpoint(rng.choice(CLIENTS), 40000 + i % 20000)
        host, port = rng.choice(SERVERS)
        dst = Endpoint(host, port)
        common: dict[str, Any] = {"event_id": f"b{i}", "sensor_id": "bench", "observed_at": ts, "actor": actor}
        if kind < 0.30:
            body = patient_json(synth.patient())
            out.append(Event(source_kind="net", channel=rng.choice(["http", "fhir"]), src=src, dst=dst,
                             content=body, content_type="application/json", size=len(body),
                             attributes={"direction": rng.choice(["c2s", "s2c"])}, **common))
        elif kind < 0.40:
            body = hl7_adt(synth.patient(), f"MSG{i}")
            out.append(Event(source_kind="net", channel="hl7-mllp", src=src, dst=Endpoint("10.10.1.20", 2575),
                             content=body, content_type="x-application/hl7-v2+er7", size=len(body), **common))
        elif kind < 0.50:
            body = csv_export(synth.patients(rng.randint(1, 5))).encode()
            out.append(Event(source_kind="log", channel="usb", device=rng.choice(["USB-ENC-001", "KINGSTON-9"]),
                             content=body, content_type="text/csv", size=len(body),
                             attributes={"records": body.count(b"\n") - 1}, **common))
        elif kind < 0.70:
            p = synth.patient()
            body = f"patient_id=P{i:06d}\n患者姓名: {p.name}\n住院号: ZY{i:08d}".encode()
            out.append(Event(source_kind="log", channel="his-audit", src=src, dst=Endpoint("EMR"),
                             content=body, content_type="text/plain", size=len(body),
                             attributes={"department": rng.choice(["心内科", "骨科", "妇产科"]),
                                         "patient_department": rng.choice(["心内科", "骨科", "妇产科"]),
                                         "action": "view"}, **{**common, "actor": rng.choice(users)}))
        elif kind < 0.85:
            out.append(Event(source_kind="net", channel="tls", src=src, dst=Endpoint(host, 443), encrypted=True,
                             tls=TlsInfo(version="TLS1.3", sni=rng.choice(["portal.hospital.example",
                                                                           "telemetry.vendor.example", "x.example"])),
                             **common))
        else:
            body = json.dumps({"status": "ok", "items": [rng.randint(0, 10**6) for _ in range(20)],
                               "trace": f"{rng.getrandbits(64):x}"}).encode()
            out.append(Event(source_kind="net", channel="http", src=src, dst=dst, content=body,
                             content_type="application/json", size=len(body), **common))
    return out


def base_rules() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for f in [*sorted(BUNDLED_RULES.glob("*.yaml")), *(p / "rules.yaml" for p in PACKS)]:
        if f.name.endswith(".test.yaml"):
            continue
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        docs.extend(data if isinstance(data, list) else [data])
    return docs


ASSETS = ["clinical-lan", "emr", "patient-portal", "research-platform", "sponsor-sftp", "data-sandbox",
          "applicant-university", "wearable-gateway", "app-backend", "insurer-gateway", "device-vlan",
          "vendor-telemetry"]
SCENARIOS = ["doctor-access", "patient-query", "clinical-research", "secondary-use", "health-sensing",
             "mobile-apps", "commercial-insurance", "medical-devices"]


def rule_set(n: int, scoped: bool) -> list[dict[str, Any]]:
    base = base_rules()
    rules = [dict(r) for r in base[:n]]
    for i in range(len(rules), n):
        r = dict(base[i % len(base)])
        r["id"] = f"{r['id']}-copy{i}"
        match = dict(r.get("match") or {})
        if scoped:
            scope = i % 4
            if scope == 0:
                match["actor"] = [f"D{10000 + i % 997}"]
            elif scope == 1:
                match["dst_asset"] = [ASSETS[i % len(ASSETS)]]
            elif scope == 2:
                match["scenario"] = [SCENARIOS[i % len(SCENARIOS)]]
                match["actor"] = [f"D{10000 + i % 991}"]
            else:
                match["channel"] = [["http", "fhir", "usb", "his-audit"][i % 4]]
                match["src_host"] = [f"10.{i % 250}.0.0/16"]
        if match:
            r["match"] = match
        rules.append(r)
    return rules


def load(rules: list[dict[str, Any]], tmp: Path) -> Any:
    f = tmp / f"rules-{len(rules)}.yaml"
    f.write_text(yaml.safe_dump(rules, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_policy([str(f)], [str(p / "context.yaml") for p in PACKS], hash_key=KEY)


def per_event(fn: Any, repeat: int, n: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--rules", default="10,100,1000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    events = make_events(args.events)
    engine = build_engine(DetectorsConfig(), KEY)
    scans: list[ScanResult] = []

    def detect() -> None:
        scans.clear()
        scans.extend(engine.scan(e) for e in events)

    detect_us = per_event(detect, args.repeat, len(events))
    levels = [s.record_level for s in scans]
    print(f"{len(events)} events ({sum(lv >= 3 for lv in levels)} graded L3+), detection "
          f"{detect_us:.1f} µs/event (engine.scan)\n")
    print(f"{'rules':>6} {'scoped µs/ev':>13} {'× detect':>9} {'alerts':>7} {'unscoped µs/ev':>15} {'× detect':>9}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for n in [int(x) for x in args.rules.split(",")]:
            row = [f"{n:>6}"]
            for scoped in (True, False):
                policy = load(rule_set(n, scoped), tmp)
                n_alerts = [0]

                def evaluate(policy: Any = policy, n_alerts: list[int] = n_alerts) -> None:
                    windows = MemoryWindowStore()
                    total = 0
                    for e, s in zip(events, scans, strict=True):
                        total += len(policy.evaluate(e, s, windows))
                    n_alerts[0] = total

                us = per_event(evaluate, args.repeat, len(events))
                row.append(f"{us:13.1f} {us / detect_us:9.2f}" if scoped else f"{us:15.1f} {us / detect_us:9.2f}")
                if scoped:
                    row.append(f"{n_alerts[0]:7d}")
            print(" ".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
