from __future__ import annotations

import json
import random

import pytest

from detectors import Engine
from tests.detectors.structured.conftest import assert_no_raw, event, structured, types_by_path
from tests.detectors.structured.fixtures import fhir_condition, fhir_patient, fhir_patient_xml, person, wrong_check

P = person(random.Random(7))


def _fhir(engine: Engine, text: str) -> list:
    return structured(engine.scan_text(text), "fhir")


def test_patient_json_fields_map_to_entities(st_engine: Engine) -> None:
    found = types_by_path(_fhir(st_engine, json.dumps(fhir_patient(P), ensure_ascii=False)))
    assert found == {
        "Patient::identifier[0].value": "CN_RESIDENT_ID",
        "Patient::identifier[1].value": "MEDICAL_RECORD_NUMBER",
        "Patient::name[0]": "PERSON_NAME",
        "Patient::telecom[0]": "PHONE_NUMBER",
        "Patient::birthDate[0]": "DATE_OF_BIRTH",
        "Patient::address[0]": "ADDRESS",
    }


def test_offsets_point_at_the_value(st_engine: Engine) -> None:
    text = json.dumps(fhir_patient(P), ensure_ascii=False)
    by_type = {f.entity_type: f for f in _fhir(st_engine, text)}
    rid = by_type["CN_RESIDENT_ID"]
    assert text[rid.start : rid.end] == P.resident_id
    assert text[by_type["PHONE_NUMBER"].start : by_type["PHONE_NUMBER"].end] == P.phone


def test_patient_xml_is_read_like_json(st_engine: Engine) -> None:
    found = types_by_path(_fhir(st_engine, fhir_patient_xml(P)))
    assert found["Patient::identifier[0].value"] == "CN_RESIDENT_ID"
    assert found["Patient::identifier[1].value"] == "MEDICAL_RECORD_NUMBER"
    assert found["Patient::name[0]"] == "PERSON_NAME"
    assert found["Patient::birthDate[0]"] == "DATE_OF_BIRTH"


@pytest.mark.parametrize(
    "code, display, expected",
    [
        ("I10", "Essential hypertension", {"ICD10_CODE", "DIAGNOSIS"}),
        ("B20", "HIV disease", {"SPECIAL_DISEASE"}),
        ("F20.0", "偏执型精神分裂症", {"SPECIAL_DISEASE"}),
    ],
)
def test_condition_codes_use_icd_list_and_special_classes(
    st_engine: Engine, code: str, display: str, expected: set[str]
) -> None:
    found = _fhir(st_engine, json.dumps(fhir_condition(code, display), ensure_ascii=False))
    assert {f.entity_type for f in found} == expected


def test_bundle_grades_level_5_and_counts_one_subject(st_engine: Engine) -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [{"resource": fhir_patient(P)}, {"resource": fhir_condition("B20", "HIV")}],
    }
    r = st_engine.scan(event(json.dumps(bundle, ensure_ascii=False).encode()))
    assert r.record_level == 5
    assert len(r.subject_hashes) == 1  # ID, MRN, name, phone of one Patient entry = one subject


def test_observation_and_medication(st_engine: Engine) -> None:
    obs = {"resourceType": "Observation", "code": {"text": "HbA1c"}, "valueQuantity": {"value": 7.2, "unit": "%"}}
    med = {"resourceType": "MedicationRequest", "medicationCodeableConcept": {"text": "二甲双胍片"}}
    assert {f.entity_type for f in _fhir(st_engine, json.dumps(obs))} == {"LAB_RESULT"}
    assert {f.entity_type for f in _fhir(st_engine, json.dumps(med, ensure_ascii=False))} == {"DRUG"}


def test_bulk_ndjson_counts_subjects_across_lines(st_engine: Engine) -> None:
    rng = random.Random(3)
    people = [person(rng) for _ in range(25)]
    lines = [json.dumps(fhir_patient(p), ensure_ascii=False) for p in people]
    lines.insert(5, '{"resourceType": "Patient", "name": [ broken')
    r = st_engine.scan(event("\n".join(lines).encode()))
    assert len(r.subject_hashes) == 25
    assert st_engine.stats["structured_fhir_bad_line"] >= 1


MUST_NOT = [
    '{"resourceType": "Patient", "identifier": [{"value": ""}], "name": [{"family": "***"}]}',
    '{"resourceType": "Patient", "telecom": [{"system": "phone", "value": "138****5678"}]}',
    '{"resourceType": "Patient", "birthDate": "not-a-date"}',
    '{"resourceType": "Condition", "code": {"coding": '
    '[{"system": "http://hl7.org/fhir/sid/icd-10", "code": "U99.9"}]}}',
    '{"resourceType": "Organization", "name": "Hospital"}',
    '<Patient xmlns="http://example.org/not-fhir"><name value="x"/></Patient>',
]


@pytest.mark.parametrize("text", MUST_NOT)
def test_must_not_flag(st_engine: Engine, text: str) -> None:
    assert _fhir(st_engine, text) == []


