"""Read a time window of the events topic back: the event store behind ``healthdlp replay --since``.

Raw events never go to the database (only masked alerts do), so the Kafka events topic, within
its retention, *is* the store of past events. This module reads one time window of it with a
plain ``KafkaConsumer``:

* no ``group_id``: nothing is committed, the running worker's group is untouched, and Tansu gives
  group members no assignment anyway; every partition is assigned by hand;
* the window is judged by the Kafka **record timestamp** (when the sensor sent the envelope, or
  the broker's append time on a LogAppendTime topic), not by ``Event.observed_at``: that is
  what the broker can index and what retention is measured in;
* start offsets come from ``offsets_for_times`` when the broker answers it correctly. The answer
  is checked (the record at the offset must carry the reported timestamp, the one before it must
  be older than the window) because Tansu answers offset 0 with a made-up timestamp; when the
  check fails the reader scans from the earliest offset and filters by timestamp. Records are
  filtered by timestamp on both paths, so a too-early start costs time, never correctness;
* the end is the end offsets captured when reading starts. Tansu reports the end of a
  multi-record batch as its base offset + 1 (docs/decisions.md), so a partition is only done
  once it is past that offset *and* either the broker has nothing more or the records are newer
  than the start of the read (those arrived after it and are not part of the replay).

Undecodable records become :class:`DeadLetter`\\ s (reason counted, never a crash); the worker
already dead-lettered them when they arrived, so they are reported, not re-sent.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from model import durations
from model.codec import CodecError, decode_batch
from model.config import KafkaConfig
from model.events import DeadLetter, Event
from stream.pipeline import scrub_exception

PATH_BY_TIMESTAMP = "start offsets by timestamp"
PATH_SCANNED = "scanned from earliest"

#: Dead letters kept with their detail for the report; beyond this only the reason is counted.
MAX_KEPT_DEAD_LETTERS = 20


class EventLogError(RuntimeError):
    """The events topic cannot be read (broker unreachable, topic missing, broker stalled)."""


def parse_time_spec(text: str, now: float) -> float:
    """A duration before ``now`` (``7d``, ``24h``, ``1h30m``, ``2w``: :mod:`model.durations`), or an
    ISO-8601 time (naive = local time).

    Returns epoch seconds; raises ValueError with a message fit for the command line.
    """
    try:
        return now - durations.parse_duration(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration (7d, 24h, 90m) nor an ISO time "
                         "(2026-11-18T08:00:00+08:00)") from None
    if when.tzinfo is None:
        when = when.astimezone()  # the machine's local time zone, as an analyst would type it
    return when.timestamp()


@dataclass
class ReadStats:
    """What one read did; ``path`` says how the start offsets were found."""

    path: str = ""
    partitions: int = 0
    planned: int = 0  # records between the start and the end offsets captured at start
    records: int = 0  # records read
    in_window: int = 0
    before: int = 0  # older than the window (read only on the scanned path, or unordered timestamps)
    after: int = 0  # at or after --until, or newer than the start of the read
    events: int = 0
    first_ms: int = 0  # the oldest record timestamp in the window (0: none)
    dead: Counter[str] = field(default_factory=Counter)
    dead_letters: list[DeadLetter] = field(default_factory=list)  # the first few, for the report


def decode_record(value: bytes | None, source: str, timestamp_ms: int) -> list[Event] | DeadLetter:
    """One record's events, or the dead letter saying why it does not decode (never raises)."""
    at = timestamp_ms / 1000.0
    if value is None:
        return DeadLetter("replay", "message-empty", "message has no value (tombstone)", source, at)
    try:
        return decode_batch(value)
    except CodecError as e:
        return DeadLetter("replay", e.reason, e.detail, source, at, payload=value)
    except (ValueError, TypeError) as e:  # a model constructor refusing a field the codec let through
        return DeadLetter("replay", "event-invalid", scrub_exception(e), source, at, payload=value)


Progress = Callable[[int, int], None]


