from __future__ import annotations

import random
from pathlib import Path

import pytest

from detectors import build_engine
from detectors.edm import EdmError, EdmIndex, PatientRow, build_index, fingerprint
from model.config import DetectorsConfig
from tests.detectors.conftest import KEY
from tests.detectors.structured.fixtures import csv_export, person

RNG = random.Random(21)
PEOPLE = [person(RNG) for _ in range(50)]
OUTSIDERS = [person(random.Random(99)) for _ in range(5)]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("edm") / "mpi.edm"
    rows = [PatientRow(p.name, p.resident_id, p.mrn, p.dob) for p in PEOPLE]
    assert build_index(KEY, rows, out, chunk=16) == 150  # three pairs per patient, chunking exercised
    return out


def test_file_holds_no_raw_values(index: Path) -> None:
    data = index.read_bytes()
    for p in PEOPLE:
        for v in (p.name, p.resident_id, p.mrn, p.dob):
            assert v.encode() not in data
    assert "mpi.edm" in repr(EdmIndex(index, KEY)) and KEY.decode() not in repr(EdmIndex(index, KEY))


def test_membership_normalises_values(index: Path) -> None:
    idx = EdmIndex(index, KEY)
    p = PEOPLE[3]
    assert fingerprint(KEY, "id", p.name, p.resident_id.lower()) in idx
    assert fingerprint(KEY, "dob", f" {p.name} ", f"{p.dob[:4]}-{p.dob[4:6]}-{p.dob[6:]}") in idx
    assert fingerprint(KEY, "id", PEOPLE[4].name, p.resident_id) not in idx  # right ID, wrong person
    assert fingerprint(KEY, "mrn", OUTSIDERS[0].name, OUTSIDERS[0].mrn) not in idx


def test_wrong_key_or_damaged_file_is_refused(index: Path, tmp_path: Path) -> None:
    with pytest.raises(EdmError, match="different hash key"):
        EdmIndex(index, b"another-key")
    bad = tmp_path / "bad.edm"
    bad.write_bytes(index.read_bytes()[:-3])
    with pytest.raises(EdmError, match="truncated"):
        EdmIndex(bad, KEY)
    (tmp_path / "x.edm").write_bytes(b"nope")
    with pytest.raises(EdmError):
        EdmIndex(tmp_path / "x.edm", KEY)


def test_engine_confirms_known_patients_only(index: Path) -> None:
    engine = build_engine(DetectorsConfig(), KEY, edm=index)
    plain = build_engine(DetectorsConfig(), KEY)
    rows = PEOPLE[:4] + OUTSIDERS[:3]
    text = csv_export(rows)
    found = engine.scan_text(text)
    confirmed_rows = {f.field_path.partition("::")[0] for f in found if f.explanation.note.startswith("edm")}
    assert confirmed_rows == {f"row[{i}]" for i in range(1, 5)}
    assert all(f.score >= 0.99 for f in found if f.explanation.note.startswith("edm"))
    assert not any(f.explanation.note.startswith("edm") for f in plain.scan_text(text))
    assert engine.stats["edm_confirmed"] == 4


def test_free_text_name_and_id_pair(index: Path) -> None:
    engine = build_engine(DetectorsConfig(), KEY, edm=EdmIndex(index, KEY))
    p = PEOPLE[7]
    text = f"患者姓名：{p.name}，身份证号：{p.resident_id}，诊断：高血压"
    notes = {f.entity_type: f.explanation.note for f in engine.scan_text(text)}
    assert notes.get("CN_RESIDENT_ID", "").startswith("edm:id")


def test_empty_index(tmp_path: Path) -> None:
    out = tmp_path / "empty.edm"
    assert build_index(KEY, [], out) == 0
    idx = EdmIndex(out, KEY)
    assert 123 not in idx and idx.confirm([]) == 0
