"""HTTP/1.x and FHIR over reassembled TCP, end to end through a pcap."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest

from model.config import NetConfig
from sensors.net import craft
from sensors.net.protocols import http
from tests.sensors.net._util import assert_clean, by_channel, scan_turns


def test_post_patient_and_response_become_two_fhir_events(tmp_path):
    req = craft.http_post_patient(7, user="dr.zhang")
    turns = [("c", req), ("s", craft.http_response(b'{"id":"pat-7"}', status=201))]
    events, dls, stats = scan_turns(tmp_path, turns, craft.Conversation(mss=300))
    assert_clean(stats)
    assert dls == []
    rq, rs = events
    assert (rq.channel, rs.channel) == ("fhir", "fhir")
    assert rq.actor == "dr.zhang" and rs.actor == "dr.zhang"
    assert json.loads(rq.content)["identifier"][0]["value"] == craft.cn_resident_id(7)
    assert rq.attributes["method"] == "POST" and rq.attributes["path"] == "/fhir/Patient"
    assert rq.attributes["host"] == "ehr.example.org"
    assert rq.content_type == "application/fhir+json"
    assert rq.src is not None and rq.src.host == "10.20.0.5" and rq.dst is not None and rq.dst.port == 80
    assert rs.src is not None and rs.src.port == 80
    assert rs.attributes["status"] == 201
    assert rs.attributes["request_method"] == "POST" and rs.attributes["request_path"] == "/fhir/Patient"
    assert rq.source_kind == "net" and not rq.encrypted and rq.tls is None
    assert rq.size == len(rq.content) and not rq.truncated
    assert "s3cret" not in json.dumps(dict(rq.attributes))  # the password is never kept


def test_plain_http_is_channel_http(tmp_path):
    turns = [
        ("c", craft.http_request("POST", "/api/upload", body=b"name=x", content_type="text/plain")),
        ("s", craft.http_response(b"ok", content_type="text/plain")),
    ]
    events, _, _ = scan_turns(tmp_path, turns)
    assert [e.channel for e in events] == ["http", "http"]
    assert events[0].actor == ""


@pytest.mark.parametrize(
    "path, ctype, expect",
    [
        ("/Patient/123", "", True),
        ("/baseR4/Observation?patient=1", "", True),
        ("/fhir/metadata", "", True),
        ("/api/v1/users", "application/json", False),
        ("/patient/list", "text/html", False),
        ("/x", "application/fhir+xml; charset=utf-8", True),
        ("http://proxy.example/fhir/Encounter", "", True),
    ],
)
def test_fhir_detection(path, ctype, expect):
    assert http.is_fhir(path, ctype) is expect


def test_chunked_gzip_response_is_decoded(tmp_path):
    turns = [
        ("c", craft.http_request("GET", "/fhir/Patient?name=wang")),
        ("s", craft.http_chunked_gzip_response(3)),
    ]
    events, dls, stats = scan_turns(tmp_path, turns, craft.Conversation(mss=97))
    assert_clean(stats)
    assert dls == []
    rs = events[1]
    bundle = json.loads(rs.content)
    assert bundle["resourceType"] == "Bundle" and len(bundle["entry"]) == 5
    assert rs.attributes["content_encoding"] == "gzip" and rs.attributes["transfer_encoding"] == "chunked"
    assert rs.size == len(rs.content) and rs.attributes["wire_body_bytes"] < rs.size
    assert rs.channel == "fhir"


@pytest.mark.parametrize("raw_deflate", [False, True])
def test_deflate_zlib_and_raw(tmp_path, raw_deflate):
    body = b'{"a": "' + b"x" * 3000 + b'"}'
    comp = zlib.compress(body)
    if raw_deflate:
        co = zlib.compressobj(wbits=-15)
        comp = co.compress(body) + co.flush()
    resp = (b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n" % len(comp)) + comp
    events, dls, _ = scan_turns(tmp_path, [("c", craft.http_request("GET", "/x")), ("s", resp)])
    assert dls == [] and events[1].content == body


def test_decompression_bomb_is_bounded_and_counted(tmp_path):
    bomb = gzip.compress(b"\0" * (5 << 20))  # ~5 KB expanding to 5 MB
    resp = (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb)) + bomb
    cfg = NetConfig(max_message_bytes=64 << 10)
    events, _, stats = scan_turns(tmp_path, [("c", craft.http_request("GET", "/x")), ("s", resp)], cfg=cfg)
    rs = events[1]
    assert len(rs.content) == 64 << 10 and rs.truncated and rs.size > len(rs.content)
    assert rs.attributes["decompression_limited"] is True
    assert stats["http.decompression-limit"] == 1


def test_broken_gzip_is_dead_lettered_but_the_event_remains(tmp_path):
    junk = b"\x1f\x8b\x08\x00garbage-that-is-not-deflate" * 3
    resp = (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(junk)) + junk
    events, dls, stats = scan_turns(tmp_path, [("c", craft.http_request("GET", "/x")), ("s", resp)])
    assert [d.reason for d in dls] == ["http-decompress-failed"]
    assert events[1].attributes["decode_error"] is True
    assert stats["http.decompress-failed"] == 1


def test_pipelined_requests_in_one_segment_pair_with_their_responses(tmp_path):
    reqs = b"".join(craft.http_request("GET", f"/fhir/Observation/{i}") for i in range(3))
    reqs += craft.http_post_patient(1)
    resps = b"".join(craft.http_response(f'{{"n":{i}}}'.encode()) for i in range(4))
    events, _dls, stats = scan_turns(tmp_path, [("c", reqs), ("s", resps)], craft.Conversation(mss=1460))
    assert_clean(stats)
    rq = [e for e in events if e.attributes["direction"] == "c2s"]
    rs = [e for e in events if e.attributes["direction"] == "s2c"]
    assert [e.attributes["path"] for e in rq] == [f"/fhir/Observation/{i}" for i in range(3)] + [
        "/fhir/Patient"
    ]
    assert [e.attributes["request_path"] for e in rs] == [e.attributes["path"] for e in rq]
    assert [json.loads(e.content)["n"] for e in rs] == [0, 1, 2, 3]
    assert len({e.event_id for e in events}) == 8


def test_message_bigger_than_the_bound_is_truncated_with_its_real_size(tmp_path):
    body = b"A" * 50_000
    turns = [
        ("c", craft.http_request("PUT", "/fhir/Binary/1", body=body, content_type="application/octet-stream"))
    ]
    events, _, _ = scan_turns(tmp_path, turns, cfg=NetConfig(max_message_bytes=10_000))
    ev = events[0]
    assert len(ev.content) == 10_000 and ev.truncated and ev.size == 50_000


def test_close_delimited_response_ends_with_the_flow(tmp_path):
    turns = [
        ("c", craft.http_request("GET", "/report")),
        ("s", craft.http_response(b"line1\nline2\n", content_type="text/plain", close_delimited=True)),
    ]
    events, _, _ = scan_turns(tmp_path, turns)
    assert events[1].content == b"line1\nline2\n"
    assert "incomplete" not in events[1].attributes


def test_head_204_and_100_continue(tmp_path):
    reqs = craft.http_request("HEAD", "/a") + craft.http_request("DELETE", "/fhir/Patient/1")
    resps = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n"  # HEAD: no body despite the length
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 204 No Content\r\n\r\n"
    )
    events, _, stats = scan_turns(tmp_path, [("c", reqs), ("s", resps)])
    assert_clean(stats)
    rs = [e for e in events if e.attributes["direction"] == "s2c"]
    assert [(e.attributes["status"], e.attributes["request_method"]) for e in rs] == [
        (200, "HEAD"),
        (204, "DELETE"),
    ]


def test_gap_inside_a_body_of_known_length_keeps_sync(tmp_path):
    body = b"B" * 3000
    req1 = craft.http_request("POST", "/fhir/Observation", body=body, content_type="application/fhir+json")
    req2 = craft.http_request("GET", "/fhir/Patient/9")
    # 500-byte segments: segment 2 lies inside the first body
    events, _, stats = scan_turns(tmp_path, [("c", req1 + req2)], craft.Conversation(mss=500), drop={2})
    assert_clean(stats)
    assert stats["tcp.gap"] == 1
    assert [e.attributes["path"] for e in events] == ["/fhir/Observation", "/fhir/Patient/9"]
    assert events[0].attributes["incomplete"] is True and events[0].size == 3000
    assert "incomplete" not in events[1].attributes


def test_gap_in_a_head_resyncs_on_the_next_request(tmp_path):
    req1 = craft.http_request("GET", "/a" * 400)  # an 800-byte start line
    req2 = craft.http_request("GET", "/fhir/Patient/2")
    events, _, stats = scan_turns(tmp_path, [("c", req1), ("c", req2)], craft.Conversation(mss=300), drop={1})
    assert_clean(stats)
    assert [e.attributes["path"] for e in events] == ["/fhir/Patient/2"]
    assert stats["http.resync"] == 1


def test_malformed_start_line_is_a_dead_letter(tmp_path):
    bad = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\nPOST\x00broken line HTTP/9\r\n\r\n"
    events, dls, _stats = scan_turns(tmp_path, [("c", bad)])
    assert [e.attributes["path"] for e in events] == ["/x"]
    assert [d.reason for d in dls] == ["http-malformed"]
    assert dls[0].stage == "net-sensor" and "tcp 10.20.0.5:43210 -> 10.20.0.9:80" in dls[0].detail


def test_chunked_request_body(tmp_path):
    body = json.dumps(craft.patient_record(4), ensure_ascii=False).encode()
    req = craft.http_request(
        "POST", "/fhir/Patient", body=body, content_type="application/fhir+json", chunked=True
    )
    events, _, _ = scan_turns(tmp_path, [("c", req)], craft.Conversation(mss=64))
    assert events[0].content == body and events[0].attributes["transfer_encoding"] == "chunked"


def test_connect_tunnel_stops_inspection(tmp_path):
    turns = [
        ("c", b"CONNECT ehr.example.org:443 HTTP/1.1\r\nHost: ehr.example.org:443\r\n\r\n"),
        ("s", b"HTTP/1.1 200 Connection established\r\n\r\n"),
        ("c", craft.tls_client_hello()),
    ]
    events, _, stats = scan_turns(tmp_path, turns)
    assert stats["uninspected.http-tunnel"] == 1
    assert [e.attributes["method"] for e in events if e.channel == "http" and e.attributes["direction"] == "c2s"] \
        == ["CONNECT"]
    (acct,) = by_channel(events, "tcp")  # the tunnelled bytes are accounted for, not inspected
    assert acct.attributes["uninspected_reason"] == "http-tunnel" and acct.content == b""
    assert all(not e.content for e in events)


@pytest.mark.parametrize(
    "prefix, verdict",
    [(b"GET / HTTP/1.1", 2), (b"HTTP/1.1 200", 3), (b"PO", 1), (b"\x16\x03\x01", 0), (b"GETX", 0)],
)
def test_sniff(prefix, verdict):
    assert http.sniff(prefix) == verdict
