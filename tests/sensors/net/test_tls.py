"""TLS: handshake metadata only, never content."""

from __future__ import annotations

import pytest

from sensors.net import craft
from sensors.net.protocols import tls
from tests.sensors.net._util import assert_clean, by_channel, scan_turns

TLS_CONV = craft.Conversation(dport=443)


def test_client_hello_gives_one_encrypted_event_with_sni_and_no_content(tmp_path):
    secret = b"PATIENT 110101199001011234 HIV"
    turns = [
        ("c", craft.tls_client_hello("fhir.hospital.example")),
        ("s", craft.tls_server_hello()),
        ("c", craft.tls_app_data(2000) + secret),
        ("s", craft.tls_app_data(5000)),
    ]
    events, dls, stats = scan_turns(tmp_path, turns, TLS_CONV)
    assert_clean(stats)
    assert dls == []
    (ev,) = by_channel(events, "tls")
    assert ev.channel == "tls" and ev.encrypted is True and ev.content == b"" and ev.size == 0
    assert ev.tls is not None
    assert ev.tls.sni == "fhir.hospital.example" and ev.tls.version == "TLS 1.3"
    assert ev.tls.cipher == "TLS_AES_128_GCM_SHA256"
    assert ev.attributes["supported_versions"] == ["TLS 1.3", "TLS 1.2"]  # GREASE skipped
    assert ev.attributes["client_version"] == "TLS 1.2"
    assert secret.decode() not in repr(ev)
    assert (
        ev.src is not None
        and ev.src.port == 43210
        and ev.dst is not None
        and ev.dst.name == "fhir.hospital.example"
    )


def test_tls12_without_server_hello_uses_the_client_version(tmp_path):
    turns = [("c", craft.tls_client_hello("a.example", tls13=False, alpn=()))]
    events, _, _ = scan_turns(tmp_path, turns, TLS_CONV)
    (ev,) = by_channel(events, "tls")
    assert (
        ev.tls is not None
        and ev.tls.version == "TLS 1.2"
        and ev.tls.sni == "a.example"
        and ev.tls.cipher == ""
    )


def test_client_hello_spanning_segments_out_of_order(tmp_path):
    hello = craft.tls_client_hello("big.example", padding=2500)  # like a post-quantum key share
    turns = [("c", hello), ("s", craft.tls_server_hello(tls13=False, cipher=0xC02F))]
    events, _, stats = scan_turns(
        tmp_path, turns, craft.Conversation(dport=443, mss=700), order=[1, 0, 3, 2, 4]
    )
    assert_clean(stats)
    (ev,) = by_channel(events, "tls")
    assert ev.tls is not None and ev.tls.sni == "big.example"
    assert ev.tls.cipher == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" and ev.tls.version == "TLS 1.2"


def test_tls_on_a_non_tls_port_is_found_by_content(tmp_path):
    events, _, _ = scan_turns(
        tmp_path, [("c", craft.tls_client_hello("x.example"))], craft.Conversation(dport=8080)
    )
    assert [e.channel for e in events] == ["tls", "tcp"]


def test_garbage_after_record_header_counts_a_problem_but_still_marks_encrypted(tmp_path):
    bad = b"\x16\x03\x01\x00\x30\x01\x00\x00\x2c" + b"\xff" * 44
    events, _, stats = scan_turns(tmp_path, [("c", bad), ("s", craft.tls_app_data(100))], TLS_CONV)
    (ev,) = by_channel(events, "tls")
    assert ev.encrypted and ev.attributes["handshake_problem"] == "malformed-hello"
    assert stats["tls.malformed-hello"] == 1


@pytest.mark.parametrize(
    "prefix, verdict",
    [
        (b"\x16\x03\x01\x02\x00\x01", 2),
        (b"\x16\x03\x03\x00\x50\x02", 3),
        (b"\x16\x03", 1),
        (b"\x17\x03\x03\x00", 1),  # maybe application data of a capture that began mid-stream
        (b"\x17\x03\x03\x00\x02ab\x17\x03\x03\x00\x01c", 4),  # two well-formed records: TLS, side unknown
        (b"\x17\x03\x09\x00\x02ab", 0),  # no such version
        (b"\x17\x03\x03\xff\xffab", 0),  # longer than a TLS record can be
        (b"GET /", 0),
    ],
)
def test_sniff(prefix, verdict):
    assert tls.sniff(prefix) == verdict


def test_midstream_tls_application_data_is_encrypted_without_a_handshake(tmp_path):
    turns = [("c", craft.tls_app_data(300)), ("s", craft.tls_app_data(4000, 1)), ("c", craft.tls_app_data(50, 2))]
    events, _, stats = scan_turns(tmp_path, turns, craft.Conversation(dport=443, handshake=False))
    assert_clean(stats)
    (tls,) = by_channel(events, "tls")
    assert tls.encrypted and tls.attributes["handshake_problem"] == "no-handshake-seen"
    assert tls.src is not None and tls.src.port == 43210  # the port guess stands: content cannot tell
    (acct,) = by_channel(events, "tcp")
    assert acct.encrypted and acct.attributes["midstream"] is True
