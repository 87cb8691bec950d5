"""MySQL client/server protocol in cleartext: who, which query, how many rows came back.

Packets are ``3-byte length, 1-byte sequence, payload``. The server's HandshakeV10 gives the
version and capabilities, the client's HandshakeResponse41 the user (→ ``actor``) and schema;
a short SSLRequest (CLIENT_SSL) hands the flow to TLS. Then one Message per ``COM_QUERY`` /
``COM_STMT_PREPARE`` (content = SQL) and one per result: an OK packet (``affected_rows``), an
ERR packet (``error``), or a text result set — column definitions then rows until the EOF/OK
terminator (CLIENT_DEPRECATE_EOF understood) — whose rows are counted (``rows``) and rendered as
tab-separated text up to ``max_message_bytes``. Binary (prepared-statement) rows are counted only.
"""

from __future__ import annotations

from typing import Any, Final

from sensors.net.protocols.base import CLIENT, MORE, NO, SERVER, ParserContext
from sensors.net.protocols.db import QUERY_ATTR, Result, query_message, result_message

CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SSL = 0x800
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH_LENENC = 0x200000
CLIENT_DEPRECATE_EOF = 0x1000000
MAX_PACKET: Final = 1 << 24
#: Packets larger than this are skipped (counted as a row when rows are being read), never buffered.
MAX_BUFFERED: Final = 1 << 20
COMMANDS = {0x01: "COM_QUIT", 0x02: "COM_INIT_DB", 0x03: "COM_QUERY", 0x0E: "COM_PING",
            0x16: "COM_STMT_PREPARE", 0x17: "COM_STMT_EXECUTE", 0x19: "COM_STMT_CLOSE"}


def sniff(prefix: bytes) -> int:
    if len(prefix) < 6:
        return MORE
    ln = prefix[0] | prefix[1] << 8 | prefix[2] << 16
    if prefix[3] == 0 and prefix[4] == 0x0A and 30 <= ln < 1024:  # HandshakeV10 from the server
        nul = prefix.find(b"\x00", 5, 5 + 64)
        if nul > 5 and all(0x20 <= b < 0x7F for b in prefix[5:nul]) and prefix[5:6].isdigit():
            return SERVER
        return MORE if nul < 0 and len(prefix) < 70 else NO
    if prefix[3] == 1 and ln >= 32 and len(prefix) >= 36:  # HandshakeResponse41 / SSLRequest
        caps = int.from_bytes(prefix[4:8], "little")
        if caps & CLIENT_PROTOCOL_41 and prefix[13:36] == bytes(23):
            return CLIENT
    return NO


