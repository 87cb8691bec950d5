"""The log sensor: tail files, parse lines, emit events, checkpoint after delivery.

Delivery order per poll: read lines (rotated files first) -> parse -> ``sink.emit`` /
``sink.dead_letter`` -> ``sink.flush()`` -> save the checkpoint. The checkpoint only ever
moves past lines the sink has confirmed, so a crash costs at most a re-send of the last poll's
lines, with identical event ids. If ``flush`` raises, the sensor rewinds to the last saved
checkpoint and re-reads from there on the next poll.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

from model.config import LogsConfig
from model.events import DeadLetter, Event
from sensors.logs.checkpoint import CheckpointStore, CorruptCheckpoint, FileCheckpoint
from sensors.logs.formats import DETECT_LINES, UNKNOWN, detect_format, make_parser
from sensors.logs.formats.base import LineContext, LineParser, ParseError
from sensors.logs.formats.evtx_file import EVTX_MAGIC
from sensors.logs.tail import HEAD_BYTES, FileReader, Line, Tailer
from sensors.sink import EventSink, ListSink

log = logging.getLogger("healthdlp.sensors.logs")

STAGE = "log-sensor"
#: Bytes read per file per poll before the batch is flushed and checkpointed (bounds memory).
POLL_BUDGET = 8 << 20
_SPACE = frozenset(b" \t\r\n\x0b\x0c")
#: A rotated file is closed once it has had no new data for this long.
DRAIN_IDLE_SECONDS = 5.0


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a block (and back on after, if it was on): nests."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


class LineProcessor:
    """Lines of one reader -> events and dead letters on a sink, with counters. Shared by the
    live sensor and the offline scan so both produce the same events and ids."""

    def __init__(self, cfg: LogsConfig, sensor_id: str, sink: EventSink, counters: Counter[str],
                 fmt: str = "auto", clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.sensor_id = sensor_id
        self.sink = sink
        self.counters = counters
        self.fmt = fmt if fmt != "auto" else cfg.format
        self.clock = clock
        if self.fmt != "auto":
            make_parser(self.fmt, cfg)  # fail fast on an unknown name

    def parser_for(self, reader: FileReader, lines: list[Line]) -> LineParser | None:
        """The reader's parser; created on its first lines. None while a new file has only blank
        lines (nothing to detect the format from yet)."""
        if reader.parser is not None:
            return reader.parser  # type: ignore[no-any-return]
        if self.fmt != "auto":
            name = self.fmt
        elif reader.fmt is not None:
            name = reader.fmt  # decided before a restart: a file keeps its format
        elif reader.head.startswith(EVTX_MAGIC):
            name = "evtx"
            self.counters["format-detected.evtx"] += 1
        else:
            sample = [ln.data for ln in lines[:DETECT_LINES * 4] if not ln.too_long and ln.data.strip()]
            if not sample:
                return None
            name = detect_format(sample)
            self.counters[f"format-detected.{name}"] += 1
            if name == UNKNOWN:
                log.warning("%s: log format not recognised; its lines are dead-lettered", reader.path)
        parser = make_parser(name, self.cfg)
        reader.whole_file = bool(getattr(parser, "whole_file", False))
        if reader.parser_state and reader.fmt == name:
            parser.set_state(reader.parser_state)
        reader.fmt, reader.parser, reader.parser_state = name, parser, None
        return parser

    def process(self, reader: FileReader, lines: list[Line]) -> None:
        """Parse a batch with the cyclic garbage collector paused: parsing allocates ~10 container
        objects per line and none of them forms a cycle, yet each 700 allocations would trigger a
        collection that re-scans the batch's live events (a third of the CPU on access logs).
        Reference counting still frees everything; the collector resumes after the batch."""
        with gc_paused():
            self._process(reader, lines)

    def _process(self, reader: FileReader, lines: list[Line]) -> None:
        parser = self.parser_for(reader, lines)
        emit, counters = self.sink.emit, self.counters
        counters["lines-read"] += len(lines)
        if parser is None:
            for line in lines:
                if line.too_long:
                    self._too_long(reader, line)
                else:
                    counters["lines-blank"] += 1
            return
        if getattr(parser, "whole_file", False):
            self._whole_file(reader, parser, lines)
            return
        wants_blank = getattr(parser, "wants_blank", False)
        # A parser with ``parse_fast`` builds the common line's event from plain arguments (no
        # LineContext per line); None sends the line through ``parse`` as usual.
        fast = getattr(parser, "parse_fast", None)
        path, sensor_id, mtime, head_id = reader.path, self.sensor_id, reader.mtime, reader.head_id
        # reader.head_id(end) inlined for the usual case, a line ending past a complete first KiB
        full_from = HEAD_BYTES if len(reader.head) == HEAD_BYTES else 1 << 62
        fp = reader.fp
        n_events = 0
        try:
            for line in lines:
                offset, end, number, data, too_long, _ = line  # one unpack instead of five attribute loads
                if too_long:
                    self._too_long(reader, line)
                    continue
                if offset == 0:
                    data = data.removeprefix(b"\xef\xbb\xbf")
                blank = not data or (data[0] in _SPACE and data.isspace())
                if blank:
                    counters["lines-blank"] += 1
                    if not wants_blank:
                        continue
                try:
                    ev = None if fast is None else fast(
                        data, path, number, offset, fp if end >= full_from else head_id(end), sensor_id, mtime,
                        counters)
                    if ev is None:
                        events = parser.parse(data, LineContext(path, number, offset, head_id(end), sensor_id, mtime,
                                                                counters))
                except ParseError as e:
                    for one in e.events:
                        emit(one)
                    counters["events"] += len(e.events)
                    self._dead(reader, line, e.reason, e.detail)
                    continue
                except Exception as e:  # a parser bug must not stop the stream or lose the line
                    log.exception("%s:%d: parser %s failed", reader.path, line.number, parser.name)
                    self._dead(reader, line, "parser-error", f"{reader.path}:{line.number}: parser {parser.name} "
                               f"raised {type(e).__name__}")
                    continue
                if ev is not None:
                    emit(ev)
                    n_events += 1
                    continue
                if events is None:
                    if not blank:
                        counters["lines-ignored"] += 1
                    continue
                for one in events:
                    emit(one)
                n_events += len(events)
        finally:
            counters["events"] += n_events

    def _whole_file(self, reader: FileReader, parser: LineParser, lines: list[Line]) -> None:
        """A binary record file (EVTX): once the tailer has consumed it to its end, the parser reads
        the records it has not emitted yet; the 'lines' cut from it are only a read cursor."""
        try:
            size = os.fstat(reader.fd).st_size
        except OSError:
            return
        if not lines or reader.pos < size:
            return
        ctx = LineContext(reader.path, reader.line_no, reader.offset, reader.head_id(reader.offset), self.sensor_id,
                          reader.mtime, self.counters)
        try:
            events, errors = parser.read_new(reader.fd, ctx)  # type: ignore[attr-defined]
        except Exception as e:  # a library or parser bug must not stop the sensor
            log.exception("%s: parser %s failed", reader.path, parser.name)
            events, errors = [], [ParseError("parser-error", f"{reader.path}: parser {parser.name} raised "
                                             f"{type(e).__name__}")]
        for ev in events:
            self.sink.emit(ev)
        self.counters["events"] += len(events)
        for err in errors:
            self.counters["dead-letters"] += 1
            self.counters[f"dead-letter.{err.reason}"] += 1
            self.sink.dead_letter(DeadLetter(stage=STAGE, reason=err.reason, detail=err.detail, source=reader.path,
                                             observed_at=self.clock(), payload=b""))

    def finish(self, reader: FileReader) -> None:
        """End of an offline scan: what correlation still holds."""
        if reader.parser is None or getattr(reader.parser, "whole_file", False):
            return
        ctx = LineContext(reader.path, reader.line_no, reader.offset, reader.head_id(reader.offset),
                          self.sensor_id, reader.mtime, self.counters)
        for ev in reader.parser.finish(ctx):
            self.sink.emit(ev)
            self.counters["events"] += 1

    def _too_long(self, reader: FileReader, line: Line) -> None:
        limit = self.cfg.max_line_bytes
        self._dead(reader, line, "line-too-long", f"{reader.path}:{line.number}: line longer than {limit} "
                   f"bytes; its first {limit} bytes are kept here, the rest was skipped")

    def _dead(self, reader: FileReader, line: Line, reason: str, detail: str) -> None:
        self.counters["dead-letters"] += 1
        self.counters[f"dead-letter.{reason}"] += 1
        self.sink.dead_letter(DeadLetter(stage=STAGE, reason=reason, detail=detail, source=reader.path,
                                         observed_at=self.clock(), payload=line.data))


class LogSensor:
    """Follows ``cfg.paths`` (files or globs) and feeds the sink; see the module docstring."""

    def __init__(self, cfg: LogsConfig, sensor_id: str, sink: EventSink, *,
                 clock: Callable[[], float] = time.time, drain_idle: float = DRAIN_IDLE_SECONDS) -> None:
        self.cfg = cfg
        self.sensor_id = sensor_id
        self.sink = sink
        self._counters: Counter[str] = Counter()
        self._store = CheckpointStore(cfg.checkpoint_dir, sensor_id)
        self._processor = LineProcessor(cfg, sensor_id, sink, self._counters, clock=clock)
        self._drain_idle = drain_idle
        try:
            self._committed = self._store.load()
        except CorruptCheckpoint:
            self._counters["checkpoint-corrupt"] += 1
            self._committed = []
        self._tailer = self._new_tailer(self._committed)

    @property
    def stats(self) -> dict[str, int]:
        """Counters since start (documented in docs/log-sensor.md)."""
        return dict(self._counters)

    @property
    def checkpoint_path(self) -> str:
        return str(self._store.path)

    def _new_tailer(self, restored: list[FileCheckpoint]) -> Tailer:
        return Tailer(self.cfg.paths, self.cfg.max_line_bytes, self._counters, restored=restored,
                      drain_idle=self._drain_idle)

    def run_once(self) -> dict[str, int]:
        """Read everything available now; flush and checkpoint after each bounded batch.

        Returns the counters of this call. If the sink raises, the sensor rewinds to its last
        checkpoint (the lines will be read again) and re-raises.
        """
        before = Counter(self._counters)
        self._drain(None)
        return {k: v - before.get(k, 0) for k, v in self._counters.items() if v != before.get(k, 0)}

    def run(self, stop: threading.Event) -> None:
        """Follow until ``stop`` is set, polling every ``cfg.poll_interval`` seconds."""
        try:
            while not stop.is_set():
                try:
                    self._drain(stop)
                except Exception as e:
                    log.error("log sensor %s: delivery failed (%s: %s); retrying from the last checkpoint",
                              self.sensor_id, type(e).__name__, e)
                stop.wait(self.cfg.poll_interval)
        finally:
            self.close()

    def _drain(self, stop: threading.Event | None) -> None:
        """Batches until nothing is left (or ``stop``: a file written faster than we read must not
        keep ``run`` from stopping)."""
        while stop is None or not stop.is_set():
            try:
                with gc_paused():
                    got = self._poll_once()
                self.sink.flush()
            except BaseException:
                self._counters["flush-failures"] += 1
                self._rewind()
                raise
            self._commit()
            if not got:
                return

    def _poll_once(self) -> bool:
        """Read and parse one poll's lines; False when there were none. Called with the collector
        paused (reading allocates a tuple per line too); the lines die here, before it resumes, so
        its next young-generation pass does not walk them."""
        batches = self._tailer.poll(POLL_BUDGET)
        for reader, lines in batches:
            self._processor.process(reader, lines)
        return bool(batches)

    def close(self) -> None:
        self._tailer.close()

    def _commit(self) -> None:
        entries = self._tailer.snapshot()
        if self._store.save(entries):
            self._counters["checkpoint-writes"] += 1
        self._committed = entries

    def _rewind(self) -> None:
        self._counters["rewinds"] += 1
        self._tailer.close()
        self._tailer = self._new_tailer(self._committed)


def scan_log_file(path: str, cfg: LogsConfig, sensor_id: str, fmt: str = "auto"
                  ) -> tuple[list[Event], list[DeadLetter], dict[str, int]]:
    """Offline: every line of one file (the last one even without a newline), no checkpoint.

    Event ids are the ones the live sensor gives the same lines, so a scan of a collected log
    and the live stream deduplicate against each other.
    """
    sink = ListSink()
    counters: Counter[str] = Counter()
    proc = LineProcessor(cfg, sensor_id, sink, counters, fmt=fmt)
    reader = FileReader.open(os.path.abspath(path), cfg.max_line_bytes)
    try:
        counters["files-opened"] += 1
        while True:
            with gc_paused():
                lines = reader.read_lines(POLL_BUDGET)
            final = None if lines else reader.take_partial()
            if final is not None:
                counters["lines-unterminated"] += 1
                lines = [final]
            if not lines:
                break
            counters["bytes-read"] += sum(ln.end - ln.offset for ln in lines)
            proc.process(reader, lines)
        proc.finish(reader)
    finally:
        reader.close()
    return sink.events, sink.dead_letters, dict(counters)


__all__: list[str] = ["LineProcessor", "LogSensor", "scan_log_file"]
