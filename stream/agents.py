"""The faust agent: raw envelopes in, alerts to ClickHouse and Kafka out, offsets committed last.

The agent is a thin ``async for`` over ``stream.noack_take(...)``; the work is in
:class:`BatchHandler`, which knows nothing of faust streams and is driven by plain
:class:`RawMessage` values.

Delivery guarantee (at-least-once, "commit after write"): faust commits the highest contiguous
*acked* offset of each partition. ``stream.take()`` acks its buffered events in a ``finally``
block when the generator resumes or is closed, which also happens when the agent is cancelled
or raises, i.e. before our write is known to have succeeded. ``stream.noack_take()`` yields the
events and never acks them, so the agent acks each event explicitly after (1) the pipeline ran,
(2) window state went to the changelog, (3) the alerts and dead-letter metadata are in
ClickHouse and (4) alerts and dead letters are acknowledged by Kafka. A failed ClickHouse write
is retried with capped backoff and nothing is acked meanwhile. Details and sources:
docs/streaming.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol

from model.alerts import Alert
from model.codec import CodecError, decode_batch, encode_alert, encode_dead_letter
from model.events import DeadLetter, Event
from sensors.kafka_sink import bounded_dead_letter

log = logging.getLogger(__name__)


# -- what the agent needs from the other parts (structural, so tests can use the real ones) --------
class PipelineResultLike(Protocol):
    @property
    def alerts(self) -> Sequence[Alert]: ...
    @property
    def dead_letters(self) -> Sequence[DeadLetter]: ...
    @property
    def findings(self) -> int: ...


class PipelineLike(Protocol):
    def process(self, events: Sequence[Event]) -> PipelineResultLike: ...


class AlertStoreLike(Protocol):
    def insert_alerts(self, alerts: Sequence[Alert]) -> int: ...
    def record_dead_letters(self, letters: Sequence[DeadLetter]) -> int: ...


class StagedWindows(Protocol):
    """A window store whose changes, made in the pipeline thread, are applied on the event loop.

    ``mark``/``rollback`` bracket one ``pipeline.process`` call so that a call that raised leaves
    no half-made window changes behind; ``apply`` writes the staged changes to durable state.
    """

    def mark(self, partition: int) -> None: ...
    def rollback(self) -> None: ...
    def apply(self) -> int: ...


class Publisher(Protocol):
    async def publish(self, alerts: Sequence[Alert], letters: Sequence[DeadLetter]) -> None:
        """Send alerts and dead letters and wait until the broker acknowledged all of them."""


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One consumed Kafka message: the raw value and where it came from (topic/partition/offset)."""

    value: bytes | None
    source: str
    partition: int = 0


