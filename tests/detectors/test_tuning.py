"""Site tuning (detectors/tuning.py): switches, thresholds, context words, hashed allow-list and
per-hospital record-number patterns, all from one YAML file, every mistake with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors import build_engine
from model.config import DetectorsConfig
from model.yamlsrc import ConfigError
from tests.detectors.conftest import KEY


def _engine(tmp_path: Path, body: str, **kw: object):  # type: ignore[no-untyped-def]
    f = tmp_path / "tuning.yaml"
    f.write_text("version: 1\n" + body, encoding="utf-8")
    return build_engine(DetectorsConfig(tuning=str(f), **kw), KEY)  # type: ignore[arg-type]


def _types(engine, text: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.entity_type for f in engine.scan_text(text)}


def test_a_detector_can_be_switched_off_and_back_on(tmp_path: Path) -> None:
    off = _engine(tmp_path, "detectors:\n  cn_mobile_phone: {enabled: false}\n")
    assert "PHONE_NUMBER" not in _types(off, "联系电话：13812345678")
    on = _engine(tmp_path, "detectors:\n  cn_mobile_phone: {enabled: true}\n", disabled=("cn_mobile_phone",))
    assert "PHONE_NUMBER" in _types(on, "联系电话：13812345678")


def test_a_raised_threshold_drops_weak_findings_only(tmp_path: Path) -> None:
    eng = _engine(tmp_path, "detectors:\n  cn_mobile_phone: {min_score: 0.75}\n")
    assert "PHONE_NUMBER" not in _types(eng, "13812345678 到了")  # 0.6 without context
    assert "PHONE_NUMBER" in _types(eng, "联系电话：13812345678")  # 0.8 with context


def test_extra_context_words_reach_a_context_only_pattern(tmp_path: Path) -> None:
    base = build_engine(DetectorsConfig(), KEY)
    assert "US_SSN" not in _types(base, "社会安全码 536904399")
    eng = _engine(tmp_path, "detectors:\n  us_ssn_plain: {context: [社会安全码]}\n")
    assert "US_SSN" in _types(eng, "社会安全码 536904399")


def test_allow_list_holds_hashes_and_drops_exactly_that_value(tmp_path: Path) -> None:
    base = build_engine(DetectorsConfig(), KEY)
    [f] = [f for f in base.scan_text("联系电话：13812345678") if f.entity_type == "PHONE_NUMBER"]
    eng = _engine(tmp_path, f"allow: [{f.value_hash}]\n")
    assert "PHONE_NUMBER" not in _types(eng, "联系电话：138-1234-5678")  # same number, other spelling
    assert "PHONE_NUMBER" in _types(eng, "联系电话：13912345678")
    assert eng.stats["allowlisted"] == 1
    assert "13812345678" not in (tmp_path / "tuning.yaml").read_text(encoding="utf-8")


def test_a_hospital_record_number_format_is_added_in_yaml(tmp_path: Path) -> None:
    body = """patterns:
  - id: mrn_site_a
    version: 1
    entity: MEDICAL_RECORD_NUMBER
    regex: '(?<![A-Za-z0-9])ZY\\d{10}(?![0-9])'
    max_len: 12
    score: 0.8
    examples: ["ZY2023001234"]
    counter_examples: ["ZY20230012"]
"""
    eng = _engine(tmp_path, body)
    found = [f for f in eng.scan_text("转科 ZY2023001234 完成") if f.entity_type == "MEDICAL_RECORD_NUMBER"]
    assert [f.detector_id for f in found] == ["mrn_site_a"]
    assert not [f for f in eng.scan_text("转科 ZY20230012 完成") if f.detector_id == "mrn_site_a"]


@pytest.mark.parametrize(
    "body, message",
    [
        ("detectors:\n  no_such_detector: {enabled: false}\n", "unknown detector id"),
        ("allow: ['13812345678']\n", "value hashes"),
        ("detectors:\n  cn_mobile_phone: {min_score: 2}\n", "min_score"),
        ("detectors:\n  cn_mobile_phone: {enabeld: false}\n", "enabeld"),
        ("patterns:\n  - id: cn_mobile_phone\n    version: 1\n    entity: PHONE_NUMBER\n    regex: 'x'\n"
         "    max_len: 1\n", "already exists"),
    ],
)
def test_mistakes_are_reported_with_file_and_line(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        _engine(tmp_path, body)
    text = str(e.value)
    assert message in text and "tuning.yaml:" in text
