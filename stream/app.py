"""The faust worker, built by a factory: no import-time app, no autodiscovery.

``create_app`` wires one faust app from a :class:`model.config.Config`: the events topic (raw
bytes), the alerts and dead-letter topics, the changelog-backed window table, the agent and a
stats timer. ``run_worker`` builds the real parts (topics, store with migrations, pipeline) and
runs faust's ``Worker`` in this process; ``healthdlp process`` and ``python -m stream.app
--config FILE`` both call it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust

from model.config import Config, load_config, load_hash_key
from sensors.kafka_topics import ensure_topics
from stream.agents import (
    DEFAULT_RETRY,
    AlertStoreLike,
    BatchHandler,
    PipelineLike,
    RetryPolicy,
    StreamStats,
    TopicPublisher,
    make_agent,
)
from stream.policy.windows import WindowStore
from stream.windows_faust import FaustWindowStore, define_window_table

log = logging.getLogger(__name__)

#: Seconds between the INFO lines with the worker's counters.
STATS_INTERVAL = 30.0

#: aiokafka's default ``max_request_size``; dead letters and alerts are bounded below it.
PRODUCER_MAX_REQUEST = 1_048_576


def broker_urls(bootstrap: str) -> list[str]:
    """``host:port[,host:port]`` (the kafka-python form) → faust's ``kafka://`` URL list."""
    return [f"kafka://{h.strip()}" for h in bootstrap.split(",") if h.strip()]


def app_settings(cfg: Config) -> dict[str, Any]:
    """faust settings derived from the config; separate so tests and docs can inspect them."""
    s = cfg.stream
    k = cfg.kafka
    session = max(6.0, s.session_timeout)
    return {
        "broker": broker_urls(k.bootstrap),
        "datadir": s.data_dir,
        "store": "memory://",  # tables are rebuilt from their changelog topics on start
        "autodiscover": False,
        "web_enabled": s.web_port > 0,
        "web_port": s.web_port if s.web_port > 0 else 6066,
        "web_bind": "127.0.0.1",
        "consumer_auto_offset_reset": s.consumer_auto_offset_reset,
        "broker_session_timeout": session,
        "broker_heartbeat_interval": min(3.0, session / 3),
        "broker_request_timeout": max(session + 5, k.request_timeout_ms / 1000.0),
        "topic_partitions": k.partitions,
        "topic_replication_factor": k.replication,
        "producer_acks": -1,
        "producer_compression_type": None if k.compression == "none" else k.compression,
        "producer_linger_ms": k.linger_ms,
        "producer_max_request_size": PRODUCER_MAX_REQUEST,
        "key_serializer": "raw",
        "value_serializer": "raw",
        # explicit: wait for the agent's in-flight batch to be acked before a rebalance commits
        "stream_wait_empty": True,
        "worker_redirect_stdouts": False,
    }


def create_app(
    cfg: Config,
    *,
    pipeline_factory: Callable[[WindowStore], PipelineLike],
    store_factory: Callable[[], AlertStoreLike],
    retry: RetryPolicy = DEFAULT_RETRY,
    stats_interval: float = STATS_INTERVAL,
) -> faust.App:
    """A faust app with the events agent wired explicitly.

    ``pipeline_factory`` receives the worker's window store (a faust table) and must return a
    pipeline that uses it (``lambda w: build_pipeline(cfg, key, windows=w)``);
    ``store_factory`` returns the alert store. Both are called once, here.
    """
    app = faust.App(cfg.stream.app_id, **app_settings(cfg))
    k = cfg.kafka
    events_topic = app.topic(k.events_topic, key_type=bytes, value_type=bytes,
                             key_serializer="raw", value_serializer="raw", partitions=k.partitions)
    alerts_topic = app.topic(k.alerts_topic, key_serializer="raw", value_serializer="raw",
                             partitions=k.partitions)
    dlq_topic = app.topic(k.dlq_topic, key_serializer="raw", value_serializer="raw", partitions=k.partitions)

    windows = FaustWindowStore(define_window_table(app, k.partitions))
    stats = StreamStats()
    handler = BatchHandler(
        pipeline=pipeline_factory(windows),
        store=store_factory(),
        publisher=TopicPublisher(alerts_topic, dlq_topic),
        # one thread: the pipeline and the ClickHouse client are used by one batch at a time
        executor=ThreadPoolExecutor(max_workers=1, thread_name_prefix="healthdlp-batch"),
        stats=stats,
        windows=windows,
        retry=retry,
    )
    app.agent(events_topic, name=f"{cfg.stream.app_id}.process_events")(
        make_agent(handler, cfg.stream.take_max, cfg.stream.take_within)
    )

    async def log_stats() -> None:
        log.info("stream stats: %s %s", stats.log_line(),
                 " ".join(f"{k}={v}" for k, v in windows.stats().items()))

    app.timer(stats_interval, name=f"{cfg.stream.app_id}.stats")(log_stats)
    # tests and the CLI reach the live counters through the app
    app.healthdlp_stats = stats  # type: ignore[attr-defined]
    return app


class _NoPayloadInLogs(logging.Filter):
    """faust.topics logs message values at DEBUG ("send: ... v=...") and the whole pending message
    in a WARNING when a send fails; dead letters carry raw payloads, so neither may reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = str(record.msg)
        if msg.startswith("send: topic="):
            return False
        if msg.startswith("_on_published error"):
            record.msg = msg.split(" message ", 1)[0] + " (message withheld)"
            record.args = ()
        return True


def run_worker(cfg: Config, *, loglevel: str = "info") -> None:
    """Create topics, migrate the store, build the pipeline and run the faust worker until stopped."""
    from store import open_store  # floor 2, imported here so that importing stream.app stays cheap
    from stream.pipeline import build_pipeline

    logging.getLogger("faust.topics").addFilter(_NoPayloadInLogs())
    ensure_topics(cfg.kafka)
    hash_key = load_hash_key(cfg)
    store = open_store(cfg.store)
    applied = store.migrate()
    if applied:
        log.info("store migrations applied: %s", ", ".join(applied))
    app = create_app(
        cfg,
        pipeline_factory=lambda windows: build_pipeline(cfg, hash_key, windows=windows),
        store_factory=lambda: store,
    )
    worker = faust.Worker(app, loglevel=loglevel, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stream.app", description=__doc__)
    parser.add_argument("--config", help="healthdlp YAML config (default: built-in defaults)")
    parser.add_argument("--loglevel", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    run_worker(load_config(args.config), loglevel=args.loglevel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
