"""A context-aware windowed kind on the real broker: doctor-access anomaly counts survive a SIGKILL.

The faust worker (``python -m stream.app``) runs with the doctor-access scenario pack and its
context template. Three off-hours record accesses by one clinician are processed and committed,
the worker is killed, and two more arrive after the restart: the permission-lock rule (5
anomalies in 8 h) can only fire if the anomaly window came back from the changelog topic.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from model.config import load_config
from model.events import Endpoint, Event
from sensors.kafka_sink import KafkaSink
from sensors.kafka_topics import ensure_topics
from tests.stream.test_e2e_worker import Worker, _caught_up, alert_rows, cn_id, wait_for

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "stream" / "policy" / "packs" / "doctor-access"
pytestmark = pytest.mark.integration

NIGHT = 1_763_996_400.0  # Mon 2025-11-24 23:00 +08:00 (15:00Z)


def access(i: int) -> Event:
    body = f"patient_id=P{i:06d}\n患者姓名: 赵{i}\n身份证: {cn_id(f'11010519600303{i:03d}')}".encode()
    return Event(f"e2e-his-{i}", "e2e", NIGHT + 60 * i, "log", "his-audit", src=Endpoint("10.12.3.41"),
                 dst=Endpoint("EMR"), actor="D10023", content=body, content_type="text/plain", size=len(body),
                 attributes={"department": "心内科", "patient_department": "心内科", "action": "view"})


@pytest.fixture()
def deployment(kafka_bootstrap: str, clickhouse_port: int, tmp_path: Path) -> Iterator[dict[str, Any]]:
    tag = uuid.uuid4().hex[:8]
    doc = {
        "sensor_id": "e2e",
        "hash_key_file": str(tmp_path / "hash.key"),
        "kafka": {"bootstrap": kafka_bootstrap, "events_topic": f"e2f-{tag}.events",
                  "alerts_topic": f"e2f-{tag}.alerts", "dlq_topic": f"e2f-{tag}.dlq", "partitions": 3,
                  "batch_events": 50, "linger_ms": 5},
        "store": {"backend": "clickhouse", "port": clickhouse_port, "database": f"e2f_{tag}"},
        "stream": {"app_id": f"e2f-{tag}", "data_dir": str(tmp_path / "faust"), "take_max": 100,
                   "take_within": 0.2, "web_port": 0, "session_timeout": 6.0},
        "policy": {"rules": [str(PACK / "rules.yaml")], "context": [str(PACK / "context.yaml")]},
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


def test_doctor_access_window_survives_a_worker_kill(deployment: dict[str, Any]) -> None:
    cfg, worker = deployment["cfg"], deployment["worker"]

    def send(events: list[Event]) -> None:
        with KafkaSink(cfg.kafka, "e2e") as sink:
            for e in events:
                sink.emit(e)

    def by_rule(rule: str) -> list[tuple[str, str, int]]:
        return [r for r in alert_rows(cfg) if r[1] == rule]

    send([access(i) for i in range(3)])
    worker.start()
    wait_for("the anomaly alert", lambda: by_rule("doctor-access-anomaly"), worker, timeout=90)
    # the commit follows the first batch, which loads the name tagger's model: on a loaded 2-core host
    # that took longer than wait_for's default 40 s once, so the same bound as the alerts
    wait_for(
        "the first input to be committed",
        lambda: asyncio.run(_caught_up(cfg.kafka, cfg.stream.app_id)),
        worker,
        timeout=90,
    )
    assert by_rule("doctor-access-permission-lock") == []  # 3 < 5 anomalies
    worker.kill()

    send([access(i) for i in range(3, 5)])
    worker.start()
    rows = wait_for("the permission-lock alert", lambda: by_rule("doctor-access-permission-lock"), worker, timeout=90)
    assert rows[0][2] == 5  # five distinct patients: the first three came back from the changelog
    assert "赵" not in worker.text()
