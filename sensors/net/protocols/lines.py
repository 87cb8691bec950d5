"""CRLF line splitting for the text protocols (SMTP, FTP, IMAP, POP3), bounded per line.

A line longer than ``MAX_LINE`` is cut and counted (``<proto>.long-line``) instead of growing a
buffer without end: a hostile peer that never sends a newline costs at most ``MAX_LINE`` bytes.
"""

from __future__ import annotations

from sensors.net.protocols.base import ParserContext

MAX_LINE = 16 << 10


class LineBuffer:
    __slots__ = ("buf", "ts")

    def __init__(self) -> None:
        self.buf = b""
        self.ts = 0.0

    def lines(self, data: bytes, ctx: ParserContext, proto: str) -> list[bytes]:
        """The complete lines in ``buf + data`` (without CR/LF); the rest stays buffered."""
        if self.buf:
            data = self.buf + data
        *done, rest = data.split(b"\n")
        if len(rest) > MAX_LINE:
            ctx.count(f"{proto}.long-line")
            done.append(rest[:MAX_LINE])
            rest = b""
        self.buf = rest
        return [ln[:-1] if ln.endswith(b"\r") else ln for ln in done]


def looks_like_tls(data: bytes) -> bool:
    """A TLS handshake record where a text command was expected (STARTTLS we did not see)."""
    return len(data) >= 3 and data[0] == 0x16 and data[1] == 3 and data[2] <= 4
