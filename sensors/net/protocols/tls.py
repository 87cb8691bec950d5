"""TLS handshakes: SNI, versions, cipher and ALPN from the hellos; the content is never passed on.

The parser reads handshake records only until it has the ClientHello and (if it comes) the
ServerHello, then asks the session to stop inspecting the flow, so encrypted bytes are neither
buffered nor copied. One Message per flow: channel ``tls``, ``encrypted=True``, no content.
"""

from __future__ import annotations

import struct
from typing import Any

from model.events import TlsInfo
from sensors.net.protocols.base import CLIENT, EITHER, MORE, NO, SERVER, Message, ParserContext

VERSIONS: dict[int, str] = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2",
                            0x0304: "TLS 1.3"}
CIPHERS: dict[int, str] = {
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
}
MAX_HANDSHAKE = 64 << 10


def sniff(prefix: bytes) -> int:
    if prefix and prefix[0] in (0x14, 0x15, 0x17):
        return _sniff_midstream(prefix)
    if not prefix or prefix[0] != 0x16:
        return NO
    if len(prefix) < 6:
        return MORE if len(prefix) < 2 or prefix[1] == 3 else NO
    if prefix[1] != 3 or prefix[2] > 4:
        return NO
    if prefix[5] == 1:
        return CLIENT
    if prefix[5] == 2:
        return SERVER
    return NO


def _sniff_midstream(prefix: bytes) -> int:
    """A capture that starts after the handshake: records of application data, alerts or CCS.

    Five bytes are weak evidence, so the record must be well-formed (known version, length within
    the TLS bound) and, when the prefix holds it, so must the record that follows.
    """
    pos = 0
    seen = 0
    while pos + 5 <= len(prefix) and seen < 3:
        ctype, major, minor = prefix[pos], prefix[pos + 1], prefix[pos + 2]
        length = prefix[pos + 3] << 8 | prefix[pos + 4]
        if ctype not in (0x14, 0x15, 0x16, 0x17) or major != 3 or minor > 4 or not 0 < length <= 18_432:
            return NO
        seen += 1
        pos += 5 + length
    if seen == 0:
        return MORE if len(prefix) < 5 else NO
    return EITHER if seen >= 2 or pos >= len(prefix) or len(prefix) >= 4096 else MORE


def version_name(v: int) -> str:
    return VERSIONS.get(v, f"0x{v:04x}")


def _grease(v: int) -> bool:
    return v & 0x0F0F == 0x0A0A and v >> 8 == v & 0xFF


