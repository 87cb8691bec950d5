"""Web and API access logs: combined/common/vhost text, JSON, Kong, AWS API Gateway; FHIR patients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.config import LogsConfig
from sensors.logs import scan_log_file
from sensors.logs.formats.access import AccessLogParser
from sensors.logs.formats.base import ParseError
from sensors.logs.formats.fhir_url import analyse, parse_query, split_target
from tests.sensors.logs.conftest import make_ctx, reasons

UA = '"Mozilla/5.0 (X11; Linux x86_64)"'


def one(line: str | bytes) -> object:
    raw = line.encode() if isinstance(line, str) else line
    events = AccessLogParser(LogsConfig()).parse(raw, make_ctx())
    assert events is not None and len(events) == 1
    return events[0]


# -- must parse ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "line, expect",
    [
        (f'10.0.0.5 - alice [25/Nov/2024:09:00:01 +0800] "GET /fhir/Patient/8812 HTTP/1.1" 200 18211 "-" {UA}',
         {"method": "GET", "path": "/fhir/Patient/8812", "status": 200, "response_bytes": 18211, "user": "alice",
          "client": "10.0.0.5", "dialect": "combined", "fhir_resource": "Patient", "patient_ids": ["8812"]}),
        ('10.0.0.5 - - [25/Nov/2024:09:00:01 +0000] "POST /login HTTP/1.0" 302 -',
         {"method": "POST", "status": 302, "response_bytes": 0, "dialect": "common"}),
        (f'his.example.org:443 10.0.0.6 - bob [25/Nov/2024:09:00:03 +0800] "GET /api/patients/P0012/records'
         f'?mrn=ZY2024001 HTTP/2.0" 200 99 "-" {UA}',
         {"vhost": "his.example.org", "port": 443, "scheme": "https", "patient_ids": ["P0012", "ZY2024001"]}),
        (f'10.0.0.5 - - [25/Nov/2024:09:00:02 +0800] "GET /fhir/Observation?patient=Patient/8812,9913&code=1 '
         f'HTTP/1.1" 200 511 "-" {UA} 0.012 "upstream=10.1.1.1"',
         {"fhir_resource": "Observation", "patient_ids": ["8812", "9913"], "extra": '0.012 "upstream=10.1.1.1"'}),
        ('::1 - - [25/Nov/2024:09:00:02 +0800] "\\x16\\x03\\x01\\x00" 400 157 "-" "-"',
         {"method": "", "status": 400}),
    ],
)
def test_must_parse_text(line: str, expect: dict[str, object]) -> None:
    ev = one(line)
    for k, v in expect.items():
        assert ev.attributes.get(k) == v, k  # type: ignore[attr-defined]
    assert ev.channel == "api-log"  # type: ignore[attr-defined]


def test_time_zone_and_encryption() -> None:
    ev = one(f'10.0.0.5 - - [25/Nov/2024:09:00:01 +0800] "GET / HTTP/1.1" 200 1 "-" {UA}')
    assert ev.observed_at == 1732496401.0 and not ev.encrypted  # type: ignore[attr-defined]
    tls = one(f'h:443 10.0.0.5 - - [25/Nov/2024:01:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" {UA}')
    assert tls.encrypted and tls.observed_at == 1732496401.0  # type: ignore[attr-defined]


def test_content_is_decoded_target_plus_patient_lines_and_referer_query() -> None:
    ev = one('10.0.0.5 - - [25/Nov/2024:09:00:01 +0800] "GET /fhir/Patient?name=%E5%BC%A0%E4%B8%89&_id=77 HTTP/1.1" '
             '200 1 "https://emr/search?idcard=110101199003074514" "UA"')
    assert ev.content.decode().splitlines() == [  # type: ignore[attr-defined]
        "GET /fhir/Patient?name=张三&_id=77", "referer: https://emr/search?idcard=110101199003074514",
        "patient_id=77"]


JSON_CASES = [
    ({"remote_addr": "10.0.0.7", "remote_user": "carol", "time_iso8601": "2024-11-25T09:00:04+08:00",
      "request": "GET /fhir/Patient?identifier=urn:oid:2.16|110101199003074514 HTTP/1.1", "status": 200,
      "body_bytes_sent": 1500, "scheme": "https", "ssl_protocol": "TLSv1.3"},
     {"dialect": "json", "patient_ids": ["110101199003074514"], "scheme": "https", "user": "carol"}, "carol"),
    ({"started_at": 1732496405000, "client_ip": "10.0.0.8", "consumer": {"username": "lis-app"},
      "request": {"method": "GET", "uri": "/fhir/DiagnosticReport?subject=Patient/77",
                  "url": "https://gw/fhir/DiagnosticReport?subject=Patient/77"},
      "response": {"status": 200, "size": 2048}, "route": {"name": "fhir"}, "service": {"name": "fhir"}},
     {"dialect": "kong", "patient_ids": ["77"], "status": 200, "response_bytes": 2048, "scheme": "https"}, "lis-app"),
    ({"requestId": "abc", "ip": "10.0.0.9", "caller": "-", "user": "dave",
      "requestTime": "25/Nov/2024:01:00:06 +0000", "httpMethod": "GET", "resourcePath": "/Patient/{id}",
      "path": "/prod/Patient/4455", "status": "200", "protocol": "HTTP/1.1", "responseLength": "345"},
     {"dialect": "aws-apigateway", "patient_ids": ["4455"], "status": 200, "response_bytes": 345}, "dave"),
    ({"@timestamp": "2024-11-25T01:00:00Z", "http": {"request": {"method": "get"}, "response": {"status_code": 404}},
      "url": {"original": "/fhir/Encounter?patient=12"}, "source": {"ip": "10.0.0.1"}},
     {"method": "GET", "status": 404, "patient_ids": ["12"]}, ""),
]


@pytest.mark.parametrize("rec, expect, actor", JSON_CASES)
def test_must_parse_json_access_logs(rec: dict[str, object], expect: dict[str, object], actor: str) -> None:
    ev = one(json.dumps(rec))
    for k, v in expect.items():
        assert ev.attributes.get(k) == v, k  # type: ignore[attr-defined]
    assert ev.actor == actor  # type: ignore[attr-defined]


def test_json_object_that_is_not_a_request_is_not_ours() -> None:
    assert AccessLogParser(LogsConfig()).parse(b'{"level": "info", "msg": "started"}', make_ctx()) is None


@pytest.mark.parametrize(
    "line, reason",
    [
        ('10.0.0.5 - - [25/Nov/2024:09:00:01 +0800] "GET / HTTP/1.1" abc 12', "access-parse"),
        ('{"request": "GET / HTTP/1.1", "status": ', "json-invalid"),
        ("[1, 2]", None),
    ],
)
def test_must_dead_letter(line: str, reason: str | None) -> None:
    p = AccessLogParser(LogsConfig())
    if reason is None:
        assert p.parse(line.encode(), make_ctx()) is None
        return
    with pytest.raises(ParseError) as e:
        p.parse(line.encode(), make_ctx())
    assert e.value.reason == reason


# -- FHIR / patient ids -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "target, rtype, ids",
    [
        ("/fhir/Patient/123", "Patient", ["123"]),
        ("/fhir/Patient/123/_history/2", "Patient", ["123"]),
        ("/fhir/Patient/123/Observation?code=x", "Observation", ["123"]),
        ("/fhir/Patient/$match", "Patient", []),
        ("/fhir/Patient?_id=1,2,2", "Patient", ["1", "2"]),
        ("/fhir/Observation?subject=Patient/9", "Observation", ["9"]),
        ("/fhir/Observation?subject=Group/9", "Observation", []),
        ("/fhir/Observation?subject:Patient=5", "Observation", ["5"]),
        ("/fhir/Claim?patient=https://h/fhir/Patient/44", "Claim", ["44"]),
        ("/api/v1/patients/P0001", "", ["P0001"]),
        ("/api/v1/patients/search", "", []),
        ("/emr/view?patient_id=ZY001&x=1", "", ["ZY001"]),
        ("/static/app.js", "", []),
        ("https://h/fhir/Patient/7", "Patient", ["7"]),
    ],
)
def test_fhir_targets(target: str, rtype: str, ids: list[str]) -> None:
    path, query = split_target(target)
    got_type, _, got_ids = analyse(path, parse_query(query))
    assert (got_type, got_ids) == (rtype, ids)


def test_scan_detects_and_dead_letters(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(f'10.0.0.5 - - [25/Nov/2024:09:00:01 +0800] "GET /fhir/Patient/1 HTTP/1.1" 200 5 "-" {UA}\n'
                   '10.0.0.5 - - [25/Nov/2024:09:00:01 +0800] "GET / HTTP/1.1" 2OO 5\n'
                   "a plain line that is not ours\n")
    events, dead, stats = scan_log_file(str(log), LogsConfig(), "s1")
    assert stats["format-detected.access-log"] == 1 and len(events) == 1
    assert reasons(dead) == ["access-parse"] and stats["lines-ignored"] == 1