@dataclass
class StreamStats:
    """Counters of one worker, logged periodically (never content)."""

    messages_in: int = 0
    events_in: int = 0
    batches: int = 0
    findings: int = 0
    alerts_out: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    store_writes: int = 0
    store_failures: int = 0
    store_seconds_total: float = 0.0
    store_seconds_max: float = 0.0
    publish_failures: int = 0
    window_updates: int = 0

    def snapshot(self) -> dict[str, Any]:
        writes = max(1, self.store_writes)
        return {
            "messages_in": self.messages_in,
            "events_in": self.events_in,
            "batches": self.batches,
            "findings": self.findings,
            "alerts_out": self.alerts_out,
            "dead_letters": dict(self.dead_letters),
            "store_writes": self.store_writes,
            "store_failures": self.store_failures,
            "store_ms_avg": round(self.store_seconds_total / writes * 1000, 2),
            "store_ms_max": round(self.store_seconds_max * 1000, 2),
            "publish_failures": self.publish_failures,
            "window_updates": self.window_updates,
        }

    def log_line(self) -> str:
        s = self.snapshot()
        dl = ",".join(f"{k}={v}" for k, v in sorted(s.pop("dead_letters").items())) or "none"
        return " ".join(f"{k}={v}" for k, v in s.items()) + f" dead_letters[{dl}]"


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff for writes whose failure must block the commit."""

    initial: float = 0.5
    maximum: float = 30.0

    def delays(self) -> Any:
        delay = self.initial
        while True:
            yield delay
            delay = min(delay * 2, self.maximum)


#: Retry used unless a caller (a test) passes its own.
DEFAULT_RETRY = RetryPolicy()


@dataclass
class _Outcome:
    alerts: list[Alert]
    letters: list[DeadLetter]
    events: int
    findings: int


class BatchHandler:
    """Decode → pipeline → window state → ClickHouse → Kafka, for one taken batch.

    ``handle`` returns only when everything is durable; it raises only on cancellation (worker
    shutdown), in which case nothing of the batch may be acked.
    """

    def __init__(
        self,
        *,
        pipeline: PipelineLike,
        store: AlertStoreLike,
        publisher: Publisher,
        executor: Executor,
        stats: StreamStats,
        windows: StagedWindows | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pipeline = pipeline
        self.store = store
        self.publisher = publisher
        self.executor = executor
        self.stats = stats
        self.windows = windows
        self.retry = retry
        self.clock = clock

    # -- pure parts (run in the executor) --------------------------------------------------------
    def decode(self, messages: Sequence[RawMessage]) -> tuple[list[list[Event]], list[DeadLetter]]:
        """Per message its events, plus a dead letter for every message that does not decode."""
        decoded: list[list[Event]] = []
        letters: list[DeadLetter] = []
        now = self.clock()
        for m in messages:
            if m.value is None:
                letters.append(DeadLetter("decode", "message-empty", "message has no value (tombstone)",
                                          m.source, now))
                decoded.append([])
                continue
            try:
                decoded.append(decode_batch(m.value))
            except CodecError as e:
                letters.append(DeadLetter("decode", e.reason, e.detail, m.source, now, payload=m.value))
                decoded.append([])
        return decoded, letters

    def process(self, messages: Sequence[RawMessage]) -> _Outcome:
        """Decode and run the pipeline once per partition (window state follows the partition)."""
        decoded, letters = self.decode(messages)
        out = _Outcome([], letters, sum(len(d) for d in decoded), 0)
        by_partition: dict[int, list[int]] = {}
        for i, m in enumerate(messages):
            if decoded[i]:
                by_partition.setdefault(m.partition, []).append(i)
        for partition, idx in sorted(by_partition.items()):
            events = [e for i in idx for e in decoded[i]]
            self._mark(partition)
            try:
                result = self.pipeline.process(events)
            except Exception as e:  # a pipeline bug: isolate the message(s) that trigger it
                self._rollback()
                log.error("pipeline raised %s on %d messages of partition %d; isolating per message",
                          type(e).__name__, len(idx), partition)
                self._process_isolated([messages[i] for i in idx], [decoded[i] for i in idx], out)
                continue
            out.alerts.extend(result.alerts)
            out.letters.extend(result.dead_letters)
            out.findings += result.findings
        return out

    def _process_isolated(
        self, messages: Sequence[RawMessage], decoded: list[list[Event]], out: _Outcome
    ) -> None:
        now = self.clock()
        for m, evs in zip(messages, decoded, strict=True):
            self._mark(m.partition)
            try:
                result = self.pipeline.process(evs)
            except Exception as e:
                self._rollback()
                out.letters.append(DeadLetter(
                    "pipeline", "pipeline-error",
                    f"the pipeline raised {type(e).__name__} on this message's {len(evs)} event(s)",
                    m.source, now, payload=m.value or b"",
                ))
                continue
            out.alerts.extend(result.alerts)
            out.letters.extend(result.dead_letters)
            out.findings += result.findings

    def _mark(self, partition: int) -> None:
        if self.windows is not None:
            self.windows.mark(partition)

    def _rollback(self) -> None:
        if self.windows is not None:
            self.windows.rollback()

    def write(self, alerts: Sequence[Alert], letters: Sequence[DeadLetter]) -> None:
        if alerts:
            self.store.insert_alerts(alerts)
        if letters:
            self.store.record_dead_letters(letters)

    # -- the batch ---------------------------------------------------------------------------------
    async def handle(self, messages: Sequence[RawMessage]) -> None:
        loop = asyncio.get_running_loop()
        outcome = await loop.run_in_executor(self.executor, self.process, messages)
        if self.windows is not None:
            self.stats.window_updates += self.windows.apply()
            sync = getattr(self.windows, "sync", None)  # FaustWindowStore: changelog durable before the ack
            if sync is not None:
                await sync()
        letters = [bounded_dead_letter(dl) for dl in outcome.letters]

        write = self._timed_write(loop, outcome.alerts, letters)
        await self._until_done("ClickHouse write", len(outcome.alerts), write)
        await self._until_done("Kafka publish", len(outcome.alerts),
                               lambda: self.publisher.publish(outcome.alerts, letters))

        st = self.stats
        st.batches += 1
        st.messages_in += len(messages)
        st.events_in += outcome.events
        st.findings += outcome.findings
        st.alerts_out += len(outcome.alerts)
        for dl in letters:
            st.dead_letters[dl.reason] += 1

    def _timed_write(
        self, loop: asyncio.AbstractEventLoop, alerts: Sequence[Alert], letters: Sequence[DeadLetter]
    ) -> Callable[[], Awaitable[None]]:
        async def attempt() -> None:
            if not alerts and not letters:
                return
            t0 = time.perf_counter()
            await loop.run_in_executor(self.executor, self.write, alerts, letters)
            took = time.perf_counter() - t0
            self.stats.store_writes += 1
            self.stats.store_seconds_total += took
            self.stats.store_seconds_max = max(self.stats.store_seconds_max, took)

        return attempt

    async def _until_done(self, what: str, n_alerts: int, attempt: Callable[[], Awaitable[None]]) -> None:
        """Retry ``attempt`` with backoff until it succeeds; cancellation (shutdown) propagates."""
        for delay in self.retry.delays():
            try:
                await attempt()
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if what.startswith("ClickHouse"):
                    self.stats.store_failures += 1
                else:
                    self.stats.publish_failures += 1
                log.warning(
                    "%s of a batch with %d alert(s) failed (%s: %.200s); retrying in %.1fs, offsets stay "
                    "uncommitted", what, n_alerts, type(e).__name__, str(e), delay,
                )
                await asyncio.sleep(delay)


class TopicPublisher:
    """Publishes alerts (keyed by alert id) and dead letters (keyed by reason) through faust topics."""

    def __init__(self, alerts_topic: Any, dlq_topic: Any) -> None:
        self.alerts_topic = alerts_topic
        self.dlq_topic = dlq_topic

    async def publish(self, alerts: Sequence[Alert], letters: Sequence[DeadLetter]) -> None:
        pending = []
        for dl in letters:
            pending.append(await self.dlq_topic.send(key=dl.reason.encode(), value=encode_dead_letter(dl)))
        for a in alerts:
            pending.append(await self.alerts_topic.send(key=a.alert_id.encode(), value=encode_alert(a)))
        if pending:
            await asyncio.gather(*pending)


def make_agent(handler: BatchHandler, take_max: int, take_within: float) -> Callable[[Any], Awaitable[None]]:
    """The agent function: take a batch, handle it, ack it. Nothing is acked before ``handle`` returns."""

    async def process_events(stream: Any) -> None:
        async for batch in stream.noack_take(take_max, within=take_within):
            messages = [
                RawMessage(ev.value, f"{ev.message.topic}/{ev.message.partition}/{ev.message.offset}",
                           ev.message.partition)
                for ev in batch
            ]
            await handler.handle(messages)
            for ev in batch:
                await stream.ack(ev)

    return process_events
