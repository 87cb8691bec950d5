"""Must-flag / must-not-flag tables for every pattern detector, through the whole engine (prefilter,
windows, validator, context) on both prefilter backends."""

from __future__ import annotations

import pytest

from detectors import Engine
from tests.detectors.conftest import entities, gb11643_complete, luhn_complete

VALID_IDS = [
    "11010519491231002X",
    gb11643_complete("44030419900307123"),
    gb11643_complete("31011519851120451"),
    gb11643_complete("32058219780815667"),
    gb11643_complete("65010220000229001"),
]


def _has(engine: Engine, text: str, entity: str) -> bool:
    return entity in entities(engine, text)


@pytest.mark.parametrize(
    "text",
    [
        f"身份证号：{VALID_IDS[0]}",
        f'{{"idCard":"{VALID_IDS[1]}"}}',
        f"ID {VALID_IDS[2]} admitted",
        VALID_IDS[3],
        f"{VALID_IDS[4].lower()}",
        f"证件号码:{VALID_IDS[4]}。",
        f"订单号 {VALID_IDS[0]}",
    ],
)
def test_resident_id_must_flag(engine: Engine, text: str) -> None:
    assert _has(engine, text, "CN_RESIDENT_ID")


@pytest.mark.parametrize(
    "text",
    [
        "身份证号：110105194912310021",  # wrong check digit
        gb11643_complete("51010720010229123"),  # 29 Feb 2001
        gb11643_complete("11010519491331002"),  # month 13
        "order 920105194912310025 paid",  # no such region
        f"trace=a{VALID_IDS[0]}b",  # inside a longer token
        f"9{VALID_IDS[2]}",  # inside a longer digit string
        "ts=20231125013012123456",  # timestamp digits
        "traceId=4bf92f3577b34da6a3ce929d0e0e4736",
    ],
)
def test_resident_id_must_not_flag(engine: Engine, text: str) -> None:
    assert not _has(engine, text, "CN_RESIDENT_ID")


@pytest.mark.parametrize(
    "text",
    [
        "联系电话：13812345678",
        "mobile +86 139-1234-5678",
        "手机 0086 186 1234 5678",
        "tel:15912345678",
        "call 138 1234 5678 now",
        '{"phone":"17712345678"}',
        "13812345678",
        # international and national formats in free text (intl_phone v2, nanp_phone_plain)
        "Mobile: 0341 8387176",
        "mobile: 99 577450",
        "+44 20 7946 0958 office",
        "+447700900123 mobile",
        "phone 0044 20 7946 0958",
        "call (212) 555-0187 x123",
        "Tel. 212.555.0187",
        "please text me on 06 12 34 56 78",
        "Fax: 2125550187",
        "Phone: 51 516 33 75, accountant",
        # held-out Faker check (bench/eval_heldout.py), intl_phone v3
        "Tel. +33 1 42 68 53 00",  # one-digit area after the country code
        "call +61 2 9374 4000",
        "Tél. : +33 (0)4 91 55 20 00",  # (0) trunk, one-digit area, French abbreviation
        "phone (0151) 4960727",  # (area) then one subscriber group
        "phone (03437) 626652",  # 5-digit (area) code
        "WhatsApp +34 612345678",  # +CC then one group
        "mobile +49(0)1701234567",  # +CC (0) then one group
        "My mobile is 07700900461",  # national number with trunk 0, no separators
        "電話 02 2345 6789",  # traditional Chinese / Japanese phone word
        "聯絡電話：07-2345678",
        "WhatsApp 2125550187",  # bare NANP ten digits after a messaging word
        # national formats without +CC and without a phone word (national_phone): valid in a
        # phone_regions.txt plan, trunk prefix or (area), grouped as the plan groups it
        "I'm on 020 7946 0018 most evenings",  # GB London
        "Ask for Leigh Smith on (0151) 4960342.",
        "Herr Weber, 030 12345678",  # DE Berlin
        "Marie: 01 40 08 68 22",  # FR Paris
        "Try 080-7448-1750 after six",  # JP mobile
        "(02) 9829 2474 after hours",  # AU Sydney
        "家里 010-62751234",  # CN Beijing landline
        "Card: 4111 1111 1111 1111, mobile 0151 4960342",  # the card's clause does not own the phone
    ],
)
def test_phone_must_flag(engine: Engine, text: str) -> None:
    assert _has(engine, text, "PHONE_NUMBER")


