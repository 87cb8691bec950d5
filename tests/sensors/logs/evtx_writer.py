"""A minimal EVTX writer for tests: one chunk, inline element names, no templates.

Real event logs use templates and substitutions; the ``evtx`` library reads this simpler form
(plain Binary XML elements, attributes and string values) the same way, which is enough to test
the sensor's EVTX path without shipping third-party .evtx files. Layout per libyal's EVTX
documentation: 4 KiB file header, 64 KiB chunks (512-byte header with string/template tables),
records ``**\\0\\0 | size | id | FILETIME | Binary XML | size``; checksums are CRC-32.
"""

from __future__ import annotations

import struct
import zlib

FILETIME_2024 = 133770000000000000


def _name(name: str) -> bytes:
    h = 0
    for ch in name:
        h = (h * 65599 + ord(ch)) & 0xFFFF
    return struct.pack("<IHH", 0, h, len(name)) + name.encode("utf-16-le") + b"\x00\x00"


class _Xml:
    def __init__(self, base: int) -> None:
        self.buf = bytearray()
        self.base = base  # chunk offset of buf[0]: element names are referenced by chunk offset

    def _ref_name(self, name: str) -> None:
        self.buf += struct.pack("<I", self.base + len(self.buf) + 4) + _name(name)

    def text(self, v: str) -> None:
        self.buf += b"\x05\x01" + struct.pack("<H", len(v)) + v.encode("utf-16-le")

    def open(self, name: str, attrs: dict[str, str] | None = None) -> int:
        self.buf += bytes([0x41 if attrs else 0x01])
        size_at = len(self.buf)
        self.buf += b"\0\0\0\0"
        self._ref_name(name)
        if attrs:
            list_at = len(self.buf)
            self.buf += b"\0\0\0\0"
            start = len(self.buf)
            items = list(attrs.items())
            for i, (k, v) in enumerate(items):
                self.buf += bytes([0x46 if i < len(items) - 1 else 0x06])
                self._ref_name(k)
                self.text(v)
            struct.pack_into("<I", self.buf, list_at, len(self.buf) - start)
        self.buf += b"\x02"
        return size_at

    def close(self, size_at: int) -> None:
        self.buf += b"\x04"
        struct.pack_into("<I", self.buf, size_at, len(self.buf) - size_at - 4)

    def elem(self, name: str, text: str | None = None, attrs: dict[str, str] | None = None) -> None:
        at = self.open(name, attrs)
        if text is not None:
            self.text(text)
        self.close(at)


def _record_xml(base: int, rid: int, eid: int, provider: str, channel: str, data: dict[str, str]) -> bytes:
    x = _Xml(base)
    x.buf += b"\x0f\x01\x01\x00"
    ev = x.open("Event")
    sy = x.open("System")
    x.elem("Provider", None, {"Name": provider})
    x.elem("EventID", str(eid))
    x.elem("TimeCreated", None, {"SystemTime": "2024-11-25T01:20:11.250000Z"})
    x.elem("EventRecordID", str(rid))
    x.elem("Channel", channel)
    x.elem("Computer", "WS-ONC-042")
    x.close(sy)
    ed = x.open("EventData")
    for k, v in data.items():
        x.elem("Data", v, {"Name": k})
    x.close(ed)
    x.close(ev)
    x.buf += b"\x00"
    return bytes(x.buf)


def build_evtx(records: list[tuple[int, int, dict[str, str]]], provider: str = "Microsoft-Windows-Sysmon",
               channel: str = "Microsoft-Windows-Sysmon/Operational") -> bytes:
    """An EVTX file with one chunk holding ``(record id, event id, event data)`` records."""
    chunk = bytearray(65536)
    off = last_off = 512
    for rid, eid, data in records:
        xml = _record_xml(off + 24, rid, eid, provider, channel, data)
        size = 24 + len(xml) + 4
        rec = b"**\x00\x00" + struct.pack("<IQQ", size, rid, FILETIME_2024) + xml + struct.pack("<I", size)
        chunk[off:off + len(rec)] = rec
        last_off, off = off, off + len(rec)
    first, last = records[0][0], records[-1][0]
    hdr = b"ElfChnk\x00" + struct.pack("<QQQQIII", first, last, first, last, 128, last_off, off)
    hdr += struct.pack("<I", zlib.crc32(bytes(chunk[512:off])))
    chunk[0:len(hdr)] = hdr
    struct.pack_into("<I", chunk, 124, zlib.crc32(bytes(chunk[0:120]) + bytes(chunk[128:512])))
    head = bytearray(4096)
    head[0:8] = b"ElfFile\x00"
    struct.pack_into("<QQQIHHHH", head, 8, 0, 0, last + 1, 128, 1, 3, 4096, 1)
    struct.pack_into("<I", head, 124, zlib.crc32(bytes(head[0:120])))
    return bytes(head) + bytes(chunk)
