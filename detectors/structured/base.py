"""Shared pieces of the structured extractors: the payload view, the tools borrowed from the
engine, and the value checks every format applies before a field value becomes a Hit.

A field name says what a value *should* be; the value still has to look like one. ``accept``
keeps the structured path precise: a ``phone`` key holding ``"n/a"`` or ``138****5678`` (already
masked) is not a phone number, and an ``idCard`` holding an 18-digit number with a wrong check
digit is reported as a record number (an identifier nevertheless), never as a resident ID.
"""

from __future__ import annotations

import bisect
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from detectors.hit import Hit
from detectors.terms import StructuredSpec
from detectors.validators import calendar_date, cn_mobile, email, gb11643, icd10, luhn_ok

#: Entity types an extractor may be asked to emit even if a catalogue lacks them; ``entity_or``
#: falls back so that one vocabulary rename does not break every format.
FALLBACK = {
    "MEDICAL_INSURANCE_NUMBER": "SOCIAL_SECURITY_NUMBER",
    "US_SSN": "SOCIAL_SECURITY_NUMBER",
    "PASSPORT": "MEDICAL_RECORD_NUMBER",
    "HK_MACAU_TW_ID": "MEDICAL_RECORD_NUMBER",
    "SOCIAL_SECURITY_NUMBER": "MEDICAL_INSURANCE_NUMBER",
}


@dataclass(frozen=True)
class StructuredTools:
    """What extractors borrow from the engine; ``stats`` is the engine's counter (broken inputs)."""

    icd_codes: frozenset[str]
    icd_class: Callable[[str], str | None]  # ICD-10 code -> special-disease class or None
    classify_text: Callable[[str], tuple[str, str]]  # diagnosis text -> (entity, note)
    surnames: frozenset[str]
    entities: frozenset[str]
    stats: Counter[str] = field(default_factory=Counter)

    def entity_or(self, name: str) -> str:
        if name in self.entities:
            return name
        alt = FALLBACK.get(name, "MEDICAL_RECORD_NUMBER")
        return alt if alt in self.entities else "MEDICAL_RECORD_NUMBER"


class Payload:
    """One scanned text plus lazily recovered views, so sniffers and extractors share the work.

    The engine hands extractors the decoded text. Binary formats (DICOM, xlsx) need the bytes:
    ``candidates_bytes`` re-encodes the text with each codec the engine may have decoded it with
    (latin-1 is lossless; UTF-8 and GB18030 round-trip on valid input).
    """

    def __init__(self, text: str, content_type: str = "") -> None:
        self.text = text
        self.content_type = content_type.split(";")[0].strip().lower()
        # stretches an extractor knows hold no personal data (a DICOM file's binary values, an
        # organisation's address in a CDA header): free-text hits inside them are dropped
        self.quiet: list[tuple[int, int]] = []

    @cached_property
    def head(self) -> str:
        return self.text[:2048].lstrip("\ufeff \t\r\n")

    def candidate_bytes(self) -> list[tuple[bytes, str]]:
        out: list[tuple[bytes, str]] = []
        for codec in ("latin-1", "utf-8", "gb18030"):
            try:
                out.append((self.text.encode(codec), codec))
            except UnicodeEncodeError:
                continue
        return out


def drop_quiet(hits: list[Hit], quiet: list[tuple[int, int]], stats: Counter[str]) -> list[Hit]:
    """Free-text hits (no field path) lying wholly inside a quiet span are dropped and counted."""
    if not quiet:
        return hits
    merged: list[list[int]] = []
    for s, e in sorted(quiet):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    starts = [m[0] for m in merged]
    kept = []
    for h in hits:
        i = bisect.bisect_right(starts, h.start) - 1
        if not h.field_path and i >= 0 and merged[i][1] >= h.end:
            continue
        kept.append(h)
    stats["structured_quiet_dropped"] += len(hits) - len(kept)
    return kept


def make_hit(
    spec: StructuredSpec,
    path: str,
    entity: str,
    start: int,
    end: int,
    value: str,
    validator: str = "",
    result: str = "",
    note: str = "",
    key: str = "",
) -> Hit:
    return Hit(
        spec.id,
        spec.version,
        entity,
        start,
        end,
        spec.score,
        value,
        pattern=f"{spec.id}:{key or path}",
        validator=validator,
        validator_result=result,
        note=note,
        field_path=path,
    )


@dataclass(frozen=True, slots=True)
class Accepted:
    entity: str
    validator: str = ""
    result: str = ""
    note: str = ""


def _masked(v: str) -> bool:
    """Already masked or a placeholder: reporting it would be a false positive."""
    return "*" in v or "＊" in v or "×" in v or v.lower() in _PLACEHOLDERS


_PLACEHOLDERS = frozenset(
    {
        "n/a",
        "na",
        "none",
        "null",
        "unknown",
        "-",
        "--",
        "无",
        "不详",
        "未知",
        "xxx",
        "anonymized",
        "anonymous",
        "removed",
    }
)


def _is_cjk(c: str) -> bool:
    return "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf"