@pytest.mark.parametrize(
    "text",
    [
        "201913812345678",  # inside a longer digit string
        "13812345678901",
        "ts=1638123456789",  # millisecond epoch
        "订单号 13812345678",  # order-number context
        "trace 13812345678",
        "12012345678",  # 120 is no mobile segment
        "id=a13812345678f",  # inside a hex token
        "v1.13812345678",
        "550e8400-13812345678-41d4",
        "13800000000",
        # hard negatives for the wider international patterns
        "call 2023-11-25",  # ISO date
        "phone rollout 2023.11.25",
        "contact host 192.168.10.25",  # IPv4
        "mobile app version 10.15.7 build 20231",  # version string
        "2125550187",  # bare ten digits without a label
        "fax sent at 1638123456",  # epoch seconds
        "phone order 4402 0794 6095",  # order number
        "driver's license number is 2270-66-1551",
        "Our offices are located at 6556 106 Rue Bonaparte",
        "phone: logged 2024-02-26T17:21:39.127766",  # fractional seconds of a time
        "call back about 28.02.2024",  # day-first dates
        "please phone about 08 04 2023",
        "phone 11-25-2023",
        "call 0000123456",  # zero-padded counter, not a trunk-0 number
        "電話訂單 0212345678",  # traditional-Chinese order word
        # national_phone hard negatives: no grouping to check, no plan, other structures
        "0499865473 most evenings",  # ten bare digits
        "parcel 0585 3148 7770",  # 4-4-4 reference number
        "call back about 7352 5030 8848",  # 4-4-4 without + or trunk 0, even next to a phone word
        "order 020 7946 0018",  # negative context
        "ISBN 0-306-40615-2",
        "020 79 46 00 18",  # London digits in a grouping no plan uses
        "build 010.001.002.003",
        "about 8901 0641 8719",  # the tail of a longer digit run
        "+1 (688) 030-8546",  # the tail of a NANP-invalid number
        'GET /img/nagios-sms1.png HTTP/1.1" 200 55478 "-"',  # access-log status + bytes ("sms" in a file name)
    ],
)
def test_phone_must_not_flag(engine: Engine, text: str) -> None:
    assert not _has(engine, text, "PHONE_NUMBER")


@pytest.mark.parametrize(
    "text",
    [
        "邮箱: zhang.san@example.com",
        "contact <li_si+clinic@hospital.example.cn>",
        "Mail: A.B@Example.ORG.",
        "mailto:wang@example.com",
    ],
)
def test_email_must_flag(engine: Engine, text: str) -> None:
    assert _has(engine, text, "EMAIL_ADDRESS")


@pytest.mark.parametrize(
    "text",
    [
        "https://user:secret@example.com/path",
        "http://alice@example.com/index.html",
        "icon@2x.png",
        "npm install pkg@1.2.3",
        "git clone ssh://git@example.com/repo",
        "user@localhost",
        "@example.com",
    ],
)
def test_email_must_not_flag(engine: Engine, text: str) -> None:
    assert not _has(engine, text, "EMAIL_ADDRESS")


def _grouped_4(digits: str) -> str:
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def _grouped_465(word: str, digits: str, sep: str) -> str:
    return f"{word} {digits[:4]}{sep}{digits[4:10]}{sep}{digits[10:]}"


@pytest.mark.parametrize(
    "text",
    [
        f"银行卡号 {luhn_complete('622202123456789012')}",
        "card 4367 4201 2345 6781",
        luhn_complete("621700012345678901"),
        f"账号:{luhn_complete('601382012345678')}",
        "cc 4222222222222",  # Visa 13 with the card abbreviation
        "amex 3782 822463 10005",  # Amex 4-6-5
        "credit card 378282246310005",  # Amex 15 unseparated
        "diners 3056 930902 5904",  # Diners 4-6-4
        "card 30569309025904",  # Diners 14 unseparated
        f"maestro card {luhn_complete('67591234567')}",  # Maestro 12
        "card 2223 0031 2200 3222",  # Mastercard 2-series
        f"card {luhn_complete('353011133330000')}",  # JCB 16
        f"card {luhn_complete('18001234567890')}",  # JCB legacy 15
        _grouped_465("jcb", luhn_complete("18001234567890"), " "),  # JCB 15 in 4-6-5 (v3)
        _grouped_465("card", luhn_complete("21311234567890"), "-"),
        f"卡號 {luhn_complete('422222222222')}",  # Visa 13 with the traditional-Chinese card word
        f"{luhn_complete('402452626408829')} 10/36",  # MM/YY expiry right after the number
        f"Jane Roe {_grouped_4(luhn_complete('227581326240750'))} 09/32",
        # negative context stays in its clause: the next clause's "order" labels another value
        f"信用卡号：{luhn_complete('487300000000000')}，order #27801",
        f"Card {luhn_complete('411111111111111')}; order 12345",
    ],
)
def test_bank_card_must_flag(engine: Engine, text: str) -> None:
    assert _has(engine, text, "BANK_CARD")


def _luhn_fail(prefix: str) -> str:
    good = luhn_complete(prefix)
    return good[:-1] + str((int(good[-1]) + 1) % 10)


