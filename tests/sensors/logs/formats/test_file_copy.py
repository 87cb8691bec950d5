from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from model.config import LogsConfig
from model.events import Event
from sensors.logs.formats.base import ParseError
from sensors.logs.formats.file_copy import FileCopyParser, infer_records
from tests.sensors.logs.conftest import make_ctx

CSV = (
    "patient_id,name,id_card,diagnosis\n"
    "P0001,张三,110101199003074514,2型糖尿病\n"
    "P0002,李四,110101198507126519,高血压\n"
    "P0003,王五,11010119920415231X,HIV阳性\n"
)


def base(**over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "ts": "2024-11-25T09:20:11.250+08:00",
        "user": "CORP\\zhang.wei",
        "host": "WS-ONC-042",
        "path": "D:\\exports\\oncology_q3.csv",
        "dest_path": "E:\\oncology_q3.csv",
        "size": len(CSV.encode()),
        "device": {"bus": "usb", "serial": "4C530001230511115271", "vendor": "SanDisk",
                   "product": "Cruzer Blade", "label": "KINGSTON", "removable": True},
        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "content_sample": CSV,
    }
    for k, v in over.items():
        if v is _DROP:
            rec.pop(k, None)
        else:
            rec[k] = v
    return rec


_DROP = object()


def parse(rec: dict[str, Any], sample_bytes: int = 64 << 10) -> Event:
    evs = FileCopyParser(LogsConfig(sample_bytes=sample_bytes)).parse(
        json.dumps(rec, ensure_ascii=False).encode(), make_ctx())
    assert evs is not None and len(evs) == 1
    return evs[0]


def test_usb_copy_event() -> None:
    ev = parse(base())
    assert ev.channel == "usb" and ev.source_kind == "log"
    assert ev.actor == "CORP\\zhang.wei" and ev.device == "4C530001230511115271"
    assert ev.content == CSV.encode() and ev.truncated is False and ev.size == len(CSV.encode())
    assert ev.content_type == "text/csv"
    assert ev.observed_at == pytest.approx(1732497611.25)
    a = ev.attributes
    assert a["path"] == "D:\\exports\\oncology_q3.csv" and a["dest_path"] == "E:\\oncology_q3.csv"
    assert a["file_size"] == len(CSV.encode()) and a["host"] == "WS-ONC-042"
    assert (a["records"], a["records_source"]) == (3, "sample")
    assert a["device_bus"] == "usb" and a["device_vendor"] == "SanDisk" and a["device_removable"] is True
    assert a["sha256"].startswith("9f86d0") and a["action"] == "copy"
    assert ev.src is not None and ev.src.host == "WS-ONC-042"


@pytest.mark.parametrize(
    "device, channel",
    [
        ({"bus": "usb"}, "usb"),
        ({"bus": "sd", "serial": "0x1234"}, "usb"),
        ({"bus": "usb", "removable": False}, "file-copy"),  # a fixed USB disk enclosure declared so
        ({"bus": "optical"}, "file-copy"),
        ({"bus": "network", "label": "\\\\nas01\\share"}, "file-copy"),
        ({"bus": "local"}, "file-copy"),
    ],
)
def test_channel_by_destination(device: dict[str, Any], channel: str) -> None:
    assert parse(base(device=device)).channel == channel


def test_agent_record_count_wins_and_epoch_ts() -> None:
    ev = parse(base(records=1200, ts=1732497611))
    assert (ev.attributes["records"], ev.attributes["records_source"]) == (1200, "agent")
    assert ev.observed_at == 1732497611.0


def test_sample_is_bounded_and_records_extrapolated() -> None:
    big = CSV + "".join(f"P{i:04d},某某,110101199003074514,高血压\n" for i in range(4, 400))
    ev = parse(base(content_sample=big, size=len(big.encode())), sample_bytes=1024)
    assert len(ev.content) == 1024 and ev.truncated is True
    a = ev.attributes
    assert a["records_source"] == "sample"
    assert 0 < a["records"] < 399  # whole lines in the first KiB, header excluded
    assert a["records_estimated"] == pytest.approx(399, rel=0.1)


def test_binary_sample_and_jsonl_records() -> None:
    sample = b'{"pid":"P1","dx":"E11"}\n{"pid":"P2","dx":"I10"}\n'
    ev = parse(base(content_sample=_DROP, content_sample_b64=base64.b64encode(sample).decode(),
                    size=len(sample), path="D:\\a.jsonl", dest_path="E:\\a.jsonl"))
    assert ev.content == sample and ev.attributes["records"] == 2
    assert ev.content_type == "application/x-ndjson"


