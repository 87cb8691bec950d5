"""pcap / pcapng reading, link types, and damaged files."""

from __future__ import annotations

import io
import struct

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from model.config import NetConfig
from sensors.net import craft, scan_pcap
from sensors.net.capture import CaptureFile
from tests.sensors.net._util import assert_clean, by_channel, scan_packets

HL7_TURNS = [("c", craft.mllp(craft.hl7_adt_a01("C1"))), ("s", craft.mllp(craft.hl7_ack("C1")))]


@pytest.mark.parametrize("link", ["ether", "vlan", "qinq", "sll", "sll2", "raw", "null"])
@pytest.mark.parametrize("ipv6", [False, True])
def test_every_link_type_and_ip_version_yields_the_hl7_messages(tmp_path, link, ipv6):
    conv = craft.Conversation(
        link=link,
        dport=2575,
        client="fd00::5" if ipv6 else "10.0.0.5",
        server="fd00::9" if ipv6 else "10.0.0.9",
    )
    pkts = craft.conversation(HL7_TURNS, conv)
    events, dls, stats = scan_packets(tmp_path, pkts, linktype=craft.LINKTYPES[link])
    assert_clean(stats)
    assert dls == []
    hl7 = by_channel(events, "hl7-mllp")
    assert [e.attributes["message_type"] for e in hl7] == ["ADT^A01", "ACK"]
    assert hl7[0].src is not None and hl7[0].src.host == conv.client
    assert hl7[0].dst is not None and hl7[0].dst.port == 2575


def test_pcapng_and_nanosecond_pcap_give_the_same_events_and_timestamps(tmp_path):
    pkts = craft.conversation(HL7_TURNS, craft.Conversation(dport=2575, start_ts=1_700_000_123.25))
    ng = craft.write_pcapng(tmp_path / "a.pcapng", pkts)
    nano = craft.write_pcap(tmp_path / "n.pcap", pkts, nano=True)
    usec = craft.write_pcap(tmp_path / "u.pcap", pkts)
    results = [scan_pcap(p, NetConfig(), "s") for p in (ng, nano, usec)]
    ids = [[e.event_id for e in r[0]] for r in results]
    assert ids[0] == ids[1] == ids[2] and len(ids[0]) == 2
    for events, dls, _ in results:
        assert dls == []
        # the ADT is in the 4th packet (after the 3-way handshake)
        assert events[0].observed_at == pytest.approx(1_700_000_123.25 + 3 * 0.0005, abs=1e-6)


def _http_pcap(tmp_path, n=3):
    convs = [
        craft.conversation(
            [("c", craft.http_post_patient(i)), ("s", craft.http_response(b"{}"))],
            craft.Conversation(sport=40000 + i, start_ts=1_700_000_000 + i),
        )
        for i in range(n)
    ]
    return craft.write_conversations(tmp_path / "h.pcap", convs)


def test_truncated_pcap_keeps_earlier_packets_and_dead_letters_the_cut(tmp_path):
    full = _http_pcap(tmp_path)
    data = full.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 30])  # inside the last record
    events, dls, stats = scan_pcap(cut, NetConfig(), "s")
    full_events, _, _ = scan_pcap(full, NetConfig(), "s")
    assert_clean(stats)
    assert [d.reason for d in dls] == ["pcap-truncated"]
    assert "ends inside packet" in dls[0].detail and str(cut) == dls[0].source
    assert stats["pcap.files"] == 1 and stats["pcap.pcap-truncated"] == 1
    # the cut only removed the last FIN/ACK: every message before it is there
    assert [e.event_id for e in events] == [e.event_id for e in full_events]


def test_truncated_inside_record_header_and_file_header(tmp_path):
    data = _http_pcap(tmp_path, 1).read_bytes()
    # find the record boundary after the first packet: 24 + 16 + caplen
    caplen = struct.unpack_from("<I", data, 24 + 8)[0]
    boundary = 24 + 16 + caplen
    p = tmp_path / "hdr.pcap"
    p.write_bytes(data[: boundary + 7])
    _, dls, stats = scan_pcap(p, NetConfig(), "s")
    assert [d.reason for d in dls] == ["pcap-truncated"] and "record header" in dls[0].detail
    assert stats["packets"] == 1
    p.write_bytes(data[:10])
    _, dls, stats = scan_pcap(p, NetConfig(), "s")
    assert [d.reason for d in dls] == ["pcap-truncated"] and stats["packets"] == 0


def test_truncated_pcapng_keeps_earlier_packets(tmp_path):
    pkts = craft.conversation(HL7_TURNS, craft.Conversation(dport=2575))
    ng = craft.write_pcapng(tmp_path / "a.pcapng", pkts)
    data = ng.read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(data[:-50])
    events, dls, stats = scan_pcap(cut, NetConfig(), "s")
    assert [d.reason for d in dls] == ["pcap-truncated"]
    assert [e.attributes["message_type"] for e in events] == ["ADT^A01", "ACK"]
    assert stats["packets"] == len(pkts) - 1


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "pcap-invalid"), (b"this is not a capture file at all", "pcap-invalid")],
)
def test_not_a_capture_is_a_dead_letter_not_an_exception(tmp_path, content, reason):
    p = tmp_path / "x.pcap"
    p.write_bytes(content)
    events, dls, stats = scan_pcap(p, NetConfig(), "s")
    assert events == [] and [d.reason for d in dls] == [reason]
    assert stats["pcap.files"] == 1


