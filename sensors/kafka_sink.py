"""The sensors' Kafka emitter: batched, principal-keyed envelopes with acks=all.

Why batches: a faust agent costs about 90 µs per Kafka message here, so one message carries up
to ``cfg.batch_events`` events (``model.codec.encode_batch``). Why keys: the worker keeps
per-principal sliding windows (bulk copies to removable media, bulk exports); keying every
message by ``Event.principal`` puts all of one principal's events on one partition, so one worker
owns that principal's window state. Buffered events are therefore grouped by principal and each
group becomes its own message.

Delivery: ``acks="all"`` plus the idempotent producer (when the broker supports it) so broker
retries do not duplicate messages; ``flush()`` blocks until the broker acknowledged everything
sent so far and raises :class:`KafkaDeliveryError` otherwise, which is what lets the log sensor
advance its checkpoint only after a durable write. Duplicates that still happen (a sensor
replays after a failed flush) are harmless: event ids are deterministic and so are alert ids.

Nothing here logs content: only counts, topics and error names.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaProducer
from kafka.errors import (
    KafkaConfigurationError,
    KafkaError,
    KafkaTimeoutError,
    UnsupportedVersionError,
)

from model.codec import encode_batch, encode_dead_letter
from model.config import KafkaConfig
from model.events import DeadLetter, Event
from sensors.kafka_topics import UNREACHABLE, BrokerUnavailable

log = logging.getLogger(__name__)

#: Upper bound for one message value before compression. The Kafka broker default
#: ``message.max.bytes`` is 1,048,588 and kafka-python checks the *uncompressed* size against
#: ``max_request_size`` (1,048,576), so batches are split to stay below both.
MESSAGE_LIMIT = 1_000_000

#: Bounds on what waits in the buffer across all principals before every group is sent: many
#: principals with a few events each must still make large messages, but memory stays bounded.
MAX_BUFFERED_GROUPS_OF_BATCH = 64
MAX_BUFFERED_BYTES = 32 << 20

#: How long a partial batch may wait in the buffer before a background send (seconds).
DEFAULT_MAX_BATCH_AGE = 1.0

#: Room for the envelope and JSON escaping when an oversize single event is cut to fit.
_ENVELOPE_SLACK = 64 * 1024


class KafkaDeliveryError(RuntimeError):
    """The broker did not acknowledge some messages; the caller must not advance checkpoints."""


def bounded_dead_letter(letter: DeadLetter, limit: int = MESSAGE_LIMIT) -> DeadLetter:
    """The letter, with its payload cut (and the cut said in ``detail``) if it would not fit one message.

    The payload travels base64-encoded (4/3 of its size); the metadata is what makes a dead letter
    countable and findable, so it is never dropped, only the payload's tail.
    """
    size = len(encode_dead_letter(letter))
    if size <= limit:
        return letter
    keep = max(0, len(letter.payload) - (size - limit) * 3 // 4 - _ENVELOPE_SLACK)
    detail = f"{letter.detail} (payload cut from {len(letter.payload)} to {keep} bytes)"
    return dataclasses.replace(letter, payload=letter.payload[:keep], detail=detail)


#: Python packages kafka-python needs per codec (gzip is in the standard library).
CODEC_PACKAGES = {"lz4": "lz4", "zstd": "zstandard", "snappy": "python-snappy"}


def _compression(name: str) -> str | None:
    """The producer's compression_type; a missing codec library is a clear error, not a late crash."""
    if name in ("", "none"):
        return None
    from kafka import codec

    available = {"gzip": codec.has_gzip, "lz4": codec.has_lz4, "zstd": codec.has_zstd,
                 "snappy": codec.has_snappy}
    check = available.get(name)
    if check is None:
        raise ValueError(f"kafka.compression {name!r} is not one of gzip, lz4, zstd, snappy, none")
    if not check():
        raise ValueError(
            f"kafka.compression is {name!r} but its library is missing: pip install {CODEC_PACKAGES[name]} "
            "(the faust worker needs cramjam to read it), or use gzip"
        )
    return name


