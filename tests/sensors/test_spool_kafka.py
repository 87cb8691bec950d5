"""Kafka down and back: the spool keeps events through a real broker outage and replays them in order.

A real Tansu broker of our own (tests/services.py) is killed while the sensor keeps emitting,
then a new broker is started on the same port. Tansu's memory storage starts empty after a
restart, so the assertions are on what the restarted broker receives: every event emitted
during the outage and after it, each principal's events in order.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from model.codec import decode_batch
from model.config import KafkaConfig
from model.events import Event, make_event_id
from sensors.kafka_sink import open_sink
from sensors.spool import SpoolSink
from tests import services
from tests.sensors.test_kafka_sink import _read_all


def _start_on(port: int) -> subprocess.Popen[bytes]:
    binary = services.broker_binary()
    assert binary is not None
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen([binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                             "--storage-engine", "memory://tansu/"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    import socket

    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("restarted broker did not listen")


def ev(i: int) -> Event:
    return Event(event_id=make_event_id("spool-kafka", i), sensor_id="s1", observed_at=1.7e9 + i, source_kind="log",
                 channel="usb", actor=f"user{i % 3}", content=f"row {i}".encode(), size=5, attributes={"i": i})


@pytest.mark.integration
def test_kafka_down_and_back_replays_the_spool(tmp_path: Path, kafka_bootstrap: str) -> None:
    if services.broker_binary() is None:
        pytest.skip("no broker binary")
    own = services.start_broker()
    port = own.port
    tag = uuid.uuid4().hex[:8]
    cfg = KafkaConfig(bootstrap=f"127.0.0.1:{port}", events_topic=f"sp-{tag}.events", alerts_topic=f"sp-{tag}.alerts",
                      dlq_topic=f"sp-{tag}.dlq", partitions=2, request_timeout_ms=1000,
                      spool_dir=str(tmp_path / "spool"), spool_retry_seconds=0.5)
    sink = open_sink(cfg, "s1")
    assert isinstance(sink, SpoolSink)
    restarted: subprocess.Popen[bytes] | None = None
    try:
        for i in range(20):
            sink.emit(ev(i))
        sink.flush()
        assert sink.stats["direct_events"] == 20 and not sink.spooling
        own.proc.kill()
        own.proc.wait()
        for i in range(20, 120):  # the outage: flush fails over to the spool and returns
            sink.emit(ev(i))
            if i % 25 == 0:
                sink.flush()
        sink.flush()
        assert sink.spooling and sink.stats["spool_records"] >= 100
        restarted = _start_on(port)
        for i in range(120, 130):
            sink.emit(ev(i))
        deadline = time.monotonic() + 30
        while sink.spooling and time.monotonic() < deadline:
            time.sleep(0.6)
            sink.flush()
        assert not sink.spooling, sink.stats
        for i in range(130, 140):  # direct again
            sink.emit(ev(i))
        sink.close()
        messages = asyncio.run(_read_all(cfg, cfg.events_topic))
    finally:
        if restarted is not None:
            restarted.kill()
            restarted.wait()
        own.stop()
    got = [e for _, _, v in messages for e in decode_batch(v)]
    got_ids = [e.event_id for e in got]
    expected = {ev(i).event_id for i in range(20, 140)}
    assert expected <= set(got_ids)  # nothing emitted during or after the outage is lost
    assert len(got_ids) == len(set(got_ids))  # and the new broker got each once
    for actor in ("user0", "user1", "user2"):  # each principal's events in emission order
        seq = [e.attributes["i"] for e in got if e.actor == actor]
        assert seq == sorted(seq)
    assert sink.stats["replayed_events"] >= 100 and list((tmp_path / "spool").iterdir()) == []
