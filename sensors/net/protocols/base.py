"""What a protocol parser is: a content sniffer plus a stream parser that reports Messages.

Parsers know nothing about flows, event ids or sinks. They receive ordered bytes per direction
(``from_client``), gaps, and the end of the flow, and hand complete :class:`Message` objects to
their :class:`ParserContext`. The session turns a Message into a model Event; that keeps each
parser small and testable on plain byte strings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from model.events import Endpoint, TlsInfo

#: Sniff verdicts.
NO = 0
MORE = 1  # not enough bytes yet to tell
CLIENT = 2  # matches, and the bytes come from the client (e.g. an HTTP request)
SERVER = 3  # matches, and the bytes come from the server (e.g. an HTTP response)
EITHER = 4  # matches, but the bytes do not tell the direction (TLS application data mid-stream)


@dataclass(slots=True)
class Message:
    """One application message, before it becomes an Event."""

    from_client: bool
    ts: float
    channel: str
    content: bytes = b""
    content_type: str = ""
    size: int = 0
    truncated: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    actor: str = ""
    encrypted: bool = False
    tls: TlsInfo | None = None
    src_name: str = ""
    dst_name: str = ""


class ParserContext(Protocol):
    """What the session offers a parser."""

    max_message_bytes: int

    def message(self, msg: Message) -> None:
        """Hand over one complete (or knowingly partial) message."""

    def dead_letter(self, reason: str, detail: str, payload: bytes, ts: float) -> None:
        """Malformed input: kept (bounded) and counted by ``reason``."""

    def count(self, key: str, n: int = 1) -> None:
        """Bump a stats counter (protocol-specific anomalies, limits hit)."""

    def stop_inspection(self, reason: str = "encrypted", attributes: dict[str, Any] | None = None) -> None:
        """The parser needs no more bytes of this flow (TLS after the hellos, a tunnel).

        ``reason`` and ``attributes`` end up on the flow's accounting event (channel ``tcp``).
        """

    def upgrade(self, protocol: str, attributes: dict[str, Any]) -> Parser:
        """Hand the rest of the flow to the registry's ``protocol`` parser (STARTTLS → ``tls``).

        ``attributes`` are added to every message of the new parser (``{"starttls": "smtp"}``).
        The old parser must not touch the flow afterwards; it feeds any bytes it already holds
        for the new protocol to the returned parser itself.
        """
        ...

    def endpoints(self) -> tuple[Endpoint, Endpoint]:
        """(client, server) of this flow: FTP needs the server address for EPSV."""
        ...

    def expect_data_channel(self, host: str, port: int, channel: DataChannel) -> None:
        """A control protocol (FTP) announced that a data connection will reach ``host:port``."""

    @property
    def data_channel(self) -> DataChannel | None:
        """The announcement this flow answers, when it is an expected data connection."""
        ...


@dataclass(slots=True)
class DataChannel:
    """An FTP data connection announced on a control connection (PASV/EPSV/PORT/EPRT).

    Mutable on purpose: the transfer command (RETR/STOR) usually comes *after* the data
    connection was announced or even opened, so the control parser fills ``command`` and
    ``file_name`` in later and the data parser reads them when it emits its Message.
    """

    control: str  # "client -> server" of the control connection
    announced_at: float
    actor: str = ""
    command: str = ""
    file_name: str = ""
    mode: str = ""  # "passive" | "active"
    used: bool = False


class Parser(Protocol):
    def feed(self, from_client: bool, data: bytes, ts: float) -> None: ...

    def gap(self, from_client: bool, nbytes: int, ts: float) -> None: ...

    def close(self, ts: float) -> None: ...


@dataclass(frozen=True)
class ProtocolSpec:
    """One entry of the registry: how to recognise the protocol and how to parse it.

    ``sniff(prefix)`` looks at the first bytes one side sent and returns NO, MORE, CLIENT or
    SERVER. ``ports`` only orders the sniffers (the likely one first); detection is by content.
    """

    name: str
    sniff: Callable[[bytes], int]
    factory: Callable[[ParserContext], Parser]
    ports: frozenset[int] = frozenset()


class BoundedBuffer:
    """Accumulates message bytes up to ``limit`` and counts the total, so size stays honest."""

    __slots__ = ("data", "limit", "size")

    def __init__(self, limit: int) -> None:
        self.data = bytearray()
        self.limit = limit
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk if len(chunk) <= room else chunk[:room]

    @property
    def truncated(self) -> bool:
        return self.size > len(self.data)
