"""KafkaSink and ensure_topics against a real Kafka-protocol broker (Tansu), read back with aiokafka.

kafka-python consumers with a group id get no assignment from Tansu, so the read-back uses
aiokafka with explicit partition assignment, and a raw Fetch to see each record batch's codec.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter, defaultdict

import pytest

from model.codec import decode_batch, decode_dead_letter, encode_dead_letter
from model.config import KafkaConfig
from model.events import DeadLetter, Endpoint, Event, make_event_id
from sensors.kafka_sink import MESSAGE_LIMIT, KafkaDeliveryError, KafkaSink, bounded_dead_letter
from sensors.kafka_topics import BrokerUnavailable, TopicSetupError, ensure_topics, topic_specs

GZIP = 1  # Kafka record-batch attribute codec id


def _cfg(bootstrap: str, **kw: object) -> KafkaConfig:
    tag = uuid.uuid4().hex[:8]
    base = {
        "bootstrap": bootstrap,
        "events_topic": f"t-{tag}.events",
        "alerts_topic": f"t-{tag}.alerts",
        "dlq_topic": f"t-{tag}.dlq",
        "partitions": 3,
        "request_timeout_ms": 10000,
    }
    base.update(kw)
    return KafkaConfig(**base)  # type: ignore[arg-type]


def _event(i: int, actor: str = "", *, content: bytes = b"", device: str = "", host: str = "") -> Event:
    return Event(
        event_id=make_event_id("sink-test", i),
        sensor_id="s1",
        observed_at=1_700_000_000.0 + i,
        source_kind="log",
        channel="usb",
        src=Endpoint(host) if host else None,
        actor=actor,
        device=device,
        content=content or f"file-{i}.csv".encode(),
        size=len(content) if content else 10,
    )


async def _read_all(cfg: KafkaConfig, topic: str) -> list[tuple[int, bytes | None, bytes]]:
    """(partition, key, value) of every message in ``topic``, via an assigned aiokafka consumer."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=cfg.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(cfg.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        out: list[tuple[int, bytes | None, bytes]] = []
        pending = {tp for tp in tps if end[tp] > 0}
        while pending:
            batch = await consumer.getmany(timeout_ms=2000)
            if not batch:
                break
            for tp, records in batch.items():
                out.extend((tp.partition, r.key, r.value) for r in records)
                if records and records[-1].offset + 1 >= end[tp]:
                    pending.discard(tp)
        return out
    finally:
        await consumer.stop()


async def _batch_codecs(cfg: KafkaConfig, topic: str) -> Counter[int]:
    """Compression codec of every record batch stored in ``topic`` (raw Fetch, no decompression)."""
    from aiokafka.client import AIOKafkaClient
    from aiokafka.protocol.fetch import FetchRequest
    from aiokafka.record.memory_records import MemoryRecords
    from aiokafka.structs import TopicPartition

    client = AIOKafkaClient(bootstrap_servers=cfg.bootstrap)
    await client.bootstrap()
    codecs: Counter[int] = Counter()
    try:
        await client.force_metadata_update()
        for p in range(cfg.partitions):
            leader = client.cluster.leader_for_partition(TopicPartition(topic, p))
            request = FetchRequest(500, 1, 50_000_000, 0, [(topic, [(p, 0, 50_000_000)])])
            resp = await client.send(leader, request)
            for _topic, parts in resp.topics:
                for part in parts:
                    records = MemoryRecords(part[-1])
                    while (b := records.next_batch()) is not None:
                        codecs[b.compression_type] += 1
    finally:
        await client.close()
    return codecs


# -- unit: no broker ----------------------------------------------------------------------------------
def test_bounded_dead_letter_keeps_small_letters_unchanged() -> None:
    dl = DeadLetter("log-sensor", "line-too-long", "line 3 is longer than 1 MiB", "a.log:3", 1.0, b"x" * 100)
    assert bounded_dead_letter(dl) is dl


def test_bounded_dead_letter_cuts_payload_to_fit_and_says_so() -> None:
    payload = bytes(range(256)) * 5000  # 1.28 MB of binary: base64 makes it ~1.7 MB
    dl = DeadLetter("decode", "json-invalid", "message is not JSON", "t/0/7", 1.0, payload)
    cut = bounded_dead_letter(dl)
    assert len(encode_dead_letter(cut)) <= MESSAGE_LIMIT
    assert 0 < len(cut.payload) < len(payload)
    assert payload.startswith(cut.payload)
    assert (cut.stage, cut.reason, cut.source) == ("decode", "json-invalid", "t/0/7")
    assert f"payload cut from {len(payload)}" in cut.detail


