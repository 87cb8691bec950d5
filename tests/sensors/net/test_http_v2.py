"""HTTP/1.x additions: multipart uploads, 100-continue, downloads, FHIR REST shape, bulk $export and ndjson."""

from __future__ import annotations

import json

import pytest

from sensors.net import craft
from sensors.net.protocols.http import fhir_shape
from tests.sensors.net._util import assert_clean, scan_turns

CSV = "姓名,身份证号\n王伟,110101198001010011\n".encode()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def test_multipart_upload_gives_one_event_per_part(tmp_path):
    body = craft.multipart_body([("comment", "", "", "转诊 王伟".encode()), ("file", "patients.csv", "text/csv", CSV),
                                 ("scan", "xray 1.png", "image/png", PNG)])
    req = craft.http_request("POST", "/upload", body=body, user="clerk7",
                             content_type="multipart/form-data; boundary=----healthdlpBoundary7MA4")
    events, dls, stats = scan_turns(tmp_path, [("c", req), ("s", craft.http_response(b"ok"))],
                                    craft.Conversation(mss=500))
    assert_clean(stats)
    assert dls == []
    head, *parts, resp = events
    assert head.attributes["multipart_parts"] == 3 and head.content == b""
    assert [(p.attributes.get("field_name"), p.attributes.get("file_name"), p.content_type) for p in parts] == [
        ("comment", None, "text/plain"), ("file", "patients.csv", "text/csv"), ("scan", "xray 1.png", "image/png")]
    assert parts[1].content == CSV and parts[2].content == PNG
    assert all(p.actor == "clerk7" and p.attributes["path"] == "/upload" for p in parts)
    assert resp.attributes["status"] == 200


def test_expect_100_continue(tmp_path):
    body = json.dumps(craft.patient_record(3), ensure_ascii=False).encode()
    head = craft.http_request("POST", "/fhir/Patient", body=body, content_type="application/fhir+json",
                              headers={"Expect": "100-continue"})
    split = head.index(b"\r\n\r\n") + 4
    turns = [("c", head[:split]), ("s", b"HTTP/1.1 100 Continue\r\n\r\n"), ("c", head[split:]),
             ("s", craft.http_response(b"{}", status=201))]
    events, _, stats = scan_turns(tmp_path, turns)
    assert_clean(stats)
    rq, rsp = events
    assert rq.content == body and rq.attributes["expect"] == "100-continue"
    assert rsp.attributes["status"] == 201 and rsp.attributes["request_path"] == "/fhir/Patient"


def test_download_with_content_disposition_and_gzip(tmp_path):
    resp = craft.http_response(CSV, content_type="text/csv", gzip_body=True)
    disp = b"Content-Disposition: attachment; filename*=UTF-8''%E6%82%A3%E8%80%85.csv\r\n"
    resp = resp.replace(b"Server: craft\r\n", b"Server: craft\r\n" + disp)
    events, _, stats = scan_turns(tmp_path, [("c", craft.http_request("GET", "/reports/42")), ("s", resp)])
    assert_clean(stats)
    rsp = events[1]
    assert rsp.content == CSV and rsp.attributes["content_encoding"] == "gzip"
    assert rsp.attributes["file_name"] == "患者.csv" and rsp.attributes["disposition"] == "attachment"


@pytest.mark.parametrize(("method", "target", "expected"), [
    ("GET", "/fhir/Patient?name=wang&_count=500", {"fhir_resource": "Patient", "fhir_interaction": "search-type",
                                                   "fhir_count": 500}),
    ("GET", "/fhir/Patient/123", {"fhir_resource": "Patient", "fhir_interaction": "read", "fhir_id": "123"}),
    ("GET", "/fhir/Patient/123/_history/2", {"fhir_interaction": "vread"}),
    ("PUT", "/fhir/Observation/9", {"fhir_resource": "Observation", "fhir_interaction": "update"}),
    ("DELETE", "/fhir/Observation/9", {"fhir_interaction": "delete"}),
    ("POST", "/fhir/Patient", {"fhir_interaction": "create"}),
    ("POST", "/fhir/Patient/_search", {"fhir_interaction": "search-type"}),
    ("POST", "/fhir", {"fhir_interaction": "transaction-or-batch"}),
    ("GET", "/fhir/metadata", {"fhir_interaction": "capabilities"}),
    ("GET", "/fhir/Patient/5/Observation", {"fhir_interaction": "search-compartment",
                                            "fhir_compartment": "Observation"}),
    ("GET", "/fhir/$export?_type=Patient,Observation", {"fhir_interaction": "operation", "fhir_operation": "$export",
                                                        "fhir_bulk_export": True, "fhir_type": "Patient,Observation"}),
    ("GET", "/fhir/Group/g1/$export", {"fhir_resource": "Group", "fhir_id": "g1", "fhir_operation": "$export",
                                       "fhir_bulk_export": True}),
    ("GET", "/fhir/Patient/$everything", {"fhir_operation": "$everything"}),
])
def test_fhir_rest_shape(method, target, expected):
    shape = fhir_shape(method, target)
    assert {k: shape.get(k) for k in expected} == expected


def test_bulk_export_kickoff_status_and_ndjson_download(tmp_path):
    ndjson = b"".join(json.dumps(craft.patient_record(i), ensure_ascii=False).encode() + b"\n" for i in range(30))
    kick = craft.http_request("GET", "/fhir/Patient/$export?_outputFormat=application/fhir%2Bndjson",
                              headers={"Prefer": "respond-async", "Accept": "application/fhir+json"}, user="etl")
    accepted = (b"HTTP/1.1 202 Accepted\r\nContent-Location: https://ehr.example.org/bulkstatus/77\r\n"
                b"Content-Length: 0\r\n\r\n")
    dl = craft.http_request("GET", "/fhir/bulkfiles/77/Patient.ndjson", user="etl")
    resp = craft.http_response(ndjson, content_type="application/fhir+ndjson", gzip_body=True)
    events, _, stats = scan_turns(tmp_path, [("c", kick), ("s", accepted), ("c", dl), ("s", resp)])
    assert_clean(stats)
    k, a, d, r = events
    assert k.channel == "fhir" and k.attributes["fhir_bulk_export"] is True and k.actor == "etl"
    assert k.attributes["fhir_outputFormat"] == "application/fhir+ndjson"
    assert d.attributes["fhir_interaction"] == "other" and d.attributes["path"].endswith("Patient.ndjson")
    assert a.attributes["content_location"].endswith("/bulkstatus/77") and a.attributes["fhir_bulk_export"] is True
    assert r.channel == "fhir" and r.attributes["ndjson_records"] == 30 and r.attributes["fhir_bulk_file"] is True
    assert r.content == ndjson and r.attributes["content_encoding"] == "gzip"