@pytest.mark.parametrize(
    "text",
    [
        _luhn_fail("622202123456789012"),  # 19 digits failing Luhn
        f"卡号 {_luhn_fail('621700012345678901')}",
        f"order {luhn_complete('621700012345678901')}",  # Luhn passes but it is an order number
        "2023112500012345678",  # order-number shape
        "1700000000123456789",  # snowflake-style id
        f"x{luhn_complete('622202123456789012')}",
        "4111111111111111111111",  # too long
        "4222222222222",  # Visa 13 without a context word
        "378282246310005",  # Amex 15 without a context word
        f"card {luhn_complete('123456789012')}",  # 13 digits, Luhn passes, no card IIN
        f"card {luhn_complete('98765432109876')}",  # 15 digits, no card IIN
        f"account {luhn_complete('62000000000001')}",  # 15 digits in 62: UnionPay issues 16-19
        f"card {luhn_complete('331234567890123')}",  # 33xx is no card range
        f"card {luhn_complete('210000000000000')}",  # 2-series outside Mastercard 2221-2720
        f"access {luhn_complete('422222222222')}",  # "cc" inside a word is no context
        f"order {luhn_complete('37828224631000')}",  # Amex-shaped order number
        "ts 1700000000123",  # millisecond epoch
        _grouped_465("card", luhn_complete("19001234567890"), " "),  # 4-6-5 but 1900 is no IIN
        f"訂單 {luhn_complete('621700012345678901')}",  # traditional-Chinese order word
    ],
)
def test_bank_card_must_not_flag(engine: Engine, text: str) -> None:
    assert not _has(engine, text, "BANK_CARD")


def test_resident_id_wins_over_bank_card_on_the_same_digits(engine: Engine) -> None:
    # an 18-digit ID starting 3-6 that also passes Luhn is claimed by both detectors
    ids = [gb11643_complete(f"3101151985112{n:03d}1") for n in range(200)]
    both = [i for i in ids if luhn_complete(i[:-1]) == i and i[-1] != "X"]
    assert both, "need an ID that also passes Luhn"
    assert entities(engine, f"card {both[0]}") == ["CN_RESIDENT_ID"]


@pytest.mark.parametrize(
    "text",
    [
        "出院诊断：I10 原发性高血压",
        '{"system":"http://hl7.org/fhir/sid/icd-10","code":"E11.9"}',
        "diagnosis code J18.9",
        "主诊断 J18.900",
        "ICD-10: I10.x00x002",
    ],
)
def test_icd10_must_flag(engine: Engine, text: str) -> None:
    assert _has(engine, text, "ICD10_CODE")


@pytest.mark.parametrize(
    "text",
    [
        "A12",
        "room B20 floor 3",
        "I10",
        "诊断：A12",
        "ICD version A15.0.1",
        "诊断 I10.5",
        "see figure C34",
        "诊断 XA15",
        "H264 codec",
    ],
)
def test_icd10_must_not_flag(engine: Engine, text: str) -> None:
    assert not _has(engine, text, "ICD10_CODE")


def test_icd10_code_in_a_special_range_is_reported_as_its_special_class(engine: Engine) -> None:
    [f] = engine.scan_text("诊断编码 B20.1")
    assert (f.entity_type, f.explanation.note, f.level) == ("SPECIAL_DISEASE", "class:infectious", 5)
    [g] = engine.scan_text("诊断：C34.9")
    assert g.explanation.note == "class:malignant_tumour"


@pytest.mark.parametrize(
    "text",
    ["住院号：ZY20230012345", '{"mrn": "00384751"}', "病案号 1234567", "MRN#A-00123", "门诊号=MZ88812"],
)
def test_mrn_must_flag(engine: Engine, text: str) -> None:
    assert _has(engine, text, "MEDICAL_RECORD_NUMBER")


@pytest.mark.parametrize(
    "text", ["住院号：待定", "MRN: 0000000", "room 20230012345", "住院号：AB", "smrn: 12345678"]
)
def test_mrn_must_not_flag(engine: Engine, text: str) -> None:
    assert not _has(engine, text, "MEDICAL_RECORD_NUMBER")


@pytest.mark.parametrize(
    "text", ["出生日期：1985-11-20", '{"birthDate":"1990-03-07"}', "DOB: 19491231", "出生年月：1990年3月7日"]
)
def test_dob_must_flag(engine: Engine, text: str) -> None:
    assert _has(engine, text, "DATE_OF_BIRTH")


@pytest.mark.parametrize(
    "text",
    ["visit 2023-11-25", "出生日期：2001-02-29", "birthday 2999-01-01", "date 19491231", "DOB: 1985-13-01"],
)
def test_dob_must_not_flag(engine: Engine, text: str) -> None:
    assert not _has(engine, text, "DATE_OF_BIRTH")


@pytest.mark.parametrize(
    "text",
    [
        "姓名：张三，性别：男",
        '{"patientName":"欧阳明华"}',
        "患者：李四 45岁",
        "Patient Name: John Smith",
        "Name: Mary J. Watson, DOB 1970",
    ],
)
def test_person_name_must_flag(engine: Engine, text: str) -> None:
    assert _has(engine, text, "PERSON_NAME")


@pytest.mark.parametrize(
    "text",
    [
        "患者于昨日入院",
        "姓名：未知",
        "张三来了",
        "Name: Default Config",
        "File Name: report.pdf",
        "name: john smith",
        "姓名：张三丰四五",
    ],
)
def test_person_name_must_not_flag(engine: Engine, text: str) -> None:
    assert not _has(engine, text, "PERSON_NAME")
