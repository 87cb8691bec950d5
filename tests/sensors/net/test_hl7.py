"""HL7 v2 over MLLP: framing across and within segments, ACKs, malformed frames."""

from __future__ import annotations

import pytest

from sensors.net import craft
from sensors.net.protocols import hl7
from tests.sensors.net._util import assert_clean, scan_turns

MLLP_CONV = craft.Conversation(dport=2575)


def test_adt_and_ack_events_with_msh_attributes(tmp_path):
    turns = [("c", craft.mllp(craft.hl7_adt_a01("CTRL1"))), ("s", craft.mllp(craft.hl7_ack("CTRL1")))]
    events, dls, stats = scan_turns(tmp_path, turns, MLLP_CONV)
    assert_clean(stats)
    assert dls == []
    adt, ack = events
    assert adt.channel == "hl7-mllp" and adt.content_type == "application/hl7-v2+er7"
    assert adt.attributes["message_type"] == "ADT^A01" and adt.attributes["control_id"] == "CTRL1"
    assert adt.attributes["sending_app"] == "HIS" and adt.attributes["receiving_app"] == "LIS"
    assert adt.attributes["segments"] == ["MSH", "EVN", "PID", "PV1", "DG1"]
    assert adt.content == craft.hl7_adt_a01("CTRL1").encode()  # framing bytes stripped
    assert adt.src is not None and adt.src.name == "HIS" and adt.dst is not None and adt.dst.name == "LIS"
    assert ack.attributes["message_type"] == "ACK" and ack.attributes["ack_code"] == "AA"
    assert ack.attributes["ack_control_id"] == "CTRL1"
    assert ack.src is not None and ack.src.port == 2575
    assert not adt.encrypted and adt.size == len(adt.content)


@pytest.mark.parametrize("mss", [1, 7, 64])
def test_message_split_across_many_segments(tmp_path, mss):
    msg = craft.hl7_oru_r01("ORU9")
    events, _, stats = scan_turns(tmp_path, [("c", craft.mllp(msg))], craft.Conversation(dport=2575, mss=mss))
    assert_clean(stats)
    assert len(events) == 1
    assert events[0].content == msg.encode() and events[0].attributes["message_type"] == "ORU^R01"


def test_two_messages_in_one_segment_and_a_third_straddling(tmp_path):
    a, b, c = (craft.mllp(craft.hl7_adt_a01(f"M{i}", seed=i)) for i in range(3))
    payload = a + b + c
    cut = len(a) + len(b) + 20
    turns = [("c", payload[:cut]), ("c", payload[cut:])]
    events, _, _ = scan_turns(tmp_path, turns, craft.Conversation(dport=2575, mss=4000))
    assert [e.attributes["control_id"] for e in events] == ["M0", "M1", "M2"]
    assert len({e.event_id for e in events}) == 3


def test_end_block_split_from_its_carriage_return(tmp_path):
    framed = craft.mllp(craft.hl7_adt_a01("S1")) + craft.mllp(craft.hl7_adt_a01("S2"))
    split = framed.index(b"\x1c") + 1  # 0x1C ends one segment, 0x0D starts the next
    events, _, _ = scan_turns(tmp_path, [("c", framed[:split]), ("c", framed[split:])], MLLP_CONV)
    assert [e.attributes["control_id"] for e in events] == ["S1", "S2"]


def test_non_hl7_frame_is_a_dead_letter(tmp_path):
    turns = [("c", craft.mllp(craft.hl7_adt_a01("OK1")) + b"\x0bNOT-HL7 AT ALL\x1c\r")]
    events, dls, stats = scan_turns(tmp_path, turns, MLLP_CONV)
    assert [e.attributes["control_id"] for e in events] == ["OK1"]
    assert [d.reason for d in dls] == ["hl7-invalid"] and dls[0].payload == b"NOT-HL7 AT ALL"
    assert stats["hl7.invalid"] == 1


def test_gap_inside_a_message_emits_it_as_incomplete_and_resyncs(tmp_path):
    big = craft.hl7_adt_a01("BIG") + "NTE|" + "x" * 900 + "\r"
    turns = [("c", craft.mllp(big) + craft.mllp(craft.hl7_adt_a01("AFTER")))]
    events, _, stats = scan_turns(tmp_path, turns, craft.Conversation(dport=2575, mss=300), drop={2})
    assert [e.attributes["control_id"] for e in events] == ["BIG", "AFTER"]
    assert events[0].attributes["incomplete"] is True and "incomplete" not in events[1].attributes
    assert stats["hl7.gap"] == 1


def test_hl7_on_an_unusual_port_is_found_by_content(tmp_path):
    turns = [("c", craft.mllp(craft.hl7_adt_a01("P1")))]
    events, _, _ = scan_turns(tmp_path, turns, craft.Conversation(dport=31000))
    assert [e.channel for e in events] == ["hl7-mllp"]


@pytest.mark.parametrize(
    "prefix, verdict",
    [
        (b"\x0b", 1),
        (b"\x0bMS", 1),
        (b"\x0bMSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\r", 2),
        (b"\x0bMSH|^~\\&|A|B|C|D|2024||ACK^A01|1|P|2.5\r", 3),
        (b"\x0bHELLO", 0),
        (b"MSH|", 0),
    ],
)
def test_sniff(prefix, verdict):
    assert hl7.sniff(prefix) == verdict


def test_parse_msh_with_other_separators():
    attrs = hl7.parse_msh(b"MSH#@~\\&#APP@X#FAC#RAPP#RFAC#2024##ORM@O01#77#P#2.3\rPID#1")
    assert attrs is not None
    assert (
        attrs["message_type"] == "ORM@O01" and attrs["sending_app"] == "APP" and attrs["control_id"] == "77"
    )
    assert hl7.parse_msh(b"PID|1") is None
