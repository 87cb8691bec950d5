from __future__ import annotations

from detectors import Engine
from tests.detectors.conftest import gb11643_complete

ID = "11010519491231002X"


def test_id_plus_diagnosis_is_level_4(engine: Engine) -> None:
    r = engine.scan_text(f"身份证 {ID} 诊断：高血压")
    from detectors.grading import grade

    g = grade(r, engine.entities)
    assert g.level == 4 and "CN_RESIDENT_ID" in g.reason and "DIAGNOSIS" in g.reason
    assert {c.value for c in g.categories} == {"personal_attribute", "health_status"}


def test_special_disease_is_level_5_with_reason(engine: Engine) -> None:
    from detectors.grading import grade

    g = grade(engine.scan_text("诊断：艾滋病"), engine.entities)
    assert g.level == 5 and "infectious" in g.reason and "§6.2 level 5" in g.reason


def test_id_alone_is_the_identifier_level(engine: Engine) -> None:
    from detectors.grading import grade

    g = grade(engine.scan_text(f"身份证 {ID}"), engine.entities)
    assert g.level == engine.entities["CN_RESIDENT_ID"].level and "highest finding level" in g.reason


def test_diagnosis_alone_is_level_3_and_nothing_is_level_0(engine: Engine) -> None:
    from detectors.grading import grade

    assert grade(engine.scan_text("既往高血压病史"), engine.entities).level == 3
    assert grade([], engine.entities).level == 0


def test_subjects_counted_by_strongest_identifier(engine: Engine) -> None:
    from detectors.grading import grade

    rows = [
        f"姓名：张三，身份证：{gb11643_complete(f'3101151985{i:04d}00'[:17])}，电话：138{i:08d}，诊断：高血压"
        for i in range(1001, 1051)
    ]
    g = grade(engine.scan_text("\n".join(rows)), engine.entities)
    assert len(g.subject_hashes) == 50  # not 100 (ID + phone), not 1 (same name)


def test_subjects_fall_back_to_weaker_identifiers(engine: Engine) -> None:
    from detectors.grading import grade

    g = grade(engine.scan_text("电话 13812345678, mobile 13912345678, 邮箱 a@example.com"), engine.entities)
    assert len(g.subject_hashes) == 2