def test_missing_file_is_a_dead_letter(tmp_path):
    events, dls, _ = scan_pcap(tmp_path / "nope.pcap", NetConfig(), "s")
    assert events == [] and [d.reason for d in dls] == ["pcap-unreadable"]


def test_corrupt_record_length_stops_the_file_with_a_dead_letter(tmp_path):
    data = bytearray(_http_pcap(tmp_path, 1).read_bytes())
    caplen = struct.unpack_from("<I", data, 24 + 8)[0]
    second = 24 + 16 + caplen
    struct.pack_into("<I", data, second + 8, 10_000_000)
    p = tmp_path / "corrupt.pcap"
    p.write_bytes(bytes(data))
    _, dls, stats = scan_pcap(p, NetConfig(), "s")
    assert [d.reason for d in dls] == ["pcap-corrupt"]
    assert stats["packets"] == 1


def test_big_endian_pcap_header_is_read():
    frame = bytes(Ether() / IP(src="1.2.3.4", dst="5.6.7.8") / TCP())
    hdr = struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    rec = struct.pack(">IIII", 100, 500_000, len(frame), len(frame)) + frame
    cap = CaptureFile(io.BytesIO(hdr + rec), "be")
    out = list(cap)
    assert cap.problem is None and cap.format == "pcap"
    assert out == [(100.5, 1, frame, len(frame))]


def test_non_tcp_and_lone_fragments_are_counted_not_parsed(tmp_path):
    frags = (
        IP(src="10.0.0.1", dst="10.0.0.2", flags="MF", frag=0, id=7) / TCP(sport=1, dport=2) / Raw(b"x" * 40)
    )
    frag6 = (
        IPv6(src="fd00::1", dst="fd00::2")
        / IPv6ExtHdrHopByHop()
        / TCP(sport=3, dport=80)
        / Raw(b"GET / HTTP/1.1\r\n\r\n")
    )
    pkts = [
        Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=53, dport=53) / Raw(b"dns"),
        Ether() / frags,
        Ether(type=0x0806) / Raw(b"\x00" * 28),
        Ether() / frag6,
    ]
    events, dls, stats = scan_packets(tmp_path, pkts)
    assert stats["decode.non-tcp"] == 1
    # a first fragment whose rest never comes waits in the fragment table and is counted at the end
    assert stats["ipfrag.fragments"] == 1 and stats["ipfrag.incomplete-at-end"] == 1
    assert stats["decode.non-ip"] == 1
    # the IPv6 hop-by-hop header is walked: the request behind it is found
    assert [e.attributes["method"] for e in events] == ["GET"]
    assert dls == []


def test_malformed_frame_is_dead_lettered_and_counted(tmp_path):
    good = craft.conversation(HL7_TURNS, craft.Conversation(dport=2575))
    bad = (1_700_000_000.0, bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2"))[:20])  # IP header cut short
    events, dls, stats = scan_packets(tmp_path, [bad, *good])
    assert_clean(stats)
    assert [d.reason for d in dls] == ["packet-malformed"]
    assert stats["decode.truncated-header"] == 1
    assert len(by_channel(events, "hl7-mllp")) == 2


def test_snaplen_cut_payload_becomes_a_gap(tmp_path):
    body = b'{"resourceType":"Patient","id":"x"}' * 40
    turns = [
        ("c", craft.http_request("POST", "/fhir/Patient", body=body, content_type="application/fhir+json"))
    ]
    pkts = craft.conversation(turns, craft.Conversation(mss=600))
    frames = [(float(p.time), bytes(p)[:400]) for p in pkts]  # snaplen 400
    events, _, stats = scan_packets(tmp_path, frames)
    assert_clean(stats)
    assert stats["tcp.snaplen-gap"] >= 1
    assert len(events) == 1 and events[0].attributes.get("incomplete") is True


class _Pipe(io.RawIOBase):
    """A stream that cannot seek back (a pipe, stdin): the reader must glue buffers instead."""

    def __init__(self, data: bytes) -> None:
        self._src = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        return self._src.read(n)


def _many_records(n: int, size: int) -> tuple[bytes, list[tuple[float, int, bytes, int]]]:
    hdr = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    out, want = [hdr], []
    for i in range(n):
        frame = bytes([i & 255]) * (size + i % 7)
        out.append(struct.pack("<IIII", 1_000 + i, 250_000, len(frame), len(frame) + 3) + frame)
        want.append((1_000 + i + 0.25, 1, frame, len(frame) + 3))
    return b"".join(out), want


@pytest.mark.parametrize("stream", ["seekable", "pipe"])
def test_batches_hand_out_every_record_in_order_across_buffer_refills(stream):
    from sensors.net.capture import _CHUNK, BATCH

    data, want = _many_records(3_100, 1_500)  # ~4.7 MB: records straddle the 4 MB read buffer
    assert len(data) > _CHUNK
    cut = len(data) - 700  # and the file ends inside the last record
    fh = io.BytesIO(data[:cut]) if stream == "seekable" else _Pipe(data[:cut])
    cap = CaptureFile(fh, "many")  # type: ignore[arg-type]
    batches = list(cap.batches())
    assert all(0 < len(b) <= BATCH for b in batches)
    got = [r for b in batches for r in b]
    assert got == want[:-1]
    assert cap.records == len(want) - 1
    assert cap.problem is not None and cap.problem.reason == "pcap-truncated"
    assert f"inside packet {len(want)} " in cap.problem.detail
    assert list(CaptureFile(io.BytesIO(data), "many")) == want  # iteration = the batches, flattened
