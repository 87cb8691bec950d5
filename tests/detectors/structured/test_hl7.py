from __future__ import annotations

import pytest

from detectors import Engine
from detectors.structured.hl7 import looks_like_hl7
from model.events import Event

ADT = (
    "\x0bMSH|^~\\&|HIS|H1|LIS|H1|20231125083000||ADT^A01|MSG0001|P|2.5\r"
    "EVN|A01|20231125083000\r"
    "PID|1||ZY001234^^^H1^MR~11010519491231002X^^^CHN^NI||张^三^^^^^L||19491231|M|||"
    "北京市朝阳区建国路1号^^北京^北京^100020^CHN||13812345678^PRN^PH~^NET^Internet^zs@example.com|"
    "010-12345678|||||11010519491231002X\r"
    "PV1|1|I|W1^101^1\r"
    "DG1|1||I10^原发性高血压^I10||20231125|A\r"
    "DG1|2||B20.1^HIV感染^I10||20231125|A\r"
    "OBX|1|NM|718-7^血红蛋白^LN||132|g/L|130-175|N|||F\r\x1c\r"
)


def _by_path(engine: Engine, text: str) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for f in engine.scan_text(text):
        if f.field_path:
            out.setdefault(f.field_path, []).append((f.entity_type, f.masked))
    return out


def test_looks_like_hl7() -> None:
    assert looks_like_hl7(ADT) and looks_like_hl7("MSH|^~\\&|A")
    assert not looks_like_hl7("MSHX") and not looks_like_hl7('{"MSH": 1}')


def test_pid_dg1_obx_fields_are_mapped(engine: Engine) -> None:
    got = _by_path(engine, ADT)
    assert ("MEDICAL_RECORD_NUMBER", "******34") in got["PID-3"]
    assert ("CN_RESIDENT_ID", "110105********002X") in got["PID-3"]
    assert got["PID-5"] == [("PERSON_NAME", "张*")]
    assert got["PID-7"] == [("DATE_OF_BIRTH", "1949-**-**")]
    assert got["PID-11"][0][0] == "ADDRESS"
    assert ("PHONE_NUMBER", "138****5678") in got["PID-13"]
    assert got["PID-14"] == [("PHONE_NUMBER", "010****5678")]
    assert got["PID-19"] == [("CN_RESIDENT_ID", "110105********002X")]
    dg1 = got["DG1-3"]
    assert ("ICD10_CODE", "[ICD-10 chapter I]") in dg1 and ("DIAGNOSIS", "[diagnosis]") in dg1
    assert ("SPECIAL_DISEASE", "[special disease: infectious]") in dg1
    assert got["OBX-5"] == [("LAB_RESULT", "[lab result]")]


def test_free_text_detectors_also_run_and_do_not_duplicate(engine: Engine) -> None:
    found = engine.scan_text(ADT)
    # the XTN e-mail (component 4) is read by the extractor; the free-text e-mail hit on the same
    # span loses the overlap to it, so it is reported once, with its field path
    emails = [f for f in found if f.entity_type == "EMAIL_ADDRESS"]
    assert [(f.field_path, f.masked) for f in emails] == [("PID-13", "z***@example.com")]
    spans = [(f.start, f.end) for f in found]
    assert len(spans) == len(set(spans))
    # free-text detectors still run over the segments no field map covers (an NTE comment)
    msg = ADT.replace("\r\x1c", "\rNTE|1||家属电话13912345678\r\x1c")
    nte = [f for f in engine.scan_text(msg) if f.entity_type == "PHONE_NUMBER" and not f.field_path]
    assert [f.masked for f in nte] == ["139****5678"]


def test_invalid_id_typed_ni_is_not_a_resident_id(engine: Engine) -> None:
    msg = ADT.replace("11010519491231002X^^^CHN^NI", "110105194912310021^^^CHN^NI")
    pid3 = _by_path(engine, msg)["PID-3"]
    assert ("CN_RESIDENT_ID", "110105********0021") not in pid3
    assert all(e == "MEDICAL_RECORD_NUMBER" for e, _ in pid3)


def test_adt_grades_level_4_and_with_hiv_level_5(engine: Engine) -> None:
    no_special = ADT.replace("DG1|2||B20.1^HIV感染^I10||20231125|A\r", "")
    ev = Event(
        event_id="e1",
        sensor_id="s",
        observed_at=0.0,
        source_kind="net",
        channel="hl7-mllp",
        src=None,
        dst=None,
        content=no_special.encode("utf-8"),
    )
    r = engine.scan(ev)
    assert r.record_level == 4 and "direct identifier" in r.grading_reason
    assert len(r.subject_hashes) == 1  # PID-3 and PID-19 carry the same ID: one subject
    r5 = engine.scan(
        Event(
            event_id="e2",
            sensor_id="s",
            observed_at=0.0,
            source_kind="net",
            channel="hl7-mllp",
            src=None,
            dst=None,
            content=ADT.encode("utf-8"),
        )
    )
    assert r5.record_level == 5


