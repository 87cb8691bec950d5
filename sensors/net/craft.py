"""Build TCP conversations and typical health-traffic payloads, and write them as pcap/pcapng.

For tests, the demo sample generator and benchmarks: never used on the capture path. Packets
are built with scapy layers (an implementation independent of our hand parser, so a test that
round-trips through both checks something real). All data is synthetic.

A conversation is a list of ``(direction, payload)`` turns, direction ``"c"`` (client to server)
or ``"s"``. Each turn is cut into segments of ``mss`` bytes; the data segments of the whole
conversation are numbered in send order and the options address them by that number:
``drop``, ``retransmit``, ``overlap`` and ``order`` (an explicit send order) reproduce what
reassembly must survive.
"""

from __future__ import annotations

import gzip
import json
import random
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether, Loopback
from scapy.packet import Packet, Raw
from scapy.utils import PcapNgWriter, PcapWriter

LINKTYPES: dict[str, int] = {"ether": 1, "vlan": 1, "qinq": 1, "sll": 113, "sll2": 276, "raw": 101, "null": 0}


@dataclass(frozen=True)
class Turn:
    direction: str  # "c" or "s"
    payload: bytes


@dataclass(frozen=True)
class Conversation:
    """Addresses and the shape of the packets (link type, IP version)."""

    client: str = "10.20.0.5"
    server: str = "10.20.0.9"
    sport: int = 43210
    dport: int = 80
    link: str = "ether"
    isn_client: int = 1_000
    isn_server: int = 500_000
    start_ts: float = 1_700_000_000.0
    step: float = 0.0005
    mss: int = 1400
    handshake: bool = True
    close: str = "fin"  # "fin" | "rst" | "none"
    vlan: int = 100

    @property
    def ipv6(self) -> bool:
        return ":" in self.client


@dataclass
class _Seg:
    direction: str
    seq: int
    payload: bytes
    flags: str = "PA"
    index: int = -1  # data segment number, -1 for control packets
    turn: int = -1


@dataclass
class Mutations:
    drop: set[int] = field(default_factory=set)
    retransmit: set[int] = field(default_factory=set)
    #: data segment index -> (start this many bytes earlier, with conflicting bytes?)
    overlap: dict[int, tuple[int, bool]] = field(default_factory=dict)
    order: Sequence[int] | None = None


def conversation(
    turns: Sequence[tuple[str, bytes]],
    conv: Conversation | None = None,
    *,
    drop: Iterable[int] = (),
    retransmit: Iterable[int] = (),
    overlap: Mapping[int, tuple[int, bool]] | None = None,
    order: Sequence[int] | None = None,
    shuffle_seed: int | None = None,
) -> list[Packet]:
    """Packets of one TCP connection (handshake, data, close) with the requested damage applied."""
    conv = conv or Conversation()
    muts = Mutations(set(drop), set(retransmit), dict(overlap or {}), order)
    nxt = {"c": conv.isn_client + 1, "s": conv.isn_server + 1}
    history = {"c": b"", "s": b""}
    data: list[_Seg] = []
    for turn, (direction, payload) in enumerate(turns):
        for i in range(0, len(payload), conv.mss):
            chunk = payload[i : i + conv.mss]
            seg = _Seg(direction, nxt[direction], chunk, index=len(data), turn=turn)
            if seg.index in muts.overlap:
                back, conflict = muts.overlap[seg.index]
                back = min(back, len(history[direction]))
                prev = history[direction][-back:] if back else b""
                if conflict:
                    prev = bytes((b ^ 0x20) or 0x41 for b in prev)
                seg = _Seg(direction, seg.seq - back, prev + chunk, index=seg.index, turn=turn)
            data.append(seg)
            nxt[direction] += len(chunk)
            history[direction] += chunk
    sent = [s for s in data if s.index not in muts.drop]
    if muts.order is not None:
        by_index = {s.index: s for s in sent}
        sent = [by_index[i] for i in muts.order if i in by_index]
    elif shuffle_seed is not None:  # reorder within each turn: a reply never overtakes its request
        rng = random.Random(shuffle_seed)
        shuffled: list[_Seg] = []
        for turn in sorted({s.turn for s in sent}):
            group = [s for s in sent if s.turn == turn]
            rng.shuffle(group)
            shuffled += group
        sent = shuffled
    out: list[_Seg] = []
    for s in sent:
        out.append(s)
        if s.index in muts.retransmit:
            out.append(_Seg(s.direction, s.seq, s.payload, s.flags, s.index))
    segs: list[_Seg] = []
    if conv.handshake:
        segs += [_Seg("c", conv.isn_client, b"", "S"), _Seg("s", conv.isn_server, b"", "SA"),
                 _Seg("c", conv.isn_client + 1, b"", "A")]
    segs += out
    if conv.close == "fin":
        segs += [_Seg("c", nxt["c"], b"", "FA"), _Seg("s", nxt["s"], b"", "FA"),
                 _Seg("c", nxt["c"] + 1, b"", "A")]
    elif conv.close == "rst":
        segs.append(_Seg("c", nxt["c"], b"", "R"))
    # acknowledge what the other side has sent so far, so tools that check ACKs (tshark) agree
    hi = {"c": conv.isn_client if conv.handshake else conv.isn_client + 1,
          "s": conv.isn_server if conv.handshake else conv.isn_server + 1}
    pkts = []
    for k, s in enumerate(segs):
        ack = hi["s" if s.direction == "c" else "c"] if "A" in s.flags else 0
        pkts.append(_packet(conv, s, ack, k))
        end = s.seq + len(s.payload) + (1 if "S" in s.flags or "F" in s.flags else 0)
        hi[s.direction] = max(hi[s.direction], end)
    return pkts


