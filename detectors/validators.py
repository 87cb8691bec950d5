"""Named validators: pure checks that turn a regex candidate into a confident finding, or drop it.

A regex alone cannot tell a citizen ID from an order number; a check digit, a real calendar date
and a plausible region code can. Validators are looked up by name from the catalogue through the
explicit :data:`VALIDATORS` table (no discovery). Each returns a :class:`Verdict` with three
states, as in presidio: ``ok=True`` (confirmed, score raised), ``ok=False`` (rejected, candidate
dropped) and ``ok=None`` (no opinion). ``reason`` is a short code shown in the explanation; it
never contains the value itself.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool | None
    reason: str


#: A validator sees the matched text and the data set named by ``validator_data`` (empty if none).
ValidatorFn = Callable[[str, frozenset[str]], Verdict]

_GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_GB11643_CHECK = "10X98765432"
#: GB/T 2260 province-level codes (first two digits of an address code); 71 Taiwan, 81/82 HK/Macau,
#: 83 the code used on residence permits for Taiwan residents.
_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82 83".split()
)
#: Residence permits for HK, Macau and Taiwan residents use the whole-region codes 810000/820000/830000.
_PERMIT_REGIONS = frozenset({"81", "82", "83"})
_MIN_BIRTH_YEAR = 1900


def _today() -> _dt.date:
    return _dt.date.today()


def _date_ok(year: int, month: int, day: int) -> bool:
    try:
        d = _dt.date(year, month, day)
    except ValueError:
        return False
    return _MIN_BIRTH_YEAR <= year and d <= _today()


def gb11643_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of GB 11643-1999 over the first 17 digits."""
    s = sum(int(c) * w for c, w in zip(first17, _GB11643_WEIGHTS, strict=True))
    return _GB11643_CHECK[s % 11]


