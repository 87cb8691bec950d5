"""The wire format: round trips, and strict rejection with countable reasons."""

from __future__ import annotations

import json

import pytest

from model.alerts import Alert, make_alert_id
from model.codec import (
    CodecError,
    decode_alert,
    decode_batch,
    decode_dead_letter,
    encode_alert,
    encode_batch,
    encode_dead_letter,
)
from model.events import DeadLetter, Endpoint, Event, TlsInfo, make_event_id


def _event(**kw: object) -> Event:
    base: dict[str, object] = dict(
        event_id=make_event_id("flow", 1),
        sensor_id="s1",
        observed_at=1_700_000_000.25,
        source_kind="net",
        channel="http",
        src=Endpoint("10.0.0.1", 51000),
        dst=Endpoint("2001:db8::1", 80, name="his"),
        actor="dr.li",
        content="患者 张三".encode(),
        content_type="application/json",
        size=13,
        attributes={"method": "POST", "path": "/api"},
    )
    base.update(kw)
    return Event(**base)  # type: ignore[arg-type]


def test_batch_round_trip_text_and_binary() -> None:
    evs = [
        _event(),
        _event(event_id="b", content=b"\x00\xff\xfe DICM", channel="dicom"),
        _event(event_id="c", content=b"", encrypted=True, tls=TlsInfo("TLS 1.3", "his.example", "", ("h2",))),
    ]
    assert decode_batch(encode_batch(evs, "s1", 5.0)) == evs


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "json-invalid"),
        (b"\xff\xfe", "json-invalid"),
        (b"[1,2]", "envelope-invalid"),
        (json.dumps({"schema": "other", "v": 1, "events": []}).encode(), "envelope-invalid"),
        (json.dumps({"schema": "healthdlp.events", "v": 99, "events": []}).encode(), "schema-version"),
        (json.dumps({"schema": "healthdlp.events", "v": 1, "events": {}}).encode(), "envelope-invalid"),
        (json.dumps({"schema": "healthdlp.events", "v": 1, "events": [{"v": 1}]}).encode(), "event-invalid"),
        (json.dumps({"schema": "healthdlp.events", "v": 1, "events": [{"v": 2}]}).encode(), "schema-version"),
    ],
)
def test_bad_batches_rejected_with_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(CodecError) as ei:
        decode_batch(raw)
    assert ei.value.reason == reason


def test_bad_event_fields() -> None:
    good = json.loads(encode_batch([_event()], "s1", 1.0))
    for field, value in [("observed_at", "yesterday"), ("src", {"port": 1}), ("attributes", [1]),
                         ("content", 5), ("tls", "x")]:
        env = json.loads(json.dumps(good))
        env["events"][0][field] = value
        with pytest.raises(CodecError) as ei:
            decode_batch(json.dumps(env).encode())
        assert ei.value.reason == "event-invalid", field


def test_alert_round_trip() -> None:
    a = Alert(
        alert_id=make_alert_id("r", 1, ["e1"]), rule_id="r", rule_version=1, title="t", severity="high",
        clauses=("§8.2",), channel="http", src="1.1.1.1:1", dst="2.2.2.2:80", actor="", encrypted=False,
        entities=("CN_RESIDENT_ID",), categories=("personal_attribute",), max_level=4, subjects=1,
        evidence=("110105********123X",), subject_hashes=("ab",), event_ids=("e1",),
        observed_at=1_700_000_000.5, last_seen=1_700_000_001.0, details={"k": 1},
    )
    assert decode_alert(encode_alert(a)) == a
    assert a.to_dict()["observed_at"] == "2023-11-14T22:13:20.500Z"


def test_alert_id_is_deterministic_and_order_free() -> None:
    assert make_alert_id("r", 1, ["a", "b"]) == make_alert_id("r", 1, ["b", "a", "a"])
    assert make_alert_id("r", 1, ["a"]) != make_alert_id("r", 2, ["a"])


def test_dead_letter_round_trip() -> None:
    dl = DeadLetter("decode", "json-invalid", "not JSON", "t/0/5", 3.0, b"\x00raw")
    assert decode_dead_letter(encode_dead_letter(dl)) == dl
    with pytest.raises(CodecError):
        decode_dead_letter(b"{}")
