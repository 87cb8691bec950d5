"""Must-flag / must-not-flag tables for the validators added with the v1 vocabulary. Valid values
come from independent implementations (tests/detectors/corpus_gen.py) or published specimens."""

from __future__ import annotations

import random

import pytest

from detectors.validators import (
    calendar_date,
    card_brand_short,
    hkid,
    imei,
    ipv4,
    ipv6,
    mac,
    nanp,
    nucleotides,
    phone_digits,
    twid,
    us_ssn,
    uscc,
)
from tests.detectors.corpus_gen import hk_check, tw_id
from tests.detectors.corpus_gen import imei as make_imei
from tests.detectors.corpus_gen import uscc as make_uscc

RNG = random.Random(5)


@pytest.mark.parametrize("prefix", ["A", "C", "Z", "CA", "XA"])
def test_hkid_accepts_independently_computed_check_digits(prefix: str) -> None:
    for _ in range(20):
        d = "".join(RNG.choice("0123456789") for _ in range(6))
        c = hk_check(prefix, d)
        assert hkid(f"{prefix}{d}({c})").ok and hkid(f"{prefix}{d}{c}").ok
        wrong = next(x for x in "0123456789A" if x != c)
        assert hkid(f"{prefix}{d}({wrong})").ok is False


def test_twid_and_uscc_and_imei_against_independent_generators() -> None:
    for _ in range(50):
        t = tw_id(RNG)
        assert twid(t).ok
        assert twid(t[:-1] + str((int(t[-1]) + 1) % 10)).ok is False
        u = make_uscc(RNG)
        assert uscc(u).ok, u
        i = make_imei(RNG)
        assert imei(i).ok and imei(i[:-1] + str((int(i[-1]) + 1) % 10)).ok is False


@pytest.mark.parametrize(
    "fn, good, bad",
    [
        (hkid, ["A123456(3)", "CA182361(1)"], ["A123456(4)", "A12345(3)", "1234567(8)"]),
        (twid, ["A123456789"], ["A123456788", "A323456789", "1123456789"]),
        (uscc, ["91350100M000100Y43"], ["91350100M000100Y44", "91350100M000100O43", "9135010"]),
        (us_ssn, ["536-90-4399", "536904399"], ["666-12-3456", "900-12-3456", "123-00-4567", "078-05-1120"]),
        (imei, ["490154203237518"], ["490154203237517", "000000000000000"]),
        (
            mac,
            ["00:1A:2B:3C:4D:5E", "a4-c1-38-12-34-56"],
            ["ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", "00:1A-2B:3C:4D:5E"],
        ),
        (ipv4, ["203.0.113.45", "10.20.30.40"], ["300.1.2.3", "127.0.0.1", "01.2.3.4", "0.0.0.0"]),
        (ipv6, ["2001:db8::1", "fe80::1ff:fe23:4567:890a"], ["::1", "12:30:45", "1:2:3"]),
        (
            nucleotides,
            ["ATGCGTACGTTAGCCGATCGA", "augcuagcuagcuagcuagc"],
            ["AAAAAAAAAAAAAAAAAAAA", "ACACACACACACACACACAC", "ATGCatgcATGCatgcATGC"],
        ),
        (nanp, ["212-555-0187", "+1 (415) 555-2671"], ["123-456-7890", "212-155-0187", "911-555-1234"]),
        (
            phone_digits,
            ["+46 (0)8 928 571 38", "0341 8387176", "+447700900123", "(37) 788-063", "212-555-0187 x123"],
            ["2023-11-25", "2023.11.25", "192.168.10.25", "12 34", "111 111 111", "+1234567890123456"],
        ),
        (
            calendar_date,
            ["1985-11-20", "19491231", "March 12, 1985", "12/03/1985", "1958年3月2日"],
            ["2001-02-29", "2999-01-01", "13/13/1985"],
        ),
    ],
)
def test_validator_tables(fn, good: list[str], bad: list[str]) -> None:  # type: ignore[no-untyped-def]
    for v in good:
        assert fn(v).ok is True, v
    for v in bad:
        assert fn(v).ok is False, v


@pytest.mark.parametrize(
    "digits, brand",
    [
        ("4222222222222", "visa"),
        ("378282246310005", "amex"),
        ("341111111111111", "amex"),
        ("30569309025904", "diners"),
        ("38520000023237", "diners"),
        ("180012345678901", "jcb"),
        ("675912345674", "maestro"),
        ("503812345678", "maestro"),
        ("3782822463100", ""),  # Amex IIN at 13 digits
        ("4222222222222222", ""),  # 16 digits is no short brand
        ("1234567890128", ""),
        ("620000000000018", ""),  # UnionPay issues 16-19 only
        ("990000000000001", ""),
    ],
)
def test_card_brand_short_checks_iin_and_length_together(digits: str, brand: str) -> None:
    assert card_brand_short(digits) == brand


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("+48 781 761 212", True),         # Polish mobile
        ("+44(0)1184960875", True),        # UK with the (0) trunk written
        ("+33 (0)4 92 71 60 17", True),
        ("+86 138 0013 8000", True),       # China mobile
        ("+1 415 555 2671", True),
        ("+61-2-7020-3151", True),
        ("+1234567", False),               # too short for any plan
        ("+86 12 3456", False),            # not a Chinese number shape
        ("+999 123456789", False),         # no such country code
        ("+2023-11-25", False),            # a date after a plus sign
        ("+192.168.10.11", False),         # an IP address
        ("+11111111111", False),           # one repeated digit
    ],
)
def test_e164_number_checks_the_country_plan(value: str, ok: bool) -> None:
    from detectors.validators import e164_number

    assert e164_number(value).ok is ok, e164_number(value)


REGIONS = frozenset({"CN", "GB", "DE", "FR", "JP", "AU", "US", "HK"})


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("020 7946 0018", True),           # GB London, trunk 0, plan grouping
        ("(0151) 4960342", True),          # GB, parenthesised area code
        ("030 12345678", True),            # DE Berlin
        ("01 40 08 68 22", True),          # FR Paris
        ("080-7448-1750", True),           # JP mobile, other separators
        ("(02) 9829 2474", True),          # AU Sydney
        ("010-62751234", True),            # CN Beijing landline
        ("0499865473", False),             # one group: nothing to check the grouping against
        ("0585 3148 7770", False),         # 4-4-4: valid in no configured plan
        ("020 79 46 00 18", False),        # London digits, grouping no plan uses
        ("02079 460018", False),           # first group is not the area code
        ("2345 6789", False),              # HK has no trunk prefix: needs a parenthesised area
        ("0-306-40615-2", False),          # ISBN-10
        ("03.02.2025", False),             # a date
    ],
)
def test_national_phone_checks_plan_trunk_and_grouping(value: str, ok: bool) -> None:
    from detectors.validators import national_phone

    assert national_phone(value, REGIONS).ok is ok, national_phone(value, REGIONS)


def test_national_phone_needs_the_region_configured() -> None:
    from detectors.validators import national_phone

    assert national_phone("080-7448-1750", frozenset({"JP"})).reason == "national:JP"
    assert national_phone("080-7448-1750", frozenset({"CN", "DE", "GB", "US", "AU"})).ok is False
    assert national_phone("030 12345678", frozenset({"DE"})).reason == "national:DE"
    assert national_phone("030 12345678", frozenset({"CN", "JP", "GB", "US", "AU"})).ok is False
