"""A last tripwire against raw identifiers reaching the database (defence in depth).

The detectors mask evidence before an alert exists; this module does not detect anything new.
It catches the failure where masking was skipped or broken: a rendering that still holds a
whole, *valid* identifier. Only three cheap, high-precision shapes are checked, each confirmed by
its check algorithm so that ordinary numbers (counts, ports, timestamps) do not trip it:

* an 18-character CN resident identity number (GB 11643-1999) whose check character matches;
* a 16-19 digit run (optionally grouped in fours by spaces or dashes) that passes the Luhn check
  (bank cards, GB/T 39725 medical payment data);
* an 11-digit CN mobile number (``1[3-9]`` + 9 digits, optionally ``+86``-prefixed, optionally
  written 3-4-4 with spaces or dashes).

Digit runs must stand alone (no digit directly before or after), so a 19-digit nanosecond
timestamp is not read as a mobile number. A Luhn-valid run has a 1-in-10 chance for random
digits, which is why the check applies to human-readable renderings (evidence, titles, notes,
dead-letter details) and not to machine fields.
"""

from __future__ import annotations

import re

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{16}[0-9Xx](?![0-9A-Za-z])")
_CARD = re.compile(r"(?<!\d)(?:\d{16,19}|\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?)(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")

RESIDENT_ID = "CN resident identity number"
BANK_CARD = "bank card number"
MOBILE = "CN mobile number"


def resident_id_valid(s: str) -> bool:
    """GB 11643-1999 check character over the first 17 digits."""
    if len(s) != 18 or not s[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(s[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == s[17].upper()


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def find_identifiers(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every unmasked identifier in ``text``; empty for clean text.

    A cheap pre-check skips texts without a run of 11 digits, which is nearly all masked evidence.
    """
    if not _has_long_digit_run(text):
        return []
    hits: list[tuple[str, int, int]] = []
    for m in _RESIDENT_ID.finditer(text):
        if resident_id_valid(m.group(0)):
            hits.append((RESIDENT_ID, m.start(), m.end()))
    for m in _CARD.finditer(text):
        digits = re.sub(r"[ -]", "", m.group(0))
        if 16 <= len(digits) <= 19 and luhn_valid(digits):
            hits.append((BANK_CARD, m.start(), m.end()))
    for m in _MOBILE.finditer(text):
        hits.append((MOBILE, m.start(), m.end()))
    return sorted(set(hits), key=lambda h: (h[1], h[2]))


def _has_long_digit_run(text: str) -> bool:
    run = 0
    for ch in text:
        if "0" <= ch <= "9":
            run += 1
            if run >= 11:
                return True
        elif ch not in " -":
            run = 0
    return False


def first_identifier_kind(text: str) -> str | None:
    hits = find_identifiers(text)
    return hits[0][0] if hits else None


def redact(text: str) -> str:
    """``text`` with every identifier found by :func:`find_identifiers` replaced by ``[redacted <kind>]``.

    Used where losing the record is worse than losing a few characters (dead-letter details).
    """
    hits = find_identifiers(text)
    if not hits:
        return text
    out: list[str] = []
    pos = 0
    for kind, a, b in hits:
        if a < pos:  # overlaps the previous hit (an 18-digit id may also pass Luhn)
            continue
        out.append(text[pos:a])
        out.append(f"[redacted {kind}]")
        pos = b
    out.append(text[pos:])
    return "".join(out)
