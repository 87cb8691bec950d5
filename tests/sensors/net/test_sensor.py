"""The sensor end to end: damage in flight, flow limits, ids, live capture, tshark as a second opinion."""

from __future__ import annotations

import base64
import http.server
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.config import NetConfig
from model.taxonomy import CHANNELS
from sensors.net import NetSensor, craft, scan_pcap
from sensors.sink import ListSink
from tests.sensors.net._util import assert_clean, by_channel, scan_packets, scan_turns

HTTP_TURNS = [
    ("c", craft.http_post_patient(11)),
    ("s", craft.http_response(b'{"resourceType":"OperationOutcome"}', status=201)),
    ("c", craft.http_request("GET", "/fhir/Patient?identifier=110101")),
    ("s", craft.http_chunked_gzip_response(20)),
]


def _mixed(tmp_path: Path) -> Path:
    convs = [
        craft.conversation(HTTP_TURNS, craft.Conversation(sport=41000, mss=512)),
        craft.conversation(
            [("c", craft.mllp(craft.hl7_adt_a01("A1"))), ("s", craft.mllp(craft.hl7_ack("A1")))],
            craft.Conversation(sport=41001, dport=2575, start_ts=1_700_000_000.0002),
        ),
        craft.conversation(
            [("c", craft.tls_client_hello("portal.example")), ("s", craft.tls_server_hello())],
            craft.Conversation(sport=41002, dport=443, start_ts=1_700_000_000.0003),
        ),
    ]
    return craft.write_conversations(tmp_path / "mixed.pcap", convs)


def test_mixed_capture_channels_ids_and_times(tmp_path):
    path = _mixed(tmp_path)
    events, dls, stats = scan_pcap(path, NetConfig(), "sensor-1")
    assert_clean(stats)
    assert dls == []
    # the TLS flow also gets its flow-accounting event (channel tcp) when it closes
    assert sorted(e.channel for e in events) == ["fhir"] * 4 + ["hl7-mllp"] * 2 + ["tcp", "tls"]
    assert all(e.channel in CHANNELS and e.source_kind == "net" and e.sensor_id == "sensor-1" for e in events)
    assert len({e.event_id for e in events}) == len(events)
    again, _, _ = scan_pcap(path, NetConfig(), "sensor-1")
    assert [e.event_id for e in again] == [e.event_id for e in events]  # a replay gives the same ids
    assert all(1_700_000_000 <= e.observed_at < 1_700_000_001 for e in events)
    assert stats["events"] == 8 and stats["events.fhir"] == 4 and stats["flows"] == 3
    assert stats["packets"] > 0 and stats["bytes"] > 0
    assert [e.channel for e in events if e.encrypted] == ["tls", "tcp"]


@pytest.mark.parametrize(
    "mutation",
    [
        {"shuffle_seed": 1},
        {"shuffle_seed": 7},
        {"retransmit": {0, 2, 3, 5}},
        {"overlap": {1: (100, False), 3: (50, False)}},
        {"order": [1, 0, 2, 3, 5, 4, 7, 6, 9, 8, 11, 10]},
    ],
    ids=["shuffle1", "shuffle7", "retransmit", "overlap", "swap-pairs"],
)
def test_reordered_retransmitted_overlapping_segments_give_the_same_events(tmp_path, mutation):
    conv = craft.Conversation(mss=300)
    clean, _, _ = scan_turns(tmp_path, HTTP_TURNS, conv)
    damaged, dls, stats = scan_turns(tmp_path, HTTP_TURNS, conv, **mutation)
    assert_clean(stats)
    assert dls == []

    def key(events):
        return sorted((e.event_id, e.content, sorted(e.attributes.items())) for e in events)

    assert len(clean) == 4 and key(damaged) == key(clean)


