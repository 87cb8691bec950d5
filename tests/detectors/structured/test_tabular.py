from __future__ import annotations

import random

import pytest

from detectors import Engine
from tests.detectors.structured.conftest import assert_no_raw, event, structured
from tests.detectors.structured.fixtures import csv_export, person, wrong_check, xlsx_bytes

RNG = random.Random(5)
PEOPLE = [person(RNG) for _ in range(30)]


def _table(engine: Engine, text: str) -> list:
    return structured(engine.scan_text(text), "table-columns")


def test_zh_header_one_finding_per_cell(st_engine: Engine) -> None:
    found = _table(st_engine, csv_export(PEOPLE))
    assert len(found) == 4 * len(PEOPLE)
    cols = {f.field_path.partition("::")[2]: set() for f in found}
    for f in found:
        cols[f.field_path.partition("::")[2]].add(f.entity_type)
    assert cols == {
        "姓名": {"PERSON_NAME"},
        "身份证号": {"CN_RESIDENT_ID"},
        "手机": {"PHONE_NUMBER"},
        "诊断": {"DIAGNOSIS"},
    }


def test_subjects_one_per_row_by_strongest_column(st_engine: Engine) -> None:
    people = PEOPLE[:10] + PEOPLE[:5]  # 15 rows, 10 distinct patients
    r = st_engine.scan(event(csv_export(people).encode()))
    assert len(r.subject_hashes) == 10
    assert r.record_level == 4


def test_en_headers_tsv_and_quotes(st_engine: Engine) -> None:
    p = PEOPLE[0]
    text = f'patient_name\tSSN\tPhone\tDx\n"{p.name}"\t123-45-6789\t{p.phone}\tI10\n'
    types = {f.field_path.partition("::")[2]: f.entity_type for f in _table(st_engine, text)}
    assert types == {"patient_name": "PERSON_NAME", "SSN": "US_SSN", "Phone": "PHONE_NUMBER", "Dx": "ICD10_CODE"}
    f = next(x for x in _table(st_engine, text) if x.entity_type == "PERSON_NAME")
    assert text[f.start : f.end] == p.name


def test_headerless_columns_inferred_from_values(st_engine: Engine) -> None:
    found = _table(st_engine, csv_export(PEOPLE, header=False))
    types = {f.field_path.partition("::")[2]: f.entity_type for f in found}
    assert types["col[0]"] == "PERSON_NAME" and types["col[1]"] == "CN_RESIDENT_ID"
    assert types["col[2]"] == "PHONE_NUMBER"
    assert "col[3]" not in types  # free-text diagnosis column without a header: not guessed


def test_containment_headers(st_engine: Engine) -> None:
    p = PEOPLE[1]
    text = f"序号,患者姓名,联系电话\n1,{p.name},{p.phone}\n2,{PEOPLE[2].name},{PEOPLE[2].phone}\n"
    types = {f.field_path.partition("::")[2]: f.entity_type for f in _table(st_engine, text)}
    assert types == {"患者姓名": "PERSON_NAME", "联系电话": "PHONE_NUMBER"}


MUST_NOT = [
    "order_id,amount,created_at\n20240101123456789012,12.50,2024-01-01 10:00:00\n"
    "20240101123456789013,9.90,2024-01-01 10:01:00\n",
    "trace,span,ms\n4bf92f3577b34da6a3ce929d0e0e4736,00f067aa0ba902b7,12\n4bf92f3577b34da6a3ce929d0e0e4737,00f067aa0ba902b8,15\n",
    "姓名,手机\n张*,138****5678\n李*,139****1234\n",
    "host,port,status\napi-1,8080,up\napi-2,8081,down\n",
]


@pytest.mark.parametrize("text", MUST_NOT)
def test_must_not_flag(st_engine: Engine, text: str) -> None:
    assert _table(st_engine, text) == []


def test_wrong_check_digit_ids_are_not_resident_ids(st_engine: Engine) -> None:
    people = PEOPLE[:6]
    text = csv_export(people)
    for p in people:
        text = text.replace(p.resident_id, wrong_check(p.resident_id))
    assert "CN_RESIDENT_ID" not in {f.entity_type for f in _table(st_engine, text)}


def test_xlsx(st_engine: Engine) -> None:
    pytest.importorskip("openpyxl")
    r = st_engine.scan(event(xlsx_bytes(PEOPLE[:8])))
    found = structured(r.findings, "table-columns")
    assert {f.entity_type for f in found} == {"PERSON_NAME", "CN_RESIDENT_ID", "PHONE_NUMBER", "DIAGNOSIS"}
    assert len(r.subject_hashes) == 8
    assert found[0].field_path.startswith("患者!row[2]::")
    assert_no_raw(r, [p.resident_id for p in PEOPLE[:8]] + [p.name for p in PEOPLE[:8]])


@pytest.mark.parametrize("data", [b"PK\x03\x04xl/" + b"\x00" * 50, b'a,b\n"unterminated,1\n', b",,,\n,,,\n"])
def test_broken_tables_never_raise(st_engine: Engine, data: bytes) -> None:
    assert not st_engine.scan(event(data)).grading_reason.startswith("scan-error")


def test_no_raw_value_in_findings(st_engine: Engine) -> None:
    r = st_engine.scan(event(csv_export(PEOPLE[:5]).encode()))
    assert_no_raw(r, [p.resident_id for p in PEOPLE[:5]] + [p.phone for p in PEOPLE[:5]] + [p.name for p in PEOPLE[:5]])


def test_english_export_headers(st_engine: Engine) -> None:
    """An English export (FakeNameGenerator-style headers, values of our own)."""
    text = (
        "Number,GivenName,Surname,StreetAddress,EmailAddress,TelephoneNumber,Birthday,CCNumber,Occupation\n"
        "1,Ann,Lee,12 Garden Road,ann.lee@example.org,021 6543 2198,3/2/1984,5.54563E+15,Nurse\n"
        "2,Bo,Park,3 Hill Street,bo.park@example.org,0471 22 33 44,11/30/1979,4111111111111111,Clerk\n"
    )
    found = {(f.field_path, f.entity_type) for f in _table(st_engine, text)}
    assert ("row[1]::GivenName", "PERSON_NAME") in found and ("row[2]::Surname", "PERSON_NAME") in found
    assert ("row[1]::StreetAddress", "ADDRESS") in found and ("row[1]::EmailAddress", "EMAIL_ADDRESS") in found
    assert ("row[2]::TelephoneNumber", "PHONE_NUMBER") in found and ("row[1]::Birthday", "DATE_OF_BIRTH") in found
    assert ("row[2]::CCNumber", "BANK_CARD") in found
    columns = {p.split("::")[1] for p, _ in found if p.startswith("row[1]::")}
    assert columns.isdisjoint({"CCNumber", "Occupation", "Number"})  # a mangled card, no personal data
