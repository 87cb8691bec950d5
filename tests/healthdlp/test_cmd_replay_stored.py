"""``healthdlp replay --since``: replay the stored events (the Kafka events topic) against real services.

A real Tansu broker holds envelopes from ten days ago and from yesterday, plus one record that
does not decode; a real ClickHouse server holds what the worker "did" raise. Checked: only the
window is replayed, the diff shows a candidate's added alerts, ``--baseline stored`` compares with
the stored alerts (ids match the replayed ones), and the dead letter is reported.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import pytest
import yaml

from detectors import build_engine
from model.alerts import Alert
from model.codec import encode_batch
from model.config import load_config
from model.events import Endpoint, Event
from stream.policy import BUNDLED_RULES, load_policy
from tests.healthdlp.test_cmd_replay import parse
from tests.stream.test_e2e_worker import cn_id

pytestmark = pytest.mark.integration
DAY = 86400
KEY = "replay-stored-test-key"


def cleartext(i: int, at: float) -> Event:
    body = f"患者姓名:王五 身份证号:{cn_id(f'11010519500101{i:03d}')} 诊断:2型糖尿病".encode()
    return Event(f"rs-{i}", "ward", at, "net", "http", src=Endpoint("10.1.0.5", 41000 + i),
                 dst=Endpoint("10.1.0.9", 80), content=body, content_type="text/plain", size=len(body))


@pytest.fixture()
def site(kafka_bootstrap: str, clickhouse_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    from kafka import KafkaProducer

    from sensors.kafka_topics import ensure_topics

    monkeypatch.setenv("HEALTHDLP_HASH_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    tag = uuid.uuid4().hex[:8]
    doc = {"kafka": {"bootstrap": kafka_bootstrap, "events_topic": f"rs-{tag}.events", "alerts_topic": f"rs-{tag}.a",
                     "dlq_topic": f"rs-{tag}.d", "partitions": 2, "request_timeout_ms": 3000},
           "store": {"backend": "clickhouse", "port": clickhouse_port, "database": f"rs_{tag}"}}
    path = tmp_path / "healthdlp.yaml"
    path.write_text(yaml.safe_dump(doc))
    cfg = load_config(path)
    ensure_topics(cfg.kafka)
    now = time.time()
    old = [cleartext(i, now - 10 * DAY + i) for i in range(2)]
    recent = [cleartext(10 + i, now - DAY + i) for i in range(3)]
    p = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=20)
    try:
        for part, ev in enumerate(old + recent):
            p.send(cfg.kafka.events_topic, key=b"k", value=encode_batch([ev], "ward", ev.observed_at),
                   partition=part % 2, timestamp_ms=int(ev.observed_at * 1000))
        p.send(cfg.kafka.events_topic, key=b"k", value=b"\x00garbage", partition=0,
               timestamp_ms=int((now - DAY) * 1000))
        p.flush(10)
    finally:
        p.close()
    vetoed = tmp_path / "vetoed"  # the interface network allow-listed: cleartext-health-data never fires
    shutil.copytree(BUNDLED_RULES, vetoed)
    f = vetoed / "transmission.yaml"
    f.write_text(f.read_text().replace("approvals: ignore\n", "approvals: ignore\nunless: {dst_host: [10.1.0.0/16]}\n"))
    return {"config": str(path), "cfg": cfg, "old": old, "recent": recent, "vetoed": str(vetoed)}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    args = parse(*argv)
    rc = args.func(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_since_replays_only_the_window_and_shows_the_candidates_added_alerts(
        site: dict, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "--config", site["config"], "replay", "--rules", str(BUNDLED_RULES),
                       "--baseline-rules", site["vetoed"], "--since", "7d")
    assert rc == 0, err
    assert "scanned from earliest" in err or "start offsets by timestamp" in err
    assert "3 events replayed" in err and "dead letters: json-invalid=1" in err
    line = next(ln for ln in out.splitlines() if ln.startswith("cleartext-health-data"))
    assert line.split()[1:] == ["0", "3", "+3"]  # the three recent flows; the ten-day-old ones are outside
    assert out.count("  + cleartext-health-data") == 3 and "only the baseline alerts" not in out

    rc, out, err = run(capsys, "--config", site["config"], "replay", "--rules", str(BUNDLED_RULES),
                       "--since", "30d", "--until", "8d")
    assert rc == 0 and out.count("cleartext-health-data") == 1 and "2 events replayed" in err

    rc, out, err = run(capsys, "--config", site["config"], "replay", "--rules", str(BUNDLED_RULES), "--since", "1h")
    assert rc == 0 and out == "" and "no events stored in the window" in err


def stored_alerts(recent: list[Event]) -> list[Alert]:
    """What the worker raised under the bundled rules (same code path as the worker's pipeline)."""
    from stream.policy import MemoryWindowStore

    engine, policy, windows = build_engine(load_config(None).detectors, KEY.encode()), load_policy(
        (), (), hash_key=KEY.encode()), MemoryWindowStore()
    return [a for ev in recent for a in policy.evaluate(ev, engine.scan(ev), windows)]


def test_baseline_stored_compares_with_the_alerts_that_were_raised(site: dict,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from store import open_store

    raised = stored_alerts(site["recent"])
    assert len(raised) == 3
    too_old = stored_alerts(site["old"][:1])
    with open_store(site["cfg"].store) as s:
        s.migrate()
        s.insert_alerts(raised[:2] + too_old)  # the third flow's alert was never stored (e.g. worker down)
    rc, out, err = run(capsys, "--config", site["config"], "replay", "--rules", str(BUNDLED_RULES),
                       "--baseline", "stored", "--since", "7d", "--format", "jsonl")
    assert rc == 0, err
    import json

    rows = [json.loads(ln) for ln in out.splitlines()]
    assert [(r["change"], r["alert"]["alert_id"]) for r in rows] == [("added", raised[2].alert_id)]

    rc, out, err = run(capsys, "--config", site["config"], "replay", "--rules", site["vetoed"],
                       "--baseline", "stored", "--since", "7d")
    assert rc == 0, err
    assert out.count("  - cleartext-health-data") == 2 and too_old[0].alert_id not in out
    line = next(ln for ln in out.splitlines() if ln.startswith("cleartext-health-data"))
    assert line.split()[1:] == ["2", "0", "-2"]


def test_missing_topic_and_unreachable_broker_exit_2(site: dict, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.services import free_port

    rc, _, err = run(capsys, "--config", site["config"], "replay", "--rules", str(BUNDLED_RULES), "--since", "7d",
                     "--topic", "no-such-topic")
    assert rc == 2 and "topic 'no-such-topic' does not exist" in err
    rc, _, err = run(capsys, "--config", site["config"], "replay", "--rules", str(BUNDLED_RULES), "--since", "7d",
                     "--bootstrap", f"127.0.0.1:{free_port()}")
    assert rc == 2 and "is unreachable" in err
