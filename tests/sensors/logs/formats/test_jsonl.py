from __future__ import annotations

import json

import pytest

from model.config import LogsConfig
from model.taxonomy import CHANNELS
from sensors.logs.formats.base import ParseError
from sensors.logs.formats.jsonl import JsonlParser
from tests.sensors.logs.conftest import make_ctx

P = JsonlParser(LogsConfig())


def parse(rec: object) -> object:
    raw = rec if isinstance(rec, bytes) else json.dumps(rec).encode()
    evs = P.parse(raw, make_ctx())
    assert evs is not None and len(evs) == 1
    return evs[0]


@pytest.mark.parametrize(
    "rec, field, expected",
    [
        ({"ts": "2024-11-25T09:15:02Z", "msg": "x"}, "observed_at", 1732526102.0),
        ({"@timestamp": "2024-11-25T17:15:02+08:00"}, "observed_at", 1732526102.0),
        ({"timestamp": 1732526102123}, "observed_at", 1732526102.123),
        ({"time": 1732526102}, "observed_at", 1732526102.0),
        ({"ts": "not a time"}, "observed_at", 1_700_000_000.0),  # falls back to file mtime
        ({"user": "dr.li"}, "actor", "dr.li"),
        ({"actor": 1042}, "actor", "1042"),
        ({"channel": "his-audit"}, "channel", "his-audit"),
        ({"channel": "carrier-pigeon"}, "channel", "log"),
        ({"message": "hi"}, "channel", "log"),
    ],
)
def test_must_parse_fields(rec: dict, field: str, expected: object) -> None:
    ev = parse(rec)
    got = getattr(ev, field)
    assert got == (pytest.approx(expected) if isinstance(expected, float) else expected)
    assert ev.channel in CHANNELS and ev.source_kind == "log"


def test_endpoints_host_and_whole_record_as_content() -> None:
    rec = {"ts": 1732526102, "user": "nurse.wang", "host": "his-app-01", "src_ip": "10.2.3.4",
           "src_port": 51000, "dst_ip": "10.9.9.9", "dst_port": "443", "channel": "api-log",
           "message": "GET /Patient?identifier=110101199003074514"}
    ev = parse(rec)
    assert ev.src is not None and (ev.src.host, ev.src.port, ev.src.name) == ("10.2.3.4", 51000, "his-app-01")
    assert ev.dst is not None and (ev.dst.host, ev.dst.port) == ("10.9.9.9", 443)
    assert b"110101199003074514" in ev.content and b"nurse.wang" in ev.content
    assert ev.attributes["host"] == "his-app-01" and ev.attributes["message_field"] == "message"
    assert ev.content_type == "application/json"


def test_unicode_escapes_are_unescaped_for_detectors() -> None:
    raw = json.dumps({"message": "患者 张三 诊断: 糖尿病"}).encode()  # ensure_ascii: \uXXXX escapes
    assert b"\\u" in raw
    ev = parse(raw)
    assert "张三".encode() in ev.content


def test_host_only_becomes_source() -> None:
    ev = parse({"host": "ws-042"})
    assert ev.src is not None and ev.src.host == "ws-042"


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b'{"ts": 1, "user": "x"', "json-invalid"),
        (b"plain text line", "json-invalid"),
        (b"[1, 2, 3]", "field-type"),
        (b'"just a string"', "field-type"),
        (b'{"user": {"name": "x"}}', "field-type"),
        (b'{"channel": 5}', "field-type"),
        (b'{"src_ip": "1.2.3.4", "src_port": 70000}', "field-type"),
        (b'{"host": ["a"]}', "field-type"),
        (b'{"user": "\xff\xfe"}', "encoding"),
    ],
)
def test_must_dead_letter(raw: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as e:
        P.parse(raw, make_ctx(line_no=7))
    assert e.value.reason == reason
    assert "/var/log/test.log:7" in e.value.detail


def test_event_ids_depend_on_offset_and_head() -> None:
    a = P.parse(b'{"a":1}', make_ctx(offset=0))
    b = P.parse(b'{"a":1}', make_ctx(offset=0))
    c = P.parse(b'{"a":1}', make_ctx(offset=8))
    assert a and b and c
    assert a[0].event_id == b[0].event_id != c[0].event_id
