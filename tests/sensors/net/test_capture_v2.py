"""Capture v2: IP fragments, pcapng with several interfaces/link types, the global memory budget,
IMAP/POP3 STARTTLS, and flow accounting."""

from __future__ import annotations

from collections import Counter

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from model.config import NetConfig
from sensors.net import craft, scan_pcap
from sensors.net.ipfrag import FragmentTable
from tests.sensors.net._util import assert_clean, by_channel, scan_packets, scan_turns

HL7 = [("c", craft.mllp(craft.hl7_adt_a01("F1"))), ("s", craft.mllp(craft.hl7_ack("F1"))),
       ("c", craft.mllp(craft.hl7_oru_r01("F2")))]


@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("order", ["forward", "reverse", "overlap"])
def test_fragmented_packets_are_reassembled(tmp_path, ipv6, order):
    addrs = {"client": "2001:db8::5", "server": "2001:db8::9"} if ipv6 else {}
    conv = craft.Conversation(dport=2575, mss=1400, **addrs)
    pkts = craft.conversation(HL7, conv)
    clean, _, _ = scan_packets(tmp_path, pkts)
    frags = craft.fragment_packets(pkts, 64, order=order)
    assert len(frags) > len(pkts)
    events, dls, stats = scan_packets(tmp_path, frags, name="frag.pcap")
    assert_clean(stats)
    assert dls == []
    assert [(e.event_id, e.content) for e in events] == [(e.event_id, e.content) for e in clean]
    assert stats["ipfrag.reassembled"] == 3
    if order == "overlap":
        assert stats["ipfrag.overlap"] >= 1 and stats.get("ipfrag.overlap-conflict", 0) == 0


def test_fragment_table_bounds_timeouts_and_conflicts():
    c: Counter[str] = Counter()
    t = FragmentTable(c, max_bytes=1000, max_datagrams=2, timeout=30.0)
    assert t.add(0.0, ("a",), 0, True, b"x" * 8) is None
    assert t.add(1.0, ("a",), 0, True, b"y" * 8) is None  # same range, other bytes: evasion signal
    assert c["ipfrag.overlap-conflict"] == 1
    assert t.add(1.0, ("a",), 8, False, b"z" * 8) == b"x" * 8 + b"z" * 8  # first bytes win
    t.add(2.0, ("b",), 0, True, b"b" * 8)
    t.add(40.0, ("c",), 0, True, b"c" * 8)  # "b" is older than 30 s: timed out
    assert c["ipfrag.timeout"] == 1
    t.add(41.0, ("d",), 0, True, b"d" * 8)
    t.add(42.0, ("e",), 0, True, b"e" * 8)  # three datagrams > 2: the oldest is evicted
    assert c["ipfrag.evicted"] == 1 and len(t) == 2
    t.add(43.0, ("f",), 65_530, False, b"f" * 16)  # past 65,535 bytes
    assert c["ipfrag.too-large"] == 1
    t.add(44.0, ("g",), 0, True, b"g" * 2000)  # over the byte bound: dropped, counted
    assert t.held <= 1000 and c["ipfrag.evicted"] >= 2


def test_pcapng_with_two_interfaces_and_link_types(tmp_path):
    eth = craft.conversation(HL7, craft.Conversation(dport=2575, sport=41000))
    raw = craft.conversation(HL7, craft.Conversation(dport=2575, sport=41001, link="raw", start_ts=1_700_000_000.0001))
    path = craft.write_pcapng_multi(tmp_path / "multi.pcapng", [(1, eth), (101, raw)])
    events, dls, stats = scan_pcap(path, NetConfig(), "s")
    assert_clean(stats)
    assert dls == []
    assert stats["flows"] == 2 and len(events) == 6
    ports = sorted({e.src.port for e in events if e.src is not None and e.attributes["direction"] == "c2s"})
    assert ports == [41000, 41001]
    # the second interface has nanosecond timestamps: both flows keep their microsecond times
    assert min(e.observed_at for e in events if e.src is not None and e.src.port == 41001) == pytest.approx(
        1_700_000_000.0001 + 3 * 0.0005, abs=1e-6)


def test_tshark_reads_our_multi_interface_pcapng(tmp_path):
    import shutil
    import subprocess

    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    eth = craft.conversation(HL7, craft.Conversation(dport=2575, sport=41000))
    sll = craft.conversation(HL7, craft.Conversation(dport=2575, sport=41001, link="sll2"))
    path = craft.write_pcapng_multi(tmp_path / "multi.pcapng", [(1, eth), (276, sll)])
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "frame.interface_id",
                          "-e", "tcp.srcport"], capture_output=True, text=True, check=True).stdout
    pairs = {tuple(line.split("\t")) for line in out.splitlines() if line}
    assert ("0", "41000") in pairs and ("1", "41001") in pairs