def test_conflicting_overlap_keeps_the_first_bytes_and_is_counted(tmp_path):
    conv = craft.Conversation(mss=200)
    clean, _, _ = scan_turns(tmp_path, HTTP_TURNS[:1], conv)
    evil, _, stats = scan_turns(tmp_path, HTTP_TURNS[:1], conv, overlap={1: (40, True)})
    assert stats["tcp.overlap-conflict"] == 1
    assert evil[0].content == clean[0].content


def test_ipv6_vlan_http(tmp_path):
    conv = craft.Conversation(client="2001:db8::10", server="2001:db8::80", link="vlan", mss=400)
    events, _, stats = scan_turns(tmp_path, HTTP_TURNS, conv)
    assert_clean(stats)
    assert len(events) == 4
    assert events[0].src is not None and events[0].src.host == "2001:db8::10"
    assert str(events[0].dst) == "[2001:db8::80]:80"


def test_midstream_capture_starts_at_the_next_message(tmp_path):
    resp = craft.http_response(b"x" * 3000, content_type="text/plain")
    turns = [
        ("s", resp[1500:]),
        ("c", craft.http_request("GET", "/fhir/Patient/5")),
        ("s", craft.http_response(b'{"id":"5"}')),
    ]
    conv = craft.Conversation(handshake=False, mss=500)
    events, _, stats = scan_turns(tmp_path, turns, conv)
    assert_clean(stats)
    assert stats["tcp.midstream"] == 1
    assert [e.attributes["direction"] for e in events] == ["c2s", "s2c"]
    assert events[1].content == b'{"id":"5"}' and events[1].attributes["request_path"] == "/fhir/Patient/5"


def test_unknown_protocols_and_empty_flows_are_counted_by_reason(tmp_path):
    ssh = craft.conversation(
        [("s", b"SSH-2.0-OpenSSH_9.2\r\n"), ("c", b"SSH-2.0-PuTTY\r\n" + bytes(200))],
        craft.Conversation(dport=22),
    )
    syn_only = craft.conversation(
        [], craft.Conversation(sport=5000, dport=8080, close="rst", start_ts=1_700_000_001.0)
    )
    events, dls, stats = scan_packets(tmp_path, ssh + syn_only)
    assert dls == []
    # the SSH flow is accounted for (one tcp event, no content); the empty one is only counted
    (acct,) = events
    assert acct.channel == "tcp" and acct.content == b"" and not acct.encrypted
    assert acct.attributes["uninspected_reason"] == "unknown-protocol"
    assert acct.attributes["bytes_c2s"] == 215 and acct.attributes["bytes_s2c"] == 21
    assert acct.attributes["packets_c2s"] == 4 and acct.attributes["packets_s2c"] == 3
    assert acct.src is not None and acct.src.port == 43210 and acct.dst is not None and acct.dst.port == 22
    assert stats["uninspected.unknown-protocol"] == 1
    assert stats["uninspected.no-payload"] == 1


def test_many_flows_over_the_bound_are_evicted_and_counted(tmp_path):
    convs = [
        craft.conversation(
            HTTP_TURNS[:2],
            craft.Conversation(sport=30000 + i, start_ts=1_700_000_000 + i * 0.0001, step=0.01, mss=400),
        )
        for i in range(40)
    ]
    path = craft.write_conversations(tmp_path / "many.pcap", convs)
    events, _, stats = scan_pcap(path, NetConfig(max_flows=8), "s")
    assert_clean(stats)
    assert stats["flows.evicted"] > 0
    assert stats["flows.closed-evicted"] == stats["flows.evicted"]
    # every flow ends exactly one way, and each way is counted
    assert stats["flows"] == sum(v for k, v in stats.items() if k.startswith("flows.closed-"))
    # nothing is silently lost: every complete request made it out before its flow was evicted
    assert len([e for e in events if e.channel != "tcp" and e.attributes["direction"] == "c2s"]) == 40