class KafkaSink:
    """EventSink that produces envelopes to ``cfg.events_topic`` and dead letters to ``cfg.dlq_topic``.

    Thread-safe: a sensor thread calls ``emit``; a small timer thread sends partial batches older
    than ``max_batch_age`` so a quiet sensor's events are not held back until the next flush.
    """

    def __init__(
        self,
        cfg: KafkaConfig,
        sensor_id: str,
        *,
        max_batch_age: float = DEFAULT_MAX_BATCH_AGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if cfg.batch_events < 1:
            raise ValueError("kafka.batch_events must be at least 1")
        self.cfg = cfg
        self.sensor_id = sensor_id
        self._clock = clock
        self._max_batch_age = max_batch_age
        self._lock = threading.Lock()
        self._buffer: dict[str, list[Event]] = {}
        self._buffered = 0
        self._buffered_bytes = 0
        self._oldest = 0.0
        self._failures: list[str] = []
        self._counts = {
            "events": 0,  # events handed to the producer
            "messages": 0,  # messages handed to the producer (event envelopes)
            "bytes": 0,  # uncompressed value bytes handed to the producer
            "acked_messages": 0,  # messages the broker acknowledged
            "dead_letters": 0,
            "errors": 0,  # messages the broker did not acknowledge
            "truncated": 0,  # oversize single events cut to fit one message
        }
        self._producer, self.idempotent = self._connect()
        self._closed = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name=f"kafka-sink-{sensor_id}", daemon=True)
        self._ticker.start()

    # -- producer -----------------------------------------------------------------------------
    def _connect(self) -> tuple[KafkaProducer, bool]:
        """A producer with acks=all; idempotent if configured and supported, else a warning."""
        cfg = self.cfg
        compression = _compression(cfg.compression)
        bootstrap_ms = max(1000, min(cfg.request_timeout_ms, 30000))
        options: dict[str, Any] = {
            "bootstrap_servers": cfg.bootstrap,
            "client_id": f"healthdlp-sensor-{self.sensor_id}",
            "acks": "all",
            "compression_type": compression,
            "linger_ms": cfg.linger_ms,
            "request_timeout_ms": cfg.request_timeout_ms,
            "bootstrap_timeout_ms": bootstrap_ms,
            # send() blocks at most this long for metadata or buffer space, then the failure is
            # recorded and the next flush() raises (instead of a sensor hanging for 60 s)
            "max_block_ms": cfg.request_timeout_ms,
            "max_request_size": 1_048_576,
            "batch_size": 256 * 1024,
        }
        try:
            try:
                producer = KafkaProducer(enable_idempotence=cfg.idempotence, **options)
            except (KafkaConfigurationError, UnsupportedVersionError) as e:
                if not cfg.idempotence:
                    raise
                log.warning(
                    "broker %s does not support the idempotent producer (%s); continuing with acks=all "
                    "only: broker retries may duplicate messages, which deterministic ids make harmless",
                    cfg.bootstrap, e,
                )
                producer = KafkaProducer(enable_idempotence=False, **options)
        except UNREACHABLE as e:
            raise BrokerUnavailable(
                f"Kafka broker at {cfg.bootstrap} is unreachable ({e}); check kafka.bootstrap in the config"
            ) from e
        idempotent = bool(producer.config.get("enable_idempotence"))
        log.info(
            "kafka sink for sensor %s: bootstrap=%s topic=%s acks=all idempotent=%s compression=%s",
            self.sensor_id, cfg.bootstrap, cfg.events_topic, idempotent, cfg.compression,
        )
        return producer, idempotent

    # -- EventSink ----------------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        ready: list[tuple[str, list[Event]]] = []
        with self._lock:
            key = event.principal
            group = self._buffer.get(key)
            if group is None:
                group = self._buffer[key] = []
            if not self._buffered:
                self._oldest = self._clock()
            group.append(event)
            self._buffered += 1
            self._buffered_bytes += len(event.content)
            if len(group) >= self.cfg.batch_events:
                ready.append((key, self._buffer.pop(key)))
                self._buffered -= len(group)
                self._buffered_bytes -= sum(len(e.content) for e in group)
            elif (self._buffered >= self.cfg.batch_events * MAX_BUFFERED_GROUPS_OF_BATCH
                  or self._buffered_bytes >= MAX_BUFFERED_BYTES):
                ready.extend(self._drain_locked())
        for key, events in ready:
            self._send_events(key, events)

    def dead_letter(self, letter: DeadLetter) -> None:
        value = encode_dead_letter(bounded_dead_letter(letter))
        self._send(self.cfg.dlq_topic, letter.reason.encode("utf-8"), value, events=0, dead=True)

    def flush(self) -> None:
        """Send every buffered event and block until the broker acknowledged all of it (or raise)."""
        with self._lock:
            ready = self._drain_locked()
        for key, events in ready:
            self._send_events(key, events)
        # two request timeouts: enough for the producer's own retry of one failed request
        timeout = max(1.0, self.cfg.request_timeout_ms / 1000.0 * 2)
        try:
            self._producer.flush(timeout=timeout)
        except KafkaTimeoutError as e:
            raise KafkaDeliveryError(
                f"broker {self.cfg.bootstrap} did not acknowledge within {timeout}s"
            ) from e
        with self._lock:
            failures, self._failures = self._failures, []
        if failures:
            raise KafkaDeliveryError(
                f"{len(failures)} message(s) were not acknowledged by {self.cfg.bootstrap}; "
                f"first: {failures[0]}"
            )

    def close(self) -> None:
        """Flush, then stop the timer thread and the producer."""
        grace = 5.0
        try:
            self.flush()
        except KafkaDeliveryError:
            grace = 0.0  # flush already waited; do not wait again for what cannot be delivered
            raise
        finally:
            self._closed.set()
            self._ticker.join(timeout=5)
            try:
                self._producer.close(timeout=grace)
            except KafkaError as e:  # undelivered messages were already reported by flush()
                log.warning("kafka sink for sensor %s: producer close: %s", self.sensor_id, type(e).__name__)

    def abort(self) -> None:
        """Drop the connection without waiting: what was not acknowledged is the caller's to keep
        (the spool re-sends it). Used when the broker is already known to be gone."""
        self._closed.set()
        with self._lock:
            self._drain_locked()
        self._ticker.join(timeout=5)
        try:
            self._producer.close(timeout=0)
        except Exception as e:
            log.debug("kafka sink for sensor %s: abort: %s", self.sensor_id, type(e).__name__)

    def __enter__(self) -> KafkaSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts, buffered=self._buffered)

    # -- internals ----------------------------------------------------------------------------
    def _drain_locked(self) -> list[tuple[str, list[Event]]]:
        ready = list(self._buffer.items())
        self._buffer = {}
        self._buffered = 0
        self._buffered_bytes = 0
        return ready

    def _tick(self) -> None:
        interval = max(0.05, self._max_batch_age / 2)
        while not self._closed.wait(interval):
            with self._lock:
                due = self._buffered and self._clock() - self._oldest >= self._max_batch_age
                ready = self._drain_locked() if due else []
            for key, events in ready:
                self._send_events(key, events)  # failures are recorded; the next flush() raises

    def _send_events(self, key: str, events: list[Event]) -> None:
        for count, value in self._encode_sized(events, self._clock()):
            self._send(self.cfg.events_topic, key.encode("utf-8"), value, events=count, dead=False)

    def _encode_sized(self, events: list[Event], sent_at: float) -> list[tuple[int, bytes]]:
        """Envelopes for a key's events, split in halves until each stays under MESSAGE_LIMIT."""
        value = encode_batch(events, self.sensor_id, sent_at)
        if len(value) <= MESSAGE_LIMIT:
            return [(len(events), value)]
        if len(events) == 1:
            return [(1, encode_batch([self._cut_to_fit(events[0], len(value))], self.sensor_id, sent_at))]
        mid = len(events) // 2
        return self._encode_sized(events[:mid], sent_at) + self._encode_sized(events[mid:], sent_at)

    def _cut_to_fit(self, event: Event, encoded: int) -> Event:
        """One event larger than a message: keep its head and flag it truncated (as sensors do)."""
        # proportional first guess (escaping inflates content evenly enough), then halve until it fits
        keep = max(0, len(event.content) * MESSAGE_LIMIT // max(1, encoded) - _ENVELOPE_SLACK)
        cut = dataclasses.replace(event, content=event.content[:keep], truncated=True)
        while keep and len(encode_batch([cut], self.sensor_id, 0.0)) > MESSAGE_LIMIT:
            keep //= 2
            cut = dataclasses.replace(event, content=event.content[:keep], truncated=True)
        with self._lock:
            self._counts["truncated"] += 1
        log.warning(
            "event %s from sensor %s was larger than one Kafka message; content cut to %d bytes",
            event.event_id, self.sensor_id, keep,
        )
        return cut

    def _send(self, topic: str, key: bytes, value: bytes, *, events: int, dead: bool) -> None:
        try:
            future = self._producer.send(topic, key=key, value=value)
        except KafkaError as e:
            self._record_failure(f"{topic}: {type(e).__name__}: {e}")
            return
        with self._lock:
            self._counts["dead_letters" if dead else "messages"] += 1
            self._counts["events"] += events
            self._counts["bytes"] += len(value)
        future.add_callback(self._on_acked)
        future.add_errback(self._on_failed, topic)

    def _on_acked(self, _metadata: Any) -> None:
        with self._lock:
            self._counts["acked_messages"] += 1

    def _on_failed(self, err: BaseException, topic: str) -> None:
        self._record_failure(f"{topic}: {type(err).__name__}: {err}")

    def _record_failure(self, what: str) -> None:
        with self._lock:
            self._counts["errors"] += 1
            if len(self._failures) < 100:
                self._failures.append(what)
        log.error("kafka sink for sensor %s: delivery failed: %s", self.sensor_id, what)


def open_sink(cfg: KafkaConfig, sensor_id: str, **kw: Any) -> Any:
    """The sensors' sink for ``cfg``: a :class:`KafkaSink`, behind a disk spool
    (:class:`sensors.spool.SpoolSink`) when ``kafka.spool_dir`` is set. With a spool the broker
    may be down at start: events are spooled and replayed when it answers."""
    if not cfg.spool_dir:
        return KafkaSink(cfg, sensor_id, **kw)
    from sensors.kafka_topics import ensure_topics
    from sensors.spool import SpoolSink

    def connect() -> KafkaSink:
        ensure_topics(cfg)  # a broker that came back empty (or new) gets its topics first
        return KafkaSink(cfg, sensor_id, **kw)

    return SpoolSink(connect, cfg.spool_dir, max_bytes=cfg.spool_max_bytes,
                     segment_bytes=cfg.spool_segment_bytes, overflow=cfg.spool_overflow,
                     retry_seconds=cfg.spool_retry_seconds)
