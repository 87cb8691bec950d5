from __future__ import annotations

import re

import pytest

from detectors.masking import mask


@pytest.mark.parametrize(
    "style, value, note, expected",
    [
        ("resident_id", "11010519491231002X", "", "110105********002X"),
        ("resident_id", "11010519491231002x", "", "110105********002X"),
        ("phone", "13812345678", "", "138****5678"),
        ("phone", "+86 138-1234-5678", "", "138****5678"),
        ("email", "zhang.san@Example.com", "", "z***@example.com"),
        ("bank_card", "6222 0212 3456 7890 128", "", "6222 **** **** 0128"),
        ("name", "张三", "", "张*"),
        ("name", "欧阳明华", "", "欧***"),
        ("name", "John Smith", "", "J*** S****"),
        ("record_number", "ZY20230012345", "", "***********45"),
        ("date", "1985-11-20", "", "1985-**-**"),
        ("address", "北京市朝阳区某街1号", "", "北京市***"),
        ("icd10", "B20.1", "", "[ICD-10 chapter B]"),
        ("special_disease", "艾滋病", "class:infectious", "[special disease: infectious]"),
        ("diagnosis", "高血压", "class:common", "[diagnosis]"),
        ("lab_result", "阳性", "", "[lab result]"),
        ("drug", "替诺福韦", "", "[drug]"),
    ],
)
def test_mask_table(style: str, value: str, note: str, expected: str) -> None:
    assert mask(style, value, note) == expected


@pytest.mark.parametrize(
    "style, value, kept",
    [
        ("resident_id", "310115198511204515", 10),
        ("phone", "13912345678", 7),
        ("bank_card", "6217000123456789019", 8),
        ("record_number", "00384751", 2),
        ("date", "19491231", 4),
    ],
)
def test_no_digits_beyond_the_kept_ones(style: str, value: str, kept: int) -> None:
    out = mask(style, value)
    assert len(re.findall(r"\d", out)) == kept
    assert value not in out
