"""The faust worker end to end: a real Tansu broker, a real ClickHouse server, the real pipeline.

The worker runs as ``python -m stream.app --config FILE`` in a subprocess (exactly what
``healthdlp process`` runs), fed by the real ``KafkaSink``. Checked here:

* an envelope whose event is cleartext health data becomes one alert row in ClickHouse and one
  message on the alerts topic;
* a non-JSON message and a wrong-schema envelope go to the dead-letter topic with their reasons,
  and a good event behind them is still processed;
* at-least-once without duplicates: SIGKILL the worker after it processed some batches, restart
  it, replay the same input from the sensor side: ClickHouse (FINAL) holds each alert once;
* window state survives the kill: a bulk-copy window half filled before the kill and completed
  after the restart raises the bulk alert (only possible if the changelog restored the window).

The session timeout is shortened to 6 s because a SIGKILLed member lingers in the group until it
expires (about 30 s at the default on Tansu).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from healthdlp.synth import citizen_id_complete as cn_id
from model.codec import decode_alert, decode_dead_letter
from model.config import KafkaConfig, load_config
from model.events import Endpoint, Event
from sensors.kafka_sink import KafkaSink
from sensors.kafka_topics import ensure_topics

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def cleartext_event(i: int) -> Event:
    body = f"患者姓名:王五 身份证号:{cn_id(f'11010519500101{i:03d}')} 诊断:2型糖尿病".encode()
    return Event(f"e2e-ct-{i}", "e2e", 1_700_000_000.0 + i, "net", "http",
                 src=Endpoint("10.1.0.5", 41000 + i), dst=Endpoint("10.1.0.9", 80),
                 content=body, content_type="text/plain", size=len(body))


def usb_event(i: int) -> Event:
    body = f"姓名:赵{i} 身份证:{cn_id(f'11010519510202{i:03d}')} 诊断:高血压".encode()
    return Event(f"e2e-usb-{i}", "e2e", 1_700_000_100.0 + i, "log", "usb", actor="clerk7", device="USB-9",
                 content=body, size=len(body))


class Worker:
    """One ``python -m stream.app`` process with its log in a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HEALTHDLP_HASH_KEY": "e2e-hash-key"}
        out = self.log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "stream.app", "--config", str(self.config)],
                                     cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        out.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def wait_for(what: str, check: Callable[[], Any], worker: Worker, timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        if worker.proc is not None and worker.proc.poll() is not None:
            tail = worker.text()[-3000:]
            pytest.fail(f"worker exited ({worker.proc.returncode}) waiting for {what}:\n{tail}")
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}; worker log tail:\n{worker.text()[-3000:]}")


async def read_topic(kcfg: KafkaConfig, topic: str) -> list[tuple[bytes | None, bytes]]:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=kcfg.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(kcfg.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        out: list[tuple[bytes | None, bytes]] = []
        pending = {tp for tp in tps if end[tp] > 0}
        while pending:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch:
                break
            for tp, records in batch.items():
                out.extend((r.key, r.value) for r in records)
                if records and records[-1].offset + 1 >= end[tp]:
                    pending.discard(tp)
        return out
    finally:
        await consumer.stop()


@pytest.fixture()
def deployment(kafka_bootstrap: str, clickhouse_port: int, tmp_path: Path) -> Iterator[dict[str, Any]]:
    tag = uuid.uuid4().hex[:8]
    doc = {
        "sensor_id": "e2e",
        "hash_key_file": str(tmp_path / "hash.key"),
        "kafka": {
            "bootstrap": kafka_bootstrap,
            "events_topic": f"e2e-{tag}.events",
            "alerts_topic": f"e2e-{tag}.alerts",
            "dlq_topic": f"e2e-{tag}.dlq",
            "partitions": 3,
            "batch_events": 50,
            "linger_ms": 5,
        },
        "store": {"backend": "clickhouse", "port": clickhouse_port, "database": f"e2e_{tag}"},
        "stream": {
            "app_id": f"e2e-{tag}",
            "data_dir": str(tmp_path / "faust"),
            "take_max": 100,
            "take_within": 0.2,
            "web_port": 0,
            "session_timeout": 6.0,
        },
    }
    path = tmp_path / "healthdlp.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    cfg = load_config(path)
    ensure_topics(cfg.kafka)
    worker = Worker(path, tmp_path / "worker.log")
    try:
        yield {"cfg": cfg, "worker": worker}
    finally:
        worker.stop()


def alert_rows(cfg: Any) -> list[tuple[str, str, int]]:
    from clickhouse_driver import Client

    client = Client(host=cfg.store.host, port=cfg.store.port)
    try:
        return [tuple(r) for r in client.execute(  # type: ignore[misc]
            f"SELECT alert_id, rule_id, subjects FROM {cfg.store.database}.alerts FINAL ORDER BY alert_id")]
    except Exception:  # database not migrated yet
        return []
    finally:
        client.disconnect()


def produce_raw(kcfg: KafkaConfig, values: list[bytes], key: bytes) -> None:
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=kcfg.bootstrap, acks="all")
    try:
        for v in values:
            p.send(kcfg.events_topic, key=key, value=v)
        p.flush(10)
    finally:
        p.close()


