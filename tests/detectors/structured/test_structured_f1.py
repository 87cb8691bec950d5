"""Structured-payload F1 (issue 3 target ≥ 0.95) on a generated, labelled set.

Each generator varies key spelling, field order, optional fields, noise fields (order numbers,
trace ids, timestamps) and traps (masked values, wrong check digits, placeholders, non-person
"name" keys); its gold labels say which field path must hold which entity type. A prediction is a
(field path, entity type) pair from any finding; precision and recall are per format.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator

import pytest

from detectors import Engine
from tests.detectors.structured.conftest import event
from tests.detectors.structured.fixtures import Person, cda, dicom_bytes, iso, person, wrong_check

Gold = set[tuple[str, str]]
FLOOR = 0.95
N = 40


def _fhir(rng: random.Random, i: int) -> tuple[bytes, Gold]:
    p = person(rng)
    res: dict = {"resourceType": "Patient", "id": f"pat-{i}", "meta": {"lastUpdated": "2024-01-02T10:00:00Z"}}
    gold: Gold = set()
    ids = []
    if rng.random() < 0.8:
        good = rng.random() < 0.8
        ids.append(
            {"system": "urn:oid:2.16.156.10011.1.3", "value": p.resident_id if good else wrong_check(p.resident_id)}
        )
        gold.add((f"Patient::identifier[{len(ids) - 1}].value", "CN_RESIDENT_ID" if good else "MEDICAL_RECORD_NUMBER"))
    ids.append({"type": {"coding": [{"code": "MR"}]}, "value": p.mrn})
    gold.add((f"Patient::identifier[{len(ids) - 1}].value", "MEDICAL_RECORD_NUMBER"))
    res["identifier"] = ids
    res["name"] = [{"family": p.name[0], "given": [p.name[1:]]}]
    gold.add(("Patient::name[0]", "PERSON_NAME"))
    if rng.random() < 0.7:
        masked = rng.random() < 0.2
        res["telecom"] = [{"system": "phone", "value": p.phone[:3] + "****" + p.phone[7:] if masked else p.phone}]
        if not masked:
            gold.add(("Patient::telecom[0]", "PHONE_NUMBER"))
    if rng.random() < 0.7:
        res["birthDate"] = iso(p.dob)
        gold.add(("Patient::birthDate[0]", "DATE_OF_BIRTH"))
    entries = [{"fullUrl": f"urn:uuid:{i}", "resource": res}]
    if rng.random() < 0.5:
        code, _disp, typ = rng.choice(
            [
                ("I10", "高血压", "ICD10_CODE"),
                ("E11.9", "2型糖尿病", "ICD10_CODE"),
                ("B20", "艾滋病", "SPECIAL_DISEASE"),
            ]
        )
        entries.append(
            {
                "resource": {
                    "resourceType": "Condition",
                    "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": code}]},
                }
            }
        )
        gold.add(("entry[1].Condition::code[0].coding[0].code", typ))
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    gold = {((f"entry[0].{k}" if k.startswith("Patient") else k), t) for k, t in gold}
    return json.dumps(bundle, ensure_ascii=False).encode(), gold


def _cda(rng: random.Random, i: int) -> tuple[bytes, Gold]:
    p = person(rng)
    code, typ = rng.choice([("I10", "ICD10_CODE"), ("J45.9", "ICD10_CODE"), ("F20.0", "SPECIAL_DISEASE")])
    text = cda(p, code, "诊断")
    gold = {
        ("ClinicalDocument::id[0]", "CN_RESIDENT_ID"),
        ("ClinicalDocument::id[1]", "MEDICAL_RECORD_NUMBER"),
        ("ClinicalDocument::id[2]", "MEDICAL_RECORD_NUMBER"),
        ("ClinicalDocument::recordTarget/patientRole/telecom[0]", "PHONE_NUMBER"),
        ("ClinicalDocument::recordTarget/patientRole/addr[0]", "ADDRESS"),
        ("ClinicalDocument::recordTarget/patientRole/patient/name[0]", "PERSON_NAME"),
        ("ClinicalDocument::recordTarget/patientRole/patient/birthTime", "DATE_OF_BIRTH"),
        ("ClinicalDocument::DE05.01.024.00[0]/@code", typ),
        ("ClinicalDocument::DE05.01.024.00[0]/@displayName", "DIAGNOSIS"),
    }
    return text.encode(), gold


def _csv(rng: random.Random, i: int) -> tuple[bytes, Gold]:
    people = [person(rng) for _ in range(rng.randint(3, 8))]
    heads = rng.choice(
        [("姓名", "身份证号", "手机号"), ("name", "id_card", "mobile"), ("患者姓名", "证件号码", "联系电话")]
    )
    noise = rng.choice(["订单号", "order_no", "created_at"])
    sep = rng.choice([",", "\t"])
    lines = [sep.join([*heads, noise])]
    gold: Gold = set()
    for r, p in enumerate(people, start=1):
        lines.append(sep.join([p.name, p.resident_id, p.phone, f"2024{rng.randint(10**15, 10**16 - 1)}"]))
        gold |= {
            (f"row[{r}]::{heads[0]}", "PERSON_NAME"),
            (f"row[{r}]::{heads[1]}", "CN_RESIDENT_ID"),
            (f"row[{r}]::{heads[2]}", "PHONE_NUMBER"),
        }
    return ("\n".join(lines) + "\n").encode(), gold


def _json(rng: random.Random, i: int) -> tuple[bytes, Gold]:
    people = [person(rng) for _ in range(rng.randint(1, 5))]
    k_name, k_id, k_tel = rng.choice(
        [("patientName", "idCard", "mobile"), ("xm", "sfzh", "sjhm"), ("name", "id_card", "phone")]
    )
    items, gold = [], set()
    for j, p in enumerate(people):
        item = {k_name: p.name, k_id: p.resident_id, k_tel: p.phone, "orderNo": f"O{rng.randint(10**17, 10**18)}"}
        gold |= {
            (f"data.rows[{j}]::{k_name}", "PERSON_NAME"),
            (f"data.rows[{j}]::{k_id}", "CN_RESIDENT_ID"),
            (f"data.rows[{j}]::{k_tel}", "PHONE_NUMBER"),
        }
        items.append(item)
    body = {
        "code": 200,
        "traceId": f"{rng.getrandbits(128):032x}",
        "data": {"rows": items, "app": {"name": "HIS", "version": "5.2"}},
    }
    return json.dumps(body, ensure_ascii=False).encode(), gold


def _dicom(rng: random.Random, i: int) -> tuple[bytes, Gold]:
    p: Person = person(rng)
    charset = rng.choice(["GB18030", "ISO_IR 192"])
    raw = dicom_bytes(f"{p.name[0]}^{p.name[1:]}", p.mrn, p.dob, charset=charset, part10=rng.random() < 0.6)
    gold = {
        ("dicom::PatientName", "PERSON_NAME"),
        ("dicom::PatientID", "MEDICAL_RECORD_NUMBER"),
        ("dicom::PatientBirthDate", "DATE_OF_BIRTH"),
        ("dicom::AccessionNumber", "MEDICAL_RECORD_NUMBER"),
        ("dicom::ReferringPhysicianName", "PERSON_NAME"),
    }
    return raw, gold


FORMATS: dict[str, Callable[[random.Random, int], tuple[bytes, Gold]]] = {
    "fhir": _fhir,
    "cda": _cda,
    "csv": _csv,
    "json": _json,
    "dicom": _dicom,
}


def corpus(fmt: str) -> Iterator[tuple[bytes, Gold]]:
    rng = random.Random(f"f1-{fmt}")
    for i in range(N):
        yield FORMATS[fmt](rng, i)


def prf(engine: Engine, fmt: str) -> tuple[float, float, float]:
    tp = fp = fn = 0
    for data, gold in corpus(fmt):
        pred = {(f.field_path, f.entity_type) for f in engine.scan(event(data)).findings if f.field_path}
        tp += len(pred & gold)
        fp += len(pred - gold)
        fn += len(gold - pred)
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_structured_f1_floor(st_engine: Engine, fmt: str) -> None:
    if fmt == "dicom":
        pytest.importorskip("pydicom")
    p, r, f1 = prf(st_engine, fmt)
    print(f"{fmt}: P={p:.3f} R={r:.3f} F1={f1:.3f}")
    assert f1 >= FLOOR, (fmt, p, r, f1)
