"""The raw-identifier tripwire: must-flag and must-not-flag tables."""

from __future__ import annotations

import pytest

from store.guard import (
    BANK_CARD,
    MOBILE,
    RESIDENT_ID,
    find_identifiers,
    luhn_valid,
    redact,
    resident_id_valid,
)


def _with_id_check(first17: str) -> str:
    """Compute the GB 11643 check character independently of the module under test."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
    r = sum(int(c) * w for c, w in zip(first17, weights)) % 11
    return first17 + "10X98765432"[r]


def _with_luhn(body: str) -> str:
    for d in "0123456789":
        s = body + d
        total = 0
        for i, c in enumerate(reversed(s)):
            v = int(c) * (2 if i % 2 else 1)
            total += v - 9 if v > 9 else v
        if total % 10 == 0:
            return s
    raise AssertionError


ID_X = _with_id_check("11010519491231002")  # the GB 11643 example, check character X
ID_9 = _with_id_check("44052418800101001")
CARD16 = _with_luhn("411111111111111")
CARD19 = _with_luhn("622202123456789012")


def test_helpers_agree_with_known_values() -> None:
    assert ID_X == "11010519491231002X"
    assert CARD16 == "4111111111111111"
    assert resident_id_valid(ID_X) and resident_id_valid(ID_X.lower())
    assert luhn_valid(CARD19)


MUST_FLAG = [
    (ID_X, RESIDENT_ID),
    (f"身份证号:{ID_9},姓名张*", RESIDENT_ID),
    (f"PID-3 {ID_X.lower()}", RESIDENT_ID),
    (CARD16, BANK_CARD),
    (CARD19, BANK_CARD),
    ("card 4111 1111 1111 1111 exp", BANK_CARD),
    ("4111-1111-1111-1111", BANK_CARD),
    ("13812345678", MOBILE),
    ("tel:+8613912345678;", MOBILE),
    ("手机 +86 138-1234-5678", MOBILE),
    ("198 1234 5678", MOBILE),
]

MUST_NOT_FLAG = [
    "",
    "110***********002X",  # masked resident id
    "11010519491231002",  # 17 digits: not an id
    ID_X[:-1] + ("1" if ID_X[-1] != "1" else "2"),  # wrong check character
    "4111********1111",  # masked card
    "4111111111111112",  # fails Luhn
    "138****5678",  # masked mobile
    "12812345678",  # 12x is not a mobile prefix
    "1700000000123",  # 13-digit millisecond timestamp
    "138123456789",  # 12 digits
    "port 5432, 1204 rows, 2024-01-02 10:11:12",
    "张*, 男, 1949-**-**, 高血压",
    "a" + ID_X + "b",  # glued into a token (e.g. a hex string) is not flagged
    "3f2a9c1e0b4d5a6f7e8d9c0b1a2f3e4d",  # a hash
]


@pytest.mark.parametrize(("text", "kind"), MUST_FLAG)
def test_must_flag(text: str, kind: str) -> None:
    kinds = [k for k, _, _ in find_identifiers(text)]
    assert kind in kinds


@pytest.mark.parametrize("text", MUST_NOT_FLAG)
def test_must_not_flag(text: str) -> None:
    assert find_identifiers(text) == []


def test_redact_replaces_every_identifier_and_keeps_the_rest() -> None:
    text = f"bad row: id={ID_X} card={CARD16} tel=13812345678 end"
    out = redact(text)
    assert ID_X not in out and CARD16 not in out and "13812345678" not in out
    assert out.startswith(
        "bad row: id=[redacted CN resident identity number] card=[redacted bank card number]"
    )
    assert out.endswith("tel=[redacted CN mobile number] end")
    assert redact("nothing here 12345") == "nothing here 12345"
