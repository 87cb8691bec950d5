"""The catalogue is data: its own examples must behave, and every mistake is reported with file:line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from detectors import Engine, build_engine, load_catalogue
from detectors.catalogue import BUNDLED, Catalogue
from model.config import DetectorsConfig
from model.yamlsrc import ConfigError
from tests.detectors.conftest import KEY, entities


def test_bundled_catalogue_has_the_v1_vocabulary(catalogue: Catalogue) -> None:
    emitted = {p.entity for p in catalogue.patterns} | {d.entity for d in catalogue.dictionaries}
    assert {
        "CN_RESIDENT_ID",
        "PHONE_NUMBER",
        "EMAIL_ADDRESS",
        "BANK_CARD",
        "ICD10_CODE",
        "SPECIAL_DISEASE",
        "DIAGNOSIS",
        "PERSON_NAME",
        "MEDICAL_RECORD_NUMBER",
        "DATE_OF_BIRTH",
        "DRUG",
        "ADDRESS",
        "PASSPORT",
        "HK_MACAU_TW_ID",
        "US_SSN",
        "MEDICAL_INSURANCE_NUMBER",
        "IP_ADDRESS",
        "DEVICE_ID",
        "GENETIC_DATA",
        "LAB_RESULT",
        "ORG_CREDIT_CODE",
    } <= emitted
    assert "SOCIAL_SECURITY_NUMBER" not in catalogue.entities  # v1 vocabulary: MEDICAL_INSURANCE_NUMBER
    for name, e in catalogue.entities.items():
        assert e.clause.startswith("§"), name
    assert catalogue.entities["SPECIAL_DISEASE"].level == 5


def test_every_special_disease_class_of_the_standard_is_present(catalogue: Catalogue) -> None:
    [special] = [d for d in catalogue.dictionaries if d.entity == "SPECIAL_DISEASE"]
    assert set(special.groups) == {
        "sexual_reproductive",
        "infectious",
        "mental_illness",
        "malignant_tumour",
        "hereditary",
        "anal",
        "rare",
        "other_incurable",
    }
    for g in special.groups.values():
        terms = [t for t in special.terms if t.group == g.name]
        assert any(t.latin for t in terms) and any(not t.latin for t in terms), g.name  # zh and en


def _cases(cat: Catalogue) -> list[tuple[str, str, str, bool]]:
    out = []
    for p in cat.patterns:
        out += [(p.id, p.entity, x, True) for x in p.examples] + [
            (p.id, p.entity, x, False) for x in p.counter_examples
        ]
    for d in cat.dictionaries:
        out += [(d.id, d.entity, x, True) for x in d.examples] + [
            (d.id, d.entity, x, False) for x in d.counter_examples
        ]
    return out


_SOLO: dict[tuple[str, str], Engine] = {}


def _solo(det: str, backend: str) -> Engine:
    """An engine with this one detector: its own table is checked without other detectors
    (or the key-name extractors) claiming the same span; the full catalogue is checked below."""
    key = (det, backend)
    if key not in _SOLO:
        others = tuple(sorted(load_catalogue().detector_ids() - {det}))
        _SOLO[key] = build_engine(DetectorsConfig(disabled=others), KEY, prefilter=backend)
    return _SOLO[key]


@pytest.mark.parametrize("backend", ["hyperscan", "python"])
@pytest.mark.parametrize("det, entity, text, flag", _cases(load_catalogue()))
def test_catalogue_examples_behave(backend: str, det: str, entity: str, text: str, flag: bool) -> None:
    found = {f.detector_id for f in _solo(det, backend).scan_text(text) if f.entity_type == entity}
    assert (det in found) is flag, (det, text)


@pytest.mark.parametrize("det, entity, text", [c[:3] for c in _cases(load_catalogue()) if c[3]])
def test_catalogue_examples_survive_the_full_catalogue(engine: Engine, det: str, entity: str, text: str) -> None:
    """With every detector on, each must-flag example still yields its entity type (or a
    stronger claim on the same text: a special disease over a lab result)."""
    types = {f.entity_type for f in engine.scan_text(text)}
    assert entity in types or (entity == "LAB_RESULT" and "SPECIAL_DISEASE" in types), (det, text, types)


def test_every_detector_has_examples_and_counter_examples(catalogue: Catalogue) -> None:
    for p in catalogue.patterns:
        assert p.examples and p.counter_examples, p.id
    for d in catalogue.dictionaries:
        assert d.examples and d.counter_examples, d.id


def test_structured_example_grades_level_4(engine: Engine, catalogue: Catalogue) -> None:
    hl7 = next(s for s in catalogue.structured if s.format == "hl7v2")
    found = engine.scan_text(hl7.examples[0])
    assert {"PERSON_NAME", "CN_RESIDENT_ID", "ICD10_CODE"} <= {f.entity_type for f in found}


@pytest.fixture()
def cat_dir(tmp_path: Path) -> Path:
    d = tmp_path / "cat"
    shutil.copytree(BUNDLED, d)
    return d


def _replace(path: Path, old: str, new: str) -> int:
    text = path.read_text(encoding="utf-8")
    assert old in text
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line


def _errors(d: Path) -> str:
    with pytest.raises(ConfigError) as ei:
        load_catalogue(d)
    return str(ei.value)


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("    validator: gb11643", "    validator: gb11634", "unknown validator 'gb11634'"),
        ("    entity: PHONE_NUMBER", "    entity: PHONE", "unknown entity 'PHONE'"),
        (
            "    max_len: 18\n",
            "    max_len: 18\n    maxlen: 19\n",
            "unknown key 'maxlen'; did you mean 'max_len'?",
        ),
        (
            "    score: 0.6\n    validated_boost: 0.35",
            "    score: 1.6\n    validated_boost: 0.35",
            "'score' must be",
        ),
        (
            "    validator_data: dictionaries/icd10_who2019.txt",
            "    validator_data: dictionaries/nope.txt",
            "cannot read data file",
        ),
        ("  - id: bank_card", "  - id: email_address", "duplicate detector id 'email_address'"),
    ],
)
def test_pattern_errors_point_at_file_and_line(cat_dir: Path, old: str, new: str, message: str) -> None:
    line = _replace(cat_dir / "patterns.yaml", old, new)
    err = _errors(cat_dir)
    assert message in err
    hit = next(ln for ln in err.splitlines() if message in ln)
    loc = hit.split(": ", 1)[0]
    assert loc.startswith(str(cat_dir / "patterns.yaml") + ":")
    assert abs(int(loc.rsplit(":", 1)[1]) - line) <= 12  # the key's line or its detector's first line


def test_bad_regex_reported_with_its_line(cat_dir: Path) -> None:
    line = _replace(
        cat_dir / "patterns.yaml", "regex: '(?<![0-9A-Za-z])[1-9]", "regex: '(?<![0-9A-Za-z])[1-9"
    )
    err = _errors(cat_dir)
    assert f"patterns.yaml:{line}: pattern cn_resident_id: regex does not compile" in err


def test_all_errors_reported_at_once(cat_dir: Path) -> None:
    _replace(cat_dir / "patterns.yaml", "    validator: luhn", "    validator: lunh")
    _replace(
        cat_dir / "entities.yaml",
        "    category: health_status\n    level: 5",
        "    category: health\n    level: 6",
    )
    err = _errors(cat_dir)
    assert (
        "unknown validator 'lunh'" in err and "unknown category 'health'" in err and "'level' must be" in err
    )


def test_term_conflicts_and_bad_icd_ranges(cat_dir: Path) -> None:
    line = _replace(
        cat_dir / "dictionaries" / "diagnoses.yaml", "      - 高血压\n", "      - 高血压\n      - 艾滋病\n"
    )
    _replace(
        cat_dir / "dictionaries" / "special_diseases.yaml", "[A50-A64, N46, N97]", "[A50-A64, N46, A12, X1]"
    )
    err = _errors(cat_dir)
    assert "term '艾滋病' also in special_disease/infectious" in err
    assert "unknown ICD-10 code 'A12'" in err
    assert "bad ICD-10 code or range 'X1'" in err
    assert line > 0


def test_yaml_syntax_error_has_line(cat_dir: Path) -> None:
    line = _replace(cat_dir / "dictionaries.yaml", "    score: 0.85", "    score: [0.85")
    err = _errors(cat_dir)
    assert "dictionaries.yaml:" in err and "YAML syntax" in err
    assert int(err.split("dictionaries.yaml:")[1].split(":")[0]) >= line


def test_exclusion_must_contain_its_term(cat_dir: Path) -> None:
    _replace(cat_dir / "dictionaries" / "diagnoses.yaml", "exclude: [中风险]", "exclude: [风险]")
    assert "exclusion '风险' does not contain the term '中风'" in _errors(cat_dir)


def test_missing_catalogue_and_unknown_disabled_id(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_catalogue(tmp_path / "nope")
    with pytest.raises(ConfigError, match="unknown detector id"):
        build_engine(DetectorsConfig(disabled=("no_such",)), KEY)


def test_disabled_detector_does_not_fire() -> None:
    eng = build_engine(DetectorsConfig(disabled=("cn_mobile_phone",)), KEY)
    assert entities(eng, "联系电话：13812345678") == []


def test_custom_catalogue_dir_is_used(cat_dir: Path) -> None:
    (cat_dir / "dictionaries.yaml").unlink()
    (cat_dir / "structured.yaml").unlink()
    eng = build_engine(DetectorsConfig(catalogue=str(cat_dir)), KEY)
    # the name tagger is registered in code (detectors/ner.py) and runs wherever PERSON_NAME exists
    assert {i.kind for i in eng.describe()} == {"pattern", "ner"}


def test_head_terms_need_a_span_extension(cat_dir: Path) -> None:
    spec = cat_dir / "dictionaries" / "special_diseases.yaml"
    _replace(spec, "      - 梅毒\n", "      - 梅毒\n      - {term: 感染病, head: true}\n")
    # special_disease has an extend, but with no left words nothing could ever qualify the head
    assert "head terms need left extension words to qualify them: 感染病" in _errors(cat_dir)


def test_grow_spec_errors_are_reported(cat_dir: Path) -> None:
    old = "grow: {heads: [血症, 尿症], max_left: 8}"
    _replace(cat_dir / "dictionaries.yaml", old, "grow: {heads: [血症], maxleft: 8}")
    assert "dictionary diagnosis_common extend grow: unknown key 'maxleft'" in _errors(cat_dir)


def test_not_after_words_must_be_cjk(cat_dir: Path) -> None:
    line = _replace(cat_dir / "dictionaries.yaml", "      not_after: [耐]", "      not_after: [耐, anti-]")
    err = _errors(cat_dir)
    assert f"dictionaries.yaml:{line}: dictionary drug_common extend: " in err
    assert "'anti-' must be non-empty CJK" in err


@pytest.mark.parametrize(
    "old, new, offset, message",
    [
        ("      max_left: 6\n", "      max_left: 0\n", 0, "'max_left' must be an integer"),
        ("      right: [综合征, 后遗症]", "      right: [综合征, syndrome]", 0, "'syndrome' must be non-empty CJK"),
        ("      max_left: 6\n", "      max_left: 6\n      maxleft: 7\n", 1, "unknown key 'maxleft'"),
        ("      eponym: true", "      eponym: yes please", 0, "'eponym' must be true or false"),
        (
            "      left_files: [dictionaries/generated/disease_extension_zh.txt]",
            "      left_files: [dictionaries/generated/no_such_words.txt]",
            0,
            "word file 'dictionaries/generated/no_such_words.txt' does not exist",
        ),
    ],
)
def test_span_extension_errors_name_the_line(
    cat_dir: Path, old: str, new: str, offset: int, message: str
) -> None:
    line = _replace(cat_dir / "dictionaries.yaml", old, new) + offset
    err = _errors(cat_dir)
    assert f"dictionaries.yaml:{line}: dictionary diagnosis_common extend: " in err
    assert message in err