class EventLogReader:
    """Reads ``[since, until)`` (epoch seconds) of the events topic; iterate :meth:`batches`."""

    def __init__(self, cfg: KafkaConfig, since: float, until: float | None = None, *, topic: str | None = None,
                 idle_ms: int = 1000, stall_s: float = 30.0, client_id: str = "healthdlp-replay") -> None:
        self.cfg = cfg
        self.topic = topic or cfg.events_topic
        self.since_ms = int(since * 1000)
        self.until_ms = int(until * 1000) if until is not None else None
        self.idle_ms = idle_ms
        self.stall_s = stall_s
        self.client_id = client_id
        self.stats = ReadStats()
        self._consumer: Any = None

    # -- connection --------------------------------------------------------------------------------

    def _connect(self) -> Any:
        from kafka import KafkaConsumer

        from sensors.kafka_topics import UNREACHABLE

        try:
            return KafkaConsumer(
                bootstrap_servers=self.cfg.bootstrap, client_id=self.client_id, group_id=None,
                enable_auto_commit=False, auto_offset_reset="earliest",
                request_timeout_ms=max(self.cfg.request_timeout_ms, 1000),
                bootstrap_timeout_ms=min(max(self.cfg.request_timeout_ms, 1000), 10000),
            )
        except UNREACHABLE as e:
            raise EventLogError(f"Kafka broker at {self.cfg.bootstrap} is unreachable ({e}); check kafka.bootstrap "
                                "in the config") from None

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def __enter__(self) -> EventLogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- planning ----------------------------------------------------------------------------------

    def _partitions(self, c: Any) -> list[Any]:
        from kafka import TopicPartition

        parts = c.partitions_for_topic(self.topic)
        if not parts:  # None on Kafka, an empty set on Tansu
            raise EventLogError(f"topic {self.topic!r} does not exist on {self.cfg.bootstrap} (kafka.events_topic); "
                                "nothing was ever sent to it, or it was deleted")
        return [TopicPartition(self.topic, p) for p in sorted(parts)]

    def _record_at(self, c: Any, tp: Any, offset: int) -> Any:
        """The record at ``offset`` of one partition (None if the broker returns none in time)."""
        c.assign([tp])
        c.seek(tp, offset)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            for r in c.poll(timeout_ms=500, max_records=1).get(tp, ()):
                if r.offset >= offset:
                    return r if r.offset == offset else None
        return None

    def _starts_by_timestamp(self, c: Any, tps: list[Any], begin: dict[Any, int],
                             end: dict[Any, int]) -> dict[Any, int] | None:
        """Start offsets from the broker's time index, or None if it does not answer them truthfully."""
        try:
            found = c.offsets_for_times({tp: self.since_ms for tp in tps})
        except Exception:  # UnsupportedVersionError, a broker error code: fall back to scanning
            return None
        starts: dict[Any, int] = {}
        for tp in tps:
            ot = found.get(tp)
            if ot is None:  # no record at or after the start time
                starts[tp] = end[tp]
                continue
            if not begin[tp] <= ot.offset or ot.timestamp < self.since_ms:
                return None
            at = self._record_at(c, tp, ot.offset)
            if at is None or at.timestamp != ot.timestamp:
                return None  # Tansu: offset 0 with a timestamp no record has
            if ot.offset > begin[tp]:
                prev = self._record_at(c, tp, ot.offset - 1)
                if prev is None or prev.timestamp >= self.since_ms:
                    return None
            starts[tp] = ot.offset
        return starts

    def _plan(self, c: Any) -> tuple[list[Any], dict[Any, int], dict[Any, int]]:
        tps = self._partitions(c)
        c.assign(tps)
        begin, end = c.beginning_offsets(tps), c.end_offsets(tps)
        starts = self._starts_by_timestamp(c, tps, begin, end)
        self.stats.path = PATH_BY_TIMESTAMP if starts is not None else PATH_SCANNED
        if starts is None:
            starts = dict(begin)
        self.stats.partitions = len(tps)
        self.stats.planned = sum(max(0, end[tp] - starts[tp]) for tp in tps)
        return tps, starts, end

    def open(self) -> ReadStats:
        """Connect and find the start and end offsets; ``stats.path`` and ``stats.planned`` are then set."""
        from sensors.kafka_topics import UNREACHABLE

        if self._consumer is None:
            self._consumer = self._connect()
            try:
                self._tps, self._starts, self._ends = self._plan(self._consumer)
            except UNREACHABLE as e:
                self.close()
                raise EventLogError(f"Kafka broker at {self.cfg.bootstrap} stopped answering ({e})") from None
            except EventLogError:
                self.close()
                raise
        return self.stats

    # -- reading -----------------------------------------------------------------------------------

    def _poll(self, c: Any) -> dict[Any, list[Any]]:
        from kafka.errors import KafkaError

        try:
            return c.poll(timeout_ms=self.idle_ms, max_records=500)  # type: ignore[no-any-return]
        except KafkaError as e:  # the broker went away or refused the fetch mid-read
            raise EventLogError(f"reading {self.topic} from {self.cfg.bootstrap} failed: {e}") from None

    def batches(self, progress: Progress | None = None) -> Iterator[list[Event]]:
        """The events of every record in the window, one list per record, in partition order."""
        self.open()
        c, st = self._consumer, self.stats
        started_ms = int(time.time() * 1000)
        c.assign(self._tps)
        for tp in self._tps:
            c.seek(tp, self._starts[tp])
        active = set(self._tps)
        last_record = time.monotonic()
        while active:
            got = self._poll(c)
            if not got:
                # Nothing more within idle_ms: a partition past its captured end is done; one below it
                # is waiting for the broker, which may stall only so long.
                done = {tp for tp in active if c.position(tp) >= self._ends[tp]}
                if done:
                    c.pause(*done)
                    active -= done
                if active and time.monotonic() - last_record > self.stall_s:
                    left = ", ".join(f"{tp.partition}@{c.position(tp)}<{self._ends[tp]}" for tp in sorted(
                        active, key=lambda t: t.partition))
                    raise EventLogError(f"broker returned nothing for {self.stall_s:.0f}s below the end offsets "
                                        f"({left})")
                continue
            last_record = time.monotonic()
            for tp, records in got.items():
                if tp not in active:
                    continue
                for r in records:
                    if r.offset >= self._ends[tp] and r.timestamp > started_ms:
                        st.after += 1
                        active.discard(tp)
                        c.pause(tp)
                        break
                    st.records += 1
                    if r.timestamp < self.since_ms:
                        st.before += 1
                        continue
                    if self.until_ms is not None and r.timestamp >= self.until_ms:
                        st.after += 1
                        continue
                    st.in_window += 1
                    if not st.first_ms or r.timestamp < st.first_ms:
                        st.first_ms = r.timestamp
                    out = decode_record(r.value, f"{self.topic}/{r.partition}@{r.offset}", r.timestamp)
                    if isinstance(out, DeadLetter):
                        st.dead[out.reason] += 1
                        if len(st.dead_letters) < MAX_KEPT_DEAD_LETTERS:
                            st.dead_letters.append(out)
                        continue
                    st.events += len(out)
                    if out:
                        yield out
            if progress is not None:
                progress(st.records, max(st.planned, st.records))
