"""The worker's parts without a broker: settings, the batch handler, the faust-table window store.

The handler runs the real pipeline (detectors + bundled rules). The store here is a list-backed
double because these tests are about the handler's ordering and retry logic; the real faust
worker with the real broker and ClickHouse is in test_e2e_worker.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import faust
import pytest

from healthdlp.synth import citizen_id_complete as cn_id
from model.alerts import Alert
from model.codec import encode_batch
from model.config import Config, KafkaConfig, StreamConfig
from model.events import DeadLetter, Endpoint, Event
from stream.agents import BatchHandler, RawMessage, RetryPolicy, StreamStats
from stream.app import app_settings, broker_urls, create_app
from stream.pipeline import build_pipeline
from stream.policy.windows import MemoryWindowStore, WindowStore
from stream.windows_faust import FaustWindowStore, define_window_table

HASH_KEY = b"test-hash-key-not-secret"


def cleartext_event(i: int) -> Event:
    body = f"患者姓名:张三 身份证号:{cn_id(f'11010519490101{i:03d}')} 诊断:2型糖尿病".encode()
    return Event(f"ct-{i}", "s1", 1_700_000_000.0 + i, "net", "http", src=Endpoint("10.0.0.5", 40000 + i),
                 dst=Endpoint("10.0.0.9", 80), content=body, content_type="text/plain", size=len(body))


def usb_event(i: int, actor: str = "nurse1") -> Event:
    body = f"姓名:李{i} 身份证:{cn_id(f'11010519490202{i:03d}')} 诊断:高血压".encode()
    return Event(f"usb-{actor}-{i}", "s1", 1_700_000_000.0 + i, "log", "usb", actor=actor, device="USB-1",
                 content=body, size=len(body))


def msg(events: Sequence[Event], offset: int, partition: int = 0) -> RawMessage:
    return RawMessage(encode_batch(events, "s1", 0.0), f"t/{partition}/{offset}", partition)


class ListStore:
    """Records what the handler writes; ``fail`` makes the next N writes raise like a dead server."""

    def __init__(self, fail: int = 0) -> None:
        self.alerts: list[Alert] = []
        self.letters: list[DeadLetter] = []
        self.fail = fail
        self.calls = 0

    def insert_alerts(self, alerts: Sequence[Alert]) -> int:
        self.calls += 1
        if self.fail:
            self.fail -= 1
            raise ConnectionRefusedError("ClickHouse is down")
        self.alerts.extend(alerts)
        return len(alerts)

    def record_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        self.letters.extend(letters)
        return len(letters)


@dataclass
class ListPublisher:
    alerts: list[Alert]
    letters: list[DeadLetter]

    async def publish(self, alerts: Sequence[Alert], letters: Sequence[DeadLetter]) -> None:
        self.alerts.extend(alerts)
        self.letters.extend(letters)


def handler(store: ListStore, **kw: object) -> tuple[BatchHandler, ListPublisher]:
    pub = ListPublisher([], [])
    pipeline = build_pipeline(Config(), HASH_KEY, windows=MemoryWindowStore())
    h = BatchHandler(pipeline=pipeline, store=store, publisher=pub,
                     executor=ThreadPoolExecutor(max_workers=1), stats=StreamStats(),
                     retry=RetryPolicy(0.01, 0.02), **kw)  # type: ignore[arg-type]
    return h, pub


# -- settings --------------------------------------------------------------------------------------
def test_broker_urls_from_bootstrap_list() -> None:
    assert broker_urls("a:9092, b:9093") == ["kafka://a:9092", "kafka://b:9093"]


def test_settings_follow_config() -> None:
    cfg = Config(kafka=KafkaConfig(bootstrap="h:1", partitions=6, compression="none"),
                 stream=StreamConfig(app_id="x", data_dir="/d", web_port=0, session_timeout=8,
                                     consumer_auto_offset_reset="latest"))
    s = app_settings(cfg)
    assert s["broker"] == ["kafka://h:1"] and s["datadir"] == "/d" and s["store"] == "memory://"
    assert s["web_enabled"] is False and s["topic_partitions"] == 6 and s["producer_acks"] == -1
    assert s["consumer_auto_offset_reset"] == "latest" and s["broker_session_timeout"] == 8
    assert s["producer_compression_type"] is None and s["autodiscover"] is False


def test_create_app_wires_agent_table_and_topics_without_a_broker() -> None:
    cfg = Config(kafka=KafkaConfig(bootstrap="127.0.0.1:1"), stream=StreamConfig(app_id="wiring", web_port=0))
    got: list[WindowStore] = []

    def pipeline_factory(windows: WindowStore) -> object:
        got.append(windows)
        return build_pipeline(cfg, HASH_KEY, windows=windows)

    app = create_app(cfg, pipeline_factory=pipeline_factory, store_factory=ListStore)  # type: ignore[arg-type]
    assert isinstance(app, faust.App) and app.conf.id == "wiring"
    assert [a.name for a in app.agents.values()] == ["wiring.process_events"]
    assert isinstance(got[0], FaustWindowStore)
    assert "policy-windows" in app.tables
    assert app.tables["policy-windows"].changelog_topic.get_topic_name() == "wiring-policy-windows-changelog"


# -- the batch handler -----------------------------------------------------------------------------
def test_bad_messages_are_dead_lettered_and_good_ones_still_alert() -> None:
    store = ListStore()
    h, pub = handler(store)
    messages = [
        RawMessage(b"\x00not json at all", "t/0/0"),
        RawMessage(b'{"schema":"healthdlp.events","v":1,"events":[{"v":1}]}', "t/0/1"),
        RawMessage(b'{"schema":"something.else"}', "t/0/2"),
        RawMessage(None, "t/0/3"),
        msg([cleartext_event(1)], 4),
    ]
    asyncio.run(h.handle(messages))
    assert [(d.stage, d.reason, d.source) for d in store.letters] == [
        ("decode", "json-invalid", "t/0/0"),
        ("decode", "event-invalid", "t/0/1"),
        ("decode", "envelope-invalid", "t/0/2"),
        ("decode", "message-empty", "t/0/3"),
    ]
    assert store.letters[0].payload == b"\x00not json at all"  # kept for replay
    assert [a.rule_id for a in store.alerts] == ["cleartext-health-data"]
    assert pub.alerts == store.alerts and pub.letters == store.letters
    st = h.stats
    assert (st.messages_in, st.events_in, st.alerts_out, st.batches) == (5, 1, 1, 1)
    assert st.dead_letters == {"json-invalid": 1, "event-invalid": 1, "envelope-invalid": 1,
                               "message-empty": 1}


def test_store_failure_is_retried_and_nothing_is_published_before_it_succeeds() -> None:
    store = ListStore(fail=3)
    h, pub = handler(store)
    asyncio.run(h.handle([msg([cleartext_event(2)], 0)]))
    assert store.calls == 4 and len(store.alerts) == 1
    assert h.stats.store_failures == 3 and h.stats.store_writes == 1
    assert len(pub.alerts) == 1


def test_handle_does_not_return_while_the_store_is_down() -> None:
    """The agent acks only after handle() returns: while the write fails, handle() must not."""
    store = ListStore(fail=10_000)
    h, _ = handler(store)

    async def run() -> bool:
        task = asyncio.ensure_future(h.handle([msg([cleartext_event(3)], 0)]))
        await asyncio.sleep(0.5)
        done = task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return done

    assert asyncio.run(run()) is False
    assert store.alerts == [] and h.stats.batches == 0 and h.stats.store_failures > 3


def test_a_pipeline_bug_is_isolated_to_its_message() -> None:
    store = ListStore()
    h, _ = handler(store)
    real = h.pipeline

    class Exploding:
        def process(self, events: Sequence[Event]):  # type: ignore[no-untyped-def]
            if any(e.event_id == "boom" for e in events):
                raise RuntimeError("bug")
            return real.process(events)

    h.pipeline = Exploding()
    boom = Event("boom", "s1", 1.0, "net", "http", content=b"x")
    asyncio.run(h.handle([msg([cleartext_event(4)], 0), msg([boom], 1), msg([cleartext_event(5)], 2)]))
    assert len(store.alerts) == 2
    assert [(d.stage, d.reason, d.source) for d in store.letters] == [("pipeline", "pipeline-error", "t/0/1")]


def test_batches_are_processed_per_partition_in_offset_order() -> None:
    seen: list[list[str]] = []
    store = ListStore()
    h, _ = handler(store)
    real = h.pipeline

    class Recording:
        def process(self, events: Sequence[Event]):  # type: ignore[no-untyped-def]
            seen.append([e.event_id for e in events])
            return real.process(events)

    h.pipeline = Recording()
    a, b, c = cleartext_event(10), cleartext_event(11), cleartext_event(12)
    asyncio.run(h.handle([msg([b], 5, partition=1), msg([a], 7, partition=0), msg([c], 6, partition=1)]))
    assert seen == [["ct-10"], ["ct-11", "ct-12"]]


# -- the faust-table window store (a real faust Table; the app is not started) ---------------------
def _table_store() -> tuple[faust.App, FaustWindowStore]:
    app = faust.App("win-test", broker="kafka://127.0.0.1:1", store="memory://", topic_partitions=3)
    return app, FaustWindowStore(define_window_table(app, 3))


def _changelog(app: faust.App) -> list[tuple[int, object, object]]:
    """(partition, key, value) of the changelog records waiting in the (unstarted) producer."""
    out = []
    q = app.producer.buffer.pending
    while not q.empty():
        m = q.get_nowait().message
        value = json.loads(m.value) if m.value is not None else None
        out.append((m.partition, json.loads(m.key), value))
    return out


def test_table_window_matches_memory_window_and_writes_changelog_to_the_event_partition() -> None:
    async def run() -> None:
        app, store = _table_store()
        mem = MemoryWindowStore()
        store.mark(2)
        for ts, members in ((10.0, ["a", "b"]), (20.0, ["b", "c"]), (5000.0, ["d"])):
            assert store.add("k", members, ts, 3600) == mem.add("k", members, ts, 3600)
        assert store.table.data.get("k") is None  # staged, not yet written
        assert store.apply() == 1
        log = _changelog(app)
        assert [(p, k) for p, k, _ in log] == [(2, "k")]  # the event's partition, not hash(key)
        state = log[0][2]
        assert isinstance(state, dict) and sorted(state["m"]) == ["d"]  # a, b, c expired at t=5000
        # next batch continues from the table, same result as the memory store
        store.mark(2)
        assert store.add("k", ["e"], 5001.0, 3600) == mem.add("k", ["e"], 5001.0, 3600)

    asyncio.run(run())


def test_rollback_undoes_only_the_failed_call() -> None:
    async def run() -> None:
        _app, store = _table_store()
        store.mark(0)
        store.add("k1", ["a"], 1.0, 60)
        store.mark(1)
        store.add("k1", ["b"], 2.0, 60)
        store.add("k2", ["x"], 2.0, 60)
        store.rollback()
        assert store.apply() == 1
        assert store.table.data["k1"]["m"].keys() == {"a"}
        assert "k2" not in store.table.data

    asyncio.run(run())


def test_idle_keys_expire_with_a_tombstone() -> None:
    async def run() -> None:
        app, store = _table_store()
        store.mark(1)
        store.add("old", ["a"], 0.0, 60)
        store.apply()
        store.mark(2)
        store.add("new", ["b"], 1000.0, 60)
        store.apply()
        _changelog(app)
        assert store.expire_idle() == 1
        assert list(store.table.data) == ["new"]
        assert [(p, k, v) for p, k, v in _changelog(app)] == [(1, "old", None)]

    asyncio.run(run())
