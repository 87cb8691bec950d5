"""FTP: the control connection (user, commands, file names) and the data connections it opens.

Control: one Message per file command (RETR, STOR, STOU, APPE, DELE, RNFR, RNTO, MKD, RMD,
SIZE) once its final reply arrived, content = the command line itself (file names are where
FTP leaks patient names), ``actor`` = the USER name (the password is never kept). PASV/EPSV
replies and PORT/EPRT commands announce a data connection to the session
(``ctx.expect_data_channel``); the next transfer command is attached to it, so the data
connection's Message carries the file name and the direction. ``AUTH TLS``/``AUTH SSL`` with a
234 reply hands the flow to the TLS parser.

Data (``ftp-data``): every byte of an announced data connection, whatever it looks like (no
sniffing), one Message per direction that carried bytes, with ``file_name``, ``command``,
``transfer`` (download/upload/listing) and the control connection.
"""

from __future__ import annotations

import mimetypes
import re
import socket
from typing import Any

from sensors.net.protocols.base import (
    CLIENT,
    MORE,
    NO,
    SERVER,
    BoundedBuffer,
    DataChannel,
    Message,
    ParserContext,
)
from sensors.net.protocols.lines import LineBuffer, looks_like_tls

_CLIENT_VERBS = (b"USER ", b"AUTH ", b"FEAT", b"SYST", b"OPTS ", b"user ", b"auth ")
FILE_COMMANDS = frozenset({"RETR", "STOR", "STOU", "APPE", "DELE", "RNFR", "RNTO", "MKD", "RMD", "SIZE", "XMKD"})
TRANSFERS = {"RETR": "download", "STOR": "upload", "STOU": "upload", "APPE": "upload", "LIST": "listing",
             "NLST": "listing", "MLSD": "listing"}
_PASV = re.compile(rb"(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})")
_EPSV = re.compile(rb"\(([^\d\s])\1\1(\d{1,5})\1\)")
MAX_PENDING = 256


def sniff(prefix: bytes) -> int:
    if prefix.startswith(_CLIENT_VERBS):
        return CLIENT
    if prefix.startswith((b"220 ", b"220-")):
        first = prefix.split(b"\n", 1)[0].upper()
        if b"FTP" in first:
            return SERVER
        if b"SMTP" in first:
            return NO
        return MORE if len(prefix) < 512 else NO
    if len(prefix) < 5 and any(v.startswith(prefix) for v in (b"USER", b"AUTH", b"220 ", b"220-")):
        return MORE
    return NO


def parse_port_arg(arg: bytes) -> tuple[str, int] | None:
    """``h1,h2,h3,h4,p1,p2`` (PORT, and the 227 reply) → (host, port)."""
    m = _PASV.search(arg)
    if m is None:
        return None
    n = [int(x) for x in m.groups()]
    if any(x > 255 for x in n):
        return None
    return ".".join(str(x) for x in n[:4]), n[4] * 256 + n[5]


def parse_eprt_arg(arg: bytes) -> tuple[str, int] | None:
    """``|1|10.0.0.1|5000|`` or ``|2|2001:db8::1|5000|`` → (host, port)."""
    if len(arg) < 7:
        return None
    d = arg[:1]
    fields = arg.split(d)
    if len(fields) < 5 or not fields[3].isdigit():
        return None
    host = fields[2].decode("ascii", "replace")
    try:
        host = socket.inet_ntop(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host))
    except OSError:
        return None
    return host, int(fields[3])


