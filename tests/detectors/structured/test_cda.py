from __future__ import annotations

import random

import pytest

from detectors import Engine
from tests.detectors.structured.conftest import assert_no_raw, event, structured, types_by_path
from tests.detectors.structured.fixtures import cda, person, wrong_check

P = person(random.Random(11))


def _cda(engine: Engine, text: str) -> list:
    return structured(engine.scan_text(text), "cda")


def test_ws_t_500_oids_and_header(st_engine: Engine) -> None:
    found = types_by_path(_cda(st_engine, cda(P)))
    assert found["ClinicalDocument::id[0]"] == "CN_RESIDENT_ID"  # 2.16.156.10011.1.3
    assert found["ClinicalDocument::id[1]"] == "MEDICAL_RECORD_NUMBER"  # .1.12 inpatient no.
    assert found["ClinicalDocument::id[2]"] == "MEDICAL_RECORD_NUMBER"  # .1.19 resident health card
    assert found["ClinicalDocument::recordTarget/patientRole/patient/name[0]"] == "PERSON_NAME"
    assert found["ClinicalDocument::recordTarget/patientRole/patient/birthTime"] == "DATE_OF_BIRTH"
    assert found["ClinicalDocument::recordTarget/patientRole/telecom[0]"] == "PHONE_NUMBER"
    assert found["ClinicalDocument::recordTarget/patientRole/addr[0]"] == "ADDRESS"
    assert found["ClinicalDocument::DE05.01.024.00[0]/@code"] == "ICD10_CODE"
    assert found["ClinicalDocument::DE05.01.024.00[0]/@displayName"] == "DIAGNOSIS"
    # the document-id OID 2.16.156.10011.1.1 is not a patient identifier
    assert sum(1 for k in found if k.startswith("ClinicalDocument::id[")) == 3


def test_special_disease_code_grades_5_one_subject(st_engine: Engine) -> None:
    r = st_engine.scan(event(cda(P, "B20", "艾滋病").encode()))
    assert r.record_level == 5 and len(r.subject_hashes) == 1


def test_offsets_and_no_raw(st_engine: Engine) -> None:
    text = cda(P)
    fs = _cda(st_engine, text)
    rid = next(f for f in fs if f.entity_type == "CN_RESIDENT_ID")
    assert text[rid.start : rid.end] == P.resident_id
    tel = next(f for f in fs if f.entity_type == "PHONE_NUMBER")
    assert text[tel.start : tel.end] == P.phone
    assert_no_raw(fs, [P.resident_id, P.phone, P.name, P.mrn])


def test_wrong_check_digit_under_id_card_oid_is_a_record_number(st_engine: Engine) -> None:
    text = cda(P).replace(P.resident_id, wrong_check(P.resident_id))
    found = types_by_path(_cda(st_engine, text))
    assert found["ClinicalDocument::id[0]"] == "MEDICAL_RECORD_NUMBER"


MUST_NOT = [
    '<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="2.16.156.10011.1.1" extension="DOC1"/></ClinicalDocument>',
    '<ClinicalDocument xmlns="urn:hl7-org:v3"><recordTarget><patientRole><id root="2.16.156.10011.1.3" '
    'extension=""/><patient><name>***</name></patient></patientRole></recordTarget></ClinicalDocument>',
    '<ClinicalDocument xmlns="urn:hl7-org:v3"><component><observation><code code="DE05.01.024.00"/>'
    '<value code="U99.9" codeSystem="2.16.156.10011.2.3.3.11"/></observation></component></ClinicalDocument>',
]


@pytest.mark.parametrize("text", MUST_NOT)
def test_must_not_flag(st_engine: Engine, text: str) -> None:
    assert _cda(st_engine, text) == []


@pytest.mark.parametrize(
    "text",
    [
        '<ClinicalDocument xmlns="urn:hl7-org:v3"><recordTarget>',
        "<ClinicalDocument " + "<a>" * 300,
        '<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        '<ClinicalDocument xmlns="urn:hl7-org:v3">&b;</ClinicalDocument>',
        "<ClinicalDocument>" + "<x>" * 1000,
    ],
)
def test_broken_or_hostile_xml_never_raises(st_engine: Engine, text: str) -> None:
    r = st_engine.scan(event(text.encode()))
    assert not r.grading_reason.startswith("scan-error")


