from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import Engine, build_engine
from detectors.catalogue import BUNDLED
from detectors.engine import decode_content
from detectors.hit import Hit
from detectors.overlap import resolve
from model.config import DetectorsConfig
from model.events import Event
from tests.detectors.conftest import KEY, gb11643_complete, luhn_complete


def _event(content: bytes, **kw: object) -> Event:
    return Event(
        event_id="e",
        sensor_id="s",
        observed_at=0.0,
        source_kind="log",
        channel="api-log",
        src=None,
        dst=None,
        content=content,
        **kw,
    )  # type: ignore[arg-type]


SAMPLE_RAW = [
    "11010519491231002X",
    gb11643_complete("44030419900307123"),
    "13812345678",
    "13912345678",
    "zhang.san@example.com",
    luhn_complete("622202123456789012"),
    "ZY20230012345",
    "张三",
    "李四",
    "1985-11-20",
    "艾滋病",
    "HIV",
    "原发性高血压",
    "B20.1",
    "John Smith",
    "00384751",
]
SAMPLE = (
    f'{{"name":"张三","idCard":"{SAMPLE_RAW[0]}","phone":"{SAMPLE_RAW[2]}","email":"{SAMPLE_RAW[4]}",'
    f'"bankCard":"{SAMPLE_RAW[5]}","mrn":"{SAMPLE_RAW[15]}"}}\n'
    f"患者：李四，身份证号：{SAMPLE_RAW[1]}，手机 {SAMPLE_RAW[3]}，住院号：{SAMPLE_RAW[6]}，"
    f"出生日期：{SAMPLE_RAW[9]}，诊断：艾滋病（HIV感染），原发性高血压，诊断编码 B20.1\n"
    "Patient Name: John Smith\n"
)


def test_no_raw_identifier_appears_in_findings_or_result(engine: Engine) -> None:
    result = engine.scan(_event(SAMPLE.encode("utf-8")))
    found = {f.entity_type for f in result.findings}
    assert {
        "CN_RESIDENT_ID",
        "PHONE_NUMBER",
        "EMAIL_ADDRESS",
        "BANK_CARD",
        "MEDICAL_RECORD_NUMBER",
        "PERSON_NAME",
        "DATE_OF_BIRTH",
        "SPECIAL_DISEASE",
        "DIAGNOSIS",
    } <= found
    dump = repr(result) + repr(engine.describe()[:0]) + repr(list(result.findings))
    for raw in SAMPLE_RAW:
        assert raw not in dump, raw
    assert result.record_level == 5


def test_scan_decodes_utf8_gb18030_latin1(engine: Engine) -> None:
    text = "诊断：高血压 电话 13812345678"
    for codec in ("utf-8", "gb18030"):
        r = engine.scan(_event(text.encode(codec)))
        assert {f.entity_type for f in r.findings} == {"DIAGNOSIS", "PHONE_NUMBER"}, codec
    assert decode_content(b"\xff\xfe\x00abc 13812345678", 100)[1] == "latin-1"
    r = engine.scan(_event(b"\xff\xfe\x00 tel 13812345678"))
    assert [f.entity_type for f in r.findings] == ["PHONE_NUMBER"]


def test_decode_does_not_misread_a_character_cut_at_the_bound() -> None:
    text, codec = decode_content(("诊" * 10).encode("utf-8"), 2)  # 8 bytes = 2 chars + 2 bytes of the 3rd
    assert codec == "utf-8" and text == "诊诊"


def test_encrypted_and_empty_events_are_skipped(engine: Engine) -> None:
    before = engine.stats["encrypted_skipped"]
    r = engine.scan(_event(SAMPLE.encode(), encrypted=True))
    assert r.findings == () and r.record_level == 0 and "encrypted" in r.grading_reason
    assert engine.stats["encrypted_skipped"] == before + 1
    assert engine.scan(_event(b"")).grading_reason == "no content"


def test_max_scan_chars_bounds_the_work() -> None:
    eng = build_engine(DetectorsConfig(max_scan_chars=100), KEY)
    text = "x" * 150 + " 电话 13812345678"
    assert eng.scan_text(text) == []
    r = eng.scan(_event(text.encode()))
    assert r.findings == () and "first 100 characters" in r.grading_reason
    assert eng.scan_text("电话 13812345678 " + "x" * 500)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_scan_never_raises_on_any_bytes(hs_engine: Engine, data: bytes) -> None:
    r = hs_engine.scan(_event(b"MSH|^~\\&|" + data if data[:1] == b"\x00" else data))
    assert r.record_level in range(6)
    assert hs_engine.stats["scan_errors"] == 0