def _packet(conv: Conversation, s: _Seg, ack: int, k: int) -> Packet:
    c2s = s.direction == "c"
    src, dst = (conv.client, conv.server) if c2s else (conv.server, conv.client)
    sport, dport = (conv.sport, conv.dport) if c2s else (conv.dport, conv.sport)
    tcp = TCP(sport=sport, dport=dport, flags=s.flags, seq=s.seq & 0xFFFFFFFF, ack=ack & 0xFFFFFFFF,
              window=65535)
    ip: Packet = IPv6(src=src, dst=dst) if conv.ipv6 else IP(src=src, dst=dst)
    l3 = ip / tcp / Raw(s.payload) if s.payload else ip / tcp
    pkt = _link(conv, l3, c2s)
    pkt.time = conv.start_ts + k * conv.step
    return pkt


def _link(conv: Conversation, l3: Packet, c2s: bool) -> Packet:
    etype = 0x86DD if conv.ipv6 else 0x0800
    macs = ("02:00:00:00:00:01", "02:00:00:00:00:02")
    src_mac, dst_mac = macs if c2s else macs[::-1]
    if conv.link == "ether":
        return Ether(src=src_mac, dst=dst_mac) / l3
    if conv.link == "vlan":
        return Ether(src=src_mac, dst=dst_mac) / Dot1Q(vlan=conv.vlan) / l3
    if conv.link == "qinq":
        return Ether(src=src_mac, dst=dst_mac) / Dot1AD(vlan=10) / Dot1Q(vlan=conv.vlan) / l3
    if conv.link == "sll":
        return CookedLinux(pkttype=0 if not c2s else 4, lladdrtype=1, lladdrlen=6,
                           src=bytes(8), proto=etype) / l3
    if conv.link == "sll2":
        return CookedLinuxV2(proto=etype, ifindex=2, lladdrtype=1, lladdrlen=6, src=bytes(8)) / l3
    if conv.link == "null":
        return Loopback(type=30 if conv.ipv6 else 2) / l3
    if conv.link == "raw":
        return l3
    raise ValueError(f"unknown link {conv.link!r}; known: {', '.join(LINKTYPES)}")


# -- writers -------------------------------------------------------------------------------------
def write_pcap(path: str | Path, packets: Iterable[Packet | tuple[float, bytes]], linktype: int = 1,
               *, nano: bool = False) -> Path:
    """Classic pcap; items are scapy packets or ``(timestamp, frame bytes)``."""
    p = Path(path)
    w = PcapWriter(str(p), linktype=linktype, nano=nano, sync=False)
    w.linktype = linktype  # scapy ignores a falsy linktype argument (DLT_NULL is 0)
    scale = 1e9 if nano else 1e6
    try:
        w.write_header(None)
        for item in packets:
            if isinstance(item, tuple):
                ts, frame = item
                w.write_packet(frame, sec=int(ts), usec=round((ts % 1) * scale))
            else:
                w.write(item)
    finally:
        w.close()
    return p


