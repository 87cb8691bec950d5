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
import functools
import itertools
import re
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


#: Luhn's doubled digit (2d, minus 9 when it has two digits), by digit value.
_LUHN_DOUBLE = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_ok(digits: str) -> bool:
    r = digits[::-1]  # from the check digit: odd positions as they are, even positions doubled
    return (sum(map(int, r[0::2])) + sum(map(_LUHN_DOUBLE.__getitem__, map(int, r[1::2])))) % 10 == 0


def _ymd8(d: str) -> tuple[int, int, int]:
    return int(d[:4]), int(d[4:6]), int(d[6:8])


#: Card brands that issue numbers shorter than 16 digits: (IIN prefixes, lengths). Such a number
#: passes Luhn one time in ten by chance, so it is reported only with a context word; a 12-15 digit
#: number outside these ranges (an order number, a trace id) is never a card. Sources: ISO/IEC 7812
#: IIN assignments as published by the brands (Visa 4; Amex 34/37; Diners 300-305, 3095, 36, 38,
#: 39; JCB's legacy 1800/2131; Maestro 50 and 56-58 (Mastercard's Maestro block) and
#: 6304/6390/6759/6761-6763, 12-19 digits).
_SHORT_BRANDS: tuple[tuple[str, tuple[str, ...], frozenset[int]], ...] = (
    ("visa", ("4",), frozenset({13})),
    ("amex", ("34", "37"), frozenset({15})),
    ("diners", ("300", "301", "302", "303", "304", "305", "3095", "36", "38", "39"), frozenset({14})),
    ("jcb", ("1800", "2131"), frozenset({15})),
    ("maestro", ("50", "56", "57", "58", "6304", "6390", "6759", "6761", "6762", "6763"), frozenset({12, 13, 14, 15})),
)


def card_brand_short(digits: str) -> str:
    """The brand whose IIN and length fit a 12-15 digit number, or "" when none does."""
    n = len(digits)
    for brand, prefixes, lengths in _SHORT_BRANDS:
        if n in lengths and digits.startswith(prefixes):
            return brand
    return ""


def _long_iin_ok(digits: str) -> bool:
    """16-19 digits: the 2- and 3-series are assigned only to Mastercard 2221-2720, Diners
    (30, 36, 38, 39) and JCB (35; its published range is 3528-3589, but nobody else issues in
    35, so the whole block is kept rather than lose a JCB card to a stale range); 4, 5 and 6 hold
    Visa, Mastercard, Maestro, UnionPay, Discover and most domestic schemes, so they are not
    narrowed further. Amex (34/37) issues 15 digits only."""
    if digits[0] == "2":
        return 2221 <= int(digits[:4]) <= 2720
    if digits[0] == "3":
        return digits[:2] in ("30", "35", "36", "38", "39")
    return True


def luhn(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """Payment card: 12-19 digits (separators ignored), not one repeated digit, Luhn mod 10, and an
    IIN range that issues that length. 16-19 digits are confirmed (boost); the shorter Visa-13,
    Amex, Diners, JCB-15 and Maestro lengths pass Luhn without a boost (they need a context word)."""
    digits = "".join(filter(str.isdigit, value))
    if not 12 <= len(digits) <= 19:
        return Verdict(False, "length")
    if len(set(digits)) == 1:
        return Verdict(False, "repeated-digit")
    if len(digits) < 16:
        brand = card_brand_short(digits)
        if not brand:
            return Verdict(False, "iin")
        if not luhn_ok(digits):
            return Verdict(False, "luhn")
        return Verdict(None, f"luhn-short:{brand}")  # no boost: an order number passes 1 time in 10
    if not _long_iin_ok(digits):
        return Verdict(False, "iin")
    if len(digits) == 18 and digits[:2] in _PROVINCES and _date_ok(*_ymd8(digits[6:14])):
        return Verdict(False, "id-shaped")  # a resident ID (maybe mistyped), not a card: 1 in 10 pass Luhn
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


_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}