def test_internal_error_is_counted_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    eng = build_engine(DetectorsConfig(), KEY)

    def boom(text: str) -> None:
        raise RuntimeError("secret 13812345678")

    monkeypatch.setattr(eng.prefilter, "scan", boom)
    r = eng.scan(_event(b"tel 13812345678"))
    assert r.findings == () and r.grading_reason == "scan-error: RuntimeError"
    assert "13812345678" not in repr(r)
    assert eng.stats["scan_errors"] == 1
    assert eng.scan_text("tel 13812345678") == [] and eng.stats["scan_errors"] == 2


def _slow_catalogue(tmp_path: Path) -> Path:
    d = tmp_path / "cat"
    shutil.copytree(BUNDLED, d)
    (d / "dictionaries.yaml").unlink()  # optional file; without 40k terms the build is quick
    (d / "structured.yaml").unlink()
    p = d / "patterns.yaml"
    p.write_text(
        p.read_text(encoding="utf-8")
        + """
  - id: catastrophic
    version: 1
    entity: DIAGNOSIS
    regex: '(a|aa)+b(?<!ab)'
    max_len: 200
    score: 0.9
    timeout_ms: 30
""",
        encoding="utf-8",
    )
    return d


@pytest.mark.parametrize("backend", ["hyperscan", "python"])
def test_a_pathological_pattern_is_bounded_and_counted(tmp_path: Path, backend: str) -> None:
    eng = build_engine(DetectorsConfig(catalogue=str(_slow_catalogue(tmp_path))), KEY, prefilter=backend)
    text = ("a" * 60 + "b ") * 20 + " 邮箱 zhang.san@example.com"
    t0 = time.perf_counter()
    found = eng.scan_text(text)
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.0
    assert eng.stats["regex_timeouts"] >= 1
    assert "EMAIL_ADDRESS" in {f.entity_type for f in found}  # the other patterns still ran


def _hit(entity: str, s: int, e: int, score: float = 0.8, field: str = "") -> Hit:
    return Hit("d", 1, entity, s, e, score, "v", field_path=field)


def test_overlap_same_span_resolved_by_priority(engine: Engine) -> None:
    kept = resolve([_hit("BANK_CARD", 0, 18, 0.99), _hit("CN_RESIDENT_ID", 0, 18, 0.9)], engine.entities)
    assert [h.entity for h in kept] == ["CN_RESIDENT_ID"]
    kept = resolve(
        [_hit("PHONE_NUMBER", 5, 16, 0.8), _hit("PHONE_NUMBER", 5, 16, 0.8, "PID-13")], engine.entities
    )
    assert [h.field_path for h in kept] == ["PID-13"]


def test_overlap_longer_wins_and_special_disease_is_never_hidden(engine: Engine) -> None:
    kept = resolve([_hit("DIAGNOSIS", 0, 15), _hit("DIAGNOSIS", 7, 15)], engine.entities)
    assert [(h.start, h.end) for h in kept] == [(0, 15)]
    kept = resolve([_hit("DIAGNOSIS", 0, 5), _hit("SPECIAL_DISEASE", 0, 3)], engine.entities)
    assert [h.entity for h in kept] == ["SPECIAL_DISEASE"]
    kept = resolve([_hit("PHONE_NUMBER", 0, 11), _hit("EMAIL_ADDRESS", 20, 30)], engine.entities)
    assert len(kept) == 2


def test_every_finding_is_explained(engine: Engine) -> None:
    for f in engine.scan_text(SAMPLE):
        assert f.explanation.pattern, f
        assert 0.5 <= f.score <= 1.0
        if f.entity_type == "CN_RESIDENT_ID":
            assert f.explanation.validator == "gb11643" and f.explanation.validator_result == "valid:mod11-2"
    [icd] = [f for f in engine.scan_text("诊断 I10") if f.entity_type == "ICD10_CODE"]
    assert icd.explanation.context_words == ("诊断",)


def test_context_raises_and_negative_context_lowers_scores(engine: Engine) -> None:
    [plain] = engine.scan_text("13812345678")
    [ctx] = engine.scan_text("联系电话 13812345678")
    assert ctx.score > plain.score
    assert engine.scan_text("订单号 13812345678") == []


def test_describe_lists_every_detector(engine: Engine) -> None:
    info = {i.id: i for i in engine.describe()}
    assert info["cn_resident_id"].kind == "pattern" and info["cn_resident_id"].level == 4
    assert info["special_disease"].kind == "dictionary" and info["special_disease"].level == 5
    assert info["special_disease"].category == "health_status"
    assert info["hl7v2"].kind == "structured" and "PERSON_NAME" in info["hl7v2"].entity_type
    assert all(i.examples for i in info.values())


def test_backends_agree_on_the_sample(catalogue: object) -> None:
    a = build_engine(DetectorsConfig(), KEY, prefilter="hyperscan").scan_text(SAMPLE)
    b = build_engine(DetectorsConfig(), KEY, prefilter="python").scan_text(SAMPLE)
    assert a == b