# -- people beyond the patient, C-CDA clinical statements, quiet organisation data -----------------------
HEAD = '<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
T = "2.16.840.1.113883.10.20.22.4."


def _doc(body: str) -> str:
    return f"{HEAD}{body}</ClinicalDocument>"


def _paths(engine: Engine, body: str) -> dict[str, str]:
    return types_by_path(_cda(engine, _doc(body)))


@pytest.mark.parametrize(
    "body, path, entity",
    [
        ("<author><assignedAuthor><assignedPerson><name><given>Ming</given><family>Zhao</family></name>"
         "</assignedPerson></assignedAuthor></author>", "ClinicalDocument::assignedPerson/name[0]", "PERSON_NAME"),
        ("<recordTarget><patientRole><patient><guardian><telecom value='tel:13912345678'/>"
         "<guardianPerson><name><given>Hua</given><family>Lin</family></name></guardianPerson></guardian>"
         "</patient></patientRole></recordTarget>", "ClinicalDocument::guardian/telecom[0]", "PHONE_NUMBER"),
        ("<participant typeCode='IND'><associatedEntity classCode='NOK'><addr><streetAddressLine>12 Garden Rd"
         "</streetAddressLine><city>Suzhou</city></addr></associatedEntity></participant>",
         "ClinicalDocument::associatedEntity/addr[0]", "ADDRESS"),
        # a coverage subscriber: a playingEntity with a person's name parts and a birth time
        ("<participant><participantRole><playingEntity><name><given>Frank</given><family>Wu</family></name>"
         "<birthTime value='19750501'/></playingEntity></participantRole></participant>",
         "ClinicalDocument::playingEntity/birthTime", "DATE_OF_BIRTH"),
        (f"<observation classCode='OBS'><templateId root='{T}4'/><code code='55607006'/>"
         "<value xsi:type='CD' code='38341003' displayName='Hypertensive disorder'/></observation>",
         "ClinicalDocument::problem/value[0]/@displayName", "DIAGNOSIS"),
        (f"<observation classCode='OBS'><templateId root='{T}7'/><participant><participantRole><playingEntity>"
         "<code code='7980' codeSystem='2.16.840.1.113883.6.88' displayName='Penicillin G'/></playingEntity>"
         "</participantRole></participant></observation>", "ClinicalDocument::allergy/allergen", "DRUG"),
    ],
)
def test_must_flag_people_and_statements(st_engine: Engine, body: str, path: str, entity: str) -> None:
    assert _paths(st_engine, body)[path] == entity


@pytest.mark.parametrize(
    "body",
    [
        # a substance is no person: a playingEntity named without person-name parts
        "<participant><participantRole><playingEntity><name>Peanut oil</name></playingEntity>"
        "</participantRole></participant>",
        # a clinician's work address belongs to the workplace
        "<author><assignedAuthor><addr><streetAddressLine>1 Hospital Rd</streetAddressLine></addr>"
        "</assignedAuthor></author>",
        # an observation without a problem template: its value is not read as a diagnosis
        "<observation classCode='OBS'><templateId root='9.9.9'/><value xsi:type='CD' displayName='Active'/>"
        "</observation>",
    ],
)
def test_must_not_flag_people_and_statements(st_engine: Engine, body: str) -> None:
    assert _paths(st_engine, body) == {}


def test_organisation_contacts_and_code_system_names_are_quiet(st_engine: Engine) -> None:
    """Free-text detectors would report an organisation's phone and address, and "Cancer" in a
    code-system name; the CDA layout says they hold no personal data."""
    body = (
        "<custodian><assignedCustodian><representedCustodianOrganization><name>People Hospital</name>"
        "<telecom value='tel:+86-10-6512-3456'/><addr><streetAddressLine>1 Hospital Road</streetAddressLine>"
        "<city>Beijing</city></addr></representedCustodianOrganization></assignedCustodian></custodian>"
        "<component><structuredBody><observation><code code='C1' codeSystem='2.16.840.1.113883.3.26.1.1' "
        "codeSystemName='National Cancer Institute Thesaurus'/></observation></structuredBody></component>"
    )
    assert st_engine.scan_text(_doc(body)) == []
    # the same telecom under a relative is reported
    rel = "<participant><associatedEntity><telecom value='tel:+86-10-6512-3456'/></associatedEntity></participant>"
    assert [f.entity_type for f in st_engine.scan_text(_doc(rel))] == ["PHONE_NUMBER"]
