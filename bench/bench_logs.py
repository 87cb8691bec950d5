"""Log sensor throughput per format: file -> ListSink and file -> Kafka, against `cat FILE > /dev/null`.

For each format a file of generated lines is written to a temporary directory, then in one run:

* ``cat``: ``cat FILE > /dev/null``, the physical floor of reading the file;
* ``ListSink``: ``LogSensor.run_once`` (tail, detect, parse, emit, checkpoint) into an in-memory sink;
* ``Kafka``: the same into ``KafkaSink`` on a real Kafka-protocol broker (Tansu, started here via
  tests/services.py), including the producer's JSON encoding and the broker acknowledgements.

Rates are lines per second of wall time and per second of this process's CPU time ("per core":
the sensor runs on one thread; the Kafka producer's I/O thread is included in CPU time).

    .venv/bin/python bench/bench_logs.py [--lines 200000] [--formats access-log,auditd] [--no-kafka]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model.config import KafkaConfig, LogsConfig  # noqa: E402
from sensors.logs import LogSensor  # noqa: E402
from sensors.sink import ListSink  # noqa: E402

R = random.Random(7)
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36"
PATHS = ["/fhir/Patient/{}", "/fhir/Observation?patient={}&code=8867-4", "/static/js/app.{}.js", "/index.html",
         "/api/patients/{}/records", "/fhir/Encounter?subject=Patient/{}", "/images/logo.png", "/api/health"]


def gen_access(i: int) -> str:
    p = R.choice(PATHS).format(R.randint(1, 99999))
    return (f'10.{i % 200}.{i % 250}.{i % 211} - u{i % 57} [25/Nov/2024:09:{(i // 60) % 60:02d}:{i % 60:02d} +0800] '
            f'"GET {p} HTTP/1.1" 200 {R.randint(100, 90000)} "https://his.example.org/ui" "{UA}"')


def gen_access_json(i: int) -> str:
    p = R.choice(PATHS).format(R.randint(1, 99999))
    return json.dumps({"time_iso8601": f"2024-11-25T09:{(i // 60) % 60:02d}:{i % 60:02d}+08:00",
                       "remote_addr": f"10.0.{i % 250}.{i % 211}", "remote_user": f"u{i % 57}",
                       "request": f"GET {p} HTTP/1.1", "status": 200, "body_bytes_sent": R.randint(100, 90000),
                       "http_user_agent": UA, "scheme": "https", "ssl_protocol": "TLSv1.3"})


def gen_auditd(i: int) -> str:
    serial, kind = divmod(i, 4)
    stamp = f"audit({1732497600 + serial // 10}.{serial % 1000:03d}:{serial})"
    if kind == 0:
        return (f"type=SYSCALL msg={stamp}: arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=55d1 a2=241 "
                f"a3=1b6 items=2 ppid=4242 pid={4243 + serial} auid=1000 uid=1000 gid=1000 euid=1000 tty=pts0 ses=3 "
                'comm="cp" exe="/usr/bin/cp" key="removable"')
    if kind == 1:
        return f'type=CWD msg={stamp}: cwd="/home/alice"'
    if kind == 2:
        return (f'type=PATH msg={stamp}: item=1 name="/media/alice/KINGSTON/export{serial}.csv" inode=12 dev=08:11 '
                "mode=0100644 ouid=1000 ogid=1000 rdev=00:00 nametype=CREATE")
    return f"type=EOE msg={stamp}: "


def gen_pgaudit(i: int) -> str:
    return (f"2024-11-25 09:00:{i % 60:02d}.{i % 1000:03d} CST [{700 + i % 30}] user=u{i % 20},db=his,host=10.0.0."
            f"{i % 250} LOG:  AUDIT: SESSION,{i},1,READ,SELECT,TABLE,public.patients,\"SELECT name, id_card FROM "
            f"patients WHERE ward = '{i % 40}A'\",<not logged>,{i % 300}")


def gen_mysql(i: int) -> str:
    return json.dumps({"timestamp": "2024-11-25 01:00:01", "id": i, "class": "general", "event": "status",
                       "connection_id": i % 50, "account": {"user": f"app{i % 5}", "host": "10.0.0.8"},
                       "login": {"user": f"app{i % 5}", "os": "", "ip": "10.0.0.8", "proxy": ""},
                       "general_data": {"command": "Query", "sql_command": "select",
                                        "query": f"SELECT * FROM patients WHERE id = {i}", "status": 0}})


def gen_sqlcsv(i: int) -> str:
    if i == 0:
        return "time,user,client,database,statement,rows"
    return f'2024-11-25T09:00:00+08:00,u{i % 9},10.0.0.{i % 250},his,"SELECT * FROM visits WHERE pid = {i}",{i % 50}'


def gen_his(i: int) -> str:
    if i == 0:
        return ("访问时间,工号,医生姓名,科室,职称,终端IP,患者ID,住院号,患者姓名,操作类型,"
                "病历类型,访问级别,记录数,授权方式")
    action = R.choice(["查看", "查看", "打印", "导出"])
    return (f"2024-11-25 08:{(i // 60) % 60:02d}:{i % 60:02d},D{10000 + i % 300},李明,心内科,主治医师,"
            f"10.12.3.{i % 250},P{i:06d},ZY2024{i:06d},王芳,{action},病程记录,摘要级,1,本科室")


def gen_sysmon(i: int) -> str:
    return json.dumps({"@timestamp": "2024-11-25T01:20:11.250Z", "winlog": {
        "event_id": 11, "provider_name": "Microsoft-Windows-Sysmon", "channel": "Microsoft-Windows-Sysmon/Operational",
        "computer_name": f"WS-{i % 90:03d}", "record_id": i, "event_data": {
            "UtcTime": "2024-11-25 01:20:11.250", "Image": "C:\\Windows\\explorer.exe",
            "TargetFilename": f"E:\\exports\\f{i}.csv", "User": f"CORP\\u{i % 40}"}}})


def gen_jsonl(i: int) -> str:
    return json.dumps({"ts": 1732497600 + i, "user": f"u{i % 50}", "host": "app1",
                       "message": f"patient record {i} viewed", "path": f"/emr/{i}"})


GENERATORS: dict[str, Callable[[int], str]] = {
    "access-log": gen_access, "access-log-json": gen_access_json, "auditd": gen_auditd, "pgaudit": gen_pgaudit,
    "mysql-audit": gen_mysql, "sql-audit-csv": gen_sqlcsv, "his-audit": gen_his, "windows-event": gen_sysmon,
    "jsonl": gen_jsonl,
}


def write(path: Path, gen: Callable[[int], str], n: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(gen(i) + "\n")


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t, time.process_time() - c, out


def run_sensor(path: Path, sink: Any, ckpt: str) -> dict[str, int]:
    cfg = LogsConfig(paths=(str(path),), checkpoint_dir=ckpt, sample_files=False)
    s = LogSensor(cfg, f"bench-{uuid.uuid4().hex[:6]}", sink)
    try:
        return s.run_once()
    finally:
        s.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--formats", default=",".join(GENERATORS))
    ap.add_argument("--no-kafka", action="store_true")
    args = ap.parse_args()
    names = [n for n in args.formats.split(",") if n]
    broker = None
    kcfg: KafkaConfig | None = None
    if not args.no_kafka:
        from sensors.kafka_topics import ensure_topics
        from tests import services

        broker = services.start_broker()
        tag = uuid.uuid4().hex[:6]
        kcfg = KafkaConfig(bootstrap=f"127.0.0.1:{broker.port}", events_topic=f"bench-{tag}.events",
                           alerts_topic=f"bench-{tag}.alerts", dlq_topic=f"bench-{tag}.dlq", partitions=3)
        ensure_topics(kcfg)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in names:
                path = Path(tmp) / f"{name}.log"
                write(path, GENERATORS[name], args.lines)
                mb = path.stat().st_size / 1e6
                t, _, _ = timed(lambda p=path: subprocess.run(["cat", str(p)], stdout=subprocess.DEVNULL, check=True))
                cat_rate = args.lines / t
                sink = ListSink()
                t1, c1, counts = timed(lambda p=path, s=sink: run_sensor(p, s, tmp + "/ckpt-list"))
                events = counts.get("events", 0)
                dead = counts.get("dead-letters", 0)
                del sink
                row = [name, args.lines, mb, cat_rate, args.lines / t1, args.lines / c1, events, dead]
                if kcfg is not None:
                    from sensors.kafka_sink import KafkaSink

                    ks = KafkaSink(kcfg, "bench")
                    t2, c2, _ = timed(lambda p=path, s=ks: run_sensor(p, s, tmp + "/ckpt-kafka"))
                    ks.close()
                    row += [args.lines / t2, args.lines / c2]
                rows.append(row)
                path.unlink()
    finally:
        if broker is not None:
            broker.stop()
    head = (f"{'format':<16} {'lines':>8} {'MB':>6} {'cat lines/s':>12} {'ListSink wall':>14} {'ListSink/core':>14}"
            f" {'events':>8} {'dead':>5}")
    if kcfg is not None:
        head += f" {'Kafka wall':>11} {'Kafka/core':>11}"
    print(head)
    for r in rows:
        line = (f"{r[0]:<16} {r[1]:>8} {r[2]:>6.1f} {r[3]:>12,.0f} {r[4]:>14,.0f} {r[5]:>14,.0f} {r[6]:>8} "
                f"{r[7]:>5}")
        if kcfg is not None:
            line += f" {r[8]:>11,.0f} {r[9]:>11,.0f}"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
