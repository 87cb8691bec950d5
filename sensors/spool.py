"""A local disk spool in front of the Kafka sink: nothing is lost while the broker is away.

``SpoolSink`` wraps a sink factory (normally ``KafkaSink``). While the broker answers, events go
straight through and the wrapper only remembers which ones the broker has not acknowledged yet.
When a flush fails (or the broker cannot be reached at all), those events, and every event after
them, are appended to **segment files** on disk and ``flush()`` returns once they are fsync'd:
for the log sensor a durable spool write is as good as a broker acknowledgement, so it advances
its checkpoint and keeps reading. Every ``retry_seconds`` the wrapper reconnects; segments are
then replayed oldest first, each one flushed to the broker before it is deleted, and only when
the spool is empty do new events go straight to the broker again, so order is kept.

Guarantees: at-least-once. A crash after a segment was replayed but before it was deleted
replays it again; the events keep their deterministic ids, so downstream deduplicates them.
Bounded: the spool holds at most ``max_bytes`` on disk; what happens beyond is the
``overflow`` policy, always counted:

* ``block`` (default): ``flush()`` raises :class:`SpoolFull`; the log sensor then keeps its
  checkpoint and re-reads later, so the log file itself is the buffer and nothing is lost
  while it is not rotated away;
* ``drop-oldest``: whole oldest segments are deleted (``dropped_oldest`` counts their events);
* ``drop-newest``: new events are discarded (``dropped_newest``).

Memory is bounded too: unacknowledged events are kept by reference only until the next flush,
and at most ``MAX_UNCONFIRMED`` of them (a flush is forced beyond).

Segment format (``seg-<20-digit sequence>.spool``): the magic ``HDLSPOOL1\\n`` then records of
``>IIB`` (payload length, CRC-32 of the payload, kind 1 = event JSON / 2 = dead-letter JSON) and
the payload (``model.codec``). A torn last record (crash mid-write) fails its CRC and is skipped
and counted; records before it are intact because every flush fsyncs.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from model.codec import decode_dead_letter, encode_dead_letter, event_from_json, event_to_json
from model.events import DeadLetter, Event

log = logging.getLogger(__name__)

MAGIC = b"HDLSPOOL1\n"
_HEADER = struct.Struct(">IIB")
KIND_EVENT = 1
KIND_DEAD = 2
#: Unacknowledged events kept (by reference) before a flush is forced.
MAX_UNCONFIRMED = 50_000
OVERFLOW_POLICIES = ("block", "drop-oldest", "drop-newest")


class SpoolFull(RuntimeError):
    """The spool reached its bound under the ``block`` policy: nothing was accepted since the last flush."""


class ClosableSink(Protocol):
    def emit(self, event: Event) -> None: ...
    def dead_letter(self, letter: DeadLetter) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def encode_record(kind: int, payload: bytes) -> bytes:
    return _HEADER.pack(len(payload), zlib.crc32(payload), kind) + payload


def read_segment(path: Path) -> Iterator[tuple[int, bytes] | None]:
    """(kind, payload) of each intact record; ``None`` once for a torn or corrupt tail (then stops)."""
    with path.open("rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            yield None
            return
        while True:
            head = f.read(_HEADER.size)
            if not head:
                return
            if len(head) < _HEADER.size:
                yield None
                return
            n, crc, kind = _HEADER.unpack(head)
            payload = f.read(n)
            if len(payload) < n or zlib.crc32(payload) != crc or kind not in (KIND_EVENT, KIND_DEAD):
                yield None
                return
            yield kind, payload


class DiskSpool:
    """Ordered, bounded, fsync'd segment files in one directory."""

    def __init__(self, directory: str | Path, *, max_bytes: int, segment_bytes: int) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = max(4096, segment_bytes)
        self._segments: list[Path] = sorted(self.dir.glob("seg-*.spool"))
        self._counts: dict[Path, int] = {}
        self._open: Any = None  # the segment being appended to (file object)
        self._open_path: Path | None = None
        self._dirty = False
        self.bytes = sum(p.stat().st_size for p in self._segments)
        for p in self._segments:  # records per segment, for counting drops
            self._counts[p] = sum(1 for r in read_segment(p) if r is not None)

    @property
    def segments(self) -> list[Path]:
        return list(self._segments)

    @property
    def records(self) -> int:
        return sum(self._counts.values())

    def __bool__(self) -> bool:
        return bool(self._segments)

    def append(self, kind: int, payload: bytes) -> None:
        rec = encode_record(kind, payload)
        if self._open is None or self._open.tell() + len(rec) > self.segment_bytes:
            self._roll()
        assert self._open is not None and self._open_path is not None
        self._open.write(rec)
        self._dirty = True
        self.bytes += len(rec)
        self._counts[self._open_path] = self._counts.get(self._open_path, 0) + 1

    def would_overflow(self, size: int) -> bool:
        return self.bytes + size + _HEADER.size > self.max_bytes

    def sync(self) -> None:
        """fsync the open segment: everything appended so far survives a crash."""
        if self._open is not None and self._dirty:
            self._open.flush()
            os.fsync(self._open.fileno())
            self._dirty = False

    def seal(self) -> None:
        """Close the open segment (before it is replayed)."""
        if self._open is not None:
            self.sync()
            self._open.close()
            self._open = self._open_path = None

    def drop_oldest(self) -> int:
        """Delete the oldest sealed segment (the open one only if it is the last); its record count."""
        if not self._segments:
            return 0
        if self._segments[0] == self._open_path:
            self.seal()
        return self.remove(self._segments[0])

    def remove(self, path: Path) -> int:
        size = path.stat().st_size if path.exists() else 0
        path.unlink(missing_ok=True)
        self._fsync_dir()
        self._segments.remove(path)
        self.bytes -= size
        return self._counts.pop(path, 0)

    def _roll(self) -> None:
        self.seal()
        seq = int(self._segments[-1].stem.split("-")[1]) + 1 if self._segments else 1
        path = self.dir / f"seg-{seq:020d}.spool"
        self._open = path.open("xb")
        self._open.write(MAGIC)
        self.bytes += len(MAGIC)
        self._open_path = path
        self._segments.append(path)
        self._counts[path] = 0
        self._fsync_dir()

    def _fsync_dir(self) -> None:
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        self.seal()


