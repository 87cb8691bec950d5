"""Binary Windows event log files (``.evtx``), read with the ``evtx`` library (Rust, PyPI ``evtx``).

EVTX is not line-oriented: chunks of binary XML, rewritten in place while Windows writes them.
The sensor still follows such a file like any other (identity, checkpoint, rotation), but the
parser ignores the "lines" the tailer cuts from it and, whenever the tailer has consumed the
file to its end, reads the records whose ``EventRecordID`` is above the last one it emitted
(kept in the checkpoint state). Each record is rendered to JSON by ``evtx`` and goes through
the same mapping as JSON-exported events (:mod:`sensors.logs.formats.windows`).

Event ids: ``make_event_id("evtx", <first record's id, time and computer>, <record id>)``: stable
while the file grows and across re-reads, so a re-read after a restart deduplicates.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from typing import Any

from model.config import LogsConfig
from model.events import Event, make_event_id
from sensors.logs.formats.base import LineContext, ParseError, StatelessParser
from sensors.logs.formats.windows import normalize, to_events

EVTX_MAGIC = b"ElfFile\x00"


def evtx_available() -> bool:
    try:
        import evtx  # noqa: F401
    except ImportError:
        return False
    return True


def iter_records(fd: int) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(record id, rendered record or None, error) for every record of an open EVTX file."""
    from evtx import PyEvtxParser

    with os.fdopen(os.dup(fd), "rb") as f:
        f.seek(0)
        try:
            parser = PyEvtxParser(f)
        except (OSError, RuntimeError, ValueError) as e:  # header unreadable: the whole file is one error
            yield 0, None, f"EVTX header unreadable ({type(e).__name__})"
            return
        it: Iterator[Any] = iter(parser.records_json())
        ordinal = 0
        while True:
            try:
                rec = next(it)
            except StopIteration:
                return
            except Exception as e:  # the library raises for a corrupt record; the rest of the file goes on
                ordinal += 1
                yield -ordinal, None, f"{type(e).__name__}"
                continue
            try:
                data = json.loads(rec["data"])
            except (ValueError, KeyError, TypeError) as e:
                yield int(rec.get("event_record_id", -1)), None, f"rendered record is not JSON ({e})"
                continue
            yield int(rec["event_record_id"]), data, ""


class EvtxParser(StatelessParser):
    name = "evtx"
    whole_file = True  # the sensor calls read_new() instead of feeding lines

    def __init__(self, cfg: LogsConfig) -> None:
        super().__init__(cfg)
        self._last = 0
        self._file_id = ""

    def get_state(self) -> dict[str, Any]:
        return {"last_record": self._last, "file_id": self._file_id}

    def set_state(self, state: dict[str, Any]) -> None:
        self._last = int(state.get("last_record", 0))
        self._file_id = str(state.get("file_id", ""))

    def parse(self, line: bytes, ctx: LineContext) -> list[Event] | None:
        return []

    def read_new(self, fd: int, ctx: LineContext) -> tuple[list[Event], list[ParseError]]:
        """Events for the records after the last one emitted; bad records as ParseErrors."""
        if not evtx_available():
            return [], [ParseError("evtx-unavailable", f"{ctx.source}: an EVTX file, but the 'evtx' package is "
                                   "not installed (pip install evtx)")]
        events: list[Event] = []
        errors: list[ParseError] = []
        for record_id, data, err in iter_records(fd):
            if err:
                ctx.counters["evtx-bad-records"] += 1
                errors.append(ParseError("evtx-record", f"{ctx.source}: record {max(record_id, 0)}: {err}"))
                continue
            assert data is not None
            if not self._file_id:
                self._file_id = _file_identity(record_id, data)
            if record_id <= self._last:
                continue
            self._last = record_id
            ctx.counters["evtx-records"] += 1
            rctx = dataclasses.replace(ctx, line_no=record_id, offset=record_id,
                                       head_id=make_event_id("evtx", self._file_id))
            ev = normalize(data)
            if ev is None:
                errors.append(ParseError("evtx-record", f"{ctx.source}: record {record_id}: no System/EventID"))
                continue
            try:
                got = to_events(ev, self.cfg, rctx, self.name)
            except ParseError as e:
                errors.append(e)
                continue
            if got is None:
                ctx.counters["lines-ignored"] += 1
                continue
            events.extend(dataclasses.replace(e, attributes={**e.attributes, "evtx_record": record_id})
                          for e in got)
        return events, errors


def _file_identity(record_id: int, data: dict[str, Any]) -> str:
    sysd = data.get("Event", {}).get("System", {}) if isinstance(data.get("Event"), dict) else {}
    created = sysd.get("TimeCreated")
    ts = created.get("#attributes", {}).get("SystemTime", "") if isinstance(created, dict) else ""
    return f"{record_id}|{ts}|{sysd.get('Computer', '')}|{sysd.get('Channel', '')}"