def lenenc(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of a length-encoded integer; (-1, pos+1) for NULL (0xfb)."""
    b = buf[pos]
    if b < 0xFB:
        return b, pos + 1
    if b == 0xFB:
        return -1, pos + 1
    if b == 0xFC:
        return buf[pos + 1] | buf[pos + 2] << 8, pos + 3
    if b == 0xFD:
        return int.from_bytes(buf[pos + 1 : pos + 4], "little"), pos + 4
    return int.from_bytes(buf[pos + 1 : pos + 9], "little"), pos + 9


class MysqlParser:
    def __init__(self, ctx: ParserContext) -> None:
        self._ctx = ctx
        self._bufs = [b"", b""]  # index 1 = client
        self._skip = [0, 0]
        self._server_caps = 0
        self._client_caps = 0
        self._user = ""
        self._schema = ""
        self._server_version = ""
        self._query = ""
        self._command = ""
        # response state: "" idle | "first" | "columns" | "rows"
        self._state = ""
        self._columns_left = 0
        self._binary = False
        self._result: Result | None = None
        self._handshake_done = False
        self._done = False

    @property
    def _deprecate_eof(self) -> bool:
        return bool(self._server_caps & self._client_caps & CLIENT_DEPRECATE_EOF)

    def feed(self, from_client: bool, data: bytes, ts: float) -> None:
        if self._done:
            return
        skip = self._skip[from_client]
        if skip:
            k = min(skip, len(data))
            self._skip[from_client] -= k
            data = data[k:]
        buf = self._bufs[from_client] + data if self._bufs[from_client] else data
        pos, n = 0, len(buf)
        while n - pos >= 4 and not self._done:
            ln = buf[pos] | buf[pos + 1] << 8 | buf[pos + 2] << 16
            if ln > MAX_BUFFERED:
                self._ctx.count("mysql.large-packet")
                if self._result is not None and self._state == "rows" and not from_client:
                    self._result.rows += 1
                    self._result.buf.size += ln
                end = pos + 4 + ln
                self._skip[from_client] = max(0, end - n)
                pos = min(end, n)
                continue
            if n - pos - 4 < ln:
                break
            if self._state == "rows" and not from_client and not self._binary and buf[pos + 4] < 0xFB:
                pos = self._text_rows(buf, pos, n)  # the bulk of a result set: a tight loop
                continue
            payload = buf[pos + 4 : pos + 4 + ln]
            seq = buf[pos + 3]
            pos += 4 + ln
            if from_client:
                self._client_packet(seq, payload, ts, buf[pos:])
            else:
                self._server_packet(payload, ts)
        self._bufs[from_client] = buf[pos:] if not self._done else b""

    # -- client --------------------------------------------------------------------------------
    def _client_packet(self, seq: int, p: bytes, ts: float, rest: bytes) -> None:
        if not self._handshake_done and seq == 1 and len(p) >= 32:
            self._client_caps = int.from_bytes(p[0:4], "little")
            if len(p) == 32 and self._client_caps & CLIENT_SSL:
                self._done = True
                tls = self._ctx.upgrade("tls", {"starttls": "mysql"})
                if rest:
                    tls.feed(True, rest, ts)
                return
            self._handshake_done = True
            nul = p.find(b"\x00", 32)
            if nul > 0:
                self._user = p[32:nul].decode("utf-8", "replace")[:256]
                pos = nul + 1
                try:
                    if self._client_caps & CLIENT_PLUGIN_AUTH_LENENC:
                        alen, pos = lenenc(p, pos)
                    elif self._client_caps & CLIENT_SECURE_CONNECTION:
                        alen, pos = p[pos], pos + 1
                    else:
                        alen = p.find(b"\x00", pos) - pos + 1
                    pos += max(0, alen)
                    if self._client_caps & CLIENT_CONNECT_WITH_DB:
                        end = p.find(b"\x00", pos)
                        self._schema = p[pos : end if end >= 0 else len(p)].decode("utf-8", "replace")[:256]
                except IndexError:
                    self._ctx.count("mysql.bad-handshake-response")
            return
        if seq != 0 or not p:
            return  # auth switch responses and the like
        cmd = p[0]
        name = COMMANDS.get(cmd, f"0x{cmd:02x}")
        if cmd == 0x02:
            self._schema = p[1:].decode("utf-8", "replace")[:256]
        if cmd in (0x03, 0x16):
            self._query = p[1:].decode("utf-8", "replace")
            attrs = self._base()
            attrs["command"] = name
            self._ctx.count("mysql.queries")
            self._ctx.message(query_message("mysql", ts, self._query, attrs, self._user))
        elif cmd != 0x17:
            self._query = ""
        self._command = name
        self._binary = cmd == 0x17
        self._state = "first" if cmd in (0x03, 0x17, 0x16) else ""
        self._result = None

    def _base(self) -> dict[str, Any]:
        a: dict[str, Any] = {"db_user": self._user, "database": self._schema}
        if self._server_version:
            a["server_version"] = self._server_version
        return a

    # -- server --------------------------------------------------------------------------------
    def _server_packet(self, p: bytes, ts: float) -> None:
        if not p:
            return
        if not self._handshake_done and p[0] == 0x0A and not self._server_version:
            nul = p.find(b"\x00", 1)
            self._server_version = p[1:nul].decode("ascii", "replace")[:64]
            pos = nul + 1 + 4 + 8 + 1
            if pos + 2 <= len(p):
                caps = p[pos] | p[pos + 1] << 8
                if pos + 7 <= len(p):
                    caps |= (p[pos + 5] | p[pos + 6] << 8) << 16
                self._server_caps = caps
            return
        st = self._state
        if not st:
            return
        h = p[0]
        if st == "first":
            if h == 0x00 and self._command != "COM_STMT_PREPARE":
                affected, _ = lenenc(p, 1) if len(p) > 1 else (0, 0)
                self._emit(ts, {"rows": max(0, affected), "affected_rows": max(0, affected)}, None)
            elif h == 0xFF:
                code = p[1] | p[2] << 8 if len(p) >= 3 else 0
                self._emit(ts, {"error": code, "rows": 0}, None)
            elif self._command == "COM_STMT_PREPARE":
                self._state = ""  # the statement's parameter/column definitions follow: not a result
            else:
                count, _ = lenenc(p, 0)
                self._result = Result(self._ctx, ts)
                self._columns_left = max(0, count)
                self._state = "columns" if count > 0 else "rows"
            return
        res = self._result
        assert res is not None
        if st == "columns":
            if self._columns_left > 0:
                self._columns_left -= 1
                try:
                    pos = 0
                    for _ in range(4):  # catalog, schema, table, org_table
                        ln, pos = lenenc(p, pos)
                        pos += max(0, ln)
                    ln, pos = lenenc(p, pos)
                    if len(res.columns) < 256:
                        res.columns.append(p[pos : pos + ln].decode("utf-8", "replace"))
                except IndexError:
                    self._ctx.count("mysql.bad-column")
                if self._columns_left == 0:
                    res.header()
                    if self._deprecate_eof:
                        self._state = "rows"
                return
            if h == 0xFE and len(p) < 9:  # EOF after the column definitions
                self._state = "rows"
                return
            self._state = "rows"
        if h == 0xFE and (len(p) < 9 or (self._deprecate_eof and len(p) < 0xFFFFFF)):
            self._emit(ts, {}, res)
            return
        if h == 0xFF:
            code = p[1] | p[2] << 8 if len(p) >= 3 else 0
            self._emit(ts, {"error": code}, res)
            return
        if self._binary:
            res.rows += 1
            res.buf.size += len(p)
            return
        vals: list[bytes] = []
        pos, n = 0, len(p)
        try:
            while pos < n:
                ln, pos = lenenc(p, pos)
                if ln < 0:
                    vals.append(b"\\N")
                    continue
                vals.append(p[pos : pos + ln])
                pos += ln
        except IndexError:
            self._ctx.count("mysql.bad-row")
        res.row(vals, len(p))

    def _text_rows(self, buf: bytes, pos: int, n: int) -> int:
        """Consume consecutive complete text-protocol row packets at ``pos``; returns the position after."""
        res = self._result
        assert res is not None
        out = res.buf
        room = out.limit - len(out.data)
        lines: list[bytes] = []
        rows = wire = cut = 0
        while n - pos >= 4:
            ln = buf[pos] | buf[pos + 1] << 8 | buf[pos + 2] << 16
            end = pos + 4 + ln
            if end > n or ln > MAX_BUFFERED or ln == 0 or buf[pos + 4] >= 0xFB:
                break  # incomplete, huge, or a NULL-first row / EOF / ERR: the general path decides
            rows += 1
            wire += ln
            if room > 0:
                vals: list[bytes] = []
                add = vals.append
                p = pos + 4
                try:
                    while p < end:
                        b = buf[p]
                        if b < 0xFB:
                            p += 1
                            q = p + b
                            add(buf[p:q])
                            p = q
                        elif b == 0xFB:
                            add(b"\\N")
                            p += 1
                        else:
                            vl, p = lenenc(buf, p)
                            add(buf[p : p + vl])
                            p += vl
                except IndexError:
                    self._ctx.count("mysql.bad-row")
                line = b"\t".join(vals) + b"\n"
                lines.append(line)
                room -= len(line)
            else:
                cut += ln
            pos = end
        if lines:
            out.add(b"".join(lines))
        out.size += cut
        res.rows += rows
        res.wire += wire
        return pos

    def _emit(self, ts: float, extra: dict[str, Any], res: Result | None) -> None:
        self._state = ""
        self._result = None
        attrs = self._base()
        attrs["command"] = self._command
        if self._query:
            attrs["query"] = self._query[:QUERY_ATTR]
        if self._binary:
            attrs["binary_rows"] = True
        attrs.update(extra)
        self._ctx.message(result_message("mysql", res if res is not None else Result(self._ctx, ts), attrs,
                                         self._user))

    def gap(self, from_client: bool, nbytes: int, ts: float) -> None:
        self._ctx.count("mysql.gap")
        if self._result is not None:
            self._emit(ts, {"incomplete": True}, self._result)
        self._done = True
        self._ctx.stop_inspection("gap", {"protocol_lost": "mysql"})

    def close(self, ts: float) -> None:
        if self._result is not None and not self._done:
            self._emit(ts, {"incomplete": True}, self._result)
