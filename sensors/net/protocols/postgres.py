"""PostgreSQL frontend/backend protocol v3 in cleartext: who, which query, how many rows came back.

One Message per query the client sends (simple ``Q`` or extended ``P``arse; content = the SQL
text) and one per statement result (on ``CommandComplete``/``ErrorResponse``): ``rows`` from the
command tag (``SELECT 50000`` → 50000; the DataRows are counted too as ``data_rows``), the
column names, the command tag, and as content the rows as tab-separated text up to
``max_message_bytes``. ``actor`` is the startup ``user``; ``database`` and
``application_name`` come from the startup packet. An accepted ``SSLRequest`` (server answers
``S``) or ``GSSENCRequest`` hands the flow to TLS / ends inspection: the session is encrypted.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from sensors.net.protocols.base import CLIENT, MORE, NO, SERVER, ParserContext
from sensors.net.protocols.db import QUERY_ATTR, Result, query_message, result_message

SSL_REQUEST: Final = 80877103
GSSENC_REQUEST: Final = 80877104
CANCEL_REQUEST: Final = 80877102
PROTOCOL_3: Final = 196608
#: Messages larger than this are skipped (counted), never buffered: a DataRow can be 1 GB.
MAX_MESSAGE: Final = 1 << 20
# Typed with the tuples they return (struct says tuple[Any, ...]): the compiled build then does
# native integer arithmetic on the fields instead of generic Python operations.
_be32: Final[Callable[[bytes, int], tuple[int]]] = struct.Struct("!I").unpack_from
_be16: Final[Callable[[bytes, int], tuple[int]]] = struct.Struct("!H").unpack_from
_hdr: Final[Callable[[bytes, int], tuple[bytes, int]]] = struct.Struct("!cI").unpack_from
#: DataRow: type, length, column count
_drow: Final[Callable[[bytes, int], tuple[int, int, int]]] = struct.Struct("!BIH").unpack_from


def sniff(prefix: bytes) -> int:
    if len(prefix) < 8:
        return MORE if len(prefix) < 4 or _be32(prefix, 0)[0] < 10_000 else NO
    length, code = _be32(prefix, 0)[0], _be32(prefix, 4)[0]
    if code in (SSL_REQUEST, GSSENC_REQUEST) and length == 8:
        return CLIENT
    if code == PROTOCOL_3 and 9 <= length <= 10_000:
        return CLIENT
    if prefix[0:1] == b"R" and len(prefix) >= 9 and _be32(prefix, 1)[0] in (8, 12, 23) and _be32(prefix, 5)[0] <= 12:
        return SERVER
    return NO


def command_rows(tag: str) -> int | None:
    """Rows from a CommandComplete tag: ``SELECT 5``, ``INSERT 0 5``, ``UPDATE 5``, ``COPY 5`` ..."""
    words = tag.split()
    if len(words) >= 2 and words[-1].isdigit():
        return int(words[-1])
    return None


class _Side:
    __slots__ = ("buf", "skip", "skip_type", "started")

    def __init__(self) -> None:
        self.buf = b""
        self.skip = 0
        self.skip_type = b""
        self.started = False  # client: the startup packet (no type byte) has been read


class PostgresParser:
    def __init__(self, ctx: ParserContext) -> None:
        self._ctx = ctx
        self._sides = (_Side(), _Side())  # index 1 = client
        self._params: dict[str, str] = {}
        self._user = ""
        self._ssl_asked = ""  # "ssl" | "gss" while the one-byte answer is awaited
        self._queries: deque[str] = deque()
        self._result: Result | None = None
        self._done = False

    def feed(self, from_client: bool, data: bytes, ts: float) -> None:
        if self._done:
            return
        s = self._sides[from_client]
        if s.skip:
            k = min(s.skip, len(data))
            s.skip -= k
            if s.skip_type == b"D" and self._result is not None:
                self._result.buf.size += k
            data = data[k:]
        buf = s.buf + data if s.buf else data
        pos, n = 0, len(buf)
        while pos < n and not self._done:
            if not from_client and self._ssl_asked:  # the one-byte answer to SSLRequest/GSSENCRequest
                asked, self._ssl_asked = self._ssl_asked, ""
                if asked == "gss" and buf[pos : pos + 1] == b"G":
                    self._ctx.stop_inspection("encrypted", {"starttls": "postgres-gssenc"})
                    self._done = True
                    return
                if asked == "ssl" and buf[pos : pos + 1] == b"S":
                    self._done = True
                    tls = self._ctx.upgrade("tls", self._tls_attrs())
                    if pos + 1 < n:
                        tls.feed(False, buf[pos + 1 :], ts)
                    return
                pos += 1
                continue
            if from_client and not s.started:
                if n - pos < 8:
                    break
                ln = _be32(buf, pos)[0]
                if ln < 8 or ln > 10_000:
                    self._ctx.count("postgres.bad-startup")
                    s.started = True
                    continue
                if n - pos < ln:
                    break
                self._startup(buf[pos : pos + ln])
                pos += ln
                continue
            if n - pos < 5:
                break
            mtype, ln = _hdr(buf, pos)
            if ln < 4:
                self._ctx.count("postgres.bad-message")
                self._ctx.stop_inspection("protocol-error")
                self._done = True
                return
            end = pos + 1 + ln
            if ln > MAX_MESSAGE:
                self._ctx.count("postgres.large-message")
                if mtype == b"D" and self._result is not None:
                    self._result.rows += 1
                    self._result.buf.size += ln
                s.skip = max(0, end - n)
                s.skip_type = mtype
                pos = min(end, n)
                continue
            if end > n:
                break
            if mtype == b"D" and not from_client and self._result is not None:
                pos = self._data_rows(buf, pos, n)  # the bulk of a big result: a tight loop
                continue
            body = buf[pos + 5 : end]
            pos = end
            if from_client:
                self._client_message(mtype, body, ts)
            else:
                self._server_message(mtype, body, ts)
        s.buf = buf[pos:] if pos < n else b""

    # -- client --------------------------------------------------------------------------------
    def _startup(self, pkt: bytes) -> None:
        code = _be32(pkt, 4)[0]
        s = self._sides[True]
        if code in (SSL_REQUEST, GSSENC_REQUEST):  # the server answers with one byte: S/G yes, N no
            self._ssl_asked = "ssl" if code == SSL_REQUEST else "gss"
            return
        s.started = True
        if code == CANCEL_REQUEST:
            return
        fields = pkt[8:].split(b"\x00")
        for k, v in zip(fields[0::2], fields[1::2], strict=False):
            if k:
                self._params[k.decode("utf-8", "replace")] = v.decode("utf-8", "replace")[:256]
        self._user = self._params.get("user", "")

    def _tls_attrs(self) -> dict[str, Any]:
        return {"starttls": "postgres"}

    def _base(self) -> dict[str, Any]:
        a: dict[str, Any] = {"db_user": self._user, "database": self._params.get("database", self._user)}
        if "application_name" in self._params:
            a["application_name"] = self._params["application_name"]
        return a

    def _client_message(self, mtype: bytes, body: bytes, ts: float) -> None:
        if mtype == b"Q":
            q = body.rstrip(b"\x00").decode("utf-8", "replace")
            kind = "simple"
        elif mtype == b"P":
            _, _, rest = body.partition(b"\x00")
            q = rest.split(b"\x00", 1)[0].decode("utf-8", "replace")
            kind = "extended"
        else:
            return  # password ('p') and the rest are never kept
        if len(self._queries) >= 256:
            self._queries.popleft()
        self._queries.append(q)
        attrs = self._base()
        attrs["protocol_message"] = kind
        self._ctx.count("postgres.queries")
        self._ctx.message(query_message("postgres", ts, q, attrs, self._user))

    # -- server --------------------------------------------------------------------------------
    def _server_message(self, mtype: bytes, body: bytes, ts: float) -> None:
        if mtype == b"D":
            res = self._result
            if res is None:
                res = self._result = Result(self._ctx, ts)
            vals: list[bytes] = []
            pos = 2
            for _ in range(_be16(body, 0)[0] if len(body) >= 2 else 0):
                ln = _be32(body, pos)[0]
                pos += 4
                if ln == 0xFFFFFFFF:
                    vals.append(b"\\N")
                    continue
                vals.append(body[pos : pos + ln])
                pos += ln
            res.row(vals, len(body))
        elif mtype == b"T":
            res = self._result = Result(self._ctx, ts)
            pos = 2
            for _ in range(_be16(body, 0)[0] if len(body) >= 2 else 0):
                end = body.find(b"\x00", pos)
                if end < 0:
                    break
                if len(res.columns) < 256:
                    res.columns.append(body[pos:end].decode("utf-8", "replace"))
                pos = end + 1 + 18
            res.header()
        elif mtype == b"C":
            tag = body.rstrip(b"\x00").decode("utf-8", "replace")
            self._finish(ts, tag=tag)
        elif mtype == b"E":
            fields = {f[:1]: f[1:].decode("utf-8", "replace") for f in body.split(b"\x00") if f}
            self._finish(ts, error=fields.get(b"C", "?"))
        elif mtype == b"Z":
            if self._queries:
                self._queries.popleft()

    def _data_rows(self, buf: bytes, pos: int, n: int) -> int:
        """Consume consecutive complete DataRow messages at ``pos``; returns the position after them.

        Rows are rendered as TSV while the content bound has room, then only counted: a
        50,000-row result costs a few microseconds per row, not a parser call per value.
        """
        res = self._result
        assert res is not None
        out = res.buf
        room = out.limit - len(out.data)
        parts: list[bytes] = []  # values, tabs and newlines of the rendered rows, joined once
        add = parts.append
        be32 = _be32
        drow = _drow
        rows = 0
        wire = 0
        cut = 0
        while pos + 7 <= n and buf[pos] == 0x44:  # 'D'
            _, ln, ncols = drow(buf, pos)
            end = pos + 1 + ln
            if end > n or ln > MAX_MESSAGE or ln < 6:
                break
            rows += 1
            wire += ln - 4
            if room > 0:
                p = pos + 7
                width = 1  # of the rendered line: values, tabs between them, the newline
                for k in range(ncols):
                    if p + 4 > end:  # fewer column bytes than the column count says: keep what is whole
                        break
                    vl = be32(buf, p)[0]
                    p += 4
                    if k:
                        add(b"\t")
                        width += 1
                    if vl == 0xFFFFFFFF:
                        add(b"\\N")
                        width += 2
                    else:
                        q = p + vl
                        if q > end:  # a value never reads past its own DataRow
                            q = end
                        add(buf[p:q])
                        width += q - p
                        p = q
                add(b"\n")
                room -= width
            else:
                cut += ln - 4  # past the bound: keep counting (wire bytes) so size stays honest
            pos = end
        if parts:
            out.add(b"".join(parts))
        out.size += cut
        res.rows += rows
        res.wire += wire
        return pos

    def _finish(self, ts: float, *, tag: str = "", error: str = "") -> None:
        res = self._result or Result(self._ctx, ts)
        self._result = None
        attrs = self._base()
        if tag:
            attrs["command_tag"] = tag[:64]
            rows = command_rows(tag)
            if rows is not None:
                attrs["rows"] = rows
        if error:
            attrs["error"] = error
        if self._queries:
            attrs["query"] = self._queries[0][:QUERY_ATTR]
        self._ctx.message(result_message("postgres", res, attrs, self._user))

    def gap(self, from_client: bool, nbytes: int, ts: float) -> None:
        """Framing is lost on that side: stop parsing the flow (counted), account for it instead."""
        self._ctx.count("postgres.gap")
        if self._result is not None:
            res = self._result
            self._result = None
            attrs = self._base()
            attrs["incomplete"] = True
            self._ctx.message(result_message("postgres", res, attrs, self._user))
        self._done = True
        self._ctx.stop_inspection("gap", {"protocol_lost": "postgres"})

    def close(self, ts: float) -> None:
        if self._result is not None and not self._done:
            res = self._result
            self._result = None
            attrs = self._base()
            attrs["incomplete"] = True
            self._ctx.message(result_message("postgres", res, attrs, self._user))