def test_custom_separators_and_newlines(engine: Engine) -> None:
    msg = "MSH#*~\\&#HIS#H1\nPID#1##X99^^^H1^MR##李*四##19800101\n"
    got = _by_path(engine, msg)
    assert got["PID-5"] == [("PERSON_NAME", "李*")]
    assert got["PID-7"] == [("DATE_OF_BIRTH", "1980-**-**")]


def test_truncated_or_garbage_hl7_does_not_break(engine: Engine) -> None:
    for msg in ["MSH|", "MSH|^~\\&|\rPID", "MSH|^~\\&|\rPID|1||^^^^^NI~~~|||||", "MSH|^~\\&\rDG1|1||^^"]:
        engine.scan_text(msg)
    assert engine.stats["scan_errors"] == 0


# -- data types and fields beyond PID (the WIP field map; must-flag / must-not-flag rows) -------------
MSH = "MSH|^~\\&|HIS|H1|LIS|H1|20240101||ADT^A01|M1|P|2.5\r"


def _seg(name: str, fields: dict[int, str]) -> str:
    """A segment with the given fields set (1-based) and the others empty."""
    return "|".join([name] + [fields.get(i, "") for i in range(1, max(fields) + 1)])


def _fields(engine: Engine, body: str) -> dict[str, list[tuple[str, str]]]:
    return _by_path(engine, MSH + body)


@pytest.mark.parametrize(
    "body, path, expected",
    [
        # XCN: ID ^ family ^ given; the name is reported, not the staff ID
        ("PV1|1|I|W1^1^1||||D0042^Wang^Wu^^^Dr", "PV1-7", [("PERSON_NAME", "W*** W*")]),
        (_seg("OBX", {1: "1", 2: "NM", 3: "718-7^Hb^LN", 5: "132", 25: "D9^Zhou^Li"}), "OBX-25",
         [("PERSON_NAME", "Z*** L*")]),
        (_seg("DG1", {1: "1", 3: "I10^Hypertension^I10", 16: "X1^Sun^Mei"}), "DG1-16", [("PERSON_NAME", "S** M**")]),
        ("DG1|1|||原发性高血压", "DG1-4", [("DIAGNOSIS", "[diagnosis]")]),
        # XTN: area code (6) + local number (7); e-mail (4)
        ("PID|1||A12345^^^H1^MR||Li^Si||||||||^PRN^PH^^^010^62345678", "PID-13", None),
        ("NK1|1|Zhang^San|SPO||^NET^Internet^zs@example.org", "NK1-5", [("EMAIL_ADDRESS", "z***@example.org")]),
        ("NK1|1|Zhang^San|SPO|||||||||||||19700102", "NK1-16", [("DATE_OF_BIRTH", "1970-**-**")]),
        ("PV1|1|I|W1^1^1||||||||||||||||V2024001", "PV1-19", [("MEDICAL_RECORD_NUMBER", "******01")]),
    ],
)
def test_must_flag(engine: Engine, body: str, path: str, expected: list[tuple[str, str]] | None) -> None:
    got = _fields(engine, body)
    assert path in got
    if expected is not None:
        assert got[path] == expected
    else:
        assert got[path][0][0] == "PHONE_NUMBER"


@pytest.mark.parametrize(
    "body, path",
    [
        ("PID|1|1|1^^^H1^MR", "PID-2"),  # a 1-character ID is a sequence number
        ("PID|1||00000-0000000|000000", "PID-3"),  # one repeated character: a placeholder
        ("PID|1||00000-0000000|000000", "PID-4"),
        ("PID|1||A1234^^^H1^MR|||||||||||||||000-00-0000", "PID-19"),
        ("PV1|1|I|W1^1^1||||2721^^^", "PV1-7"),  # staff ID only: no name
        ("PV1|1|I|W1^1^1||||^2721", "PV1-7"),  # no letter: not a name
        ("NK1|1|Zhang^San|SPO||7777^^CP", "NK1-5"),  # 4 digits: an extension, not a phone
    ],
)
def test_must_not_flag(engine: Engine, body: str, path: str) -> None:
    assert path not in _fields(engine, body)


def test_utf8_bom_before_msh(engine: Engine) -> None:
    """Exported .hl7 files often start with a UTF-8 BOM: still sniffed, offsets still exact."""
    text = "\ufeff" + MSH + "PID|1||ZY001234^^^H1^MR||Li^Si"
    found = {f.field_path: f for f in engine.scan_text(text) if f.field_path}
    assert looks_like_hl7(text)
    assert text[found["PID-3"].start : found["PID-3"].end] == "ZY001234"