def name_ok(v: str, surnames: frozenset[str]) -> tuple[str, str] | None:
    """A value in a name field: CJK names of 2-6 characters, or 1-5 Latin words of letters."""
    s = unicodedata.normalize("NFKC", v).replace("^", " ").strip()
    if not s or len(s) > 60 or any(c.isdigit() for c in s) or "@" in s:
        return None
    if all(_is_cjk(c) or c == "·" for c in s.replace(" ", "")):
        compact = s.replace(" ", "")
        if not 2 <= len(compact) <= 6:
            return None
        known = compact[:2] in surnames or compact[0] in surnames
        return ("cn_name", "valid:surname" if known else "none:field-name")
    words = s.replace(",", " ").split()
    if 1 <= len(words) <= 5 and all(w.replace("-", "").replace("'", "").replace(".", "").isalpha() for w in words):
        return ("en_name", "none:field-name")
    return None


def accept(entity: str, value: str, tools: StructuredTools, trusted: bool = False) -> Accepted | None:
    """Whether ``value`` in a field that names ``entity`` is one; returns the entity to report.

    ``trusted``: the field is typed by a standard (FHIR HumanName, DICOM PN, CDA patient name), not
    guessed from a key name, so a name is accepted without the shape check (digits, spelling)."""
    v = value.strip().strip("\ufeff\u200b")  # a cell may carry a stray BOM or zero-width space
    if not v or _masked(v):
        return None
    if entity in (
        "CN_RESIDENT_ID",
        "MEDICAL_RECORD_NUMBER",
        "SOCIAL_SECURITY_NUMBER",
        "MEDICAL_INSURANCE_NUMBER",
        "US_SSN",
        "PASSPORT",
        "HK_MACAU_TW_ID",
    ):
        if len(v) > 64 or not any(c.isalnum() for c in v):
            return None
        g = gb11643(v)
        if g.ok:
            return Accepted("CN_RESIDENT_ID", "gb11643", "valid:" + g.reason)
        if entity == "CN_RESIDENT_ID":  # named an ID card but not a valid one: still an identifier
            return Accepted(tools.entity_or("MEDICAL_RECORD_NUMBER"), "gb11643", "invalid:" + g.reason)
        if sum(c.isalnum() for c in v) < (2 if trusted else 3) or len(set(v.replace("-", ""))) == 1:
            return None
        return Accepted(tools.entity_or(entity))
    if entity == "PHONE_NUMBER":
        digits = sum(c.isdigit() for c in v)
        if digits < 7 or digits > 16 or any(c.isalpha() for c in v.removeprefix("tel:")):
            return None
        m = cn_mobile(v)
        return Accepted(entity, "cn_mobile", "valid:segment" if m.ok else "none:landline-or-foreign")
    if entity == "BANK_CARD":  # a card column may hold masked, truncated or spreadsheet-mangled numbers
        card = "".join(c for c in v if c.isdigit())
        if not all(c.isdigit() or c in " -" for c in v) or not 12 <= len(card) <= 19 or not luhn_ok(card):
            return None
        return Accepted(entity, "luhn", "valid:luhn")
    if entity == "EMAIL_ADDRESS":
        e = email(v.removeprefix("mailto:"))
        return Accepted(entity, "email", "valid:" + e.reason) if e.ok else None
    if entity == "DATE_OF_BIRTH":
        d = calendar_date(v[:10] if "T" in v else v)
        return Accepted(entity, "calendar_date", "valid:date") if d.ok else None
    if entity == "PERSON_NAME":
        if trusted and len(v) <= 100 and any(c.isalpha() for c in v):
            n0 = name_ok(v, tools.surnames)
            return Accepted(entity, *(n0 or ("", "none:typed-field")))
        n = name_ok(v, tools.surnames)
        return Accepted(entity, n[0], n[1]) if n else None
    if entity == "ICD10_CODE":
        if len(v) > 16 or not icd10(v, tools.icd_codes).ok:
            return None
        cls = tools.icd_class(v)
        if cls:
            return Accepted("SPECIAL_DISEASE", "icd10", "valid:code-list", f"class:{cls}")
        return Accepted("ICD10_CODE", "icd10", "valid:code-list")
    if entity in ("DIAGNOSIS", "SPECIAL_DISEASE"):
        if len(v) > 500 or not any(c.isalpha() for c in v):
            return None
        if len(v) <= 16 and icd10(v, tools.icd_codes).ok and v[:1].isupper() and v[1:3].isdigit():
            return accept("ICD10_CODE", v, tools)
        ent, note = tools.classify_text(v)
        return Accepted(ent, note=note)
    if entity == "ADDRESS":
        return Accepted(entity) if len(v) >= 4 and any(c.isalpha() for c in v) else None
    if entity in ("DRUG", "LAB_RESULT", "GENETIC_DATA"):
        return Accepted(tools.entity_or(entity)) if len(v) <= 2000 else None
    return Accepted(tools.entity_or(entity))


def emit(
    out: list[Hit],
    spec: StructuredSpec,
    tools: StructuredTools,
    path: str,
    entity: str,
    start: int,
    end: int,
    value: str,
    key: str = "",
    trusted: bool = False,
) -> bool:
    """Check ``value`` against ``entity`` and append a Hit; True when something was emitted."""
    a = accept(entity, value, tools, trusted)
    if a is None:
        return False
    out.append(make_hit(spec, path, a.entity, start, end, value, a.validator, a.result, a.note, key))
    return True
