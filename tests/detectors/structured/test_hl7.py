from __future__ import annotations

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
    assert any(f.entity_type == "EMAIL_ADDRESS" and not f.field_path for f in found)  # XTN e-mail, free text
    spans = [(f.start, f.end) for f in found]
    assert len(spans) == len(set(spans))


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
