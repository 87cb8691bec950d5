"""Shared pieces of the database wire-protocol parsers: the result being assembled for one query."""

from __future__ import annotations

from typing import Any

from sensors.net.protocols.base import BoundedBuffer, Message, ParserContext

SQL_CONTENT_TYPE = "application/sql"
#: The result content is the rows as tab-separated text, one row per line (bounded).
ROWS_CONTENT_TYPE = "text/tab-separated-values"
MAX_COLUMNS = 256
#: How much of the query text rides along on the result event (the query event has all of it).
QUERY_ATTR = 1024


class Result:
    """Rows of one statement's result, rendered as TSV up to ``max_message_bytes``, all counted."""

    __slots__ = ("buf", "columns", "rows", "ts", "wire")

    def __init__(self, ctx: ParserContext, ts: float) -> None:
        self.buf = BoundedBuffer(ctx.max_message_bytes)
        self.columns: list[str] = []
        self.rows = 0
        self.wire = 0
        self.ts = ts

    def header(self) -> None:
        if self.columns:
            self.buf.add("\t".join(self.columns).encode("utf-8", "replace") + b"\n")

    def row(self, values: list[bytes], wire: int) -> None:
        self.rows += 1
        self.wire += wire
        if len(self.buf.data) < self.buf.limit:
            self.buf.add(b"\t".join(values) + b"\n")
        else:
            self.buf.size += wire  # cut: keep counting so size stays honest


def query_message(channel: str, ts: float, query: str, attrs: dict[str, Any], actor: str) -> Message:
    raw = query.encode("utf-8", "replace")
    return Message(from_client=True, ts=ts, channel=channel, content=raw, content_type=SQL_CONTENT_TYPE,
                   size=len(raw), attributes=attrs, actor=actor)


def result_message(channel: str, res: Result, attrs: dict[str, Any], actor: str) -> Message:
    attrs["data_rows"] = res.rows
    attrs.setdefault("rows", res.rows)
    if res.columns:
        attrs["columns"] = res.columns[:MAX_COLUMNS]
    return Message(from_client=False, ts=res.ts, channel=channel, content=bytes(res.buf.data),
                   content_type=ROWS_CONTENT_TYPE if res.rows or res.columns else "", size=res.buf.size,
                   truncated=res.buf.truncated, attributes=attrs, actor=actor)