class SpoolSink:
    """EventSink that delivers through ``connect()``'s sink and spools to disk while that fails."""

    def __init__(self, connect: Callable[[], ClosableSink], spool_dir: str | Path, *, max_bytes: int = 1 << 30,
                 segment_bytes: int = 16 << 20, overflow: str = "block", retry_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if overflow not in OVERFLOW_POLICIES:
            raise ValueError(f"spool overflow must be one of {', '.join(OVERFLOW_POLICIES)}, not {overflow!r}")
        self._connect = connect
        self.spool = DiskSpool(spool_dir, max_bytes=max_bytes, segment_bytes=segment_bytes)
        self.overflow = overflow
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._lock = threading.RLock()
        self._inner: ClosableSink | None = None
        self._unconfirmed: list[tuple[int, Any]] = []  # (kind, Event | DeadLetter) handed to _inner
        self._next_attempt = 0.0
        self._full_since_flush = False
        self._counts = {"spooled_events": 0, "spooled_dead_letters": 0, "replayed_events": 0,
                        "replayed_dead_letters": 0, "replayed_segments": 0, "dropped_oldest": 0, "dropped_newest": 0,
                        "blocked": 0, "torn_records": 0, "connect_failures": 0, "delivery_failures": 0,
                        "direct_events": 0}
        if not self.spool:
            self._try_connect()
        else:
            log.warning("spool %s holds %d record(s) from an earlier run; they are replayed first",
                        self.spool.dir, self.spool.records)

    # -- EventSink ----------------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        self._accept(KIND_EVENT, event)

    def dead_letter(self, letter: DeadLetter) -> None:
        self._accept(KIND_DEAD, letter)

    def flush(self) -> None:
        """Delivered to the broker or fsync'd to the spool; raises SpoolFull under ``block`` when full."""
        with self._lock:
            if self._inner is not None and not self.spool:
                try:
                    self._inner.flush()
                    self._unconfirmed.clear()
                except Exception as e:
                    self._fail_over(e)
            self.spool.sync()
            if self.spool and self._clock() >= self._next_attempt:
                self._replay()
            full, self._full_since_flush = self._full_since_flush, False
        if full:
            raise SpoolFull(f"spool {self.spool.dir} is full ({self.spool.bytes} bytes of {self.spool.max_bytes}); "
                            "delivery is held back until the broker returns")

    def close(self) -> None:
        with self._lock:
            try:
                self.flush()
            finally:
                self.spool.close()
                if self._inner is not None:
                    _quiet_close(self._inner)
                    self._inner = None

    def __enter__(self) -> SpoolSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def spooling(self) -> bool:
        return bool(self.spool)

    @property
    def stats(self) -> dict[str, int]:
        with self._lock:
            out = dict(self._counts)
            out.update(spool_bytes=self.spool.bytes, spool_segments=len(self.spool.segments),
                       spool_records=self.spool.records, connected=int(self._inner is not None))
            return out

    # -- internals ------------------------------------------------------------------------------
    def _accept(self, kind: int, item: Any) -> None:
        with self._lock:
            if self._inner is not None and not self.spool:
                self._unconfirmed.append((kind, item))  # first: a failing emit still spools it
                try:
                    (self._inner.emit if kind == KIND_EVENT else self._inner.dead_letter)(item)
                    self._counts["direct_events"] += kind == KIND_EVENT
                    if len(self._unconfirmed) >= MAX_UNCONFIRMED:
                        self._inner.flush()
                        self._unconfirmed.clear()
                    return
                except Exception as e:
                    self._fail_over(e)  # spools _unconfirmed, this item included
                    return
            self._to_spool(kind, item)

    def _fail_over(self, err: BaseException) -> None:
        """The broker failed: drop the connection, spool everything it did not acknowledge."""
        self._counts["delivery_failures"] += 1
        log.warning("event delivery failed (%s); spooling to %s until the broker returns", type(err).__name__,
                    self.spool.dir)
        inner, self._inner = self._inner, None
        if inner is not None:
            _abort(inner)
        pending, self._unconfirmed = self._unconfirmed, []
        for kind, item in pending:
            self._to_spool(kind, item)
        self._next_attempt = self._clock() + self.retry_seconds

    def _to_spool(self, kind: int, item: Any) -> None:
        payload = (json.dumps(event_to_json(item), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
                   if kind == KIND_EVENT else encode_dead_letter(item))
        while self.spool.would_overflow(len(payload)):
            if self.overflow == "drop-oldest" and len(self.spool.segments) > 0:
                dropped = self.spool.drop_oldest()
                self._counts["dropped_oldest"] += dropped
                log.error("spool full: dropped the oldest segment (%d records)", dropped)
                if not self.spool.segments:
                    break
                continue
            if self.overflow == "drop-newest":
                self._counts["dropped_newest"] += 1
            else:
                self._counts["blocked"] += 1
                self._full_since_flush = True
            return
        self.spool.append(kind, payload)
        self._counts["spooled_events" if kind == KIND_EVENT else "spooled_dead_letters"] += 1

    def _try_connect(self) -> bool:
        try:
            self._inner = self._connect()
            return True
        except Exception as e:
            self._counts["connect_failures"] += 1
            self._next_attempt = self._clock() + self.retry_seconds
            log.warning("broker unreachable (%s: %s); spooling to %s", type(e).__name__, e, self.spool.dir)
            return False

    def _replay(self) -> None:
        """Oldest segment first; each flushed to the broker, then deleted."""
        if self._inner is None and not self._try_connect():
            return
        self.spool.seal()
        inner = self._inner
        assert inner is not None
        for seg in self.spool.segments:
            events = dead = 0
            try:
                for rec in read_segment(seg):
                    if rec is None:
                        self._counts["torn_records"] += 1
                        log.error("spool segment %s ends in a torn record; the records before it are replayed", seg)
                        break
                    kind, payload = rec
                    if kind == KIND_EVENT:
                        inner.emit(event_from_json(json.loads(payload)))
                        events += 1
                    else:
                        inner.dead_letter(decode_dead_letter(payload))
                        dead += 1
                inner.flush()
            except Exception as e:
                self._counts["delivery_failures"] += 1
                log.warning("spool replay of %s failed (%s); retrying in %.0fs", seg.name, type(e).__name__,
                            self.retry_seconds)
                self._inner = None
                _abort(inner)
                self._next_attempt = self._clock() + self.retry_seconds
                return
            self.spool.remove(seg)
            self._counts["replayed_events"] += events
            self._counts["replayed_dead_letters"] += dead
            self._counts["replayed_segments"] += 1
        log.info("spool %s replayed; delivering directly again", self.spool.dir)


def _abort(sink: ClosableSink) -> None:
    abort = getattr(sink, "abort", None)
    if callable(abort):
        abort()
    else:
        _quiet_close(sink)


def _quiet_close(sink: ClosableSink) -> None:
    try:
        sink.close()
    except Exception as e:  # undeliverable content was spooled already
        log.debug("closing the inner sink: %s", type(e).__name__)
