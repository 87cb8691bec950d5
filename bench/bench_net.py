"""Network sensor throughput on a generated mixed health-traffic capture.

Usage: .venv/bin/python bench/bench_net.py [--size-mb N] [--cache-dir DIR] [--scapy-packets N]

Builds (once, cached by size) a pcap of HTTP/FHIR JSON (Content-Length, chunked+gzip), HL7 v2
over MLLP and TLS flows with sensors/net/craft.py, then times on the same file:
- ours: pcap read → headers → TCP reassembly → protocol parsers → Events (into a counting sink)
- scapy PcapReader with full dissection (on the first N packets, scaled to the file)
- scapy RawPcapReader (records only, no parsing)
- tshark -r FILE -q (full dissection in C, for scale)
Figures are per core: each tool runs single-threaded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from model.config import NetConfig  # noqa: E402
from model.events import DeadLetter, Event  # noqa: E402
from sensors.net import NetSensor, craft  # noqa: E402


class CountingSink:
    def __init__(self) -> None:
        self.events = 0
        self.content_bytes = 0
        self.dead_letters = 0

    def emit(self, event: Event) -> None:
        self.events += 1
        self.content_bytes += len(event.content)

    def dead_letter(self, letter: DeadLetter) -> None:
        self.dead_letters += 1

    def flush(self) -> None:
        return None


def _flows(i: int, ts: float) -> list[list[Any]]:
    """One round of mixed traffic: FHIR POST + search, an HL7 batch, a TLS session."""
    ip = f"10.{(i >> 8) & 255}.{i & 255}.7"
    bundle = json.dumps({"resourceType": "Bundle", "type": "transaction",
                         "entry": [{"resource": craft.patient_record(i * 31 + k)} for k in range(40)]},
                        ensure_ascii=False).encode()
    http_turns = [
        ("c", craft.http_request("POST", "/fhir/Bundle", body=bundle, content_type="application/fhir+json",
                                 user=f"clerk{i % 17}")),
        ("s", craft.http_response(b'{"resourceType":"Bundle","type":"transaction-response"}', status=200)),
        ("c", craft.http_request("GET", f"/fhir/Patient?_count=50&page={i}")),
        ("s", craft.http_chunked_gzip_response(i)),
        ("c", craft.http_request("GET", f"/fhir/Observation?patient=pat-{i}")),
        ("s", craft.http_response(bundle, content_type="application/fhir+json")),
    ]
    hl7_turns: list[tuple[str, bytes]] = []
    for k in range(30):
        cid = f"C{i}-{k}"
        msg = craft.hl7_adt_a01(cid, seed=i + k) if k % 2 else craft.hl7_oru_r01(cid, seed=i + k)
        hl7_turns += [("c", craft.mllp(msg)), ("s", craft.mllp(craft.hl7_ack(cid)))]
    tls_turns = [("c", craft.tls_client_hello(f"portal{i % 50}.hospital.example")),
                 ("s", craft.tls_server_hello()),
                 ("c", craft.tls_app_data(8_000, i)), ("s", craft.tls_app_data(60_000, i + 1))]
    def conv(dport: int, start: float) -> craft.Conversation:
        return craft.Conversation(client=ip, server="10.99.0.1", sport=20000 + i % 40000, dport=dport,
                                  start_ts=start, mss=1448, step=0.00002)

    return [
        craft.conversation(http_turns, conv(80, ts)),
        craft.conversation(hl7_turns, conv(2575, ts + 0.01)),
        craft.conversation(tls_turns, conv(443, ts + 0.02)),
    ]


def build_capture(path: Path, size_mb: int) -> None:
    from scapy.utils import PcapWriter

    tmp = path.with_suffix(".tmp")
    w = PcapWriter(str(tmp), linktype=1, sync=False)
    target = size_mb << 20
    written, i, t0 = 0, 0, time.perf_counter()
    try:
        while written < target:
            for conv in _flows(i, 1_700_000_000.0 + i * 0.05):
                for p in conv:
                    w.write(p)
                    written += len(p) + 16
            i += 1
    finally:
        w.close()
    tmp.rename(path)
    print(f"built {path} ({written / 1e6:.1f} MB, {i} rounds) in {time.perf_counter() - t0:.1f}s")


def bench_ours(path: Path) -> dict[str, Any]:
    sink = CountingSink()
    sensor = NetSensor(NetConfig(), "bench", sink)
    t0, c0 = time.perf_counter(), time.process_time()
    sensor.run_pcap(path)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    st = sensor.stats
    if st.get("internal-error") or sink.dead_letters:
        print(f"WARNING: internal errors {st.get('internal-error', 0)}, dead letters {sink.dead_letters}")
    return {"seconds": wall, "cpu": cpu, "packets": st["packets"], "events": sink.events,
            "content_mb": sink.content_bytes / 1e6, "stats": st}


def bench_scapy_full(path: Path, limit: int) -> dict[str, float]:
    from scapy.utils import PcapReader

    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    with PcapReader(str(path)) as r:
        for _pkt in r:
            n += 1
            if n >= limit:
                break
    return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0, "packets": n}


def bench_scapy_raw(path: Path) -> dict[str, float]:
    from scapy.utils import RawPcapReader

    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    with RawPcapReader(str(path)) as r:
        for _rec in r:
            n += 1
    return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0, "packets": n}


def bench_tshark(path: Path) -> dict[str, float] | None:
    exe = shutil.which("tshark")
    if exe is None:
        return None
    t0 = time.perf_counter()
    subprocess.run([exe, "-n", "-r", str(path), "-q"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return {"seconds": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=int, default=100)
    ap.add_argument("--cache-dir", default=os.environ.get("HEALTHDLP_BENCH_DIR", "/tmp/healthdlp-bench"))
    ap.add_argument("--scapy-packets", type=int, default=20_000)
    ap.add_argument("--profile", action="store_true", help="cProfile our run and print the top functions")
    args = ap.parse_args(argv)
    cache = Path(args.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"mixed-health-{args.size_mb}mb.pcap"
    if not path.exists():
        build_capture(path, args.size_mb)
    mb = path.stat().st_size / 1e6

    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.runcall(bench_ours, path)
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        return 0

    ours = bench_ours(path)
    total_packets = int(ours["packets"])
    full = bench_scapy_full(path, args.scapy_packets)
    raw = bench_scapy_raw(path)
    tsh = bench_tshark(path)

    rows: list[tuple[str, float, str]] = []
    rows.append(("ours: read+reassemble+parse+emit", ours["cpu"], f"{ours['events'] / ours['cpu']:,.0f}"))
    scale = total_packets / max(1, full["packets"])
    rows.append((f"scapy PcapReader full dissection (x{scale:.1f} from {full['packets']:,.0f} pkts)",
                 full["cpu"] * scale, "-"))
    rows.append(("scapy RawPcapReader (no parsing)", raw["cpu"], "-"))
    if tsh is not None:
        rows.append(("tshark -r FILE -q (wall)", tsh["seconds"], "-"))
    print(f"\ncapture: {path} — {mb:.1f} MB, {total_packets:,} packets, {ours['events']:,} events "
          f"({ours['content_mb']:.1f} MB of content)")
    print(f"{'tool':58} {'seconds':>8} {'MB/s':>8} {'packets/s':>11} {'events/s':>10}")
    for name, secs, evs in rows:
        print(f"{name:58} {secs:8.2f} {mb / secs:8.1f} {total_packets / secs:11,.0f} {evs:>10}")
    st = ours["stats"]
    assert isinstance(st, dict)
    keys = ("flows", "flows.http", "flows.hl7-mllp", "flows.tls",
            "events.fhir", "events.hl7-mllp", "events.tls")
    print("counters: " + ", ".join(f"{k}={st.get(k, 0)}" for k in keys))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