def test_flow_buffer_bound_forces_a_gap_and_parsing_continues(tmp_path):
    body = b"Z" * 20_000
    req1 = craft.http_request("POST", "/upload", body=body, content_type="text/plain")
    req2 = craft.http_request("GET", "/fhir/Patient/77")
    conv = craft.Conversation(mss=1000, close="none")
    events, _, stats = scan_turns(
        tmp_path, [("c", req1 + req2)], conv, drop={1}, cfg=NetConfig(max_flow_buffer=4000)
    )
    assert_clean(stats)
    assert stats["tcp.buffer-limit"] == 1 and stats["tcp.gap"] == 1 and stats["tcp.gap-bytes"] == 1000
    # the forced gap fell inside a body of known length: the parser stayed in sync
    assert [e.attributes["path"] for e in events] == ["/upload", "/fhir/Patient/77"]
    assert events[0].attributes["incomplete"] is True and events[0].size == 20_000


def test_lost_first_segment_detection_recovers_at_the_next_message(tmp_path):
    req1 = craft.http_request("POST", "/upload", body=b"Z" * 5000, content_type="text/plain")
    req2 = craft.http_request("GET", "/fhir/Patient/78")
    events, _, stats = scan_turns(
        tmp_path, [("c", req1), ("c", req2)], craft.Conversation(mss=1000), drop={0}
    )
    assert_clean(stats)
    assert [e.attributes["path"] for e in events] == ["/fhir/Patient/78"]


def test_idle_flows_time_out_in_capture_time(tmp_path):
    a = craft.conversation(
        [("c", craft.http_request("GET", "/fhir/Patient/1"))], craft.Conversation(sport=1111, close="none")
    )
    b = craft.conversation(
        [("c", craft.http_request("GET", "/fhir/Patient/2"))],
        craft.Conversation(sport=2222, close="none", start_ts=1_700_000_500.0),
    )
    events, _, stats = scan_packets(tmp_path, a + b, cfg=NetConfig(idle_timeout=60.0))
    assert stats["flows.idle-timeout"] == 1 and stats["flows.closed-end"] == 1
    assert len(events) == 2


# -- tshark as a second opinion -------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_agrees_on_requests_and_sni(tmp_path):
    path = _mixed(tmp_path)
    out = subprocess.run(
        [
            "tshark",
            "-n",
            "-r",
            str(path),
            "-Y",
            "http.request or tls.handshake.type == 1",
            "-T",
            "fields",
            "-e",
            "http.request.method",
            "-e",
            "http.request.uri",
            "-e",
            "tls.handshake.extensions_server_name",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    rows = [line.split("\t") for line in out.splitlines() if line.strip()]
    theirs_http = sorted((r[0], r[1]) for r in rows if r[0])
    theirs_sni = sorted(r[2] for r in rows if r[2])
    events, _, _ = scan_pcap(path, NetConfig(), "s")
    ours_http = sorted(
        (e.attributes["method"], e.attributes["path"])
        for e in events
        if e.channel in ("http", "fhir") and e.attributes["direction"] == "c2s"
    )
    ours_sni = sorted(e.tls.sni for e in events if e.tls is not None and e.channel == "tls")
    assert ours_http == theirs_http and len(ours_http) == 2
    assert ours_sni == theirs_sni == ["portal.example"]


# -- live capture ---------------------------------------------------------------------------------
def _can_capture() -> bool:
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    except (PermissionError, AttributeError, OSError):
        return False
    s.close()
    return True


@pytest.mark.skipif(not _can_capture(), reason="no CAP_NET_RAW for a live capture on lo")
def test_live_capture_on_loopback_sees_a_real_http_exchange():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"resourceType":"Patient","id":"live"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sink = ListSink()
    sensor = NetSensor(NetConfig(idle_timeout=1.0), "live", sink)
    stop = threading.Event()
    t = threading.Thread(target=sensor.run_live, args=("lo", f"tcp port {port}", stop), daemon=True)
    t.start()
    try:
        time.sleep(1.0)  # let the socket open
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/fhir/Patient",
            data=b'{"resourceType":"Patient"}',
            headers={
                "Content-Type": "application/fhir+json",
                "Authorization": "Basic " + base64.b64encode(b"nurse.wu:pw").decode(),
            },
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200
        deadline = time.time() + 10
        while time.time() < deadline and len(sink.events) < 2:
            time.sleep(0.2)
    finally:
        stop.set()
        t.join(timeout=10)
        server.shutdown()
    assert not t.is_alive()
    fhir = by_channel(sink.events, "fhir")
    assert [e.attributes["direction"] for e in fhir][:2] == ["c2s", "s2c"]
    assert fhir[0].actor == "nurse.wu" and fhir[1].content == b'{"resourceType":"Patient","id":"live"}'
    assert sensor.stats.get("internal-error", 0) == 0
    # the kernel's PACKET_STATISTICS are read at the end of the capture: it saw our packets, lost none
    assert sensor.stats["live.kernel-packets"] >= 4 and sensor.stats.get("live.kernel-drops", 0) == 0


# -- fuzz -----------------------------------------------------------------------------------------
_BASE = craft.conversation([*HTTP_TURNS, ("c", craft.mllp(craft.hl7_adt_a01()))], craft.Conversation(mss=200))
_BASE_FRAMES = [bytes(p) for p in _BASE]


def _pcap_bytes(frames: list[bytes], linktype: int) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)]
    for i, f in enumerate(frames):
        out.append(struct.pack("<IIII", 1_700_000_000 + i, 0, len(f), len(f)) + f)
    return b"".join(out)