def test_alert_reaches_clickhouse_and_the_topic_bad_messages_the_dlq(deployment: dict[str, Any]) -> None:
    cfg, worker = deployment["cfg"], deployment["worker"]
    # bad input first, on the same key (= same partition) as the good event behind it
    good = cleartext_event(1)
    produce_raw(cfg.kafka, [b"\xff\xfe this is not JSON",
                            b'{"schema":"healthdlp.events","v":99,"events":[]}'], good.principal.encode())
    with KafkaSink(cfg.kafka, "e2e") as sink:
        sink.emit(good)
    worker.start()

    rows = wait_for("the alert row in ClickHouse", lambda: alert_rows(cfg), worker)
    assert [r[1] for r in rows] == ["cleartext-health-data"]

    alerts = asyncio.run(read_topic(cfg.kafka, cfg.kafka.alerts_topic))
    assert [decode_alert(v).alert_id for _, v in alerts] == [rows[0][0]]
    assert alerts[0][0] == rows[0][0].encode()
    assert good.event_id in decode_alert(alerts[0][1]).event_ids

    letters = [decode_dead_letter(v) for _, v in wait_for(
        "two dead letters", lambda: (lambda d: d if len(d) >= 2 else None)(
            asyncio.run(read_topic(cfg.kafka, cfg.kafka.dlq_topic))), worker)]
    assert sorted((d.stage, d.reason) for d in letters) == [("decode", "json-invalid"),
                                                            ("decode", "schema-version")]
    assert all(d.source.startswith(cfg.kafka.events_topic + "/") for d in letters)
    assert {d.payload for d in letters} == {b"\xff\xfe this is not JSON",
                                            b'{"schema":"healthdlp.events","v":99,"events":[]}'}
    # the raw health content never reaches the worker's log
    assert "王五" not in worker.text() and cn_id("11010519500101001") not in worker.text()


async def _caught_up(kcfg: KafkaConfig, group: str) -> bool:
    """Has the worker's consumer group committed up to the end of every events partition?"""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=kcfg.bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(kcfg.events_topic, p) for p in range(kcfg.partitions)]
        end = await consumer.end_offsets(tps)
        for tp in tps:
            if end[tp] and (await consumer.committed(tp) or 0) < end[tp]:
                return False
        return True
    finally:
        await consumer.stop()


def test_kill_restart_replay_gives_each_alert_once_and_windows_survive(deployment: dict[str, Any]) -> None:
    cfg, worker = deployment["cfg"], deployment["worker"]
    first = [cleartext_event(i) for i in range(10, 14)] + [usb_event(i) for i in range(12)]
    second = [cleartext_event(i) for i in range(14, 16)] + [usb_event(i) for i in range(12, 22)]
    caught_up = lambda: asyncio.run(_caught_up(cfg.kafka, cfg.stream.app_id))  # noqa: E731

    def send(events: list[Event]) -> None:
        with KafkaSink(cfg.kafka, "e2e") as sink:
            for e in events:
                sink.emit(e)

    def bulk_subjects() -> int:
        return max((r[2] for r in alert_rows(cfg) if r[1] == "bulk-removable-media-export"), default=0)

    # 1. first half; wait until processed AND committed, then SIGKILL
    send(first)
    worker.start()
    wait_for("4 cleartext alerts", lambda: len(alert_rows(cfg)) >= 4, worker)
    wait_for("the first input to be committed", caught_up, worker)
    assert {r[1] for r in alert_rows(cfg)} == {"cleartext-health-data"}  # 12 < 20 subjects: no bulk alert
    worker.kill()

    # 2. second half after the restart: the first 12 subjects are not re-read from the events
    #    topic (committed), so a bulk alert over 22 subjects proves the window came back from the
    #    changelog. SIGKILL again right away, most likely before this batch's offsets are committed.
    send(second)
    worker.start()
    wait_for("the bulk alert over 22 subjects", lambda: bulk_subjects() >= 22, worker, timeout=60)
    worker.kill()

    # 3. the sensor replays everything; the restarted worker also re-reads what was not committed
    send(first + second)
    worker.start()
    wait_for("the replay to be committed", caught_up, worker, timeout=60)
    final = alert_rows(cfg)
    ids = [r[0] for r in final]
    assert len(ids) == len(set(ids)) == 7, final
    assert sorted(r[1] for r in final) == ["bulk-removable-media-export"] + ["cleartext-health-data"] * 6
    assert bulk_subjects() == 22