def gb11643(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """18-digit citizen ID: region prefix, real birth date, and the check character."""
    v = value.strip().upper()
    if len(v) != 18 or not v[:17].isdigit() or not (v[17].isdigit() or v[17] == "X"):
        return Verdict(False, "shape")
    if v[:2] not in _PROVINCES or (v[2:4] == "00" and v[:2] not in _PERMIT_REGIONS):
        return Verdict(False, "region")
    if not _date_ok(int(v[6:10]), int(v[10:12]), int(v[12:14])):
        return Verdict(False, "birth-date")
    if gb11643_check_char(v[:17]) != v[17]:
        return Verdict(False, "check-digit")
    return Verdict(True, "mod11-2")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """Payment card: 16-19 digits (separators ignored), not one repeated digit, Luhn mod 10."""
    digits = "".join(filter(str.isdigit, value))
    if not 16 <= len(digits) <= 19:
        return Verdict(False, "length")
    if len(set(digits)) == 1:
        return Verdict(False, "repeated-digit")
    return Verdict(True, "luhn") if luhn_ok(digits) else Verdict(False, "luhn")


#: MIIT number segments for mobiles (13x-19x), kept loose for new ranges; 10/11/12 are not mobiles.
_MOBILE_SEGMENTS = frozenset(
    [f"13{d}" for d in range(10)]
    + ["145", "146", "147", "148", "149"]
    + [f"15{d}" for d in (0, 1, 2, 3, 5, 6, 7, 8, 9)]
    + ["162", "165", "166", "167"]
    + [f"17{d}" for d in range(9)]
    + [f"18{d}" for d in range(10)]
    + [f"19{d}" for d in (0, 1, 2, 3, 5, 6, 7, 8, 9)]
)


def cn_mobile(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """Mainland mobile number: 11 digits after an optional 86/0086, in an allocated segment."""
    digits = "".join(filter(str.isdigit, value))
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    elif len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    if len(digits) != 11:
        return Verdict(False, "length")
    if digits[:3] not in _MOBILE_SEGMENTS:
        return Verdict(False, "segment")
    if len(set(digits[3:])) == 1:
        return Verdict(False, "repeated-digit")
    return Verdict(True, "segment")


#: TLD-looking suffixes that are really file extensions (icon@2x.png, bundle@1.0.js ...).
_FILE_TLDS = frozenset(
    "png jpg jpeg gif svg webp ico js mjs css map json xml html htm txt log zip gz".split()
)


def email(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """RFC 5321 shape limits plus a domain whose last label is alphabetic and not a file extension."""
    local, sep, domain = value.rpartition("@")
    if not sep or not local or len(local) > 64 or len(domain) > 253:
        return Verdict(False, "shape")
    if local[0] == "." or local[-1] == "." or ".." in local:
        return Verdict(False, "local-part")
    labels = domain.lower().split(".")
    if len(labels) < 2 or any(not lb or lb[0] == "-" or lb[-1] == "-" for lb in labels):
        return Verdict(False, "domain")
    if not labels[-1].isalpha() or labels[-1] in _FILE_TLDS:
        return Verdict(False, "tld")
    return Verdict(True, "shape")


def icd10(value: str, data: frozenset[str]) -> Verdict:
    """ICD-10 code known to the code list (WHO categories and 4-character subcategories).

    Clinical extensions (ICD-10-CM ``E11.65``, China's national clinical edition ``I10.x00x002``)
    are accepted when their WHO stem is a real code: the category always, and the subcategory
    when the character after the dot is a digit.
    """
    v = value.strip().upper()
    if v[:3] not in data:
        return Verdict(False, "unknown-category")
    if len(v) > 4 and v[3] == "." and v[4].isdigit() and v[:5] not in data:
        return Verdict(False, "unknown-subcategory")
    return Verdict(True, "code-list")


def calendar_date(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """A real past date (birth dates): YYYYMMDD or Y-M-D with -, /, . or 年月日 separators."""
    digits = "".join(c if c.isdigit() else " " for c in value).split()
    if len(digits) == 1 and len(digits[0]) == 8:
        y, m, d = int(digits[0][:4]), int(digits[0][4:6]), int(digits[0][6:])
    elif len(digits) == 3:
        y, m, d = (int(x) for x in digits)
    else:
        return Verdict(False, "shape")
    return Verdict(True, "date") if _date_ok(y, m, d) else Verdict(False, "date")


def cn_name(value: str, data: frozenset[str]) -> Verdict:
    """Chinese personal name: starts with a surname from the list (compound surnames first)."""
    v = value.strip()
    if len(v) >= 3 and v[:2] in data:
        return Verdict(True, "compound-surname")
    if 2 <= len(v) <= 3 and v[0] in data:
        return Verdict(True, "surname")
    return Verdict(False, "surname")


#: Words that follow "Name:" in logs and forms but are not people.
_NOT_NAMES = frozenset(
    "file user host server default test report config service node table column field "
    "application app project value type class module unknown none null admin system".split()
)


def en_name(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    words = [w.strip(".").lower() for w in value.split()]
    if any(w in _NOT_NAMES for w in words):
        return Verdict(False, "stopword")
    return Verdict(None, "no-check")


def record_number(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """Institution-defined record numbers (no national format): enough digits, not a placeholder."""
    digits = sum(c.isdigit() for c in value)
    if digits < 4:
        return Verdict(False, "too-few-digits")
    core = value.replace("-", "")
    if len(set(core)) == 1:
        return Verdict(False, "repeated-char")
    return Verdict(True, "shape")


VALIDATORS: dict[str, ValidatorFn] = {
    "gb11643": gb11643,
    "luhn": luhn,
    "cn_mobile": cn_mobile,
    "email": email,
    "icd10": icd10,
    "calendar_date": calendar_date,
    "cn_name": cn_name,
    "en_name": en_name,
    "record_number": record_number,
}

#: Validators that need a data set (``validator_data`` in the catalogue); loading checks this.
NEEDS_DATA: frozenset[str] = frozenset({"icd10", "cn_name"})
