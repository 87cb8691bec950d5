"""model.events.build_event, the sensors' fast Event builder, gives exactly what Event(...) gives."""

from __future__ import annotations

import dataclasses

import pytest

from model.events import _EVENT_FIELDS, Endpoint, Event, TlsInfo, build_event

CASES = [
    ("id1", "s1", 1.5, "net", "hl7-mllp", Endpoint("10.0.0.1", 40000), Endpoint("10.0.0.2", 2575, "LAB"), "", "",
     False, None, b"MSH|", "application/hl7-v2+er7", 4, False, {"message_type": "ADT^A01", "direction": "c2s"}),
    ("id2", "s2", 0.0, "net", "tls", None, None, "dr who", "", True,
     TlsInfo(version="TLS 1.3", sni="portal.example", alpn=("h2",)), b"", "", 9_000, True, {}),
    ("id3", "", 2.0, "log", "usb", None, Endpoint("his", 443), "alice", "USB-9", False, None, b"x" * 10,
     "text/csv", 0, True, {"rows": 3}),
]


def test_the_builder_is_in_use_while_event_has_the_fields_it_was_written_for() -> None:
    # When this fails, Event changed: update _EVENT_FIELDS and the builder in model/events.py
    # (until then events are still correct, built through the slower constructor).
    assert tuple(f.name for f in dataclasses.fields(Event)) == _EVENT_FIELDS
    assert build_event is not Event


@pytest.mark.parametrize("values", CASES)
def test_build_event_equals_the_constructor_field_for_field(values: tuple[object, ...]) -> None:
    fast, slow = build_event(*values), Event(*values)
    assert type(fast) is Event
    assert fast == slow and hash(fast.src) == hash(slow.src)
    assert dataclasses.asdict(fast) == dataclasses.asdict(slow)
    assert fast.schema_version == slow.schema_version
    assert fast.attributes is values[-1]  # the caller's dict, not a copy (as with the constructor)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.actor = "mallory"  # type: ignore[misc]
