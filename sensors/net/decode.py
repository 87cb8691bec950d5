"""Hand-parsed link, IP and TCP headers: the per-packet fast path.

No scapy layers here: one ``struct.unpack_from`` per header on the frame bytes. The result is a
plain tuple (cheap to build, cheap to unpack) or a short reason string telling why the frame is
not a TCP segment we can use, so the caller can count it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final

LINKTYPE_NULL: Final = 0
LINKTYPE_ETHERNET: Final = 1
LINKTYPE_RAW: Final = 101
LINKTYPE_LOOP: Final = 108
LINKTYPE_LINUX_SLL: Final = 113
LINKTYPE_IPV4: Final = 228
LINKTYPE_IPV6: Final = 229
LINKTYPE_LINUX_SLL2: Final = 276
#: DLT_RAW as written by some BSDs into pcap files.
LINKTYPE_RAW_BSD: Final = (12, 14)

SUPPORTED_LINKTYPES: frozenset[int] = frozenset(
    {LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LOOP, LINKTYPE_LINUX_SLL,
     LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL2, *LINKTYPE_RAW_BSD}
)

_VLAN_TPIDS = frozenset({0x8100, 0x88A8, 0x9100})
_IPV6_EXT = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options
_NULL_IPV6 = frozenset({24, 28, 30})  # AF_INET6 on the BSDs / macOS

# The unpackers are typed with the exact tuples they return: struct's own signature says
# ``tuple[Any, ...]``, and in the compiled build Any makes every comparison and sum on the fields
# a generic Python operation; typed, they are native integer operations.
_I = int
_u16: Final[Callable[[bytes, int], tuple[int]]] = struct.Struct("!H").unpack_from
_u32le: Final[Callable[[bytes, int], tuple[int]]] = struct.Struct("<I").unpack_from
_u32be: Final[Callable[[bytes, int], tuple[int]]] = struct.Struct("!I").unpack_from
_ipv4: Final[Callable[[bytes, int], tuple[_I, _I, _I, _I, _I, _I, _I, _I, bytes, bytes]]] = \
    struct.Struct("!BBHHHBBH4s4s").unpack_from
_ipv6: Final[Callable[[bytes, int], tuple[_I, _I, _I, _I, bytes, bytes]]] = struct.Struct("!IHBB16s16s").unpack_from
_tcp: Final[Callable[[bytes, int], tuple[_I, _I, _I, _I, _I, _I]]] = struct.Struct("!HHIIBB").unpack_from
#: Ethernet type + an option-less IPv4 header + the first 14 bytes of TCP in one unpack: the
#: shape of nearly every packet on a hospital LAN, so ``decode_tcp`` tries it first.
_eth_ip4_tcp: Final[Callable[[bytes, int], tuple[_I, _I, _I, _I, _I, _I, _I, _I, _I, bytes, bytes, _I, _I, _I, _I,
                                                   _I, _I]]] = struct.Struct("!12xHBBHHHBBH4s4sHHIIBB").unpack_from

FIN: Final = 0x01
SYN: Final = 0x02
RST: Final = 0x04
ACK: Final = 0x10

#: (src_addr, dst_addr, sport, dport, seq, flags, payload, missing_bytes)
Segment = tuple[bytes, bytes, int, int, int, int, bytes, int]


def l3_offset(linktype: int, frame: bytes) -> tuple[int, int] | str:
    """(offset of the IP header, IP version) or the reason the frame carries no IP."""
    if linktype == LINKTYPE_ETHERNET:
        etype = _u16(frame, 12)[0]
        off = 14
        while etype in _VLAN_TPIDS:
            etype = _u16(frame, off + 2)[0]
            off += 4
    elif linktype == LINKTYPE_LINUX_SLL:
        etype = _u16(frame, 14)[0]
        off = 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        etype = _u16(frame, 0)[0]
        off = 20
    elif linktype == LINKTYPE_RAW or linktype in LINKTYPE_RAW_BSD:
        v = frame[0] >> 4
        return (0, v) if v in (4, 6) else "non-ip"
    elif linktype == LINKTYPE_NULL or linktype == LINKTYPE_LOOP:
        fam = _u32be(frame, 0)[0] if linktype == LINKTYPE_LOOP else _u32le(frame, 0)[0]
        if fam > 0xFFFF:  # DLT_NULL is host order: a capture from a big-endian host
            fam = _u32be(frame, 0)[0]
        if fam == 2:
            return 4, 4
        if fam in _NULL_IPV6:
            return 4, 6
        return "non-ip"
    elif linktype == LINKTYPE_IPV4:
        return 0, 4
    elif linktype == LINKTYPE_IPV6:
        return 0, 6
    else:
        return "linktype-unsupported"
    while etype in _VLAN_TPIDS:  # QinQ behind a cooked header
        etype = _u16(frame, off + 2)[0]
        off += 4
    if etype == 0x0800:
        return off, 4
    if etype == 0x86DD:
        return off, 6
    return "non-ip"


def decode_tcp(linktype: int, frame: bytes, origlen: int) -> Segment | str:
    """One frame to a TCP segment tuple, or a reason string ("non-ip", "non-tcp", "ip-fragment" ...).

    ``missing`` is how many payload bytes the IP header promises but the capture cut off
    (snaplen): reassembly turns them into a gap instead of waiting for bytes that never come.
    Raises ``struct.error``/``IndexError`` on frames too short for their headers; the caller
    counts those as malformed.
    """
    if linktype == LINKTYPE_ETHERNET and len(frame) >= 54:
        # fast path: untagged Ethernet, IPv4 without options, unfragmented TCP, whole in the frame;
        # anything else (or anything odd) falls through to the general path, which decides.
        etype, vihl, _, total, _, frag, _, proto, _, src, dst, sport, dport, seq, _, doff, flags = \
            _eth_ip4_tcp(frame, 0)
        if etype == 0x0800 and vihl == 0x45 and proto == 6 and not frag & 0x3FFF and doff >= 0x50:
            start = 34 + (doff >> 4) * 4
            end = 14 + total
            if start <= end <= len(frame):
                return src, dst, sport, dport, seq, flags, frame[start:end], 0
    lo = l3_offset(linktype, frame)
    if isinstance(lo, str):
        return lo
    off, version = lo
    if version == 4:
        vihl, _, total, _, frag, _, proto, _, src, dst = _ipv4(frame, off)
        if vihl >> 4 != 4:
            return "bad-ip-header"
        ihl = (vihl & 0x0F) * 4
        if total == 0:  # TSO-offloaded capture: the NIC fills the length in later
            total = len(frame) - off
        if ihl < 20 or total < ihl:
            return "bad-ip-header"
        if frag & 0x3FFF:  # MF set or non-zero offset
            return "ip-fragment"
        if proto != 6:
            return "non-tcp"
        t = off + ihl
        end = off + total
    else:
        vtc, plen, nxt, _, src, dst = _ipv6(frame, off)
        if vtc >> 28 != 6:
            return "bad-ip-header"
        t = off + 40
        end = t + plen
        while nxt in _IPV6_EXT or nxt == 51:
            if nxt == 51:  # AH: length in 4-octet units, minus 2
                hlen = (frame[t + 1] + 2) * 4
            else:
                hlen = (frame[t + 1] + 1) * 8
            nxt = frame[t]
            t += hlen
        if nxt == 44:
            return "ip-fragment"
        if nxt != 6:
            return "non-tcp"
        if t > end:
            return "bad-ip-header"
    sport, dport, seq, _, doff, flags = _tcp(frame, t)
    hlen = (doff >> 4) * 4
    if hlen < 20:
        return "bad-tcp-header"
    start = t + hlen
    if start > end:
        return "bad-tcp-header"
    flen = len(frame)
    if end <= flen:
        return src, dst, sport, dport, seq, flags, frame[start:end], 0
    if start > flen:
        return "truncated-header"
    return src, dst, sport, dport, seq, flags, frame[start:], end - flen


#: (reassembly key, byte offset, more fragments follow, fragment bytes, src, dst, upper protocol)
Fragment = tuple[tuple[object, ...], int, bool, bytes, bytes, bytes, int]


def decode_fragment(linktype: int, frame: bytes) -> Fragment | str:
    """The fragment a frame carries (slow path: only for frames ``decode_tcp`` called "ip-fragment").

    IPv4: key (4, src, dst, id, proto), offset in bytes, MF. IPv6: key (6, src, dst, id), the
    Fragment header's offset and M flag; the upper protocol is the Fragment header's next header
    (what the reassembled fragmentable part starts with).
    """
    lo = l3_offset(linktype, frame)
    if isinstance(lo, str):
        return lo
    off, version = lo
    if version == 4:
        vihl, _, total, ident, frag, _, proto, _, src, dst = _ipv4(frame, off)
        ihl = (vihl & 0x0F) * 4
        if vihl >> 4 != 4 or ihl < 20 or total < ihl:
            return "bad-ip-header"
        data = frame[off + ihl : off + total]
        return (4, src, dst, ident, proto), (frag & 0x1FFF) * 8, bool(frag & 0x2000), data, src, dst, proto
    vtc, plen, nxt, _, src, dst = _ipv6(frame, off)
    if vtc >> 28 != 6:
        return "bad-ip-header"
    t = off + 40
    end = t + plen
    while nxt in _IPV6_EXT or nxt == 51:
        hlen = (frame[t + 1] + 2) * 4 if nxt == 51 else (frame[t + 1] + 1) * 8
        nxt = frame[t]
        t += hlen
    if nxt != 44 or t + 8 > end:
        return "bad-ip-header"
    upper = frame[t]
    offm = _u16(frame, t + 2)[0]
    ident = _u32be(frame, t + 4)[0]
    return (6, src, dst, ident), offm & 0xFFF8, bool(offm & 1), frame[t + 8 : end], src, dst, upper


def decode_reassembled(src: bytes, dst: bytes, proto: int, data: bytes) -> Segment | str:
    """A TCP segment from a reassembled IP payload (``proto`` = IPv4 protocol or IPv6 next header)."""
    t = 0
    while proto in _IPV6_EXT or proto == 51:  # IPv6: extension headers after the Fragment header
        hlen = (data[t + 1] + 2) * 4 if proto == 51 else (data[t + 1] + 1) * 8
        proto = data[t]
        t += hlen
    if proto != 6:
        return "non-tcp"
    sport, dport, seq, _, doff, flags = _tcp(data, t)
    hlen = (doff >> 4) * 4
    if hlen < 20 or t + hlen > len(data):
        return "bad-tcp-header"
    return src, dst, sport, dport, seq, flags, data[t + hlen :], 0