def test_global_memory_budget_releases_the_oldest_flows_buffers(tmp_path):
    body = b"Z" * 6000
    convs = []
    for i in range(6):  # six flows, each missing its first data segment: all their bytes wait
        req = craft.http_request("POST", f"/u{i}", body=body, content_type="text/plain")
        convs.append(craft.conversation([("c", req)], craft.Conversation(sport=42000 + i, mss=1000, close="none",
                                                                         start_ts=1_700_000_000 + i * 0.01),
                                        drop={0}))
    path = craft.write_conversations(tmp_path / "budget.pcap", convs)
    cfg = NetConfig(max_buffered_bytes=12_000)
    events, _, stats = scan_pcap(path, cfg, "s")
    assert_clean(stats)
    assert stats["memory.budget-exceeded"] >= 1 and stats["memory.flows-released"] >= 2
    assert stats["memory.bytes-released"] >= 10_000
    unbounded, _, ustats = scan_pcap(path, NetConfig(), "s")
    assert "memory.budget-exceeded" not in ustats
    assert len(events) == len(unbounded)  # nothing lost: released flows are parsed (with gaps), not dropped


@pytest.mark.parametrize(("proto", "turns", "port"), [
    ("imap", [("s", b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"), ("c", b"a1 STARTTLS\r\n"),
              ("s", b"a1 OK Begin TLS negotiation now\r\n")], 143),
    ("pop3", [("s", b"+OK POP3 ready\r\n"), ("c", b"STLS\r\n"), ("s", b"+OK Begin TLS\r\n")], 110),
])
def test_imap_and_pop3_starttls(tmp_path, proto, turns, port):
    turns = [*turns, ("c", craft.tls_client_hello(f"{proto}.hospital.example", alpn=())),
             ("s", craft.tls_server_hello())]
    events, _, stats = scan_turns(tmp_path, turns, craft.Conversation(dport=port))
    assert_clean(stats)
    (tls,) = by_channel(events, "tls")
    assert tls.attributes["starttls"] == proto and tls.tls is not None and tls.tls.sni == f"{proto}.hospital.example"


def test_cleartext_pop3_is_accounted_with_its_user(tmp_path):
    turns = [("s", b"+OK POP3 ready\r\n"), ("c", b"USER nurse.wu\r\n"), ("s", b"+OK\r\n"), ("c", b"PASS pw\r\n"),
             ("s", b"+OK\r\n"), ("c", b"RETR 1\r\n"), ("s", b"+OK\r\nSubject: lab\r\n\r\nresults\r\n.\r\n")]
    events, _, stats = scan_turns(tmp_path, turns, craft.Conversation(dport=110))
    assert_clean(stats)
    (acct,) = events
    assert acct.channel == "tcp" and not acct.encrypted
    assert acct.attributes["protocol"] == "pop3" and acct.attributes["mail_user"] == "nurse.wu"
    assert acct.attributes["uninspected_reason"] == "cleartext-not-parsed"


def test_flow_accounting_of_an_encrypted_flow(tmp_path):
    turns = [("c", craft.tls_client_hello("portal.example")), ("s", craft.tls_server_hello()),
             ("c", craft.tls_app_data(5000)), ("s", craft.tls_app_data(60_000, 1))]
    events, _, stats = scan_turns(tmp_path, turns, craft.Conversation(dport=443, mss=1400))
    assert_clean(stats)
    tls, acct = events
    assert acct.channel == "tcp" and acct.encrypted and acct.tls == tls.tls
    assert acct.dst is not None and acct.dst.name == "portal.example"
    a = acct.attributes
    assert a["uninspected_reason"] == "encrypted" and a["protocol"] == "tls" and a["close"] == "fin"
    assert a["bytes_s2c"] == len(turns[1][1]) + len(turns[3][1])
    assert a["bytes_c2s"] == len(turns[0][1]) + len(turns[2][1])
    assert a["packets_s2c"] > a["packets_c2s"] and a["duration"] > 0
    assert acct.event_id not in {tls.event_id}


def test_non_tcp_ip_fragments_reassemble_to_non_tcp():
    from sensors.net.decode import decode_reassembled

    assert decode_reassembled(b"\x01" * 4, b"\x02" * 4, 17, b"\x00" * 16) == "non-tcp"
    seg = bytes(TCP(sport=1, dport=2, flags="PA", seq=5) / Raw(b"hi"))
    out = decode_reassembled(b"\x01" * 4, b"\x02" * 4, 6, seg)
    assert not isinstance(out, str) and out[6] == b"hi"
    assert bytes(Ether() / IP()) != b""  # keep the scapy imports honest
