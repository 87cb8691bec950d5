"""DICOM upper layer: association AE titles, P-DATA reassembly, C-STORE/C-FIND/C-MOVE/C-GET, release/abort."""

from __future__ import annotations

import io
import struct

import pytest

from sensors.net import craft
from sensors.net.protocols import dicom
from tests.sensors.net._util import assert_clean, by_channel, scan_turns

DICOM = craft.Conversation(dport=104, mss=1000)


def _dimse(events):
    return [e for e in by_channel(events, "dicom") if e.attributes["pdu"] == "P-DATA-TF"]


def test_c_store_association_ae_titles_and_reassembled_data_sets(tmp_path):
    turns = craft.dicom_store_turns(2, pixels=5000, max_pdv=700)  # many PDVs over many PDUs and segments
    events, dls, stats = scan_turns(tmp_path, turns, DICOM)
    assert_clean(stats)
    assert dls == []
    (assoc,) = [e for e in by_channel(events, "dicom") if e.attributes["pdu"] == "A-ASSOCIATE"]
    assert assoc.attributes["calling_ae"] == "MODALITY_CT1" and assoc.attributes["called_ae"] == "PACS_MAIN"
    assert assoc.attributes["association"] == "accepted" and assoc.actor == "tech.zhao"
    assert craft.CT_STORAGE in assoc.attributes["abstract_syntaxes"]
    msgs = _dimse(events)
    assert [m.attributes["command"] for m in msgs] == ["C-STORE-RQ", "C-STORE-RSP"] * 2
    rq = msgs[0]
    assert rq.content == craft.dicom_patient_dataset(1, pixels=5000)
    assert rq.content_type == "application/dicom" and rq.attributes["transfer_syntax"] == craft.IMPLICIT_LE
    assert rq.attributes["affected_sop_class"] == craft.CT_STORAGE and rq.attributes["message_id"] == 1
    assert rq.src is not None and rq.src.name == "MODALITY_CT1" and rq.dst is not None and rq.dst.name == "PACS_MAIN"
    rsp = msgs[1]
    assert rsp.attributes["message_id_responded"] == 1 and rsp.attributes["status"] == "0x0000"
    assert rsp.content == b"" and not rsp.attributes["has_data_set"]
    assert rsp.src is not None and rsp.src.name == "PACS_MAIN"
    assert stats["dicom.release-rq"] == 1 and stats["dicom.release-rp"] == 1


def test_pydicom_reads_the_patient_tags_from_the_data_set_we_deliver(tmp_path):
    pydicom = pytest.importorskip("pydicom")
    events, _, _ = scan_turns(tmp_path, craft.dicom_store_turns(1), DICOM)
    rq = _dimse(events)[0]
    ds = pydicom.dcmread(io.BytesIO(rq.content), force=True)
    assert str(ds.PatientName) in ("WANG^WEI", "LI^NA", "ZHANG^MIN")
    assert ds.PatientID == craft.cn_resident_id(1)


@pytest.mark.parametrize(("kind", "rq_name", "responses"), [
    ("find", "C-FIND-RQ", ["C-FIND-RSP"] * 4),
    ("move", "C-MOVE-RQ", ["C-MOVE-RSP"] * 4),
    ("get", "C-GET-RQ", ["C-GET-RSP"] * 4),
])
def test_queries_and_retrieves(tmp_path, kind, rq_name, responses):
    events, _, stats = scan_turns(tmp_path, craft.dicom_query_turns(kind), DICOM)
    assert_clean(stats)
    msgs = _dimse(events)
    assert [m.attributes["command"] for m in msgs] == [rq_name, *responses]
    assert b"WANG^*" in msgs[0].content  # the query identifier is content too
    if kind == "find":
        assert all(m.content.startswith(b"\x08\x00\x16\x00") for m in msgs[1:4])  # matches carry data sets
        assert msgs[1].attributes["status"] == "0xff00"
    if kind == "move":
        assert msgs[0].attributes["move_destination"] == "WORKSTATION7"
    assert msgs[-1].attributes["status"] == "0x0000"


@pytest.mark.parametrize("mutation", [{"shuffle_seed": 5}, {"retransmit": {2, 3, 4}},
                                      {"overlap": {3: (200, False)}}], ids=["reorder", "retransmit", "overlap"])
def test_damage_in_flight_gives_the_same_messages(tmp_path, mutation):
    turns = craft.dicom_store_turns(2, pixels=3000, max_pdv=900)
    clean, _, _ = scan_turns(tmp_path, turns, DICOM)
    damaged, _, stats = scan_turns(tmp_path, turns, DICOM, **mutation)
    assert_clean(stats)
    assert [(e.event_id, e.content) for e in damaged] == [(e.event_id, e.content) for e in clean]


def test_missing_segment_inside_a_data_set_keeps_framing(tmp_path):
    turns = craft.dicom_store_turns(2, pixels=5000, max_pdv=16000)
    events, _, stats = scan_turns(tmp_path, turns, DICOM, drop={4})
    assert_clean(stats)
    msgs = _dimse(events)
    # the client side waits for the hole until the flow ends, so the responses come out first
    assert sorted(m.attributes["command"] for m in msgs) == ["C-STORE-RQ"] * 2 + ["C-STORE-RSP"] * 2
    rq1, rq2 = sorted((m for m in msgs if m.attributes["command"] == "C-STORE-RQ"),
                      key=lambda m: m.attributes["message_id"])
    assert rq1.attributes.get("incomplete") is True and "incomplete" not in rq2.attributes
    assert rq2.content == craft.dicom_patient_dataset(2, pixels=5000)  # framing survived the hole


def test_midstream_start_finds_the_next_p_data_pdu(tmp_path):
    turns = craft.dicom_store_turns(2)[2:]  # no association seen
    events, _, stats = scan_turns(tmp_path, turns, craft.Conversation(dport=104, handshake=False))
    assert_clean(stats)
    msgs = _dimse(events)
    assert [m.attributes["command"] for m in msgs][:2] == ["C-STORE-RQ", "C-STORE-RSP"]
    assert msgs[0].attributes["transfer_syntax"] == ""  # unknown without the association


def test_abort_is_an_event_and_rejects_are_reported(tmp_path):
    rq = craft.dicom_associate_rq("SCU", "SCP", [(1, craft.VERIFICATION, [craft.IMPLICIT_LE])])
    rj = struct.pack("!BBIBBBB", 3, 0, 4, 0, 1, 1, 7)
    abort = struct.pack("!BBIBBBB", 7, 0, 4, 0, 0, 2, 0)
    events, _, stats = scan_turns(tmp_path, [("c", rq), ("s", rj), ("c", abort)], DICOM)
    assert_clean(stats)
    pdus = [(e.attributes["pdu"], e.attributes.get("association")) for e in events]
    assert pdus == [("A-ASSOCIATE", "rejected"), ("A-ABORT", None)]


def test_sniffer_rejects_lookalikes():
    assert dicom.sniff(craft.dicom_associate_rq("A", "B", [])) == dicom.CLIENT
    assert dicom.sniff(b"\x01\x00\x00\x00\x00\x44\x00\x01" + b"\xff" * 80) == dicom.NO  # AE title not printable
    assert dicom.sniff(b"GET / HTTP/1.1\r\n") == dicom.NO