def write_pcapng(path: str | Path, packets: Iterable[Packet], linktype: int = 1) -> Path:
    p = Path(path)
    w = PcapNgWriter(str(p))
    w.linktype = linktype
    try:
        for pkt in packets:
            w.write(pkt)
    finally:
        w.close()
    return p


def write_conversations(path: str | Path, convs: Iterable[list[Packet]], linktype: int = 1) -> Path:
    """Several conversations interleaved by timestamp into one pcap."""
    packets = sorted((p for c in convs for p in c), key=lambda p: float(p.time))
    return write_pcap(path, packets, linktype)


# -- payloads ----------------------------------------------------------------------------------------
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def cn_resident_id(seed: int) -> str:
    """A synthetic 18-digit resident identity number with a valid GB 11643 check digit."""
    r = random.Random(seed)
    body = f"{r.choice(['110101', '310104', '440305', '510107'])}{r.randint(1950, 2010)}" \
           f"{r.randint(1, 12):02d}{r.randint(1, 28):02d}{r.randint(0, 999):03d}"
    return body + _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def patient_record(seed: int = 1) -> dict[str, Any]:
    """A synthetic FHIR Patient with identifiers and a diagnosis-bearing extension."""
    r = random.Random(seed)
    family = r.choice(["王", "李", "张", "刘", "陈"])
    return {
        "resourceType": "Patient",
        "id": f"pat-{seed}",
        "identifier": [{"system": "urn:oid:2.16.156.10011.1.1", "value": cn_resident_id(seed)}],
        "name": [{"family": family, "given": [r.choice(["伟", "芳", "娜", "敏", "静"])]}],
        "telecom": [{"system": "phone", "value": f"13{r.randint(100000000, 999999999)}"}],
        "gender": r.choice(["male", "female"]),
        "birthDate": f"{r.randint(1950, 2010)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
        "extension": [
            {"url": "urn:healthdlp:diagnosis", "valueString": r.choice(["2型糖尿病", "高血压", "HIV感染"])}
        ],
    }