def test_no_sample_means_truncated_empty_content() -> None:
    ev = parse(base(content_sample=_DROP))
    assert ev.content == b"" and ev.truncated is True and "records" not in ev.attributes


@pytest.mark.parametrize(
    "sample, complete, expected",
    [
        ("a,b\n1,2\n3,4\n", True, 2),
        ("a\tb\n1\t2\n", True, 1),
        ("a,b\n1,2\n3,", False, 1),  # the cut last row does not count
        ('{"a":1}\n{"a":2}\n', True, 2),
        ("just some prose without delimiters\nmore prose\n", True, None),
        ("", True, None),
    ],
)
def test_infer_records(sample: str, complete: bool, expected: int | None) -> None:
    assert infer_records(sample.encode(), complete) == expected


@pytest.mark.parametrize(
    "over, reason, names",
    [
        ({"ts": _DROP}, "field-missing", "'ts'"),
        ({"user": _DROP}, "field-missing", "'user'"),
        ({"host": None}, "field-missing", "'host'"),
        ({"path": _DROP}, "field-missing", "'path'"),
        ({"dest_path": _DROP}, "field-missing", "'dest_path'"),
        ({"size": _DROP}, "field-missing", "'size'"),
        ({"device": _DROP}, "field-missing", "'device'"),
        ({"device": {"serial": "x"}}, "field-missing", "'device.bus'"),
        ({"ts": True}, "field-type", "'ts'"),
        ({"ts": "yesterday"}, "field-value", "'ts'"),
        ({"user": 42}, "field-type", "'user'"),
        ({"size": "48211"}, "field-type", "'size'"),
        ({"size": 1.5}, "field-type", "'size'"),
        ({"size": -1}, "field-value", "'size'"),
        ({"device": "usb"}, "field-type", "'device'"),
        ({"device": {"bus": "firewire"}}, "field-value", "'device.bus'"),
        ({"device": {"bus": "usb", "removable": "yes"}}, "field-type", "'device.removable'"),
        ({"device": {"bus": "usb", "serial": 123}}, "field-type", "'device.serial'"),
        ({"records": "many"}, "field-type", "'records'"),
        ({"sha256": "abc"}, "field-value", "'sha256'"),
        ({"content_sample": 5}, "field-type", "'content_sample'"),
        ({"content_sample_b64": "@@@"}, "field-value", "'content_sample_b64'"),
        ({"content_sample_b64": "YQ=="}, "field-value", "not both"),
        ({"action": "delete"}, "field-value", "'action'"),
        ({"user": "  "}, "field-value", "'user'"),
        ({"v": 2}, "schema-version", "version 2"),
    ],
)
def test_must_dead_letter(over: dict[str, Any], reason: str, names: str) -> None:
    raw = json.dumps(base(**over)).encode()
    with pytest.raises(ParseError) as e:
        FileCopyParser(LogsConfig()).parse(raw, make_ctx(line_no=12))
    assert e.value.reason == reason
    assert names in e.value.detail and "/var/log/test.log:12" in e.value.detail


@pytest.mark.parametrize(
    "raw, reason",
    [(b'{"ts": 1,', "json-invalid"), (b"[]", "field-type"), (b'{"user":"\xc3\x28"}', "encoding")],
)
def test_must_dead_letter_raw(raw: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as e:
        FileCopyParser(LogsConfig()).parse(raw, make_ctx())
    assert e.value.reason == reason


def test_documented_examples_parse() -> None:
    """The examples in docs/formats/file-copy.md are valid file-copy lines (keeps the doc honest)."""
    from pathlib import Path

    doc = Path(__file__).resolve().parents[4] / "docs" / "formats" / "file-copy.md"
    blocks = doc.read_text(encoding="utf-8").split("```json\n")[1:]
    lines = [b.split("\n```", 1)[0].strip() for b in blocks]
    assert len(lines) == 3
    events = [parse(json.loads(ln)) for ln in lines]
    assert [e.channel for e in events] == ["usb", "usb", "file-copy"]
    csv_export = events[0]
    assert csv_export.attributes["records"] == 3 and csv_export.truncated is False
    assert events[1].attributes["records"] == 120000 and events[1].device == "0x8a3f21c4"