def test_wrong_check_digit_is_not_a_resident_id(st_engine: Engine) -> None:
    pat = fhir_patient(P)
    pat["identifier"][0]["value"] = wrong_check(P.resident_id)
    found = types_by_path(_fhir(st_engine, json.dumps(pat)))
    assert found["Patient::identifier[0].value"] == "MEDICAL_RECORD_NUMBER"


@pytest.mark.parametrize(
    "text",
    [
        '{"resourceType": "Patient"',
        '{"resourceType": 5}',
        "[" * 5000,
        '<Patient xmlns="http://hl7.org/fhir"><name>',
        "",
    ],
)
def test_broken_input_never_raises(st_engine: Engine, text: str) -> None:
    r = st_engine.scan(event(text.encode()))
    assert not r.grading_reason.startswith("scan-error")


def test_no_raw_value_in_findings(st_engine: Engine) -> None:
    r = st_engine.scan(event(json.dumps(fhir_patient(P), ensure_ascii=False).encode()))
    assert_no_raw(r, [P.resident_id, P.phone, P.name, P.mrn])


# -- core extensions, contacts, references, reasons (must-flag / must-not-flag rows) ------------------
EXT = "http://hl7.org/fhir/StructureDefinition/"


def _patient_with(**extra: object) -> dict:
    return {"resourceType": "Patient", "name": [{"family": "Lin", "given": ["Wei"]}], **extra}


@pytest.mark.parametrize(
    "resource, path, entity",
    [
        (_patient_with(extension=[{"url": EXT + "patient-mothersMaidenName", "valueString": "Gao Ping"}]),
         "Patient::extension[0]", "PERSON_NAME"),
        (_patient_with(extension=[{"url": EXT + "patient-birthPlace",
                                   "valueAddress": {"city": "Hangzhou", "state": "Zhejiang"}}]),
         "Patient::extension[0]", "ADDRESS"),
        (_patient_with(contact=[{"name": {"family": "Lin", "given": ["Hua"]}}]),
         "Patient::contact[0].name[0]", "PERSON_NAME"),
        (_patient_with(contact=[{"telecom": [{"system": "phone", "value": "13912345678"}]}]),
         "Patient::contact[0].telecom[0]", "PHONE_NUMBER"),
        (_patient_with(contact=[{"address": {"line": ["12 Garden Road"], "city": "Suzhou"}}]),
         "Patient::contact[0].address[0]", "ADDRESS"),
        ({"resourceType": "Observation", "subject": {"reference": "Patient/p1", "display": "Lin Wei"}},
         "Observation::subject.display", "PERSON_NAME"),
        ({"resourceType": "Encounter", "participant": [{"individual": {"reference": "Practitioner/d7",
                                                                       "display": "Dr. Qian Mo"}}]},
         "Encounter::participant[0].individual.display", "PERSON_NAME"),
        ({"resourceType": "MedicationRequest", "reasonReference": [{"reference": "Condition/c1",
                                                                    "display": "Essential hypertension"}]},
         "MedicationRequest::reasonReference[0].display", "DIAGNOSIS"),
        ({"resourceType": "MedicationRequest", "reasonCode": [{"text": "Type 2 diabetes"}]},
         "MedicationRequest::reasonCode[0].text", "DIAGNOSIS"),
    ],
)
def test_must_flag_json(st_engine: Engine, resource: dict, path: str, entity: str) -> None:
    assert types_by_path(_fhir(st_engine, json.dumps(resource)))[path] == entity


@pytest.mark.parametrize(
    "resource",
    [
        # an extension with another url is not read
        {"resourceType": "Patient", "extension": [{"url": EXT + "patient-religion", "valueString": "Gao Ping"}]},
        # references to organisations and locations are no person
        {"resourceType": "Encounter", "serviceProvider": {"reference": "Organization/o1", "display": "Gao Ping"}},
        {"resourceType": "Encounter", "location": [{"location": {"reference": "Location/l1", "display": "Ward 3"}}]},
        # a display without a reference says nothing about its type
        {"resourceType": "Observation", "performer": [{"display": "Gao Ping"}]},
    ],
)
def test_must_not_flag_json(st_engine: Engine, resource: dict) -> None:
    assert _fhir(st_engine, json.dumps(resource)) == []


def test_extension_url_is_an_attribute_in_xml(st_engine: Engine) -> None:
    xml = (
        '<Patient xmlns="http://hl7.org/fhir">'
        f'<extension url="{EXT}patient-mothersMaidenName"><valueString value="Gao Ping"/></extension>'
        f'<extension url="{EXT}patient-religion"><valueString value="Other"/></extension>'
        '<contact><name><family value="Lin"/><given value="Hua"/></name></contact></Patient>'
    )
    assert types_by_path(_fhir(st_engine, xml)) == {
        "Patient::extension[0]": "PERSON_NAME",
        "Patient::contact[0].name[0]": "PERSON_NAME",
    }


def test_a_name_like_street_stays_an_address(st_engine: Engine) -> None:
    """Overlap rule 0: a free-text name inside a structured address field loses to the field."""
    res = {"resourceType": "Patient", "address": [{"line": ["178 Spencer Green"], "city": "Wichita"}]}
    found = st_engine.scan_text(json.dumps(res))
    assert [f.entity_type for f in found] == ["ADDRESS"]