def _ymd(value: str) -> tuple[int, int, int] | None:
    """Y-M-D / YYYYMMDD / 年月日, D/M/Y or M/D/Y with a 4-digit year last, and English month names."""
    v = value.strip()
    month = next((i for m, i in _MONTHS.items() if m in v.lower()), 0)
    nums = "".join(c if c.isdigit() else " " for c in v).split()
    if month and len(nums) == 2:
        day, year = (int(nums[0]), int(nums[1])) if len(nums[1]) == 4 else (int(nums[1]), int(nums[0]))
        return year, month, day
    if len(nums) == 1 and len(nums[0]) == 8:
        return int(nums[0][:4]), int(nums[0][4:6]), int(nums[0][6:])
    if len(nums) != 3:
        return None
    a, b, c = (int(x) for x in nums)
    if len(nums[0]) == 4:
        return a, b, c
    if len(nums[2]) == 4:  # US M/D/Y unless the first part cannot be a month (then D/M/Y)
        return (c, a, b) if a <= 12 else (c, b, a)
    return None


def calendar_date(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """A real past date (birth dates): YYYYMMDD, Y-M-D with - / . 年月日, M/D/Y, D/M/Y, month names."""
    ymd = _ymd(value)
    if ymd is None:
        return Verdict(False, "shape")
    return Verdict(True, "date") if _date_ok(*ymd) else Verdict(False, "date")


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


def hkid(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """Hong Kong identity card: 1-2 letters + 6 digits + check (0-9/A), weights 9..2 mod 11, a
    single-letter prefix padded with a space worth 36 (Immigration Department scheme; OECD HK TIN)."""
    v = "".join(c for c in value.upper() if c.isalnum())
    if not (8 <= len(v) <= 9) or not v[-7:-1].isdigit() or not v[:-7].isalpha():
        return Verdict(False, "shape")
    body, check = v[:-1], v[-1]
    if len(body) == 7:
        body = " " + body
    total = sum((36 if c == " " else ord(c) - 55 if c.isalpha() else int(c)) * w
                for c, w in zip(body, range(9, 1, -1), strict=True))
    r = total % 11
    want = "0" if r == 0 else "A" if r == 1 else str(11 - r)
    return Verdict(True, "mod11") if check == want else Verdict(False, "check-digit")


#: Taiwan ID letters in the order of their values 10..35 (I, O, W, Z are out of sequence).
_TW_LETTERS = "ABCDEFGHJKLMNPQRSTUVXYWZIO"


def twid(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """Taiwan national ID / new-style resident certificate: letter + [1289] + 8 digits; the letter's
    two-digit value weighted 1,9, the digits 8..1, the check 1; the sum is 0 mod 10."""
    v = value.strip().upper()
    if len(v) != 10 or v[0] not in _TW_LETTERS or v[1] not in "1289" or not v[1:].isdigit():
        return Verdict(False, "shape")
    n = _TW_LETTERS.index(v[0]) + 10
    total = n // 10 + (n % 10) * 9 + sum(int(c) * w for c, w in zip(v[1:9], range(8, 0, -1), strict=True))
    total += int(v[9])
    return Verdict(True, "mod10") if total % 10 == 0 else Verdict(False, "check-digit")


#: SSNs published in advertising / specimen cards, never issued to a person.
_SSN_SPECIMENS = frozenset({"078051120", "219099999", "123456789"})


def us_ssn(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """US SSN issuance rules: area 001-899 except 666, group 01-99, serial 0001-9999, no specimens."""
    d = "".join(filter(str.isdigit, value))
    if len(d) != 9:
        return Verdict(False, "shape")
    area, group, serial = d[:3], d[3:5], d[5:]
    if area in ("000", "666") or area >= "900" or group == "00" or serial == "0000":
        return Verdict(False, "unissuable")
    if d in _SSN_SPECIMENS or len(set(d)) == 1:
        return Verdict(False, "specimen")
    return Verdict(True, "issuance-rules")


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def uscc(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """GB 32100-2015 unified social credit code: 18 chars over 0-9 + 21 letters (no I O S V Z),
    positions 3-8 an administrative-division code, check = alphabet[(31 - sum mod 31) mod 31]
    with weights 3^i mod 31."""
    v = value.strip().upper()
    if len(v) != 18 or any(c not in _USCC_ALPHABET for c in v) or not v[2:8].isdigit():
        return Verdict(False, "shape")
    if v[2:4] not in _PROVINCES and v[2:4] != "10":  # 10xxxx: national-level registrations
        return Verdict(False, "region")
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(v[:17], _USCC_WEIGHTS, strict=True))
    want = _USCC_ALPHABET[(31 - total % 31) % 31]
    return Verdict(True, "mod31") if v[17] == want else Verdict(False, "check-digit")


def imei(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """IMEI: 15 digits (separators ignored), Luhn over all 15, a non-zero reporting-body prefix."""
    d = "".join(filter(str.isdigit, value))
    if len(d) != 15 or d[:2] == "00" or len(set(d)) == 1:
        return Verdict(False, "shape")
    return Verdict(True, "luhn") if luhn_ok(d) else Verdict(False, "luhn")


def mac(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """EUI-48 with one consistent separator; not all-zero / broadcast, not a multicast group."""
    v = value.strip().lower()
    seps = {c for c in v if c in ":-"}
    if len(seps) != 1:
        return Verdict(False, "separator")
    octets = v.replace("-", ":").split(":")
    if len(octets) != 6 or any(len(o) != 2 for o in octets):
        return Verdict(False, "shape")
    if len(set(octets)) == 1:
        return Verdict(False, "reserved")
    if int(octets[0], 16) & 1:
        return Verdict(False, "multicast")
    return Verdict(True, "eui48")


def ipv4(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """Dotted quad, each octet 0-255 without leading zeros; not 0.0.0.0, 255.255.255.255 or a
    loopback (those are configuration, not about anyone)."""
    parts = value.strip().split(".")
    if len(parts) != 4 or any(not p.isdigit() or (len(p) > 1 and p[0] == "0") or int(p) > 255 for p in parts):
        return Verdict(False, "shape")
    if parts[0] in ("0", "127", "255") or parts[0] == "224":
        return Verdict(False, "reserved")
    return Verdict(True, "octets")


def ipv6(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    import ipaddress

    v = value.strip()
    if v.count(":") < 2:
        return Verdict(False, "shape")
    try:
        addr = ipaddress.IPv6Address(v)
    except ValueError:
        return Verdict(False, "shape")
    if addr.is_loopback or addr.is_unspecified or addr.is_multicast:
        return Verdict(False, "reserved")
    if "::" not in v and v.count(":") != 7:
        return Verdict(False, "shape")
    return Verdict(True, "rfc4291")


def nucleotides(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """A DNA/RNA sequence, not a word or an id: one letter case, at least 3 distinct bases, not a
    short repeat (ACACAC..., a padding run), and not both T and U."""
    v = value.strip()
    if not (v.isupper() or v.islower()):
        return Verdict(False, "mixed-case")
    u = v.upper()
    if len(set(u) - {"N"}) < 3 or ("T" in u and "U" in u):
        return Verdict(False, "alphabet")
    for k in (1, 2, 3, 4):
        if u == (u[:k] * (len(u) // k + 1))[: len(u)]:
            return Verdict(False, "repeat")
    return Verdict(True, "bases")


def nanp(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """North American number: 10 digits after an optional 1; area and exchange start 2-9, and
    neither is an N11 service code; 555-01xx fiction numbers are accepted (they look real)."""
    d = "".join(filter(str.isdigit, value))
    if len(d) == 11 and d[0] == "1":
        d = d[1:]
    if len(d) != 10 or d[0] in "01" or d[3] in "01":
        return Verdict(False, "shape")
    if d[1:3] == "11" or d[4:6] == "11" or len(set(d)) == 1:
        return Verdict(False, "service-code")
    return Verdict(True, "nanp")


def _ip_shaped(main: str) -> bool:
    parts = main.strip().split(".")
    return len(parts) == 4 and all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts)


def phone_digits(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """An international number written in groups (or E.164 after a +): 7-15 digits before any
    extension, not a date (2023-11-25, 2023.11.25) or a dotted quad (an IPv4 address), not one
    repeated digit."""
    main = value.lower().split("x")[0].split("ext")[0]
    d = "".join(filter(str.isdigit, main))
    if not 7 <= len(d) <= 15 or len(set(d)) == 1:
        return Verdict(False, "length")
    if _ip_shaped(main):
        return Verdict(False, "ip-shaped")
    parts = [p for p in main.replace("(", " ").replace(")", " ").replace(".", " ").replace("-", " ").split() if p]
    if len(parts) >= 3 and len(parts[0]) == 4 and parts[0][:2] in ("19", "20") and max(map(len, parts[1:3])) <= 2:
        return Verdict(False, "date")
    if len(parts) == 3 and _day_first_date(parts):
        return Verdict(False, "date")
    if len(parts) == 3 and all(len(p) == 4 for p in parts) and main.strip()[0] not in "0+(":
        # 4-4-4 without a + or a trunk 0 is how tracking and reference numbers are grouped; no
        # numbering plan writes a national number so (Indonesia's 0812 3456 7890 keeps its 0)
        return Verdict(False, "reference-shaped")
    return Verdict(True, "e164-length")


def e164_number(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """A number written with its +country code is checked against that country's numbering plan
    (the ``phonenumbers`` package: Google libphonenumber's metadata): valid length and prefix for
    the country, so it needs no context word. Dates, IPs and repeated digits fail first."""
    base = phone_digits(value)
    if base.ok is False:
        return base
    import phonenumbers  # imported on first use: only '+' candidates reach this validator

    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return Verdict(False, "unparsable")
    if not phonenumbers.is_valid_number(number):
        return Verdict(False, f"not-in-plan:+{number.country_code}")
    return Verdict(True, f"plan:{phonenumbers.region_code_for_number(number) or number.country_code}")


@functools.lru_cache(maxsize=8)
def _regions(data: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """(region, trunk prefix) for the configured regions that ``phonenumbers`` knows, in a fixed
    order (the first region that accepts a number names it in the reason)."""
    import phonenumbers

    out = []
    for region in sorted(r.strip().upper() for r in data):
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if meta is not None:
            out.append((region, meta.national_prefix or ""))
    return tuple(out)


def _coarser(written: list[str], grouped: list[str]) -> bool:
    """Every boundary between the written groups is a boundary of the plan's grouping."""
    def cuts(groups: list[str]) -> set[int]:
        return set(itertools.accumulate(len(g) for g in groups[:-1]))

    return cuts(written) <= cuts(grouped)


def national_phone(value: str, data: frozenset[str] = frozenset()) -> Verdict:
    """A number written in a country's national format, without +CC: it must be valid in the
    numbering plan of one of the configured regions (``validator_data``), start with that plan's
    trunk prefix (0, or 8 in Russia) or a parenthesised area code, and be grouped as the plan
    groups it (``phonenumbers`` NATIONAL format; separators may differ and groups may be joined,
    but the first group must be the area code exactly: "020 7946 0018", "(0151) 4960727",
    "06-12345678"). Ten bare digits or an order number split 4-4-4 fail the grouping check;
    national format plus plan validity is what lets it stand without a context word."""
    base = phone_digits(value)
    if base.ok is False:
        return base
    written = re.findall(r"\d+", value)
    if len(written) < 2:
        return Verdict(False, "ungrouped")
    digits = "".join(written)
    paren = value.lstrip().startswith("(")
    import phonenumbers

    for region, trunk in _regions(data):
        if not (paren or (trunk and digits.startswith(trunk))):
            continue
        try:
            number = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number_for_region(number, region):
            continue
        grouped = re.findall(r"\d+", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
        if "".join(grouped) == digits and grouped[0] == written[0] and _coarser(written, grouped):
            return Verdict(True, f"national:{region}")
    return Verdict(False, "no-national-plan")


def _day_first_date(parts: list[str]) -> bool:
    """28.02.2024, 08 04 2023, 11-25-2023: day and month (either order) of 1-2 digits, then a year
    19xx/20xx. A phone written 2-2-4 with a valid day and month is too rare to keep."""
    a, b, year = parts
    if len(year) != 4 or year[:2] not in ("19", "20") or len(a) > 2 or len(b) > 2:
        return False
    x, y = int(a), int(b)
    return (1 <= x <= 31 and 1 <= y <= 12) or (1 <= x <= 12 and 1 <= y <= 31)


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
    "hkid": hkid,
    "twid": twid,
    "us_ssn": us_ssn,
    "uscc": uscc,
    "imei": imei,
    "mac": mac,
    "ipv4": ipv4,
    "ipv6": ipv6,
    "nucleotides": nucleotides,
    "nanp": nanp,
    "phone_digits": phone_digits,
    "e164_number": e164_number,
    "national_phone": national_phone,
}

#: Validators that need a data set (``validator_data`` in the catalogue); loading checks this.
NEEDS_DATA: frozenset[str] = frozenset({"icd10", "cn_name", "national_phone"})
