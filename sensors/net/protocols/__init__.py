"""Protocol parsers and their registry: one explicit dict, no discovery.

Adding a protocol = a module with ``sniff`` and a parser class, plus one entry below. Order
matters only as a tie-break: sniffers whose ``ports`` include the flow's server port are tried
first, then the rest in registry order. ``ftp-data`` is never sniffed: a flow becomes FTP data
only when an FTP control connection announced it.
"""

from __future__ import annotations

from sensors.net.protocols import dicom, ftp, hl7, http, mail, mysql, postgres, smtp, tls
from sensors.net.protocols.base import (
    CLIENT,
    EITHER,
    MORE,
    NO,
    SERVER,
    DataChannel,
    Message,
    Parser,
    ParserContext,
    ProtocolSpec,
)

REGISTRY: dict[str, ProtocolSpec] = {
    "tls": ProtocolSpec("tls", tls.sniff, tls.TlsParser, frozenset({443, 8443, 6443, 2762, 4443, 465, 993, 995})),
    "http": ProtocolSpec("http", http.sniff, http.HttpParser, frozenset({80, 8080, 8000, 8008, 8888, 5000})),
    "hl7-mllp": ProtocolSpec("hl7-mllp", hl7.sniff, hl7.MllpParser, frozenset({2575, 6661, 6662, 7777})),
    "dicom": ProtocolSpec("dicom", dicom.sniff, dicom.DicomParser, frozenset({104, 11112, 4242})),
    "smtp": ProtocolSpec("smtp", smtp.sniff, smtp.SmtpParser, frozenset({25, 587, 2525})),
    "ftp": ProtocolSpec("ftp", ftp.sniff, ftp.FtpParser, frozenset({21, 2121})),
    "imap": ProtocolSpec("imap", mail.sniff_imap, mail.ImapParser, frozenset({143})),
    "pop3": ProtocolSpec("pop3", mail.sniff_pop3, mail.Pop3Parser, frozenset({110})),
    "postgres": ProtocolSpec("postgres", postgres.sniff, postgres.PostgresParser, frozenset({5432})),
    "mysql": ProtocolSpec("mysql", mysql.sniff, mysql.MysqlParser, frozenset({3306})),
    "ftp-data": ProtocolSpec("ftp-data", ftp.never, ftp.FtpDataParser, frozenset({20})),
}

__all__ = [
    "CLIENT",
    "EITHER",
    "MORE",
    "NO",
    "REGISTRY",
    "SERVER",
    "DataChannel",
    "Message",
    "Parser",
    "ParserContext",
    "ProtocolSpec",
]
