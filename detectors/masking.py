"""Masked renderings for evidence: enough for an analyst to recognise the kind of value and tell
two findings apart, never enough to recover it. Diseases are shown only by class, because the
disease itself is the level-5 secret."""

from __future__ import annotations

from collections.abc import Callable


def _digits(v: str) -> str:
    return "".join(filter(str.isdigit, v))


def _resident_id(v: str, note: str) -> str:
    s = "".join(c for c in v if c.isalnum()).upper()
    if len(s) < 12:
        return "*" * len(s)
    return s[:6] + "*" * (len(s) - 10) + s[-4:]


def _phone(v: str, note: str) -> str:
    d = _digits(v)
    if len(d) > 11 and (d.startswith("86") or d.startswith("0086")):
        d = d[-11:]
    if len(d) < 7:
        return "*" * len(d)
    return d[:3] + "*" * (len(d) - 7) + d[-4:]


def _email(v: str, note: str) -> str:
    local, _, domain = v.strip().rpartition("@")
    return f"{local[:1]}***@{domain.lower()}" if local else "***"


def _bank_card(v: str, note: str) -> str:
    d = _digits(v)
    return f"{d[:4]} **** **** {d[-4:]}" if len(d) >= 12 else "*" * len(d)


def _name(v: str, note: str) -> str:
    parts = [p for p in v.replace("^", " ").split() if p]
    if not parts:
        return "*"
    if all(ord(c) > 0x2E7F for c in "".join(parts)):  # CJK: keep the surname character
        s = "".join(parts)
        return s[0] + "*" * (len(s) - 1)
    return " ".join(p[0] + "*" * (len(p) - 1) for p in parts)


def _record_number(v: str, note: str) -> str:
    s = v.strip()
    keep = 2 if len(s) >= 6 else 0
    return "*" * (len(s) - keep) + s[len(s) - keep :]


def _date(v: str, note: str) -> str:
    d = _digits(v)
    return f"{d[:4]}-**-**" if len(d) >= 4 else "****"


def _address(v: str, note: str) -> str:
    s = v.replace("^", "")
    return s[:3] + "***" if len(s) > 3 else "***"


def _icd10(v: str, note: str) -> str:
    s = v.strip().upper()
    return f"[ICD-10 chapter {s[:1]}]" if s else "[ICD-10]"


def _special(v: str, note: str) -> str:
    cls = note.removeprefix("class:") if note.startswith("class:") else "unspecified"
    return f"[special disease: {cls}]"


def _ip(v: str, note: str) -> str:
    s = v.strip()
    if ":" in s:
        return s.split(":", 1)[0] + ":****"
    return s.split(".", 1)[0] + ".*.*.*"


def _fixed(label: str) -> Callable[[str, str], str]:
    def render(v: str, note: str) -> str:
        return label

    return render


MASKERS: dict[str, Callable[[str, str], str]] = {
    "resident_id": _resident_id,
    "phone": _phone,
    "email": _email,
    "bank_card": _bank_card,
    "name": _name,
    "record_number": _record_number,
    "date": _date,
    "address": _address,
    "icd10": _icd10,
    "special_disease": _special,
    "diagnosis": _fixed("[diagnosis]"),
    "lab_result": _fixed("[lab result]"),
    "drug": _fixed("[drug]"),
    "ip": _ip,
    "genetic": _fixed("[genetic data]"),
}


def mask(style: str, value: str, note: str = "") -> str:
    """Render ``value`` with the entity's mask style; ``note`` carries e.g. "class:infectious"."""
    return MASKERS[style](value, note)