def _scan_bytes(data: bytes) -> dict[str, int]:
    fd, name = tempfile.mkstemp(suffix=".pcap")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        _, _, stats = scan_pcap(
            name, NetConfig(max_flow_buffer=2048, max_message_bytes=1024, max_flows=4), "fz"
        )
    finally:
        os.unlink(name)
    return stats


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    order=st.permutations(range(len(_BASE_FRAMES))),
    cuts=st.lists(st.tuples(st.integers(0, len(_BASE_FRAMES) - 1), st.integers(0, 1600)), max_size=6),
    flips=st.lists(
        st.tuples(st.integers(0, len(_BASE_FRAMES) - 1), st.integers(0, 1600), st.integers(0, 255)),
        max_size=8,
    ),
    junk=st.lists(st.binary(max_size=120), max_size=6),
    linktype=st.sampled_from([1, 1, 0, 101, 113, 276, 108, 228, 229, 147]),
)
def test_fuzz_random_order_damage_and_junk_never_raises(order, cuts, flips, junk, linktype):
    frames = [bytearray(_BASE_FRAMES[i]) for i in order]
    for i, n in cuts:
        del frames[i][n:]
    for i, pos, val in flips:
        if pos < len(frames[i]):
            frames[i][pos] = val
    all_frames = [bytes(f) for f in frames] + list(junk)
    if linktype != 1:  # the same bytes under another link type: everything misparses, nothing raises
        all_frames = list(junk) + all_frames[: len(frames)]
    stats = _scan_bytes(_pcap_bytes(all_frames, linktype))
    assert_clean(stats)
    assert stats["packets"] == len(all_frames)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=600), cut=st.integers(0, 4000))
def test_fuzz_corrupted_capture_files_never_raise(data, cut):
    base = _pcap_bytes(_BASE_FRAMES, 1)
    stats = _scan_bytes(base[:cut] + data)
    assert_clean(stats)
    assert stats["pcap.files"] == 1


def test_event_ids_are_exactly_make_event_id_of_flow_key_start_direction_ordinal(tmp_path):
    from model.events import make_event_id

    conv = craft.Conversation()
    events, _, _ = scan_turns(tmp_path, HTTP_TURNS, conv)
    key = ("tcp", conv.client, conv.sport, conv.server, conv.dport)
    expected = [make_event_id(key, conv.start_ts, d, n) for d, n in (("c2s", 1), ("s2c", 1), ("c2s", 2), ("s2c", 2))]
    assert [e.event_id for e in events] == expected