class FtpParser:
    def __init__(self, ctx: ParserContext) -> None:
        self._ctx = ctx
        self._client = LineBuffer()
        self._server = LineBuffer()
        self._user = ""
        self._pending: list[tuple[str, bytes, float]] = []  # commands waiting for their final reply
        self._multi: bytes | None = None  # code of a multi-line reply in progress
        self._channel: DataChannel | None = None
        self._auth_tls = False
        self._done = False
        self._cwd = ""

    def feed(self, from_client: bool, data: bytes, ts: float) -> None:
        if self._done:
            return
        if from_client:
            if not self._client.buf and looks_like_tls(data):
                self._upgrade("unseen", data, True, ts)
                return
            for line in self._client.lines(data, self._ctx, "ftp"):
                self._command(line, ts)
        else:
            for line in self._server.lines(data, self._ctx, "ftp"):
                self._reply(line, ts)
                if self._done:
                    return

    def _upgrade(self, how: str, rest: bytes, from_client: bool, ts: float) -> None:
        self._done = True
        attrs: dict[str, Any] = {"starttls": how}
        if self._user:
            attrs["ftp_user"] = self._user
        tls = self._ctx.upgrade("tls", attrs)
        if rest:
            tls.feed(from_client, rest, ts)

    # -- client --------------------------------------------------------------------------------
    def _command(self, line: bytes, ts: float) -> None:
        verb_b, _, arg = line.partition(b" ")
        verb = verb_b.decode("ascii", "replace").upper()[:16]
        if verb == "USER":
            self._user = arg.decode("utf-8", "replace").strip()[:256]
        elif verb == "PASS":
            line = b"PASS ****"  # never kept
        elif verb == "AUTH" and arg.strip().upper() in (b"TLS", b"SSL", b"TLS-C", b"TLS-P"):
            self._auth_tls = True
        elif verb == "PORT":
            hp = parse_port_arg(arg)
            if hp is not None:
                self._announce(hp[0], hp[1], "active", ts)
            else:
                self._ctx.count("ftp.bad-port")
        elif verb == "EPRT":
            hp = parse_eprt_arg(arg.strip())
            if hp is not None:
                self._announce(hp[0], hp[1], "active", ts)
            else:
                self._ctx.count("ftp.bad-port")
        elif verb == "CWD":
            self._cwd = arg.decode("utf-8", "replace")[:512]
        if verb in TRANSFERS and self._channel is not None and not self._channel.command:
            self._channel.command = verb
            self._channel.file_name = arg.decode("utf-8", "replace")[:512]
            self._channel.actor = self._user
        if len(self._pending) >= MAX_PENDING:
            self._pending.pop(0)
            self._ctx.count("ftp.unanswered-command-dropped")
        self._pending.append((verb, line, ts))

    def _announce(self, host: str, port: int, mode: str, ts: float) -> None:
        client, server = self._ctx.endpoints()
        self._channel = DataChannel(control=f"{client} -> {server}", announced_at=ts, actor=self._user, mode=mode)
        self._ctx.expect_data_channel(host, port, self._channel)

    # -- server --------------------------------------------------------------------------------
    def _reply(self, line: bytes, ts: float) -> None:
        code = line[:3]
        if self._multi is not None:
            if code == self._multi and line[3:4] == b" ":
                self._multi = None
            else:
                return
        elif len(line) > 3 and line[3:4] == b"-" and code.isdigit():
            self._multi = code
            return
        if not code.isdigit():
            self._ctx.count("ftp.bad-reply")
            return
        if code.startswith(b"1"):
            return  # preliminary (150 opening data connection): the final reply follows
        if code == b"227":
            hp = parse_port_arg(line[4:])
            if hp is not None:
                self._announce(hp[0], hp[1], "passive", ts)
        elif code == b"229":
            m = _EPSV.search(line)
            if m is not None:
                self._announce(self._ctx.endpoints()[1].host, int(m.group(2)), "passive", ts)
        verb, cmd_line, cmd_ts = self._pending.pop(0) if self._pending else ("", b"", ts)
        if self._auth_tls and verb == "AUTH":
            self._auth_tls = False
            if code == b"234":
                self._upgrade("ftp", self._server.buf, False, ts)
                self._server.buf = b""
                return
        if verb in TRANSFERS and self._channel is not None and self._channel.command == verb:
            self._channel = None  # the transfer is over: the next one announces a new channel
        if verb in FILE_COMMANDS:
            self._emit(verb, cmd_line, cmd_ts, int(code))

    def _emit(self, verb: str, line: bytes, ts: float, code: int) -> None:
        _, _, arg = line.partition(b" ")
        attrs: dict[str, Any] = {"command": verb, "file_name": arg.decode("utf-8", "replace")[:512],
                                 "reply_code": code, "ftp_user": self._user}
        if self._cwd:
            attrs["cwd"] = self._cwd
        if verb in TRANSFERS:
            attrs["transfer"] = TRANSFERS[verb]
        self._ctx.message(Message(from_client=True, ts=ts, channel="ftp", content=line,
                                  content_type="text/plain", size=len(line), attributes=attrs,
                                  actor=self._user))

    def gap(self, from_client: bool, nbytes: int, ts: float) -> None:
        self._ctx.count("ftp.gap")
        (self._client if from_client else self._server).buf = b""
        self._multi = None if not from_client else self._multi

    def close(self, ts: float) -> None:
        return None


class FtpDataParser:
    """An announced data connection: all its bytes, one Message per direction."""

    def __init__(self, ctx: ParserContext) -> None:
        self._ctx = ctx
        self._bufs: dict[bool, BoundedBuffer] = {}
        self._ts: dict[bool, float] = {}
        self._incomplete: set[bool] = set()

    def feed(self, from_client: bool, data: bytes, ts: float) -> None:
        b = self._bufs.get(from_client)
        if b is None:
            b = self._bufs[from_client] = BoundedBuffer(self._ctx.max_message_bytes)
            self._ts[from_client] = ts
        b.add(data)

    def gap(self, from_client: bool, nbytes: int, ts: float) -> None:
        self._ctx.count("ftp.data-gap")
        self.feed(from_client, b"", ts)
        self._bufs[from_client].size += nbytes
        self._incomplete.add(from_client)

    def close(self, ts: float) -> None:
        dc = self._ctx.data_channel
        for from_client, b in self._bufs.items():
            if not b.size:
                continue
            attrs: dict[str, Any] = {"transfer_bytes": b.size}
            file_name = ""
            if dc is not None:
                file_name = dc.file_name
                attrs.update({"control": dc.control, "mode": dc.mode, "command": dc.command,
                              "file_name": dc.file_name, "ftp_user": dc.actor})
                if dc.command in TRANSFERS:
                    attrs["transfer"] = TRANSFERS[dc.command]
            if from_client in self._incomplete:
                attrs["incomplete"] = True
            ctype = (mimetypes.guess_type(file_name)[0] or "") if file_name else ""
            self._ctx.message(Message(
                from_client=from_client, ts=self._ts[from_client], channel="ftp-data",
                content=bytes(b.data), content_type=ctype, size=b.size, truncated=b.truncated,
                attributes=attrs, actor=dc.actor if dc is not None else "",
            ))


def never(prefix: bytes) -> int:
    """ftp-data is never recognised by content, only by a control connection's announcement."""
    return NO
