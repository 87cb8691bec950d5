"""stream.event_log: the events topic read back as a time window (the store behind ``replay --since``).

Unit: duration/ISO parsing and the per-record decode (bad records become dead letters, never an
exception). Integration (real Tansu): only the window is read, undecodable records are counted,
a missing topic and an unreachable broker are clear errors.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest

from model.codec import encode_batch
from model.config import KafkaConfig
from model.events import DeadLetter, Endpoint, Event
from stream.event_log import (
    PATH_BY_TIMESTAMP,
    PATH_SCANNED,
    EventLogError,
    EventLogReader,
    decode_record,
    parse_time_spec,
)

NOW = 1_795_000_000.0
DAY = 86400


@pytest.mark.parametrize(("text", "ago"), [
    ("7d", 7 * DAY), ("24h", 24 * 3600), ("90m", 90 * 60), ("30s", 30), ("2w", 14 * DAY), (" 1d ", DAY),
    ("1h30m", 5400), ("1.5h", 5400),  # the rule-window grammar (model.durations) works here too
])
def test_durations_count_back_from_now(text: str, ago: int) -> None:
    assert parse_time_spec(text, NOW) == NOW - ago


def test_iso_times_with_zone_and_naive_local() -> None:
    assert parse_time_spec("2026-11-18T08:00:00+08:00", NOW) == datetime(
        2026, 11, 18, tzinfo=UTC).timestamp()
    assert parse_time_spec("2026-11-18T00:00:00Z", NOW) == datetime(2026, 11, 18, tzinfo=UTC).timestamp()
    naive = datetime(2026, 11, 18, 8, 30)
    assert parse_time_spec("2026-11-18 08:30", NOW) == naive.astimezone().timestamp()


@pytest.mark.parametrize("text", ["7", "d7", "7 days", "-7d", "1.5x", "h1", "yesterday", "2026-13-01", ""])
def test_bad_specs_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match=r"neither a duration \(7d, 24h, 90m\) nor an ISO time"):
        parse_time_spec(text, NOW)


def event(i: int, at: float) -> Event:
    return Event(f"ev-{i}", "t", at, "net", "http", src=Endpoint("10.1.0.5", 41000 + i),
                 dst=Endpoint("10.1.0.9", 80), content=b"hello", size=5)


def test_decode_record_gives_events_or_a_counted_dead_letter() -> None:
    good = encode_batch([event(1, NOW), event(2, NOW)], "t", NOW)
    assert [e.event_id for e in decode_record(good, "topic/0@5", 1000)] == ["ev-1", "ev-2"]  # type: ignore[union-attr]
    cases = {
        b"not json": "json-invalid",
        b'{"schema":"other"}': "envelope-invalid",
        good.replace(b'"v":1', b'"v":99', 1): "schema-version",
        good.replace(b'"observed_at":', b'"observed_at":"x","y":', 1): "event-invalid",
        b"\xff\xfe": "json-invalid",
    }
    for raw, reason in cases.items():
        dl = decode_record(raw, "topic/0@5", 1_795_000_000_500)
        assert isinstance(dl, DeadLetter), raw
        assert (dl.reason, dl.stage, dl.source, dl.payload, dl.observed_at) == (
            reason, "replay", "topic/0@5", raw, 1_795_000_000.5)
    tomb = decode_record(None, "topic/1@0", 0)
    assert isinstance(tomb, DeadLetter) and tomb.reason == "message-empty"


def test_decode_record_turns_a_model_refusal_into_a_dead_letter(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(raw: bytes) -> list[Event]:
        raise ValueError("size must not be negative")

    monkeypatch.setattr("stream.event_log.decode_batch", refuse)
    dl = decode_record(b"{}", "t/0@1", 0)
    assert isinstance(dl, DeadLetter) and dl.reason == "event-invalid" and "size must not be negative" in dl.detail


def test_a_refusal_quoting_content_is_scrubbed_in_the_dead_letter_detail(monkeypatch: pytest.MonkeyPatch) -> None:
    # the detail is printed by `healthdlp replay`; an exception may quote the value it refused
    def refuse(raw: bytes) -> list[Event]:
        raise ValueError("bad actor 张三 id 11010519491231002X")

    monkeypatch.setattr("stream.event_log.decode_batch", refuse)
    dl = decode_record(b"{}", "t/0@1", 0)
    assert isinstance(dl, DeadLetter) and dl.reason == "event-invalid"
    assert "张三" not in dl.detail and "11010519491231002" not in dl.detail and dl.detail.startswith("ValueError: bad")


# -- integration: a real Tansu broker ------------------------------------------------------------


def produce(bootstrap: str, topic: str, records: list[tuple[int, bytes | None, int]]) -> None:
    """(partition, value, timestamp_ms) records, batched by the producer (multi-record batches)."""
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=50)
    try:
        for part, value, ts in records:
            p.send(topic, key=b"principal", value=value, partition=part, timestamp_ms=ts)
        p.flush(10)
    finally:
        p.close()


@pytest.fixture()
def topic(kafka_bootstrap: str) -> str:
    from sensors.kafka_topics import ensure_topics

    name = f"evlog-{uuid.uuid4().hex[:8]}"
    ensure_topics(KafkaConfig(bootstrap=kafka_bootstrap, events_topic=name, alerts_topic=name + ".a",
                              dlq_topic=name + ".d", partitions=2))
    return name


@pytest.mark.integration
def test_only_the_window_is_read_and_bad_records_are_dead_letters(kafka_bootstrap: str, topic: str) -> None:
    now = time.time()
    ms = lambda t: int(t * 1000)  # noqa: E731
    old, recent, later = now - 10 * DAY, now - DAY, now - 3600
    records: list[tuple[int, bytes | None, int]] = [
        (0, encode_batch([event(1, old)], "t", old), ms(old)),
        (1, encode_batch([event(2, old)], "t", old), ms(old)),
        (0, b"old garbage", ms(old)),
        (0, encode_batch([event(3, recent), event(4, recent)], "t", recent), ms(recent)),
        (1, encode_batch([event(5, recent)], "t", recent), ms(recent)),
        (1, b"recent garbage", ms(recent)),
        (0, None, ms(recent)),
        (1, encode_batch([event(6, later)], "t", later), ms(later)),
    ]
    produce(kafka_bootstrap, topic, records)
    kcfg = KafkaConfig(bootstrap=kafka_bootstrap, events_topic=topic)
    seen: list[tuple[int, int]] = []
    with EventLogReader(kcfg, now - 7 * DAY, now - 2 * 3600, idle_ms=300) as r:
        got = sorted(e.event_id for batch in r.batches(progress=lambda d, t: seen.append((d, t))) for e in batch)
    st = r.stats
    assert got == ["ev-3", "ev-4", "ev-5"]
    assert st.path in (PATH_BY_TIMESTAMP, PATH_SCANNED)
    if st.path == PATH_SCANNED:  # Tansu does not answer offsets_for_times truthfully
        assert (st.records, st.before) == (8, 3)
    assert (st.in_window, st.after, st.events) == (4, 1, 3)
    assert dict(st.dead) == {"json-invalid": 1, "message-empty": 1}
    assert sorted((d.reason, d.source.split("@")[0]) for d in st.dead_letters) == [
        ("json-invalid", f"{topic}/1"), ("message-empty", f"{topic}/0")]
    assert st.first_ms == ms(recent)
    assert seen and seen[-1][0] == st.records and all(d <= t for d, t in seen)

    with EventLogReader(kcfg, now + 60, idle_ms=300) as r:  # a window after every record: empty, no error
        assert list(r.batches()) == [] and r.stats.in_window == 0


@pytest.mark.integration
def test_a_missing_topic_and_an_unreachable_broker_are_clear_errors(kafka_bootstrap: str) -> None:
    kcfg = KafkaConfig(bootstrap=kafka_bootstrap, events_topic=f"missing-{uuid.uuid4().hex[:8]}")
    with pytest.raises(EventLogError, match="does not exist"), EventLogReader(kcfg, time.time() - DAY) as r:
        r.open()
    from tests.services import free_port

    dead = KafkaConfig(bootstrap=f"127.0.0.1:{free_port()}", request_timeout_ms=2000)
    t0 = time.monotonic()
    with pytest.raises(EventLogError, match="unreachable"), EventLogReader(dead, time.time() - DAY) as r:
        r.open()
    assert time.monotonic() - t0 < 30