def http_request(method: str, path: str, *, host: str = "ehr.example.org", body: bytes = b"",
                 content_type: str = "", user: str = "", chunked: bool = False,
                 headers: Mapping[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: healthdlp-craft/1"]
    if user:
        import base64

        lines.append("Authorization: Basic " + base64.b64encode(f"{user}:s3cret".encode()).decode())
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + chunk_body(body)
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def http_post_patient(seed: int = 1, *, path: str = "/fhir/Patient", user: str = "dr.li",
                      content_type: str = "application/fhir+json") -> bytes:
    body = json.dumps(patient_record(seed), ensure_ascii=False).encode()
    return http_request("POST", path, body=body, content_type=content_type, user=user)


def chunk_body(body: bytes, size: int = 700) -> bytes:
    out = bytearray()
    for i in range(0, len(body), size):
        part = body[i : i + size]
        out += f"{len(part):x};ext=1\r\n".encode() + part + b"\r\n"
    return bytes(out) + b"0\r\nX-Trailer: 1\r\n\r\n"


def http_response(body: bytes = b"", *, status: int = 200, content_type: str = "application/json",
                  gzip_body: bool = False, deflate_body: bool = False, chunked: bool = False,
                  close_delimited: bool = False) -> bytes:
    reason = {200: "OK", 201: "Created", 204: "No Content", 404: "Not Found"}.get(status, "Status")
    lines = [f"HTTP/1.1 {status} {reason}", "Server: craft"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    wire = body
    if gzip_body:
        wire = gzip.compress(body, mtime=0)
        lines.append("Content-Encoding: gzip")
    elif deflate_body:
        import zlib

        wire = zlib.compress(body)
        lines.append("Content-Encoding: deflate")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        wire = chunk_body(wire)
    elif not close_delimited:
        lines.append(f"Content-Length: {len(wire)}")
    else:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + wire


def http_chunked_gzip_response(seed: int = 2) -> bytes:
    body = json.dumps({"resourceType": "Bundle", "type": "searchset",
                       "entry": [{"resource": patient_record(seed + i)} for i in range(5)]},
                      ensure_ascii=False).encode()
    return http_response(body, content_type="application/fhir+json", gzip_body=True, chunked=True)


def mllp(message: str | bytes) -> bytes:
    raw = message.encode() if isinstance(message, str) else message
    return b"\x0b" + raw + b"\x1c\x0d"


def hl7_adt_a01(control_id: str = "MSG00001", seed: int = 1) -> str:
    r = random.Random(seed)
    pid = cn_resident_id(seed)
    return "\r".join([
        f"MSH|^~\\&|HIS|CITYHOSP|LIS|LAB|20240101120000||ADT^A01^ADT_A01|{control_id}|P|2.5",
        "EVN|A01|20240101120000",
        f"PID|1||{pid}^^^CN^NI||{r.choice(['WANG^WEI', 'LI^NA'])}||19800101|M|||BEIJING^^^^100000"
        "||13800138000",
        "PV1|1|I|WARD1^101^1",
        "DG1|1||E11.9^2型糖尿病^ICD10",
    ]) + "\r"


def hl7_oru_r01(control_id: str = "MSG00002", seed: int = 2) -> str:
    pid = cn_resident_id(seed)
    return "\r".join([
        f"MSH|^~\\&|LIS|LAB|HIS|CITYHOSP|20240101130000||ORU^R01^ORU_R01|{control_id}|P|2.5",
        f"PID|1||{pid}^^^CN^NI||ZHANG^MIN||19750505|F",
        "OBR|1||LAB123|GLU^Glucose",
        "OBX|1|NM|GLU^Glucose||7.8|mmol/L|3.9-6.1|H|||F",
    ]) + "\r"


def hl7_ack(control_id: str, ack_code: str = "AA") -> str:
    return "\r".join([
        f"MSH|^~\\&|LIS|LAB|HIS|CITYHOSP|20240101120001||ACK^A01^ACK|ACK{control_id}|P|2.5",
        f"MSA|{ack_code}|{control_id}",
    ]) + "\r"


def _ext(etype: int, body: bytes) -> bytes:
    return struct.pack("!HH", etype, len(body)) + body


def tls_client_hello(sni: str = "ehr.example.org", *, alpn: Sequence[str] = ("h2", "http/1.1"),
                     tls13: bool = True, padding: int = 0) -> bytes:
    """A TLS record holding a ClientHello, built by hand (RFC 8446 §4.1.2)."""
    name = sni.encode()
    exts = b""
    exts += _ext(0x0A0A, b"")  # GREASE, ignored by parsers
    exts += _ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name)
    if alpn:
        plist = b"".join(bytes([len(a)]) + a.encode() for a in alpn)
        exts += _ext(16, struct.pack("!H", len(plist)) + plist)
    if tls13:
        exts += _ext(43, bytes([6]) + struct.pack("!HHH", 0x1A1A, 0x0304, 0x0303))
    if padding:
        exts += _ext(21, bytes(padding))
    ciphers = struct.pack("!HHHH", 0x1301, 0x1302, 0xC02F, 0xC030)
    body = (struct.pack("!H", 0x0303) + bytes(range(32)) + b"\x20" + bytes(32)
            + struct.pack("!H", len(ciphers)) + ciphers + b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def tls_server_hello(*, tls13: bool = True, cipher: int = 0x1301) -> bytes:
    exts = _ext(43, struct.pack("!H", 0x0304)) if tls13 else b""
    body = (struct.pack("!H", 0x0303) + bytes(32) + b"\x00" + struct.pack("!H", cipher) + b"\x00"
            + struct.pack("!H", len(exts)) + exts)
    hs = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs


def tls_app_data(n: int, seed: int = 0) -> bytes:
    """An application-data record of ``n`` random (encrypted-looking) bytes."""
    payload = random.Random(seed).randbytes(n)
    return b"\x17\x03\x03" + struct.pack("!H", n) + payload
