"""SMTP: the envelope, the headers and every MIME part of each mail; STARTTLS ends inspection.

One Message per leaf MIME part of each mail (a plain mail is one part), with the envelope
(``mail_from``, ``rcpt_to``), the main headers and the part's own facts (file name, content
type, transfer encoding — base64 and quoted-printable are undone). ``DATA`` (dot-stuffed,
ends at ``CRLF.CRLF``) and ``BDAT`` (CHUNKING, byte counted) are both read. After
``STARTTLS`` and the server's 220 the flow is handed to the TLS parser: SNI and versions are
kept, the content is encrypted and not inspected.

The actor is the AUTH user (PLAIN or LOGIN; the password is never kept), else the MAIL FROM
address.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sensors.net.protocols import mime
from sensors.net.protocols.base import CLIENT, MORE, NO, SERVER, BoundedBuffer, Message, ParserContext
from sensors.net.protocols.lines import LineBuffer, looks_like_tls

_CLIENT_VERBS = (b"EHLO ", b"HELO ", b"EHLO\r", b"HELO\r", b"ehlo ", b"helo ")
MAX_RCPT = 1000


def sniff(prefix: bytes) -> int:
    if prefix.startswith(_CLIENT_VERBS):
        return CLIENT
    if prefix.startswith((b"220 ", b"220-")):
        first = prefix.split(b"\n", 1)[0].upper()
        if b"SMTP" in first or b"MAIL" in first or b"POSTFIX" in first or b"EXIM" in first:
            return SERVER
        if b"FTP" in first:
            return NO
        return MORE if b"\n" in prefix or len(prefix) < 512 else NO
    if len(prefix) < 5 and any(v.startswith(prefix) for v in (b"EHLO", b"HELO", b"220 ", b"220-")):
        return MORE
    return NO


def _auth_user(arg: bytes) -> str:
    """User of ``AUTH PLAIN <b64>`` (authzid NUL authcid NUL password): authcid, never the password."""
    try:
        raw = base64.b64decode(arg.strip(), validate=True)
    except (binascii.Error, ValueError):
        return ""
    fields = raw.split(b"\x00")
    user = fields[1] if len(fields) >= 3 else fields[0]
    return user.decode("utf-8", "replace")[:256]


def _address(arg: bytes) -> str:
    """``FROM:<a@b> SIZE=1`` → ``a@b``."""
    v = arg.split(b":", 1)[1] if b":" in arg else arg
    v = v.strip()
    if v.startswith(b"<"):
        v = v[1 : v.find(b">")] if b">" in v else v[1:]
    else:
        v = v.split(b" ", 1)[0]
    return v.decode("utf-8", "replace")[:320]


class SmtpParser:
    def __init__(self, ctx: ParserContext) -> None:
        self._ctx = ctx
        self._client = LineBuffer()
        self._server = LineBuffer()
        self._helo = ""
        self._user = ""
        self._auth_login = False  # the next client line is the AUTH LOGIN user name (base64)
        self._mail_from = ""
        self._rcpt: list[str] = []
        self._mails = 0
        self._data: BoundedBuffer | None = None  # the mail being read (DATA, or BDAT chunks)
        self._mode = "cmd"  # "cmd" | "data" (until CRLF.CRLF) | "bdat" (a counted chunk)
        self._data_ts = 0.0
        self._tail = b""  # last bytes of DATA seen, to find CRLF.CRLF across segments
        self._bdat_left = 0
        self._bdat_last = False
        self._starttls = False
        self._gap = False
        self._done = False

    # -- stream ----------------------------------------------------------------------------------
    def feed(self, from_client: bool, data: bytes, ts: float) -> None:
        if self._done:
            return
        if from_client:
            self._feed_client(data, ts)
        else:
            self._feed_server(data, ts)

    def _feed_client(self, data: bytes, ts: float) -> None:
        while data and not self._done:
            if self._mode != "cmd":
                data = self._take_data(data)
                continue
            if not self._client.buf and looks_like_tls(data):
                self._upgrade("unseen", data, True, ts)
                return
            lines = self._client.lines(data, self._ctx, "smtp")
            data = b""
            for i, line in enumerate(lines):
                self._command(line, ts)
                if self._done:
                    return
                if self._mode != "cmd":  # the bytes after DATA/BDAT are the message: re-feed them
                    tail = b"".join(ln + b"\r\n" for ln in lines[i + 1 :])
                    data = tail + self._client.buf
                    self._client.buf = b""
                    break

    def _feed_server(self, data: bytes, ts: float) -> None:
        for line in self._server.lines(data, self._ctx, "smtp"):
            if self._starttls and line[:3] in (b"220",) and line[3:4] in (b" ", b""):
                self._starttls = False
                rest = self._server.buf
                self._server.buf = b""
                self._upgrade("smtp", rest, False, ts)
                return
            if self._starttls and line[:1] in (b"4", b"5"):
                self._starttls = False  # refused: the session goes on in cleartext
                self._ctx.count("smtp.starttls-refused")

    def _upgrade(self, how: str, rest: bytes, from_client: bool, ts: float) -> None:
        self._done = True
        attrs: dict[str, Any] = {"starttls": how}
        if self._user:
            attrs["smtp_user"] = self._user
        tls = self._ctx.upgrade("tls", attrs)
        if rest:
            tls.feed(from_client, rest, ts)

    # -- commands --------------------------------------------------------------------------------
    def _command(self, line: bytes, ts: float) -> None:
        """Handle one client command line."""
        if self._auth_login:
            self._auth_login = False
            if line != b"*":
                self._user = _auth_user(line) or self._user
            return
        verb, _, arg = line.partition(b" ")
        v = verb.upper()
        if v in (b"EHLO", b"HELO"):
            self._helo = arg.decode("utf-8", "replace")[:256]
        elif v == b"AUTH":
            mech, _, initial = arg.partition(b" ")
            if mech.upper() == b"PLAIN" and initial:
                self._user = _auth_user(initial) or self._user
            elif mech.upper() == b"LOGIN":
                if initial:
                    self._user = _auth_user(initial) or self._user
                else:
                    self._auth_login = True
        elif v == b"MAIL":
            self._mail_from = _address(arg)
            self._rcpt = []
        elif v == b"RCPT":
            if len(self._rcpt) < MAX_RCPT:
                self._rcpt.append(_address(arg))
            else:
                self._ctx.count("smtp.rcpt-limit")
        elif v == b"DATA":
            self._begin(ts)
            self._mode = "data"
            self._tail = b"\r\n"
        elif v == b"BDAT":
            words = arg.split()
            if not words or not words[0].isdigit():
                self._ctx.count("smtp.bad-bdat")
                return
            if self._data is None:
                self._begin(ts)
            self._bdat_left = int(words[0])
            self._bdat_last = len(words) > 1 and words[1].upper() == b"LAST"
            if self._bdat_left:
                self._mode = "bdat"
            elif self._bdat_last:
                self._finish_mail(incomplete=False)
        elif v == b"RSET":
            self._mail_from = ""
            self._rcpt = []
        elif v == b"STARTTLS":
            self._starttls = True

    def _begin(self, ts: float) -> None:
        self._data = BoundedBuffer(self._ctx.max_message_bytes)
        self._data_ts = ts
        self._gap = False

    def _take_data(self, data: bytes) -> bytes:
        """Consume message bytes; return what follows the end of the message (or of the BDAT chunk)."""
        buf = self._data
        assert buf is not None
        if self._mode == "bdat":
            take = min(self._bdat_left, len(data))
            buf.add(data[:take])
            self._bdat_left -= take
            if self._bdat_left == 0:
                self._mode = "cmd"
                if self._bdat_last:
                    self._finish_mail(incomplete=False)
            return data[take:]
        window = self._tail + data
        end = window.find(b"\r\n.\r\n")
        if end < 0:
            buf.add(data)
            self._tail = window[-4:]
            return b""
        cut = end + 2 - len(self._tail)  # message bytes in ``data`` (up to and including the CRLF)
        if cut > 0:
            buf.add(data[:cut])
        elif cut < 0 and len(buf.data) >= -cut:  # the terminator began in bytes already kept
            buf.size += cut
            del buf.data[len(buf.data) + cut :]
        rest = window[end + 5 :]
        self._mode = "cmd"
        self._finish_mail(incomplete=False)
        return rest

    def gap(self, from_client: bool, nbytes: int, ts: float) -> None:
        self._ctx.count("smtp.gap")
        if from_client:
            if self._mode != "cmd" and self._data is not None:
                self._data.size += nbytes
                self._gap = True
                self._tail = b""
                if self._mode == "bdat":
                    self._bdat_left -= nbytes
                    if self._bdat_left <= 0:  # the hole swallowed the chunk end: resync on commands
                        self._mode = "cmd"
                        self._bdat_left = 0
            self._client.buf = b""
        else:
            self._server.buf = b""

    def close(self, ts: float) -> None:
        if self._data is not None and not self._done:
            self._finish_mail(incomplete=True)

    # -- output ----------------------------------------------------------------------------------
    def _finish_mail(self, *, incomplete: bool) -> None:
        buf = self._data
        self._data = None
        self._mode = "cmd"
        self._bdat_left = 0
        self._bdat_last = False
        if buf is None:
            return
        self._mails += 1
        raw = bytes(buf.data)
        if raw.startswith(b".."):
            raw = raw[1:]
        raw = raw.replace(b"\r\n..", b"\r\n.")
        ctx = self._ctx
        try:
            msg = mime.parse_message(raw)
            headers = mime.headers_of(msg)
            parts, total = mime.leaf_parts(msg)
        except Exception:  # the stdlib parser is lenient; a surprise still must not stop the stream
            ctx.count("smtp.mime-error")
            headers, parts, total = {}, [], 0
        if total > len(parts):
            ctx.count("smtp.part-limit")
        base: dict[str, Any] = {
            "mail_from": self._mail_from,
            "rcpt_to": list(self._rcpt),
            "helo": self._helo,
            "mail_index": self._mails,
            "mail_bytes": buf.size,
            **headers,
        }
        if self._user:
            base["smtp_user"] = self._user
        if incomplete or self._gap:
            base["incomplete"] = True
        actor = self._user or self._mail_from
        if not parts:  # unparsable: hand on the raw mail so the detectors still see it
            parts = [mime.Part(1, raw, "message/rfc822", "", "", "", "", True)]
            total = 1
        for part in parts:
            attrs = dict(base)
            attrs.update(mime.part_attributes(part, total))
            content = part.content
            ctx.message(Message(
                from_client=True,
                ts=self._data_ts,
                channel="smtp",
                content=content,
                content_type=part.content_type,
                size=len(content),
                truncated=buf.truncated,
                attributes=attrs,
                actor=actor,
            ))
        self._mail_from = ""
        self._rcpt = []
