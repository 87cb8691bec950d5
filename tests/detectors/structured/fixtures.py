"""Generated structured fixtures (no third-party data): FHIR JSON/XML/ndjson, CDA, CSV, JSON API
bodies and DICOM data sets, each with the values it must (and must not) yield."""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass

from tests.detectors.conftest import gb11643_complete

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
EN_FIRST = ["John", "Mary", "Robert", "Linda", "James", "Susan"]
EN_LAST = ["Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis"]
MOBILE_PREFIXES = ["138", "139", "150", "186", "177", "199"]


@dataclass(frozen=True)
class Person:
    name: str
    resident_id: str
    mrn: str
    phone: str
    dob: str  # YYYYMMDD


def person(rng: random.Random) -> Person:
    y, m, d = rng.randint(1940, 2005), rng.randint(1, 12), rng.randint(1, 28)
    dob = f"{y:04d}{m:02d}{d:02d}"
    rid = gb11643_complete(f"110105{dob}{rng.randint(100, 999)}")
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
    phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 99_999_999):08d}"
    if len(set(phone[3:])) == 1:
        phone = phone[:-1] + "7"
    return Person(name, rid, f"ZY{rng.randint(100000, 999999)}", phone, dob)


def iso(d: str) -> str:
    return f"{d[:4]}-{d[4:6]}-{d[6:]}"


def wrong_check(rid: str) -> str:
    c = "0" if rid[-1] != "0" else "1"
    return rid[:-1] + c


def fhir_patient(p: Person) -> dict:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [
            {"system": "urn:oid:2.16.156.10011.1.3", "value": p.resident_id},
            {"type": {"coding": [{"code": "MR"}]}, "system": "http://hospital.example/mrn", "value": p.mrn},
        ],
        "name": [{"family": p.name[0], "given": [p.name[1:]]}],
        "telecom": [{"system": "phone", "value": p.phone}],
        "gender": "male",
        "birthDate": iso(p.dob),
        "address": [{"line": ["建国路88号"], "district": "朝阳区", "city": "北京市"}],
    }


def fhir_condition(code: str, display: str) -> dict:
    return {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": code, "display": display}]},
    }


def fhir_patient_xml(p: Person) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Patient xmlns="http://hl7.org/fhir">'
        '<id value="p1"/><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml">x</div></text>'
        f'<identifier><system value="urn:oid:2.16.156.10011.1.3"/><value value="{p.resident_id}"/></identifier>'
        f'<identifier><type><coding><code value="MR"/></coding></type><value value="{p.mrn}"/></identifier>'
        f'<name><family value="{p.name[0]}"/><given value="{p.name[1:]}"/></name>'
        f'<telecom><system value="phone"/><value value="{p.phone}"/></telecom>'
        f'<birthDate value="{iso(p.dob)}"/></Patient>'
    )


def cda(p: Person, icd: str = "I10", dx: str = "原发性高血压") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<realmCode code="CN"/><id root="2.16.156.10011.1.1" extension="DOC-0001"/>'
        "<recordTarget><patientRole>"
        f'<id root="2.16.156.10011.1.3" extension="{p.resident_id}"/>'
        f'<id root="2.16.156.10011.1.12" extension="{p.mrn}"/>'
        f'<id root="2.16.156.10011.1.19" extension="HC{p.mrn[2:]}01"/>'
        f'<telecom value="tel:{p.phone}"/>'
        "<addr><state>北京市</state><city>朝阳区</city><streetAddressLine>建国路88号</streetAddressLine></addr>"
        f'<patient><name>{p.name}</name><administrativeGenderCode code="1"/><birthTime value="{p.dob}"/></patient>'
        "</patientRole></recordTarget>"
        '<component><structuredBody><component><section><entry><observation classCode="OBS">'
        '<code code="DE05.01.024.00" codeSystem="2.16.156.10011.2.2.1"/>'
        f'<value xsi:type="CD" code="{icd}" codeSystem="2.16.156.10011.2.3.3.11" displayName="{dx}"/>'
        "</observation></entry></section></component></structuredBody></component></ClinicalDocument>"
    )


def csv_export(people: list[Person], header: bool = True, sep: str = ",") -> str:
    rows = [sep.join(["姓名", "身份证号", "手机", "诊断"])] if header else []
    rows += [sep.join([p.name, p.resident_id, p.phone, "原发性高血压"]) for p in people]
    return "\n".join(rows) + "\n"


def json_api(people: list[Person]) -> str:
    return json.dumps(
        {
            "code": 0,
            "msg": "ok",
            "traceId": "7f3a9c0e12b44d0f",
            "data": {
                "total": len(people),
                "list": [
                    {
                        "patientName": p.name,
                        "id_card": p.resident_id,
                        "mobile": p.phone,
                        "visit": {"diagnosis": "2型糖尿病"},
                    }
                    for p in people
                ],
            },
        },
        ensure_ascii=False,
    )


def dicom_bytes(
    name: str, pid: str, dob: str, charset: str = "GB18030", part10: bool = True, extra: dict | None = None
) -> bytes:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.SpecificCharacterSet = charset
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[pid])
    ds.StudyDate = "20240102"
    ds.Modality = "OT"
    ds.AccessionNumber = "ACC" + pid[-6:]
    ds.InstitutionName = "First People Hospital"
    ds.ReferringPhysicianName = "Wang^Yi"
    ds.PatientName = name
    ds.PatientID = pid
    ds.PatientBirthDate = dob
    ds.PatientSex = "M"
    for k, v in (extra or {}).items():
        setattr(ds, k, v)
    if not part10:
        fp = DicomBytesIO()
        fp.is_little_endian = True
        fp.is_implicit_VR = True
        write_dataset(fp, ds)
        return bytes(fp.getvalue())
    fm = FileMetaDataset()
    fm.TransferSyntaxUID = ExplicitVRLittleEndian
    fm.MediaStorageSOPClassUID = ds.SOPClassUID
    fm.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta = fm
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def xlsx_bytes(people: list[Person]) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "患者"
    ws.append(["姓名", "身份证号", "联系电话", "诊断"])
    for p in people:
        ws.append([p.name, p.resident_id, p.phone, "原发性高血压"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
