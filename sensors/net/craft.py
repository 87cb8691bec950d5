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


# -- e-mail, FTP, DICOM, databases (v2) ------------------------------------------------------------
def mime_mail(*, sender: str = "dr.li@hospital.example", to: Sequence[str] = ("lab@partner.example",),
              subject: str = "Results", text: str = "See attached.",
              attachments: Sequence[tuple[str, str, bytes]] = (), qp_text: bool = False) -> bytes:
    """A MIME mail built with the stdlib (independent of our parser); attachments are (name, type, bytes)."""
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Message-ID"] = "<craft-1@hospital.example>"
    msg.set_content(text, cte="quoted-printable" if qp_text else None)
    for name, ctype, data in attachments:
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def smtp_turns(mail: bytes, *, sender: str = "dr.li@hospital.example",
               rcpts: Sequence[str] = ("lab@partner.example",), user: str = "",
               starttls: bool = False, bdat: int = 0) -> list[tuple[str, bytes]]:
    """An SMTP session sending ``mail`` (dot-stuffed DATA, or BDAT chunks of ``bdat`` bytes)."""
    import base64

    t: list[tuple[str, bytes]] = [("s", b"220 mx.hospital.example ESMTP Postfix\r\n"),
                                  ("c", b"EHLO ws17.hospital.example\r\n"),
                                  ("s", b"250-mx.hospital.example\r\n250-STARTTLS\r\n250 CHUNKING\r\n")]
    if starttls:
        return [
            *t,
            ("c", b"STARTTLS\r\n"),
            ("s", b"220 2.0.0 Ready to start TLS\r\n"),
            ("c", tls_client_hello("mx.hospital.example", alpn=())),
            ("s", tls_server_hello()),
            ("c", tls_app_data(300)),
            ("s", tls_app_data(200, 1)),
        ]
    if user:
        cred = base64.b64encode(b"\x00" + user.encode() + b"\x00s3cret")
        t += [("c", b"AUTH PLAIN " + cred + b"\r\n"), ("s", b"235 2.7.0 Authentication successful\r\n")]
    t += [("c", f"MAIL FROM:<{sender}> SIZE={len(mail)}\r\n".encode()), ("s", b"250 2.1.0 Ok\r\n")]
    for r in rcpts:
        t += [("c", f"RCPT TO:<{r}>\r\n".encode()), ("s", b"250 2.1.5 Ok\r\n")]
    if bdat:
        chunks = [mail[i : i + bdat] for i in range(0, len(mail), bdat)]
        for k, ch in enumerate(chunks):
            last = " LAST" if k == len(chunks) - 1 else ""
            t += [("c", f"BDAT {len(ch)}{last}\r\n".encode() + ch), ("s", b"250 2.0.0 Ok\r\n")]
    else:
        stuffed = mail.replace(b"\r\n.", b"\r\n..")
        if not stuffed.endswith(b"\r\n"):
            stuffed += b"\r\n"
        t += [("c", b"DATA\r\n"), ("s", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
              ("c", stuffed + b".\r\n"), ("s", b"250 2.0.0 Ok: queued\r\n")]
    return [*t, ("c", b"QUIT\r\n"), ("s", b"221 2.0.0 Bye\r\n")]


def ftp_session(files: Sequence[tuple[str, str, bytes]], *, user: str = "pacs-export",
                mode: str = "passive", client: str = "10.20.0.5", server: str = "10.20.0.21",
                start_ts: float = 1_700_000_000.0, ipv6: bool = False,
                data_mutations: Mapping[str, Any] | None = None) -> list[list[Packet]]:
    """An FTP control connection plus one data connection per file: (command RETR/STOR, name, data).

    ``mode``: "passive" (PASV/227, or EPSV/229 when ``ipv6``) or "active" (PORT, or EPRT when ``ipv6``).
    Returns the conversations (control first), timed so each data connection opens after its
    announcement and closes before the transfer's final reply.
    """
    ctrl: list[tuple[str, bytes]] = [("s", b"220 (vsFTPd 3.0.5) FTP server ready\r\n"),
                                     ("c", f"USER {user}\r\n".encode()), ("s", b"331 Please specify the password.\r\n"),
                                     ("c", b"PASS hunter2\r\n"), ("s", b"230 Login successful.\r\n"),
                                     ("c", b"TYPE I\r\n"), ("s", b"200 Switching to Binary mode.\r\n")]
    data_convs: list[list[Packet]] = []
    step = 0.001
    for k, (cmd, name, data) in enumerate(files):
        port = 40000 + k
        if mode == "passive":
            if ipv6:
                ctrl += [("c", b"EPSV\r\n"), ("s", f"229 Entering Extended Passive Mode (|||{port}|)\r\n".encode())]
            else:
                h = server.replace(".", ",")
                ctrl += [("c", b"PASV\r\n"),
                         ("s", f"227 Entering Passive Mode ({h},{port >> 8},{port & 255}).\r\n".encode())]
        else:
            if ipv6:
                ctrl += [("c", f"EPRT |2|{client}|{port}|\r\n".encode()), ("s", b"200 EPRT command successful.\r\n")]
            else:
                h = client.replace(".", ",")
                ctrl += [("c", f"PORT {h},{port >> 8},{port & 255}\r\n".encode()),
                         ("s", b"200 PORT command successful.\r\n")]
        ctrl += [("c", f"{cmd} {name}\r\n".encode()), ("s", b"150 Opening BINARY mode data connection.\r\n"),
                 ("s", b"226 Transfer complete.\r\n")]
        # the data connection is placed between the 150 and the 226 in time
        t0 = start_ts + len(ctrl) * 0.01 + 0.0001
        turn = ("c" if cmd in ("STOR", "APPE") else "s", data)
        if mode == "passive":
            conv = Conversation(client=client, server=server, sport=50000 + k, dport=port, start_ts=t0, step=step / 50)
            direction = turn[0]
        else:  # active: the server connects from port 20 to the client's announced port
            conv = Conversation(client=server, server=client, sport=20, dport=port, start_ts=t0, step=step / 50)
            direction = "s" if turn[0] == "c" else "c"
        data_convs.append(conversation([(direction, data)], conv, **(data_mutations or {})))
    ctrl += [("c", b"QUIT\r\n"), ("s", b"221 Goodbye.\r\n")]
    control = conversation(ctrl, Conversation(client=client, server=server, sport=45000, dport=21,
                                              start_ts=start_ts, step=0.01))
    return [control, *data_convs]


def ftp_auth_tls_turns() -> list[tuple[str, bytes]]:
    return [("s", b"220 ProFTPD Server ready\r\n"), ("c", b"AUTH TLS\r\n"), ("s", b"234 AUTH TLS successful\r\n"),
            ("c", tls_client_hello("ftp.hospital.example", alpn=())),
            ("s", tls_server_hello(tls13=False, cipher=0xC030)),
            ("c", tls_app_data(100)), ("s", tls_app_data(100, 2))]


# DICOM (PS3.8 upper layer, PS3.5 implicit VR little endian) -- built by hand
VERIFICATION = "1.2.840.10008.1.1"
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
STUDY_ROOT_GET = "1.2.840.10008.5.1.4.1.2.2.3"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


def _even(b: bytes, pad: bytes = b"\x00") -> bytes:
    return b + pad if len(b) % 2 else b


def dicom_element(group: int, elem: int, value: bytes | str | int, *, vr_us: bool = False) -> bytes:
    """One implicit-VR little-endian element (US values as 2 bytes, UL as 4, strings padded)."""
    if isinstance(value, int):
        raw = struct.pack("<H", value) if vr_us else struct.pack("<I", value)
    elif isinstance(value, str):
        raw = _even(value.encode(), b"\x00" if group == 0 and elem in (2, 3, 0x1000, 0x1001) else b" ")
    else:
        raw = _even(value)
    return struct.pack("<HHI", group, elem, len(raw)) + raw


def dicom_command(field: int, msg_id: int, sop_class: str, *, has_data: bool, responding: int = 0,
                  status: int | None = None, sop_instance: str = "", move_dest: str = "") -> bytes:
    els = [dicom_element(0, 0x0002, sop_class), dicom_element(0, 0x0100, field, vr_us=True)]
    if field & 0x8000:
        els.append(dicom_element(0, 0x0120, responding, vr_us=True))
    else:
        els.append(dicom_element(0, 0x0110, msg_id, vr_us=True))
    if move_dest:
        els.append(dicom_element(0, 0x0600, move_dest))
    els.append(dicom_element(0, 0x0800, 0x0000 if has_data else 0x0101, vr_us=True))
    if status is not None:
        els.append(dicom_element(0, 0x0900, status, vr_us=True))
    if sop_instance:
        els.append(dicom_element(0, 0x1000, sop_instance))
    body = b"".join(els)
    return dicom_element(0, 0x0000, len(body)) + body


def dicom_patient_dataset(seed: int = 1, *, pixels: int = 0) -> bytes:
    """Patient/study-level tags in implicit VR little endian, in tag order (optionally pixel data)."""
    r = random.Random(seed)
    pid = cn_resident_id(seed)
    els = [
        dicom_element(0x0008, 0x0016, CT_STORAGE),
        dicom_element(0x0008, 0x0018, f"1.2.826.0.1.3680043.8.498.{seed}"),
        dicom_element(0x0008, 0x0060, "CT"),
        dicom_element(0x0010, 0x0010, r.choice(["WANG^WEI", "LI^NA", "ZHANG^MIN"])),
        dicom_element(0x0010, 0x0020, pid),
        dicom_element(0x0010, 0x0030, f"19{r.randint(50, 99)}0{r.randint(1, 9)}1{r.randint(0, 9)}"),
        dicom_element(0x0010, 0x0040, r.choice(["M", "F"])),
        dicom_element(0x0020, 0x000D, f"1.2.826.0.1.3680043.8.498.1{seed}"),
    ]
    if pixels:
        els.append(dicom_element(0x7FE0, 0x0010, bytes(r.randbytes(pixels))))
    return b"".join(els)


def dicom_pdv(pcid: int, data: bytes, *, command: bool, last: bool) -> bytes:
    mch = (1 if command else 0) | (2 if last else 0)
    return struct.pack("!IBB", len(data) + 2, pcid, mch) + data


def dicom_pdata(*pdvs: bytes) -> bytes:
    body = b"".join(pdvs)
    return struct.pack("!BBI", 4, 0, len(body)) + body


def dicom_message(pcid: int, command: bytes, dataset: bytes = b"", *, max_pdv: int = 16_000) -> bytes:
    """P-DATA-TF PDUs for one DIMSE message; the data set is cut into PDVs of ``max_pdv`` bytes."""
    out = dicom_pdata(dicom_pdv(pcid, command, command=True, last=True))
    for i in range(0, len(dataset), max_pdv):
        piece = dataset[i : i + max_pdv]
        out += dicom_pdata(dicom_pdv(pcid, piece, command=False, last=i + max_pdv >= len(dataset)))
    return out


def _ae16(ae: str) -> bytes:
    return ae.encode().ljust(16)[:16]


def _item(itype: int, body: bytes) -> bytes:
    return struct.pack("!BBH", itype, 0, len(body)) + body


def dicom_associate_rq(calling: str, called: str, contexts: Sequence[tuple[int, str, Sequence[str]]],
                       *, user: str = "") -> bytes:
    items = _item(0x10, b"1.2.840.10008.3.1.1.1")
    for pcid, abstract, transfers in contexts:
        sub = _item(0x30, abstract.encode()) + b"".join(_item(0x40, t.encode()) for t in transfers)
        items += _item(0x20, bytes([pcid, 0, 0, 0]) + sub)
    ui = _item(0x51, struct.pack("!I", 16384)) + _item(0x52, b"1.2.826.0.1.3680043.9.healthdlp")
    if user:
        u = user.encode()
        ui += _item(0x58, bytes([1, 0]) + struct.pack("!H", len(u)) + u + b"\x00\x00")
    items += _item(0x50, ui)
    body = struct.pack("!HH", 1, 0) + _ae16(called) + _ae16(calling) + bytes(32) + items
    return struct.pack("!BBI", 1, 0, len(body)) + body


def dicom_associate_ac(calling: str, called: str, accepted: Sequence[tuple[int, str]]) -> bytes:
    items = _item(0x10, b"1.2.840.10008.3.1.1.1")
    for pcid, ts in accepted:
        items += _item(0x21, bytes([pcid, 0, 0, 0]) + _item(0x40, ts.encode()))
    items += _item(0x50, _item(0x51, struct.pack("!I", 16384)))
    body = struct.pack("!HH", 1, 0) + _ae16(called) + _ae16(calling) + bytes(32) + items
    return struct.pack("!BBI", 2, 0, len(body)) + body


def dicom_release() -> tuple[bytes, bytes]:
    return struct.pack("!BBII", 5, 0, 4, 0), struct.pack("!BBII", 6, 0, 4, 0)


def dicom_store_turns(n: int = 2, *, calling: str = "MODALITY_CT1", called: str = "PACS_MAIN",
                      pixels: int = 0, max_pdv: int = 16_000, seed: int = 1) -> list[tuple[str, bytes]]:
    """Associate, ``n`` C-STOREs (each with a patient data set), release."""
    t: list[tuple[str, bytes]] = [
        ("c", dicom_associate_rq(calling, called, [(1, CT_STORAGE, [EXPLICIT_LE, IMPLICIT_LE]),
                                                   (3, VERIFICATION, [IMPLICIT_LE])], user="tech.zhao")),
        ("s", dicom_associate_ac(calling, called, [(1, IMPLICIT_LE), (3, IMPLICIT_LE)])),
    ]
    for k in range(n):
        iuid = f"1.2.826.0.1.3680043.8.498.{seed + k}"
        t.append(("c", dicom_message(1, dicom_command(0x0001, k + 1, CT_STORAGE, has_data=True, sop_instance=iuid),
                                     dicom_patient_dataset(seed + k, pixels=pixels), max_pdv=max_pdv)))
        t.append(("s", dicom_message(1, dicom_command(0x8001, 0, CT_STORAGE, has_data=False, responding=k + 1,
                                                      status=0, sop_instance=iuid))))
    rq, rp = dicom_release()
    return [*t, ("c", rq), ("s", rp)]


def dicom_query_turns(kind: str = "find", *, calling: str = "WORKSTATION7", called: str = "PACS_MAIN",
                      matches: int = 3) -> list[tuple[str, bytes]]:
    """Associate, one C-FIND/C-MOVE/C-GET with a patient-level identifier, its responses, release."""
    sop = {"find": STUDY_ROOT_FIND, "move": STUDY_ROOT_MOVE, "get": STUDY_ROOT_GET}[kind]
    field = {"find": 0x0020, "move": 0x0021, "get": 0x0010}[kind]
    ident = (dicom_element(0x0008, 0x0052, "STUDY") + dicom_element(0x0010, 0x0010, "WANG^*")
             + dicom_element(0x0010, 0x0020, ""))
    t: list[tuple[str, bytes]] = [
        ("c", dicom_associate_rq(calling, called, [(1, sop, [IMPLICIT_LE])])),
        ("s", dicom_associate_ac(calling, called, [(1, IMPLICIT_LE)])),
        ("c", dicom_message(1, dicom_command(field, 7, sop, has_data=True,
                                             move_dest="WORKSTATION7" if kind == "move" else ""), ident)),
    ]
    for k in range(matches):
        if kind == "find":
            t.append(("s", dicom_message(1, dicom_command(0x8020, 0, sop, has_data=True, responding=7, status=0xFF00),
                                         dicom_patient_dataset(100 + k))))
        else:
            t.append(("s", dicom_message(1, dicom_command(field | 0x8000, 0, sop, has_data=False, responding=7,
                                                          status=0xFF00))))
    t.append(("s", dicom_message(1, dicom_command(field | 0x8000, 0, sop, has_data=False, responding=7, status=0))))
    rq, rp = dicom_release()
    return [*t, ("c", rq), ("s", rp)]


# PostgreSQL v3 and MySQL wire protocols
def _pg(mtype: bytes, body: bytes) -> bytes:
    return mtype + struct.pack("!I", len(body) + 4) + body


def pg_startup(user: str = "his_app", database: str = "emr", ssl: bool = False) -> bytes:
    if ssl:
        return struct.pack("!II", 8, 80877103)
    params = b"".join(k.encode() + b"\x00" + v.encode() + b"\x00"
                      for k, v in (("user", user), ("database", database), ("application_name", "psql")))
    body = struct.pack("!I", 196608) + params + b"\x00"
    return struct.pack("!I", len(body) + 4) + body


def pg_rows(columns: Sequence[str], rows: Sequence[Sequence[str | None]], tag: str = "") -> bytes:
    desc = struct.pack("!H", len(columns)) + b"".join(
        c.encode() + b"\x00" + struct.pack("!IhIhih", 0, 0, 25, -1, -1, 0) for c in columns)
    out = bytearray(_pg(b"T", desc))
    for r in rows:
        vals = b"".join(struct.pack("!i", -1) if v is None else struct.pack("!I", len(v.encode())) + v.encode()
                        for v in r)
        out += _pg(b"D", struct.pack("!H", len(r)) + vals)
    out += _pg(b"C", (tag or f"SELECT {len(rows)}").encode() + b"\x00")
    return bytes(out)


def pg_session(queries: Sequence[tuple[str, Sequence[str], Sequence[Sequence[str | None]]]], *,
               user: str = "his_app", database: str = "emr", ssl: bool = False) -> list[tuple[str, bytes]]:
    ready = _pg(b"Z", b"I")
    if ssl:
        return [("c", pg_startup(ssl=True)), ("s", b"S"), ("c", tls_client_hello("db.hospital.example", alpn=())),
                ("s", tls_server_hello()), ("c", tls_app_data(200)), ("s", tls_app_data(400, 3))]
    t: list[tuple[str, bytes]] = [
        ("c", pg_startup(user, database)),
        ("s", _pg(b"R", struct.pack("!I", 0)) + _pg(b"S", b"server_version\x0016.2\x00")
         + _pg(b"K", struct.pack("!II", 4242, 99)) + ready),
    ]
    for sql, cols, rows in queries:
        t += [("c", _pg(b"Q", sql.encode() + b"\x00")), ("s", pg_rows(cols, rows) + ready)]
    return [*t, ("c", _pg(b"X", b""))]


def _my(seq: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def _lenenc_str(b: bytes) -> bytes:
    if len(b) < 251:
        return bytes([len(b)]) + b
    return b"\xfc" + struct.pack("<H", len(b)) + b


def mysql_session(queries: Sequence[tuple[str, Sequence[str], Sequence[Sequence[str | None]]]], *,
                  user: str = "report_ro", schema: str = "emr", ssl: bool = False,
                  deprecate_eof: bool = False) -> list[tuple[str, bytes]]:
    caps = 0x0200 | 0x8000 | 0x8 | 0x80000 | (0x1000000 if deprecate_eof else 0)
    greet = (b"\x0a" + b"8.0.36\x00" + struct.pack("<I", 11) + b"abcdefgh" + b"\x00"
             + struct.pack("<H", (caps | 0x800) & 0xFFFF) + b"\x21" + struct.pack("<H", 2)
             + struct.pack("<H", ((caps | 0x800) >> 16) & 0xFFFF) + b"\x15" + bytes(10) + b"ijklmnopqrst\x00"
             + b"mysql_native_password\x00")
    t: list[tuple[str, bytes]] = [("s", _my(0, greet))]
    if ssl:
        return [
            *t,
            ("c", _my(1, struct.pack("<IIB", caps | 2048, 1 << 24, 33) + bytes(23))),
            ("c", tls_client_hello("mysql.hospital.example", alpn=())),
            ("s", tls_server_hello()),
            ("c", tls_app_data(100)),
            ("s", tls_app_data(300, 4)),
        ]
    resp = (struct.pack("<IIB", caps, 1 << 24, 0x21) + bytes(23) + user.encode() + b"\x00" + b"\x14" + bytes(20)
            + schema.encode() + b"\x00" + b"mysql_native_password\x00")
    t += [("c", _my(1, resp)), ("s", _my(2, b"\x00\x00\x00\x02\x00\x00\x00"))]
    for sql, cols, rows in queries:
        t.append(("c", _my(0, b"\x03" + sql.encode())))
        out = bytearray(_my(1, bytes([len(cols)])))
        seq = 2
        for c in cols:
            cdef = (_lenenc_str(b"def") + _lenenc_str(schema.encode()) + _lenenc_str(b"patients")
                    + _lenenc_str(b"patients") + _lenenc_str(c.encode()) + _lenenc_str(c.encode())
                    + b"\x0c" + struct.pack("<HIBHB", 0x21, 255, 0xFD, 0, 0) + b"\x00\x00")
            out += _my(seq, cdef)
            seq = (seq + 1) & 255
        if not deprecate_eof:
            out += _my(seq, b"\xfe\x00\x00\x02\x00")
            seq = (seq + 1) & 255
        for r in rows:
            out += _my(seq, b"".join(b"\xfb" if v is None else _lenenc_str(v.encode()) for v in r))
            seq = (seq + 1) & 255
        out += _my(seq, b"\xfe\x00\x00\x02\x00" if not deprecate_eof else b"\xfe\x00\x00\x02\x00\x00\x00")
        t.append(("s", bytes(out)))
    return [*t, ("c", _my(0, b"\x01"))]


def multipart_body(parts: Sequence[tuple[str, str, str, bytes]], boundary: str = "----healthdlpBoundary7MA4") -> bytes:
    """multipart/form-data body: parts are (field name, file name or "", content type, data)."""
    out = bytearray()
    for field_name, file_name, ctype, data in parts:
        out += f"--{boundary}\r\n".encode()
        disp = f'Content-Disposition: form-data; name="{field_name}"'
        if file_name:
            disp += f'; filename="{file_name}"'
        out += disp.encode() + b"\r\n"
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def fragment_packets(pkts: Sequence[Packet], size: int = 200, *, order: str = "forward") -> list[Packet]:
    """Every IPv4/IPv6 packet with a payload cut into IP fragments of ``size`` bytes (scapy's own fragmenter).

    ``order``: "forward", "reverse" (last fragment first) or "overlap" (a duplicate of the second
    fragment, with the same bytes, is sent again after the first).
    """
    from scapy.layers.inet import fragment
    from scapy.layers.inet6 import IPv6ExtHdrFragment, fragment6

    out: list[Packet] = []
    for p in pkts:
        if Raw not in p:
            out.append(p)
            continue
        link = p.copy()
        if IPv6 in p:
            l3 = p[IPv6].copy()
            l3.remove_payload()
            inner = l3 / IPv6ExtHdrFragment(id=0x1234) / p[IPv6].payload.copy()
            frags = fragment6(inner, 40 + 8 + size)
        else:
            frags = fragment(p[IP].copy(), fragsize=size)
        if link.haslayer(Ether):
            link[Ether].remove_payload()
            frags = [link.copy() / f for f in frags]
        if order == "reverse":
            frags = frags[::-1]
        elif order == "overlap" and len(frags) > 2:
            frags = [frags[0], frags[1], frags[1], *frags[2:]]
        for f in frags:
            f.time = p.time
        out += frags
    return out


def write_pcapng_multi(path: str | Path, streams: Sequence[tuple[int, Sequence[Packet]]]) -> Path:
    """A pcapng with one interface (IDB) per stream, each with its own link type, packets interleaved by time.

    Written by hand (scapy's writer puts one link type per file): SHB, one IDB per interface with
    if_tsresol = 9 (nanoseconds) on the second and later interfaces, then EPBs.
    """
    def block(btype: int, body: bytes) -> bytes:
        body = body + bytes((-len(body)) % 4)
        n = len(body) + 12
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    out = bytearray(block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
    for k, (linktype, _) in enumerate(streams):
        opts = b""
        if k:
            opts = struct.pack("<HHB", 9, 1, 9) + b"\x00\x00\x00" + struct.pack("<HH", 0, 0)
        out += block(1, struct.pack("<HHI", linktype, 0, 65535) + opts)
    events = sorted(((float(p.time), k, bytes(p)) for k, (_, ps) in enumerate(streams) for p in ps),
                    key=lambda x: (x[0], x[1]))
    for ts, k, frame in events:
        ticks = round(ts * (1e9 if k else 1e6))
        out += block(6, struct.pack("<IIIII", k, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame)) + frame)
    p = Path(path)
    p.write_bytes(bytes(out))
    return p
