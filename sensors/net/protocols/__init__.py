"""Protocol parsers and their registry: one explicit dict, no discovery.

Adding a protocol = a module with ``sniff`` and a parser class, plus one entry below. Order
matters only as a tie-break: sniffers whose ``ports`` include the flow's server port are tried
first, then the rest in registry order.
"""

from __future__ import annotations

from sensors.net.protocols import hl7, http, tls
from sensors.net.protocols.base import CLIENT, MORE, NO, SERVER, Message, Parser, ParserContext, ProtocolSpec

REGISTRY: dict[str, ProtocolSpec] = {
    "tls": ProtocolSpec("tls", tls.sniff, tls.TlsParser, frozenset({443, 8443, 6443, 2762, 4443})),
    "http": ProtocolSpec("http", http.sniff, http.HttpParser, frozenset({80, 8080, 8000, 8008, 8888, 5000})),
    "hl7-mllp": ProtocolSpec("hl7-mllp", hl7.sniff, hl7.MllpParser, frozenset({2575, 6661, 6662, 7777})),
}

__all__ = [
    "CLIENT",
    "MORE",
    "NO",
    "REGISTRY",
    "SERVER",
    "Message",
    "Parser",
    "ParserContext",
    "ProtocolSpec",
]
