"""Capture sources: pcap and pcapng files parsed by hand, and live interfaces through scapy.

Why our own file reader: scapy's ``PcapReader`` dissects every packet (~7,400 packets/s here);
reading record headers with ``struct.unpack_from`` over large blocks costs well under a
microsecond per record. The reader also reports *where* a file is cut or corrupt instead of
raising, so the sensor can keep the packets before the cut and dead-letter the rest.

Every source yields ``(timestamp, linktype, frame_bytes, original_length)``; files also hand them
over in lists (``CaptureFile.batches``), which spares the hot loop a generator step per packet.
"""

from __future__ import annotations

import select
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

#: Records larger than this are corrupt (libpcap's own MAXIMUM_SNAPLEN).
MAX_RECORD: Final = 262_144
_CHUNK: Final = 4 << 20
_TAIL_PAYLOAD: Final = 4096  # bytes of a cut file kept in the dead letter, for the operator
#: Records per list handed out by ``CaptureFile.batches``: amortises the generator step, while
#: the frames held at once stay small (about 400 KB of typical frames).
BATCH: Final = 256

PCAP_MAGICS: dict[bytes, tuple[str, float]] = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"

Record = tuple[float, int, bytes, int]


@dataclass(frozen=True, slots=True)
class CaptureProblem:
    """Why a file could not be read to its end: a countable reason plus where it happened."""

    reason: str  # "pcap-truncated" | "pcap-corrupt" | "pcap-invalid" | "pcap-linktype"
    detail: str
    offset: int
    tail: bytes = b""


def _origin(fh: BinaryIO) -> int:
    """Where reading starts in ``fh`` when it can seek back (a regular file), else -1 (a pipe)."""
    try:
        return fh.tell() if fh.seekable() else -1
    except (OSError, ValueError):
        return -1


