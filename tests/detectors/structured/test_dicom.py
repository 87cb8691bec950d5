from __future__ import annotations

import pytest

pytest.importorskip("pydicom")

from detectors import Engine
from tests.detectors.structured.conftest import assert_no_raw, event, structured, types_by_path
from tests.detectors.structured.fixtures import dicom_bytes


def _dicom(engine: Engine, raw: bytes, content_type: str = "") -> list:
    return structured(engine.scan(event(raw, content_type)).findings, "dicom")


@pytest.mark.parametrize(
    "charset, name", [("GB18030", "张^三丰"), ("ISO_IR 192", "李^四"), ("ISO_IR 100", "Müller^Hans")]
)
@pytest.mark.parametrize("part10", [True, False])
def test_patient_tags_with_character_sets(st_engine: Engine, charset: str, name: str, part10: bool) -> None:
    raw = dicom_bytes(name, "PID0012345", "19600102", charset=charset, part10=part10)
    found = _dicom(st_engine, raw, "" if part10 else "application/dicom")
    by = types_by_path(found)
    assert by["dicom::PatientName"] == "PERSON_NAME"
    assert by["dicom::PatientID"] == "MEDICAL_RECORD_NUMBER"
    assert by["dicom::PatientBirthDate"] == "DATE_OF_BIRTH"
    assert by["dicom::AccessionNumber"] == "MEDICAL_RECORD_NUMBER"
    assert by["dicom::ReferringPhysicianName"] == "PERSON_NAME"
    pn = next(f for f in found if f.field_path == "dicom::PatientName")
    surname = name.split("^")[0]
    assert pn.masked.startswith(surname[0])  # decoded with the data set's character set
    assert_no_raw(found, [name, "PID0012345", "19600102"])


def test_gb18030_name_hash_matches_the_same_name_elsewhere(st_engine: Engine) -> None:
    """One subject seen in DICOM and in HL7 hashes the same (name normalised, family given)."""
    dcm = _dicom(st_engine, dicom_bytes("张^三丰", "P1", "19600102"))
    hl7 = "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||P1^^^H^MR||张^三丰||19600102"
    h = {f.entity_type: f.value_hash for f in st_engine.scan_text(hl7) if f.field_path}
    d = {f.entity_type: f.value_hash for f in dcm if f.field_path == "dicom::PatientName"}
    assert d["PERSON_NAME"] == h["PERSON_NAME"]


def test_raw_dataset_without_content_type_is_sniffed(st_engine: Engine) -> None:
    raw = dicom_bytes("王^五", "PX99", "19700101", part10=False)
    assert types_by_path(_dicom(st_engine, raw))["dicom::PatientID"] == "MEDICAL_RECORD_NUMBER"


def test_subjects_and_grade(st_engine: Engine) -> None:
    raw = dicom_bytes("王^五", "PX99", "19700101", extra={"AdmittingDiagnosesDescription": "肺结核"})
    r = st_engine.scan(event(raw))
    assert len(r.subject_hashes) == 1
    assert r.record_level >= 4


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\xff",  # length beyond the data
        b"\x00" * 128 + b"DICM",
        b"\x08\x00\x05\x00CS\x0a\x00ISO_IR",  # truncated raw data set
        b"\x08\x00\x05\x00\xff\xff\x00\x00" + b"\xff" * 64,  # element length beyond the data
    ],
)
def test_broken_dicom_is_counted_never_raised(st_engine: Engine, raw: bytes) -> None:
    before = st_engine.stats["structured_dicom_broken"] + st_engine.stats["structured_dicom_datasets"]
    r = st_engine.scan(event(raw, "application/dicom"))
    assert not r.grading_reason.startswith("scan-error")
    after = st_engine.stats["structured_dicom_broken"] + st_engine.stats["structured_dicom_datasets"]
    assert after == before + 1


def test_truncated_part10_keeps_no_garbage(st_engine: Engine) -> None:
    raw = dicom_bytes("王^五", "PX99", "19700101")
    for cut in (140, 200, len(raw) - 5):
        r = st_engine.scan(event(raw[:cut]))
        assert not r.grading_reason.startswith("scan-error")


# -- sequence items, PN anywhere, organisations, quiet binary -------------------------------------------
def _with_sequences() -> bytes:
    from pydicom.dataset import Dataset

    req = Dataset()
    req.RequestingPhysician = "Qian^Mo"
    req.AccessionNumber = "ACC778899"
    return dicom_bytes(
        "王^五", "PX99", "19700101",
        extra={"RequestAttributesSequence": [req], "InstitutionAddress": "1 Hospital Road, Beijing",
               "IssuerOfPatientID": "PEOPLE HOSPITAL", "PerformingPhysicianName": "Sun^Li"},
    )


def test_sequence_items_and_every_pn_element(st_engine: Engine) -> None:
    by = types_by_path(_dicom(st_engine, _with_sequences()))
    assert by["dicom::RequestAttributesSequence[0].RequestingPhysician"] == "PERSON_NAME"  # VR=PN
    assert by["dicom::RequestAttributesSequence[0].AccessionNumber"] == "MEDICAL_RECORD_NUMBER"
    assert by["dicom::PerformingPhysicianName"] == "PERSON_NAME"


def test_organisation_attributes_are_not_personal(st_engine: Engine) -> None:
    found = st_engine.scan(event(_with_sequences())).findings
    paths = {f.field_path for f in found}
    assert "dicom::InstitutionAddress" not in paths and "dicom::IssuerOfPatientID" not in paths


def test_directory_records_are_separate_subjects(st_engine: Engine) -> None:
    from pydicom.dataset import Dataset

    records = []
    for name, pid in (("Doe^Ann", "P100001"), ("Roe^Ben", "P100002")):
        r = Dataset()
        r.DirectoryRecordType = "PATIENT"
        r.PatientName, r.PatientID = name, pid
        records.append(r)
    raw = dicom_bytes("", "", "", extra={"DirectoryRecordSequence": records})
    r = st_engine.scan(event(raw))
    ids = [f for f in r.findings if f.field_path.endswith("PatientID")]
    assert {f.field_path.split("::")[0] for f in ids} == {
        "dicom/DirectoryRecordSequence[0]", "dicom/DirectoryRecordSequence[1]"}
    assert {f.value_hash for f in ids} <= set(r.subject_hashes)  # one subject per directory record


def test_binary_values_are_quiet(st_engine: Engine) -> None:
    """Bytes of an image that read like an IP address or a phone number are not reported; the same
    text in a free-text element is."""
    noise = b"9.23.44.120 13912345678 " * 8
    image = {"BitsAllocated": 8, "Rows": 8, "Columns": 24, "SamplesPerPixel": 1, "PixelData": noise}
    raw = dicom_bytes("王^五", "PX99", "19700101", extra=image)
    assert not any(not f.field_path for f in st_engine.scan(event(raw)).findings)
    raw = dicom_bytes("王^五", "PX99", "19700101", extra={"StudyDescription": "call 13912345678"})
    assert [f.entity_type for f in st_engine.scan(event(raw)).findings if not f.field_path] == ["PHONE_NUMBER"]
