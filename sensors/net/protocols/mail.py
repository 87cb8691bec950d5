"""IMAP and POP3: who logs in, and STARTTLS/STLS (after which the flow is TLS).

Mailbox content is not parsed in this version: a cleartext IMAP/POP3 session ends as a flow
accounting event (channel ``tcp``, ``uninspected_reason`` ``cleartext-not-parsed``,
``protocol`` ``imap``/``pop3``, the user in ``mail_user``), so cleartext mail retrieval is
visible and countable; a session upgraded with STARTTLS/STLS becomes a ``tls`` Event with
``starttls`` set.
"""

from __future__ import annotations

import re
from typing import Any

from sensors.net.protocols.base import CLIENT, MORE, NO, SERVER, ParserContext
from sensors.net.protocols.lines import LineBuffer, looks_like_tls

_IMAP_CLIENT = re.compile(rb"^[A-Za-z0-9.]{1,20} (CAPABILITY|LOGIN|STARTTLS|AUTHENTICATE|NOOP|ID|SELECT)\b", re.I)
#: Cleartext bytes watched for STARTTLS and the login before inspection stops.
WATCH_BYTES = 64 << 10


def sniff_imap(prefix: bytes) -> int:
    if prefix.startswith((b"* OK", b"* PREAUTH")):
        return SERVER
    if _IMAP_CLIENT.match(prefix):
        return CLIENT
    if len(prefix) < 5 and b"* OK".startswith(prefix):
        return MORE
    return NO


def sniff_pop3(prefix: bytes) -> int:
    if prefix.startswith((b"+OK ", b"+OK\r\n")):
        if prefix == b"+OK\r\n" or prefix.startswith((b"+OK\r\n+", b"+OK\r\n*", b"+OK\r\n$")):
            return NO  # Redis (RESP) answers "+OK\r\n" too; a POP3 greeting has text after +OK
        return SERVER
    if prefix.startswith((b"CAPA\r\n", b"STLS\r\n", b"APOP ")):
        return CLIENT
    if len(prefix) < 3 and b"+OK".startswith(prefix):
        return MORE
    return NO


class _MailParser:
    proto = ""

    def __init__(self, ctx: ParserContext) -> None:
        self._ctx = ctx
        self._client = LineBuffer()
        self._server = LineBuffer()
        self._user = ""
        self._starttls = ""  # the IMAP tag of a pending STARTTLS, or "+" for POP3 STLS
        self._seen = 0
        self._done = False

    def feed(self, from_client: bool, data: bytes, ts: float) -> None:
        if self._done:
            return
        self._seen += len(data)
        if from_client:
            if not self._client.buf and looks_like_tls(data):
                self._upgrade("unseen", data, True, ts)
                return
            for line in self._client.lines(data, self._ctx, self.proto):
                self._command(line)
        else:
            for line in self._server.lines(data, self._ctx, self.proto):
                if self._starttls and self._ok(line):
                    self._upgrade(self.proto, self._server.buf, False, ts)
                    return
        if self._seen > WATCH_BYTES:
            self._stop()

    def _attrs(self) -> dict[str, Any]:
        return {"mail_user": self._user} if self._user else {}

    def _stop(self) -> None:
        self._done = True
        self._ctx.stop_inspection("cleartext-not-parsed", self._attrs())

    def _upgrade(self, how: str, rest: bytes, from_client: bool, ts: float) -> None:
        self._done = True
        tls = self._ctx.upgrade("tls", {"starttls": how, **self._attrs()})
        if rest:
            tls.feed(from_client, rest, ts)

    def _command(self, line: bytes) -> None:
        raise NotImplementedError

    def _ok(self, line: bytes) -> bool:
        raise NotImplementedError

    def gap(self, from_client: bool, nbytes: int, ts: float) -> None:
        (self._client if from_client else self._server).buf = b""

    def close(self, ts: float) -> None:
        if not self._done:
            self._stop()


class ImapParser(_MailParser):
    proto = "imap"

    def _command(self, line: bytes) -> None:
        words = line.split(b" ")
        if len(words) < 2:
            return
        verb = words[1].upper()
        if verb == b"LOGIN" and len(words) >= 3:
            self._user = words[2].strip(b'"').decode("utf-8", "replace")[:256]
        elif verb == b"STARTTLS":
            self._starttls = words[0].decode("ascii", "replace")

    def _ok(self, line: bytes) -> bool:
        tag, _, rest = line.partition(b" ")
        if tag.decode("ascii", "replace") != self._starttls:
            return False
        if rest.upper().startswith(b"OK"):
            return True
        self._starttls = ""
        return False


class Pop3Parser(_MailParser):
    proto = "pop3"

    def _command(self, line: bytes) -> None:
        verb, _, arg = line.partition(b" ")
        if verb.upper() == b"USER":
            self._user = arg.decode("utf-8", "replace").strip()[:256]
        elif verb.upper() == b"STLS":
            self._starttls = "+"

    def _ok(self, line: bytes) -> bool:
        if line.startswith(b"+OK"):
            return True
        if line.startswith(b"-ERR"):
            self._starttls = ""
        return False
