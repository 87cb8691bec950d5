"""The per-line fast paths hold equal to the plain ones: event building, event ids, text matching."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.config import LogsConfig
from model.events import Endpoint, Event, TlsInfo, make_event_id
from sensors.logs import scan_log_file
from sensors.logs.formats import access
from sensors.logs.formats.access import AccessLogParser
from sensors.logs.formats.base import log_event_id, new_event


def test_new_event_is_the_fast_builder_and_equals_event() -> None:
    assert new_event is not Event, "model.events.Event changed its fields: update base._EVENT_FIELDS"
    values = ("id1", "sensor", 1.5, "log", "api-log", Endpoint("10.0.0.1"), Endpoint("his", 443), "alice", "dev",
              True, TlsInfo(version="TLSv1.3"), b"GET /x", "text/plain", 42, True, {"a": 1})
    built, plain = new_event(*values), Event(*values)
    assert built == plain
    assert hash(built.src) == hash(plain.src) and built.schema_version == plain.schema_version
    with pytest.raises(AttributeError):
        built.actor = "mallory"  # type: ignore[misc]


@pytest.mark.parametrize("head_id", ["", "abc", "f" * 32, "é\udcff"])
@pytest.mark.parametrize("offset, ordinal", [(0, 0), (1023, 0), (10**12, 3), (-1, 100), (7, True), (7, "x")])
def test_log_event_id_equals_make_event_id(head_id: str, offset: int, ordinal: object) -> None:
    assert log_event_id(head_id, offset, ordinal) == make_event_id("log", head_id, offset, ordinal)  # type: ignore[arg-type]
    assert log_event_id(head_id, offset, ordinal) == make_event_id("log", head_id, offset, ordinal)  # type: ignore[arg-type]


# -- combined lines matched as text equal combined lines matched as bytes -------------------------------
_PIECES = [b"a", b"Z", b"7", b"-", b" ", b"\t", b'"', b'\\"', b"\\", b"[", b"]", b":", b"/", b"?", b"%41",
           b"\xe4\xb8\xad", b"\xe3\x80\x80", b"\xc2\xa0", b"\xc2\x85", b"\xff", b"\xe4\xb8", b"\x0b", b"\r"]
_field = st.lists(st.sampled_from(_PIECES), max_size=6).map(b"".join)


def _by_bytes(raw: bytes) -> tuple[object, ...] | None:
    """What the parser did before it matched decoded text: match bytes, decode each field."""
    m = access._COMBINED.match(raw)
    if m is None:
        return None
    return tuple(None if g is None else g.decode("utf-8", "replace") for g in m.groups())


@settings(max_examples=400, deadline=None)
@given(host=_field, user=_field, stamp=_field, request=_field, referer=_field, agent=_field, extra=_field,
       combined=st.booleans(), vhost=st.booleans())
def test_text_match_equals_bytes_match(host: bytes, user: bytes, stamp: bytes, request: bytes, referer: bytes,
                                       agent: bytes, extra: bytes, combined: bool, vhost: bool) -> None:
    raw = (b"h" + host + b":8443 " if vhost else b"") + b"10.0.0." + host + b" - " + user + b" [" + stamp + \
        b'] "' + request + b'" 200 ' + (b"12" if host else b"-")
    if combined:
        raw += b' "' + referer + b'" "' + agent + b'"' + extra
    m = access._COMBINED_TEXT.match(raw.decode("utf-8", "replace"))
    assert (None if m is None else m.groups()) == _by_bytes(raw)
    if m is not None and m.group(11):  # the old code stripped the bytes, the new strips the text
        old = access._COMBINED.match(raw)
        assert old is not None
        assert m.group(11).strip(access._ASCII_SPACE) == old.group(11).strip().decode("utf-8", "replace")


# -- the sensor's fast path gives what the per-line path gives --------------------------------------------
_LINES = [
    '10.0.0.1 - - [25/Nov/2024:09:00:00 +0800] "GET /fhir/Patient/123/Observation?_count=5 HTTP/1.1" 200 12',
    'his.example.org:443 10.0.0.2 - bob [25/Nov/2024:09:00:01 -0500] "GET /api/patients/P1234?name=%E5%BC%A0 '
    'HTTP/2.0" 200 - "https://x/y?pid=99" "curl/8" rt=0.01\u3000',
    '10.0.0.3 - - [bad time] "POST /fhir/Observation?patient=Patient/77,88&subject=Group/1 HTTP/1.1" 201 5 "-" "-"',
    '10.0.0.4 - - [25/Nov/2024:09:00:02 +0800] "GET /a b c HTTP/1.1" 404 0',
    '10.0.0.5 - - [25/Nov/2024:09:00:02 +0800] "\\x16\\x03\\x01" 400 0 "-" "-"',
    'garbage " [x] line',
    "",
    "   ",
    "not an access line at all",
    '{"time_iso8601":"2024-11-25T09:00:00+08:00","remote_addr":"10.0.0.9","request":"GET /fhir/Patient/5 HTTP/1.1",'
    '"status":200,"body_bytes_sent":10}',
    '10.0.0.6 - 张三 [25/Nov/2024:09:00:03 +0800] "GET /x中 HTTP/1.1" 200 1 "-" "ua\u00a0"',
    '10.0.0.8 - - [25/Nov/2024:09:00:04 +0800] "GET /Patient/%41%42 HTTP/1.1" - -',
]


def _write_log(path: Path) -> None:
    with path.open("wb") as f:
        f.write(b"\xef\xbb\xbf")
        for i in range(120):  # past the first KiB, so both head-id cases are crossed
            for j, line in enumerate(_LINES):
                f.write(line.encode() + (b"\r\n" if (i + j) % 5 == 0 else b"\n"))
        f.write(b'10.0.0.7 - - [25/Nov/2024:09:00:05 +0800] "GET /\xff\xfe HTTP/1.1" 200 1 "-" "\xe4\xb8"\n')
        f.write(b"10.0.0.9 - - [25/Nov/2024:09:00:05 +0800] \"GET /" + b"a" * 3000 + b' HTTP/1.1" 200 1\n')
        f.write(b'10.0.0.10 - - [25/Nov/2024:09:00:06 +0800] "GET /last HTTP/1.1" 200 1')


def test_scan_fast_path_equals_per_line_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "access.log"
    _write_log(path)
    cfg = LogsConfig(max_line_bytes=2048)
    fast = scan_log_file(str(path), cfg, "s1")
    monkeypatch.setattr(AccessLogParser, "parse_fast", None)  # the sensor then builds a LineContext per line
    slow = scan_log_file(str(path), cfg, "s1")
    assert fast[0] == slow[0]
    assert [(d.reason, d.detail, d.payload) for d in fast[1]] == [(d.reason, d.detail, d.payload) for d in slow[1]]
    assert fast[2] == slow[2]
    assert fast[2]["events"] == len(fast[0]) > 900
    assert {d.reason for d in fast[1]} == {"access-parse", "line-too-long"}
    assert len({e.event_id for e in fast[0]}) == len(fast[0])