def test_topic_specs_follow_config() -> None:
    cfg = KafkaConfig(partitions=6, replication=2, events_topic="e", alerts_topic="a", dlq_topic="d")
    assert [(s.name, s.partitions, s.replication) for s in topic_specs(cfg)] == [
        ("e", 6, 2), ("a", 6, 2), ("d", 6, 2)
    ]


def test_zero_partitions_is_refused_before_asking_the_broker() -> None:
    # Tansu would create a 0-partition topic; the check must not depend on the broker
    with pytest.raises(TopicSetupError, match="at least 1"):
        ensure_topics(KafkaConfig(bootstrap="127.0.0.1:1", partitions=0))


def test_unreachable_broker_is_a_clear_error() -> None:
    cfg = KafkaConfig(bootstrap="127.0.0.1:1", request_timeout_ms=1000)
    with pytest.raises(BrokerUnavailable, match=r"127\.0\.0\.1:1.*kafka\.bootstrap"):
        ensure_topics(cfg)
    with pytest.raises(BrokerUnavailable, match=r"127\.0\.0\.1:1"):
        KafkaSink(cfg, "s1")


# -- integration: real broker --------------------------------------------------------------------------
@pytest.mark.integration
def test_ensure_topics_creates_all_three_and_is_idempotent(kafka_bootstrap: str) -> None:
    from kafka.admin import KafkaAdminClient

    cfg = _cfg(kafka_bootstrap, partitions=4)
    ensure_topics(cfg)
    ensure_topics(cfg)  # existing topics are fine
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(
            [cfg.events_topic, cfg.alerts_topic, cfg.dlq_topic])}
    finally:
        admin.close()
    assert described == {cfg.events_topic: 4, cfg.alerts_topic: 4, cfg.dlq_topic: 4}


@pytest.mark.integration
def test_round_trip_batches_keyed_by_principal_gzip(kafka_bootstrap: str) -> None:
    cfg = _cfg(kafka_bootstrap, batch_events=40, compression="gzip")
    ensure_topics(cfg)
    principals = ["alice", "bob", "carol"]
    events = [_event(i, principals[i % 3]) for i in range(150)]
    events += [_event(1000 + i, device="USB-SERIAL-9") for i in range(7)]  # no actor: device principal
    events += [_event(2000 + i, host="10.0.0.9") for i in range(3)]  # neither: source host
    with KafkaSink(cfg, "s1") as sink:
        for e in events:
            sink.emit(e)
        sink.dead_letter(DeadLetter("log-sensor", "json-invalid", "line 9 is not JSON", "a.log:9", 2.0,
                                    b"{oops"))
        sink.flush()
        stats = sink.stats
    assert sink.idempotent  # Tansu supports the idempotent producer
    assert stats["events"] == len(events) and stats["errors"] == 0 and stats["buffered"] == 0
    assert stats["acked_messages"] == stats["messages"] + stats["dead_letters"]

    messages = asyncio.run(_read_all(cfg, cfg.events_topic))
    assert len(messages) == stats["messages"]
    seen: list[str] = []
    partition_of: dict[bytes, set[int]] = defaultdict(set)
    for partition, key, value in messages:
        batch = decode_batch(value)
        assert 1 <= len(batch) <= cfg.batch_events
        assert key is not None and {e.principal for e in batch} == {key.decode()}
        partition_of[key].add(partition)
        seen.extend(e.event_id for e in batch)
        assert json.loads(value)["sensor_id"] == "s1"
    assert sorted(seen) == sorted(e.event_id for e in events)  # every event once
    assert set(partition_of) == {b"actor:alice", b"actor:bob", b"actor:carol", b"device:USB-SERIAL-9",
                                 b"host:10.0.0.9"}
    assert all(len(ps) == 1 for ps in partition_of.values())  # one principal, one partition
    # 50 events per actor at 40 per message: one full and one partial batch each
    assert sorted(len(decode_batch(v)) for _, k, v in messages if k == b"actor:bob") == [10, 40]

    codecs = asyncio.run(_batch_codecs(cfg, cfg.events_topic))
    assert codecs and set(codecs) == {GZIP}

    dlq = asyncio.run(_read_all(cfg, cfg.dlq_topic))
    assert len(dlq) == 1
    letter = decode_dead_letter(dlq[0][2])
    assert (letter.reason, letter.source, letter.payload) == ("json-invalid", "a.log:9", b"{oops")
    assert dlq[0][1] == b"json-invalid"