class CaptureFile:
    """Iterate the records of a pcap or pcapng file; ``problem`` is set when reading stopped early.

    Iteration never raises on bad content: a cut or corrupt file simply ends the iteration and
    leaves a :class:`CaptureProblem` behind, so every packet before the damage is still used.
    """

    def __init__(self, fh: BinaryIO, source: str) -> None:
        self._fh = fh
        self.source = source
        self.problem: CaptureProblem | None = None
        self.records = 0
        self.format = ""
        self._buf = b""
        self._pos = 0
        self._base = 0  # file offset of _buf[0]
        self._eof = False
        self._origin = _origin(fh)  # file offset of the first byte, or -1 when not seekable

    # -- buffer management -------------------------------------------------------------------
    def _need(self, n: int) -> bool:
        """Make sure ``n`` bytes are available at ``_pos``; False at end of file."""
        if self._pos + n <= len(self._buf):
            return True
        if self._eof:
            return False
        self._base += self._pos
        if self._origin >= 0 and n <= _CHUNK:
            # a seekable file: re-read from the unconsumed byte instead of gluing the old
            # buffer's tail to a new chunk (that join copies the whole chunk once more)
            self._fh.seek(self._origin + self._base)
            self._buf = self._fh.read(_CHUNK)
            self._pos = 0
            if len(self._buf) < n:  # a buffered read is short only at the end of the file
                self._eof = True
                return False
            return True
        rest = self._buf[self._pos :]
        self._pos = 0
        parts = [rest]
        have = len(rest)
        while have < n:
            chunk = self._fh.read(max(_CHUNK, n - have))
            if not chunk:
                self._eof = True
                break
            parts.append(chunk)
            have += len(chunk)
        self._buf = b"".join(parts)
        return have >= n

    def _stop(self, reason: str, detail: str) -> None:
        tail = self._buf[self._pos : self._pos + _TAIL_PAYLOAD]
        self.problem = CaptureProblem(reason, detail, self._base + self._pos, tail)

    def __iter__(self) -> Iterator[Record]:
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[Record]]:
        """The records in lists of at most ``BATCH``, in file order (what ``__iter__`` yields one by one)."""
        if not self._need(4):
            if len(self._buf) - self._pos == 0:
                self._stop("pcap-invalid", f"{self.source} is empty")
            else:
                self._stop("pcap-truncated", f"{self.source} ends inside the file header")
            return
        magic = self._buf[self._pos : self._pos + 4]
        if magic in PCAP_MAGICS:
            self.format = "pcap"
            endian, resolution = PCAP_MAGICS[magic]
            yield from self._pcap_batches(endian, resolution)
        elif magic == PCAPNG_SHB:
            self.format = "pcapng"
            batch: list[Record] = []
            for r in self._iter_pcapng():
                batch.append(r)
                if len(batch) >= BATCH:
                    yield batch
                    batch = []
            if batch:
                yield batch
        else:
            self._stop("pcap-invalid", f"{self.source} is neither pcap nor pcapng (magic {magic.hex()})")

    # -- classic pcap ------------------------------------------------------------------------
    def _pcap_batches(self, endian: str, resolution: float) -> Iterator[list[Record]]:
        if not self._need(24):
            self._stop("pcap-truncated", f"{self.source} ends inside the 24-byte pcap header")
            return
        linktype: int = struct.unpack_from(endian + "IHHiIII", self._buf, self._pos)[6] & 0xFFFF
        self._pos += 24
        # typed (struct says tuple[Any, ...]) so the compiled build does native integer arithmetic
        rec: Callable[[bytes, int], tuple[int, int, int, int]] = struct.Struct(endian + "IIII").unpack_from
        batch: list[Record] = []
        while True:
            # fast path: the record lies whole in the buffer (all but one record per chunk)
            buf = self._buf
            blen = len(buf)
            pos = self._pos
            while pos + 16 <= blen:
                sec, frac, caplen, origlen = rec(buf, pos)
                start = pos + 16
                end = start + caplen
                if end > blen or caplen > MAX_RECORD:
                    break
                pos = end
                batch.append((sec + frac * resolution, linktype, buf[start:end], origlen))
                if len(batch) >= BATCH:
                    self._pos = pos
                    self.records += len(batch)
                    yield batch
                    batch = []
            self._pos = pos
            self.records += len(batch)
            if batch:
                yield batch
                batch = []
            # slow path: refill, end of file, or damage
            if not self._need(16):
                if self._pos < len(self._buf):
                    self._stop("pcap-truncated", f"{self.source} ends inside a record header "
                               f"after {self.records} packets")
                return
            sec, frac, caplen, origlen = rec(self._buf, self._pos)
            if caplen > MAX_RECORD:
                self._stop("pcap-corrupt", f"{self.source}: record {self.records + 1} claims "
                           f"{caplen} bytes (over {MAX_RECORD}); the rest of the file is unreadable")
                return
            if not self._need(16 + caplen):
                self._stop("pcap-truncated", f"{self.source} ends inside packet {self.records + 1} "
                           f"({len(self._buf) - self._pos - 16} of {caplen} bytes present)")
                return
            start = self._pos + 16
            self._pos = start + caplen
            # counted with its batch, which the fast path above hands out next
            batch.append((sec + frac * resolution, linktype, self._buf[start : self._pos], origlen))

    # -- pcapng --------------------------------------------------------------------------------
    def _iter_pcapng(self) -> Iterator[Record]:
        endian = "<"
        ifaces: list[tuple[int, float, float]] = []  # (linktype, resolution, offset seconds)
        while True:
            if not self._need(12):
                if self._pos < len(self._buf):
                    self._stop("pcap-truncated", f"{self.source} ends inside a block header "
                               f"after {self.records} packets")
                return
            btype_raw = self._buf[self._pos : self._pos + 4]
            if btype_raw == PCAPNG_SHB:
                bom = self._buf[self._pos + 8 : self._pos + 12]
                if bom == b"\x4d\x3c\x2b\x1a":
                    endian = "<"
                elif bom == b"\x1a\x2b\x3c\x4d":
                    endian = ">"
                else:
                    self._stop("pcap-corrupt", f"{self.source}: section header with bad byte-order magic")
                    return
                ifaces = []
            btype, blen = struct.unpack_from(endian + "II", self._buf, self._pos)
            if blen < 12 or blen % 4 or blen > MAX_RECORD + 4096:
                self._stop("pcap-corrupt", f"{self.source}: block of type {btype:#x} has bad length {blen}")
                return
            if not self._need(blen):
                self._stop("pcap-truncated", f"{self.source} ends inside a block of type {btype:#x} "
                           f"after {self.records} packets")
                return
            body = self._pos + 8
            end = self._pos + blen - 4
            buf = self._buf
            self._pos += blen
            if btype == 6:  # enhanced packet block
                if_id, hi, lo, caplen, origlen = struct.unpack_from(endian + "IIIII", buf, body)
                if if_id >= len(ifaces) or body + 20 + caplen > end:
                    self._stop("pcap-corrupt", f"{self.source}: packet block {self.records + 1} "
                               "names an unknown interface or overruns its block")
                    return
                lt, res, off = ifaces[if_id]
                self.records += 1
                yield off + ((hi << 32) | lo) * res, lt, buf[body + 20 : body + 20 + caplen], origlen
            elif btype == 3:  # simple packet block: interface 0, no timestamp
                if not ifaces:
                    self._stop("pcap-corrupt", f"{self.source}: simple packet block before any interface")
                    return
                (origlen,) = struct.unpack_from(endian + "I", buf, body)
                caplen = min(origlen, end - body - 4)
                self.records += 1
                yield 0.0, ifaces[0][0], buf[body + 4 : body + 4 + caplen], origlen
            elif btype == 1:  # interface description block
                lt = struct.unpack_from(endian + "H", buf, body)[0]
                res, off = _idb_options(buf, body + 8, end, endian)
                ifaces.append((lt, res, off))
            elif btype == 2:  # obsolete packet block
                if_id, _, hi, lo, caplen, origlen = struct.unpack_from(endian + "HHIIII", buf, body)
                if if_id < len(ifaces):
                    lt, res, off = ifaces[if_id]
                    self.records += 1
                    yield off + ((hi << 32) | lo) * res, lt, buf[body + 20 : body + 20 + caplen], origlen
            # other block types (name resolution, statistics, custom ...) carry no packets


