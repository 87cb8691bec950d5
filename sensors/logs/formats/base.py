"""What every log format parser implements, and the per-line context the sensor hands it.

A parser turns one raw line (bytes, terminator stripped) into zero or more Events. It returns
``None`` when the line is not for it (a non-USB line in a syslog file: ignored and counted),
an empty list when the line was consumed without producing an event (a correlation line), and
raises :class:`ParseError` when the line has the format's shape but is malformed, so that the
sensor dead-letters the raw bytes with a countable reason. Parsers that correlate across lines
expose their state as JSON-able data so the checkpoint can persist it with the byte offset it
belongs to: a restart then resumes mid-sequence exactly as if it had never stopped.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from model.config import LogsConfig
from model.events import Event, build_event

_LOG_TAG = repr("log") + "\x1f"


class ParseError(Exception):
    """A malformed line. ``reason`` is the dead-letter reason code, ``detail`` says what is wrong.

    ``events`` carries events the parser produced before it hit the error (a correlating parser
    may complete an earlier record when it sees the bad line); the sensor emits them first.
    """

    def __init__(self, reason: str, detail: str, events: tuple[Event, ...] = ()) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.events = events


@dataclass(frozen=True, slots=True)
class LineContext:
    """Where a line came from and what a parser needs to build deterministic events from it."""

    source: str  # the file path as the sensor saw it
    line_no: int  # 1-based line number in the file (since its creation or last truncation)
    offset: int  # byte offset of the line's first byte
    head_id: str  # fingerprint of the file head up to this line (see tail.FileReader.head_id)
    sensor_id: str
    fallback_time: float  # file mtime: the observed time when the record carries no wall time
    counters: Counter[str]

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line_no}"

    def event_id(self, ordinal: int = 0) -> str:
        """Deterministic: same file content, same offset -> same id, whatever the path or the run.

        Equal to ``make_event_id("log", head_id, offset, ordinal)`` (a test holds them equal), in
        one hash update instead of four: this runs once per log line."""
        return log_event_id(self.head_id, self.offset, ordinal)

    def log_attributes(self) -> dict[str, Any]:
        return {"log_file": self.source, "log_line": self.line_no, "log_offset": self.offset}


#: Hashers already fed with ``repr("log") \x1f repr(head_id) \x1f``, by head id: a file has one head
#: id once its first KiB is written, so each line's id costs one ``copy()`` and one short update.
_ID_PREFIXES: dict[str, Any] = {}


def log_event_id(head_id: str, offset: int, ordinal: int = 0) -> str:
    """``make_event_id("log", head_id, offset, ordinal)``, from a cached hasher prefix (per line)."""
    h = _ID_PREFIXES.get(head_id)
    if h is None:
        if len(_ID_PREFIXES) > 1024:
            _ID_PREFIXES.clear()
        h = _ID_PREFIXES[head_id] = hashlib.blake2b(
            f"{_LOG_TAG}{head_id!r}\x1f".encode("utf-8", "surrogatepass"), digest_size=16)
    h = h.copy()
    h.update(b"%d\x1f%d\x1f" % (offset, ordinal) if type(ordinal) is int and type(offset) is int else
             f"{offset!r}\x1f{ordinal!r}\x1f".encode("utf-8", "surrogatepass"))
    return h.hexdigest()  # type: ignore[no-any-return]


class LineParser(Protocol):
    name: str

    def parse(self, line: bytes, ctx: LineContext) -> list[Event] | None:
        """Events from one line; None = not this format's line (ignored); raises ParseError."""

    def finish(self, ctx: LineContext) -> list[Event]:
        """End of input (offline scans only): emit what correlation still holds."""

    def get_state(self) -> dict[str, Any]:
        """JSON-able correlation state, persisted in the checkpoint with the offset."""

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned."""


class StatelessParser:
    """Base for parsers that look at one line at a time."""

    name = ""

    def __init__(self, cfg: LogsConfig) -> None:
        self.cfg = cfg

    def finish(self, ctx: LineContext) -> list[Event]:
        return []

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        return None


def decode_utf8(line: bytes, ctx: LineContext) -> str:
    """Strict UTF-8; undecodable bytes are an 'encoding' dead letter that says where."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ParseError(
            "encoding", f"{ctx.where}: not UTF-8 ({e.reason} at byte {e.start} of the line)"
        ) from None


def short_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


#: ``new_event(...)`` == ``Event(...)`` with the 16 fields positionally (model.events.build_event).
new_event: Callable[..., Event] = build_event