def _extensions(body: bytes, pos: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    if pos + 2 > len(body):
        return out
    (total,) = struct.unpack_from("!H", body, pos)
    pos += 2
    end = min(len(body), pos + total)
    while pos + 4 <= end:
        etype, elen = struct.unpack_from("!HH", body, pos)
        out.setdefault(etype, body[pos + 4 : pos + 4 + elen])
        pos += 4 + elen
    return out


def _alpn(ext: bytes) -> tuple[str, ...]:
    protos: list[str] = []
    pos = 2
    while pos < len(ext):
        ln = ext[pos]
        protos.append(ext[pos + 1 : pos + 1 + ln].decode("ascii", "replace"))
        pos += 1 + ln
    return tuple(protos)


def parse_client_hello(body: bytes) -> dict[str, Any]:
    """Facts of a ClientHello handshake body (without the 4-byte handshake header)."""
    legacy = struct.unpack_from("!H", body, 0)[0]
    pos = 34
    pos += 1 + body[pos]  # session id
    (cs_len,) = struct.unpack_from("!H", body, pos)
    pos += 2 + cs_len
    pos += 1 + body[pos]  # compression methods
    exts = _extensions(body, pos)
    out: dict[str, Any] = {"client_version": version_name(legacy), "sni": "", "alpn": (), "supported": ()}
    sni = exts.get(0)
    if sni and len(sni) >= 5 and sni[2] == 0:
        (ln,) = struct.unpack_from("!H", sni, 3)
        out["sni"] = sni[5 : 5 + ln].decode("ascii", "replace").lower()
    if 16 in exts:
        out["alpn"] = _alpn(exts[16])
    sv = exts.get(43)
    if sv:
        vs = [struct.unpack_from("!H", sv, 1 + i)[0] for i in range(0, min(sv[0], len(sv) - 1) - 1, 2)]
        out["supported"] = tuple(version_name(v) for v in vs if not _grease(v))
    return out


def parse_server_hello(body: bytes) -> dict[str, Any]:
    legacy = struct.unpack_from("!H", body, 0)[0]
    pos = 34
    pos += 1 + body[pos]
    (cipher,) = struct.unpack_from("!H", body, pos)
    pos += 3
    exts = _extensions(body, pos)
    version = legacy
    if 43 in exts and len(exts[43]) >= 2:
        version = struct.unpack_from("!H", exts[43], 0)[0]
    out: dict[str, Any] = {
        "server_version": version_name(version),
        "cipher": CIPHERS.get(cipher, f"0x{cipher:04x}"),
        "alpn": _alpn(exts[16]) if 16 in exts else (),
    }
    return out


class _Half:
    __slots__ = ("done", "hs", "rec")

    def __init__(self) -> None:
        self.rec = b""  # unparsed record bytes
        self.hs = b""  # handshake bytes collected from records
        self.done = False


class TlsParser:
    def __init__(self, ctx: ParserContext) -> None:
        self._ctx = ctx
        self._halves = (_Half(), _Half())
        self._client: dict[str, Any] | None = None
        self._server: dict[str, Any] | None = None
        self._ts: float | None = None
        self._emitted = False
        self._problem = ""

    def feed(self, from_client: bool, data: bytes, ts: float) -> None:
        if self._ts is None:
            self._ts = ts
        h = self._halves[from_client]
        if h.done or self._emitted:
            return
        h.rec += data
        try:
            self._records(from_client, h)
        except (struct.error, IndexError, ValueError):
            self._problem = "malformed-hello"
            h.done = True
        if len(h.rec) + len(h.hs) > MAX_HANDSHAKE:
            self._problem = "handshake-too-large"
            h.done = True
        if h.done:
            h.rec = h.hs = b""
        if self._halves[1].done and (self._halves[0].done or self._server is not None):
            self._emit()

    def _records(self, from_client: bool, h: _Half) -> None:
        while len(h.rec) >= 5 and not h.done:
            ctype = h.rec[0]
            (length,) = struct.unpack_from("!H", h.rec, 3)
            if ctype != 22:  # change cipher spec, alert, application data: the hellos are over
                if self._client is None and self._server is None:
                    self._problem = self._problem or "no-handshake-seen"  # a mid-stream start
                h.done = True
                return
            if len(h.rec) < 5 + length:
                return
            h.hs += h.rec[5 : 5 + length]
            h.rec = h.rec[5 + length :]
            while len(h.hs) >= 4 and not h.done:
                htype = h.hs[0]
                hlen = int.from_bytes(h.hs[1:4], "big")
                if len(h.hs) < 4 + hlen:
                    break
                body = h.hs[4 : 4 + hlen]
                h.hs = h.hs[4 + hlen :]
                if htype == 1 and from_client:
                    self._client = parse_client_hello(body)
                    h.done = True
                elif htype == 2 and not from_client:
                    self._server = parse_server_hello(body)
                    h.done = True

    def gap(self, from_client: bool, nbytes: int, ts: float) -> None:
        h = self._halves[from_client]
        if not h.done:
            self._problem = self._problem or "gap-in-handshake"
            h.done = True
            h.rec = h.hs = b""

    def close(self, ts: float) -> None:
        if not self._emitted:
            self._emit()

    def _emit(self) -> None:
        self._emitted = True
        ctx = self._ctx
        c = self._client or {}
        s = self._server or {}
        if self._client is None:
            ctx.count("tls.no-client-hello")
        if self._problem:
            ctx.count(f"tls.{self._problem}")
        supported = c.get("supported", ())
        version = s.get("server_version") or (supported[0] if supported else c.get("client_version", ""))
        info = TlsInfo(
            version=version,
            sni=c.get("sni", ""),
            cipher=s.get("cipher", ""),
            alpn=tuple(s.get("alpn") or c.get("alpn") or ()),
        )
        attrs: dict[str, Any] = {
            "client_version": c.get("client_version", ""),
            "supported_versions": list(supported),
            "server_version": s.get("server_version", ""),
            "offered_alpn": list(c.get("alpn", ())),
        }
        if self._problem:
            attrs["handshake_problem"] = self._problem
        ctx.message(
            Message(
                from_client=True,
                ts=self._ts or 0.0,
                channel="tls",
                encrypted=True,
                tls=info,
                attributes=attrs,
                src_name="",
                dst_name=info.sni,
            )
        )
        ctx.stop_inspection()
