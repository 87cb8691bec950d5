from __future__ import annotations

import json
import random

import pytest

from detectors import Engine
from detectors.structured.jsonpos import JsonPosError, Leaf, loads
from tests.detectors.structured.conftest import assert_no_raw, event, structured
from tests.detectors.structured.fixtures import json_api, person

RNG = random.Random(9)
PEOPLE = [person(RNG) for _ in range(12)]


def _keys(engine: Engine, text: str) -> list:
    return structured(engine.scan_text(text), "json-keys")


def test_nested_arrays_one_record_per_element(st_engine: Engine) -> None:
    text = json_api(PEOPLE)
    found = _keys(st_engine, text)
    assert len(found) == 4 * len(PEOPLE)
    assert {f.field_path for f in found if f.field_path.startswith("data.list[3]::")} == {
        "data.list[3]::patientName",
        "data.list[3]::id_card",
        "data.list[3]::mobile",
        "data.list[3]::visit.diagnosis",
    }
    r = st_engine.scan(event(text.encode()))
    assert len(r.subject_hashes) == len(PEOPLE) and r.record_level == 4
    assert_no_raw(r, [p.resident_id for p in PEOPLE] + [p.name for p in PEOPLE])


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"sfzh": PEOPLE[0].resident_id}, "CN_RESIDENT_ID"),
        ({"ID_CARD": PEOPLE[0].resident_id}, "CN_RESIDENT_ID"),
        ({"mobile": int(PEOPLE[0].phone)}, "PHONE_NUMBER"),
        ({"patientName": "John Smith", "mrn": "A-00384751"}, "PERSON_NAME"),
        ({"icd10": "E11.9"}, "ICD10_CODE"),
        ({"diagnosis": "HIV感染"}, "SPECIAL_DISEASE"),
        ({"user": {"name": PEOPLE[0].name, "phone": PEOPLE[0].phone}}, "PERSON_NAME"),
        ({"name": PEOPLE[1].name}, "PERSON_NAME"),  # CJK with a known surname: a name even alone
    ],
)
def test_must_flag(st_engine: Engine, body: dict, expected: str) -> None:
    assert expected in {f.entity_type for f in _keys(st_engine, json.dumps(body, ensure_ascii=False))}


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Chrome", "version": "120.0"},
        {"address": "0x7ffd5e8c", "size": 4096},
        {"phone": "n/a", "idCard": ""},
        {"mobile": "138****5678", "name": "张*"},
        {"idCard": None, "mobile": True},
        {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "orderNo": "20240101123456789012"},
    ],
)
def test_must_not_flag(st_engine: Engine, body: dict) -> None:
    assert _keys(st_engine, json.dumps(body, ensure_ascii=False)) == []


def test_offsets_of_escaped_strings() -> None:
    text = '{"a": "x\\"y", "b": [1, {"c": "\\u5f20\\u4e09"}]}'
    node = loads(text)
    assert isinstance(node, dict)
    c = node["b"][1]["c"]  # type: ignore[index]
    assert isinstance(c, Leaf) and c.value == "张三" and text[c.start : c.end] == "\\u5f20\\u4e09"


@pytest.mark.parametrize("text", ['{"a": }', '{"a": 1', "[1, 2,]", '{"a": "b"} x', "[" * 200 + "]" * 200])
def test_jsonpos_rejects_bad_json(text: str) -> None:
    with pytest.raises(JsonPosError):
        loads(text)


@pytest.mark.parametrize("text", ['{"idCard": "1101', "[" * 100_000, '{"a":' * 3000])
def test_broken_bodies_never_raise(st_engine: Engine, text: str) -> None:
    assert not st_engine.scan(event(text.encode())).grading_reason.startswith("scan-error")


# -- English export key names, card numbers, stray BOMs (must-flag / must-not-flag rows) ---------------
@pytest.mark.parametrize(
    "body, key, expected",
    [
        ({"GivenName": "Ann", "Surname": "Lee"}, "Surname", "PERSON_NAME"),
        ({"first_name": "Ann", "last_name": "Lee"}, "first_name", "PERSON_NAME"),
        ({"MothersMaiden": "Park"}, "MothersMaiden", "PERSON_NAME"),
        ({"StreetAddress": "12 Garden Road"}, "StreetAddress", "ADDRESS"),
        ({"EmailAddress": "ann.lee@example.org"}, "EmailAddress", "EMAIL_ADDRESS"),
        ({"TelephoneNumber": "021 6543 2198"}, "TelephoneNumber", "PHONE_NUMBER"),
        ({"DateOfBirth": "1984-03-02"}, "DateOfBirth", "DATE_OF_BIRTH"),
        ({"NationalID": "DA75119938"}, "NationalID", "MEDICAL_RECORD_NUMBER"),  # not GB 11643: an identifier
        ({"CardNumber": "4111 1111 1111 1111"}, "CardNumber", "BANK_CARD"),
        ({"Surname": "\ufeffKučera"}, "Surname", "PERSON_NAME"),  # a BOM pasted into the value
    ],
)
def test_must_flag_english_keys(st_engine: Engine, body: dict, key: str, expected: str) -> None:
    found = {f.field_path: f.entity_type for f in _keys(st_engine, json.dumps(body, ensure_ascii=False))}
    assert found[f"$::{key}"] == expected


@pytest.mark.parametrize(
    "body",
    [
        {"CardNumber": "5.54563E+15"},  # a spreadsheet's rendering, not a number
        {"CardNumber": "4111 1111 1111 1112"},  # fails Luhn
        {"ccnumber": "4111-****-****-1111"},  # masked
        {"Surname": "12345"},  # no letters
    ],
)
def test_must_not_flag_english_keys(st_engine: Engine, body: dict) -> None:
    assert _keys(st_engine, json.dumps(body, ensure_ascii=False)) == []


def test_special_disease_is_never_hidden_by_a_structured_field(st_engine: Engine) -> None:
    """Overlap rule 0 drops free-text hits inside a personal field, but never a special disease."""
    body = {"idCard": PEOPLE[0].resident_id, "address": "北京市朝阳区艾滋病防治中心"}
    types = {f.entity_type for f in st_engine.scan_text(json.dumps(body, ensure_ascii=False))}
    assert "SPECIAL_DISEASE" in types