@pytest.mark.integration
def test_no_compression_and_no_idempotence(kafka_bootstrap: str) -> None:
    cfg = _cfg(kafka_bootstrap, compression="none", idempotence=False)
    ensure_topics(cfg)
    with KafkaSink(cfg, "s1") as sink:
        for i in range(5):
            sink.emit(_event(i, "dave"))
    assert not sink.idempotent
    assert set(asyncio.run(_batch_codecs(cfg, cfg.events_topic))) == {0}
    assert [len(decode_batch(v)) for _, _, v in asyncio.run(_read_all(cfg, cfg.events_topic))] == [5]


def test_missing_codec_library_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from kafka import codec

    monkeypatch.setattr(codec, "has_lz4", lambda: False)
    with pytest.raises(ValueError, match="pip install lz4"):
        KafkaSink(KafkaConfig(bootstrap="127.0.0.1:1", compression="lz4"), "s1")


@pytest.mark.integration
@pytest.mark.parametrize(("compression", "codec_id"), [("snappy", 2), ("lz4", 3), ("zstd", 4)])
def test_every_configured_compression_round_trips(kafka_bootstrap: str, compression: str, codec_id: int) -> None:
    """The codecs the config offers are installed (pyproject) and really used on the wire."""
    cfg = _cfg(kafka_bootstrap, compression=compression)
    ensure_topics(cfg)
    events = [_event(i, "gina") for i in range(7)]
    with KafkaSink(cfg, "s1") as sink:
        for e in events:
            sink.emit(e)
    assert set(asyncio.run(_batch_codecs(cfg, cfg.events_topic))) == {codec_id}
    got = [e for _, _, v in asyncio.run(_read_all(cfg, cfg.events_topic)) for e in decode_batch(v)]
    assert sorted(e.event_id for e in got) == sorted(e.event_id for e in events)


@pytest.mark.integration
def test_oversize_batches_split_and_a_huge_event_is_cut_not_lost(kafka_bootstrap: str) -> None:
    cfg = _cfg(kafka_bootstrap, batch_events=200)
    ensure_topics(cfg)
    body = "患者 " * 50_000  # ~350 KB of UTF-8 per event: three do not fit one message
    events = [_event(i, "erin", content=body.encode()) for i in range(4)]
    huge = _event(99, "erin", content=b"z" * (MESSAGE_LIMIT + 200_000))
    with KafkaSink(cfg, "s1") as sink:
        for e in [*events, huge]:
            sink.emit(e)
        sink.flush()
        assert sink.stats["truncated"] == 1
    messages = asyncio.run(_read_all(cfg, cfg.events_topic))
    got = {e.event_id: e for _, _, v in messages for e in decode_batch(v)}
    assert len(messages) >= 3 and all(len(v) <= MESSAGE_LIMIT for _, _, v in messages)
    assert set(got) == {e.event_id for e in [*events, huge]}
    assert all(got[e.event_id].content == e.content and not got[e.event_id].truncated for e in events)
    cut = got[huge.event_id]
    assert cut.truncated and 0 < len(cut.content) < len(huge.content) and cut.size == huge.size


@pytest.mark.integration
def test_quiet_sensor_is_sent_by_the_timer_without_flush(kafka_bootstrap: str) -> None:
    cfg = _cfg(kafka_bootstrap)
    ensure_topics(cfg)
    with KafkaSink(cfg, "s1", max_batch_age=0.2) as sink:
        sink.emit(_event(1, "frank"))
        deadline = time.monotonic() + 5
        while sink.stats["acked_messages"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sink.stats["acked_messages"] == 1 and sink.stats["buffered"] == 0
    assert len(asyncio.run(_read_all(cfg, cfg.events_topic))) == 1


@pytest.mark.integration
def test_flush_raises_when_the_broker_is_gone(kafka_bootstrap: str) -> None:
    """A broker that disappears must make flush() raise, so the log sensor keeps its checkpoint."""
    from tests import services

    own = services.start_broker()
    try:
        cfg = _cfg(f"127.0.0.1:{own.port}", request_timeout_ms=1000)
        ensure_topics(cfg)
        sink = KafkaSink(cfg, "s1")
        sink.emit(_event(1, "gina"))
        sink.flush()  # delivered while the broker is up
        own.proc.kill()  # abrupt, as a crashed broker (and faster than a graceful stop)
        own.proc.wait()
        sink.emit(_event(2, "gina"))
        with pytest.raises(KafkaDeliveryError):
            sink.flush()
        assert sink.stats["acked_messages"] == 1  # the second message was never acknowledged
        with pytest.raises(KafkaDeliveryError):
            sink.close()  # still undelivered: close says so too
    finally:
        own.stop()
