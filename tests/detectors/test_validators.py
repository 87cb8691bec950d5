from __future__ import annotations

import pytest

from detectors.validators import (
    NEEDS_DATA,
    VALIDATORS,
    calendar_date,
    cn_mobile,
    cn_name,
    email,
    en_name,
    gb11643,
    icd10,
    luhn,
    record_number,
)
from tests.detectors.conftest import gb11643_complete, luhn_complete

ICD = frozenset({"A15", "A15.0", "B20", "B20.1", "E11", "E11.6", "E11.9", "I10", "J18", "J18.9"})


@pytest.mark.parametrize(
    "value",
    [
        "11010519491231002X",
        "11010519491231002x",
        gb11643_complete("44030419900307123"),
        gb11643_complete("31011519851120451"),
        gb11643_complete("65010220000229001"),  # 2000 is a leap year
        gb11643_complete("81000019991231003"),  # Hong Kong residence permit region
    ],
)
def test_when_valid_citizen_id_then_gb11643_accepts(value: str) -> None:
    assert gb11643(value).ok is True


@pytest.mark.parametrize(
    "value, reason",
    [
        ("110105194912310021", "check-digit"),
        (gb11643_complete("51010720010229123"), "birth-date"),  # 29 Feb 2001
        (gb11643_complete("11010518991231002"), "birth-date"),  # before 1900
        (gb11643_complete("11010530001231002"), "birth-date"),  # future
        (gb11643_complete("11010519491331002"), "birth-date"),  # month 13
        (gb11643_complete("92010519491231002"), "region"),  # no province 92
        (gb11643_complete("11000019491231002"), "region"),  # city code 00
        ("1101051949123100", "shape"),
        ("11010519491231002Y", "shape"),
    ],
)
def test_when_invalid_citizen_id_then_gb11643_rejects_with_reason(value: str, reason: str) -> None:
    v = gb11643(value)
    assert v.ok is False and v.reason == reason


@pytest.mark.parametrize(
    "value, ok",
    [
        (luhn_complete("622202123456789012"), True),
        (luhn_complete("436742012345678"), True),
        ("4111 1111 1111 1111", True),
        ("4111-1111-1111-1112", False),
        ("6222021234567890127", False),
        ("0000000000000000", False),  # repeated digit
        ("411111111111", False),  # too short for a card
        ("2100 0000 0000 0005", False),  # Luhn passes, 2-series outside Mastercard
        ("3312345678901238", False),  # Luhn passes, 33xx issues no cards
        ("1234567890128", False),  # 13 digits, Luhn passes, no card IIN
        ("378282246310005", None),  # Amex 15: Luhn passes, needs context
        ("3056 930902 5904", None),  # Diners 14
        ("4222222222222", None),  # Visa 13
        ("378282246310006", False),  # Amex 15 failing Luhn
        ("4111111111111111", True),  # Visa 16
    ],
)
def test_luhn_table(value: str, ok: bool) -> None:
    assert luhn(value).ok is ok


@pytest.mark.parametrize(
    "value, ok",
    [
        ("13812345678", True),
        ("+86 138-1234-5678", True),
        ("008619912345678", True),
        ("8613812345678", True),
        ("12012345678", False),
        ("14012345678", False),
        ("13800000000", False),
        ("1381234567", False),
    ],
)
def test_cn_mobile_table(value: str, ok: bool) -> None:
    assert cn_mobile(value).ok is ok


@pytest.mark.parametrize(
    "value, ok",
    [
        ("zhang.san@example.com", True),
        ("li_si+clinic@hospital.example.cn", True),
        ("icon@2x.png", False),
        ("a..b@example.com", False),
        (".a@example.com", False),
        ("a@-example.com", False),
        ("a@example.123", False),
    ],
)
def test_email_table(value: str, ok: bool) -> None:
    assert email(value).ok is ok


@pytest.mark.parametrize(
    "value, ok",
    [
        ("I10", True),
        ("E11.9", True),
        ("E11.65", True),  # ICD-10-CM extension of E11.6
        ("J18.900", True),  # China clinical edition
        ("I10.x00x002", True),
        ("A12", False),
        ("E11.7", False),
        ("Z99", False),
    ],
)
def test_icd10_table(value: str, ok: bool) -> None:
    assert icd10(value, ICD).ok is ok


@pytest.mark.parametrize(
    "value, ok",
    [
        ("1985-11-20", True),
        ("19491231", True),
        ("1990年3月7日", True),
        ("2001-02-29", False),
        ("2999-01-01", False),
        ("1899-12-31", False),
        ("1985-11", False),
    ],
)
def test_calendar_date_table(value: str, ok: bool) -> None:
    assert calendar_date(value).ok is ok


SURNAMES = frozenset({"张", "李", "欧阳"})


@pytest.mark.parametrize(
    "value, ok", [("张三", True), ("李小龙", True), ("欧阳明华", True), ("未知", False), ("张三丰四", False)]
)
def test_cn_name_table(value: str, ok: bool) -> None:
    assert cn_name(value, SURNAMES).ok is ok


def test_en_name_rejects_stopwords_and_has_no_opinion_otherwise() -> None:
    assert en_name("Default Config").ok is False
    assert en_name("John Smith").ok is None


@pytest.mark.parametrize(
    "value, ok", [("ZY20230012345", True), ("00384751", True), ("0000000", False), ("AB12", False)]
)
def test_record_number_table(value: str, ok: bool) -> None:
    assert record_number(value).ok is ok


def test_registry_names_every_validator_and_data_needs() -> None:
    assert set(VALIDATORS) >= {"gb11643", "luhn", "email", "icd10", "cn_mobile"}
    assert NEEDS_DATA <= set(VALIDATORS)