def _idb_options(buf: bytes, pos: int, end: int, endian: str) -> tuple[float, float]:
    """Timestamp resolution (if_tsresol) and offset (if_tsoffset) of an interface description."""
    res, off = 1e-6, 0.0
    while pos + 4 <= end:
        code, length = struct.unpack_from(endian + "HH", buf, pos)
        val = pos + 4
        if code == 0:
            break
        if code == 9 and length >= 1:
            v = buf[val]
            res = 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v
        elif code == 14 and length == 8:
            off = float(struct.unpack_from(endian + "q", buf, val)[0])
        pos = val + ((length + 3) & ~3)
    return res, off


# -- live capture ------------------------------------------------------------------------------
def live_records(
    interface: str, bpf: str, stop: threading.Event, snaplen: int = 65535, poll: float = 0.25,
    on_kernel_stats: Callable[[int, int], None] | None = None, stats_every: float = 5.0,
) -> Iterator[Record]:
    """Raw frames from a live interface via scapy's L2ListenSocket, never dissected.

    Besides frames it yields heartbeats ``(now, -1, b"", 0)`` when the link is quiet.

    ``recv_raw`` hands back the frame bytes and the layer-2 class; we map the class to its
    link type once and push the bytes through the same fast path as files. ``select`` with a
    short timeout lets ``stop`` end the capture even on a silent interface.

    ``on_kernel_stats(received, dropped)`` gets the kernel's PACKET_STATISTICS every
    ``stats_every`` seconds and at the end: packets the socket received and packets it dropped
    because we did not read fast enough (the figure an operator needs to trust "no alert").
    """
    from scapy.config import conf

    sock = conf.L2listen(iface=interface, filter=bpf or None)
    next_stats = time.monotonic() + stats_every
    try:
        linktype_of: Callable[[object], int] = _linktype_resolver()
        while not stop.is_set():
            if on_kernel_stats is not None and time.monotonic() >= next_stats:
                next_stats = time.monotonic() + stats_every
                _report_kernel_stats(sock, on_kernel_stats)
            ready, _, _ = select.select([sock], [], [], poll)
            if not ready:  # heartbeat (link type -1): lets the sensor idle out flows on a quiet link
                yield time.time(), -1, b"", 0
                continue
            cls, data, ts = sock.recv_raw(snaplen)
            if data is None:
                continue
            yield float(ts or 0.0), linktype_of(cls), data, len(data)
    finally:
        if on_kernel_stats is not None:
            _report_kernel_stats(sock, on_kernel_stats)
        sock.close()


SOL_PACKET = 263
PACKET_STATISTICS = 6


def kernel_stats(sock: Any) -> tuple[int, int] | None:
    """(packets received, packets dropped) since the last call, from a PF_PACKET socket; None elsewhere.

    ``struct tpacket_stats {unsigned tp_packets, tp_drops}``: the kernel resets both on read,
    so each call returns a delta.
    """
    raw_sock = getattr(sock, "ins", sock)
    try:
        raw = raw_sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
    except (OSError, AttributeError):
        return None
    packets, drops = struct.unpack("II", raw)
    return packets, drops


def _report_kernel_stats(sock: Any, report: Callable[[int, int], None]) -> None:
    got = kernel_stats(sock)
    if got is not None:
        report(*got)


def _linktype_resolver() -> Callable[[object], int]:
    from scapy.config import conf

    cache: dict[object, int] = {}
    table: dict[Any, int] = dict(conf.l2types.layer2num)

    def resolve(cls: object) -> int:
        lt = cache.get(cls)
        if lt is None:
            lt = int(table.get(cls, 1))
            cache[cls] = lt
        return lt

    return resolve
