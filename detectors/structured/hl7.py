"""HL7 v2 extractor: PID, DG1 and OBX fields to findings with field paths ("PID-5", "DG1-3").

Free-text patterns cannot see that ``张^三`` in PID-5 is a patient's name or that ``I10`` in
DG1-3 is a diagnosis code; the message structure says so. This is what lets an ADT message with
a name and a diagnosis grade level 4 (identifier + health content, §6.2). Values are still
validated: a PID-3 identifier typed NI must pass GB 11643 to be called a CN_RESIDENT_ID.
Offsets are character offsets into the scanned text, so structured and free-text findings on the
same value coincide and overlap resolution keeps one (the structured one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from detectors.hit import Hit
from detectors.terms import FieldSpec, StructuredSpec
from detectors.validators import calendar_date, cn_mobile, email, gb11643, icd10, us_ssn


@dataclass(frozen=True)
class Hl7Tools:
    """What the extractor borrows from the engine: the ICD-10 code list and classifiers."""

    icd_codes: frozenset[str]
    icd_class: Callable[[str], str | None]  # ICD-10 code -> special-disease class or None
    classify_text: Callable[[str], tuple[str, str]]  # diagnosis text -> (entity, note)


@dataclass(frozen=True, slots=True)
class Part:
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


_LEAD = "\ufeff\x0b \r\n\t"  # MLLP start block, whitespace and a UTF-8 BOM (exported .hl7 files)


def looks_like_hl7(text: str) -> bool:
    t = text.lstrip(_LEAD)
    return len(t) > 8 and t.startswith("MSH") and not t[3].isalnum()


def _split(p: Part, sep: str) -> list[Part]:
    out, pos = [], p.start
    for piece in p.text.split(sep):
        out.append(Part(piece, pos))
        pos += len(piece) + len(sep)
    return out


def _segments(text: str) -> Iterator[Part]:
    pos = 0
    for line in text.replace("\n", "\r").split("\r"):
        seg = line.lstrip(_LEAD)  # the first segment may carry the BOM / MLLP start byte
        yield Part(seg, pos + len(line) - len(seg))
        pos += len(line) + 1


def _hit(
    spec: StructuredSpec,
    path: str,
    entity: str,
    s: int,
    e: int,
    value: str,
    validator: str = "",
    result: str = "",
    note: str = "",
) -> Hit:
    return Hit(
        spec.id,
        spec.version,
        entity,
        s,
        e,
        spec.score,
        value,
        pattern=f"{spec.id}:{path}",
        validator=validator,
        validator_result=result,
        note=note,
        field_path=path,
    )


def _not_an_id(value: str) -> bool:
    """"", "1" (a sequence number) or one character repeated ("00000-0000000", "AAAAAA": the
    placeholders of de-identified test messages) cannot identify anyone."""
    chars = [c for c in value if c.isalnum()]
    return len(chars) < 2 or len(set(chars)) == 1


def _cx(spec: StructuredSpec, f: FieldSpec, rep: list[Part], tools: Hl7Tools) -> list[Hit]:
    ident = rep[0]
    if _not_an_id(ident.text):
        return []
    type_code = rep[4].text.strip().upper() if len(rep) > 4 else ""
    entity = f.by_type_code.get(type_code, f.entity)
    v = gb11643(ident.text)
    if v.ok:
        return [
            _hit(
                spec,
                f.path,
                "CN_RESIDENT_ID",
                ident.start,
                ident.end,
                ident.text,
                "gb11643",
                "valid:" + v.reason,
            )
        ]
    if entity == "CN_RESIDENT_ID":  # typed as an ID card number but not a valid one: still an identifier
        entity = f.entity if f.entity != "CN_RESIDENT_ID" else "MEDICAL_RECORD_NUMBER"
    return [
        _hit(
            spec,
            f.path,
            entity,
            ident.start,
            ident.end,
            ident.text,
            note=f"type:{type_code}" if type_code else "",
        )
    ]


def _span(parts: list[Part]) -> tuple[int, int, str] | None:
    used = [p for p in parts if p.text.strip()]
    if not used:
        return None
    return used[0].start, used[-1].end, " ".join(p.text for p in used)


def _name_hit(spec: StructuredSpec, f: FieldSpec, parts: list[Part]) -> list[Hit]:
    sp = _span(parts)
    if sp is None or not any(c.isalpha() for c in sp[2]):  # "2721", "^^^": not a name
        return []
    return [_hit(spec, f.path, f.entity, sp[0], sp[1], sp[2])]


def _xpn(spec: StructuredSpec, f: FieldSpec, rep: list[Part], tools: Hl7Tools) -> list[Hit]:
    return _name_hit(spec, f, rep[:3])  # family ^ given ^ middle


def _xcn(spec: StructuredSpec, f: FieldSpec, rep: list[Part], tools: Hl7Tools) -> list[Hit]:
    """XCN (attending/referring doctor, observer): ID ^ family ^ given ^ middle; the person's name
    is components 2-4. The staff ID in component 1 is not a data subject's identifier."""
    return _name_hit(spec, f, rep[1:4])


def _xad(spec: StructuredSpec, f: FieldSpec, rep: list[Part], tools: Hl7Tools) -> list[Hit]:
    sp = _span(rep[:6])
    return [_hit(spec, f.path, f.entity, sp[0], sp[1], sp[2])] if sp else []


def _ts(spec: StructuredSpec, f: FieldSpec, rep: list[Part], tools: Hl7Tools) -> list[Hit]:
    p = rep[0]
    day = p.text[:8]
    if len(day) < 8 or calendar_date(day).ok is not True:
        return []
    return [_hit(spec, f.path, f.entity, p.start, p.start + 8, day, "calendar_date", "valid:date")]


def _xtn(spec: StructuredSpec, f: FieldSpec, rep: list[Part], tools: Hl7Tools) -> list[Hit]:
    """XTN: legacy number (1), e-mail (4), area code + local number (6, 7), unformatted (12)."""
    if len(rep) > 3 and "@" in rep[3].text and email(rep[3].text.strip()).ok:
        p = rep[3]
        return [_hit(spec, f.path, "EMAIL_ADDRESS", p.start, p.end, p.text, "email", "valid:syntax")]
    if len(rep) > 6 and rep[5].text.strip() and rep[6].text.strip():
        num = rep[5].text + rep[6].text
        if 7 <= sum(c.isdigit() for c in num) <= 16:
            v = cn_mobile(num)
            result = "valid:segment" if v.ok else "none:landline-or-foreign"
            return [_hit(spec, f.path, f.entity, rep[5].start, rep[6].end, num, "cn_mobile", result)]
    for idx in (0, 11, 6):
        if idx < len(rep) and sum(c.isdigit() for c in rep[idx].text) >= 7:
            p = rep[idx]
            v = cn_mobile(p.text)
            result = "valid:segment" if v.ok else "none:landline-or-foreign"
            return [_hit(spec, f.path, f.entity, p.start, p.end, p.text, "cn_mobile", result)]
    return []


def _ce_diagnosis(spec: StructuredSpec, f: FieldSpec, rep: list[Part], tools: Hl7Tools) -> list[Hit]:
    out: list[Hit] = []
    code = rep[0]
    if code.text.strip() and icd10(code.text, tools.icd_codes).ok:
        cls = tools.icd_class(code.text)
        entity, note = ("SPECIAL_DISEASE", f"class:{cls}") if cls else ("ICD10_CODE", "")
        out.append(
            _hit(spec, f.path, entity, code.start, code.end, code.text, "icd10", "valid:code-list", note)
        )
    if len(rep) > 1 and rep[1].text.strip():
        entity, note = tools.classify_text(rep[1].text)
        out.append(_hit(spec, f.path, entity, rep[1].start, rep[1].end, rep[1].text, note=note))
    return out


def _dx_text(spec: StructuredSpec, f: FieldSpec, rep: list[Part], tools: Hl7Tools) -> list[Hit]:
    """DG1-4 diagnosis description (free text, deprecated in v2.5+ but still sent)."""
    p = rep[0]
    if not any(c.isalpha() for c in p.text):
        return []
    entity, note = tools.classify_text(p.text)
    return [_hit(spec, f.path, entity, p.start, p.end, p.text, note=note)]


def _plain(spec: StructuredSpec, f: FieldSpec, rep: list[Part], tools: Hl7Tools) -> list[Hit]:
    p = rep[0]
    if not p.text.strip():
        return []
    if f.entity in _ID_FIELDS and _not_an_id(p.text):
        return []
    if f.entity in _ID_FIELDS and gb11643(p.text).ok:  # China: the social-security no. is the citizen ID
        return [_hit(spec, f.path, "CN_RESIDENT_ID", p.start, p.end, p.text, "gb11643", "valid:mod11-2")]
    if f.entity == "US_SSN" and not us_ssn(p.text).ok:  # PID-19 reused for a local insurance number
        return [_hit(spec, f.path, "MEDICAL_INSURANCE_NUMBER", p.start, p.end, p.text, "us_ssn", "invalid:local")]
    return [_hit(spec, f.path, f.entity, p.start, p.end, p.text)]


_ID_FIELDS = frozenset({"US_SSN", "MEDICAL_INSURANCE_NUMBER", "MEDICAL_RECORD_NUMBER"})


def _whole(spec: StructuredSpec, f: FieldSpec, field: Part, tools: Hl7Tools) -> list[Hit]:
    return [_hit(spec, f.path, f.entity, field.start, field.end, field.text)] if field.text.strip() else []


Handler = Callable[[StructuredSpec, FieldSpec, list[Part], Hl7Tools], list[Hit]]
#: how each HL7 v2 data type's components are read; a field's type comes from FIELD_TYPES.
BY_TYPE: dict[str, Handler] = {
    "CX": _cx,
    "XPN": _xpn,
    "XCN": _xcn,
    "TS": _ts,
    "XAD": _xad,
    "XTN": _xtn,
    "CE": _ce_diagnosis,
    "DXT": _dx_text,
    "ST": _plain,
}
#: HL7 v2 data type of each field the catalogue may map (v2.3-2.8 agree on these). Unlisted: ST.
FIELD_TYPES: dict[str, str] = {
    **{f"PID-{i}": "CX" for i in (2, 3, 4, 18, 21)},
    **{f"PID-{i}": "XPN" for i in (5, 6, 9)},
    "PID-7": "TS",
    "PID-11": "XAD",
    "PID-13": "XTN",
    "PID-14": "XTN",
    "PID-20": "CX",  # DLN in v2.3-2.6; same first component
    **{f"NK1-{i}": "XPN" for i in (2, 30)},
    **{f"NK1-{i}": "XAD" for i in (4, 32)},
    **{f"NK1-{i}": "XTN" for i in (5, 6, 31, 40, 41)},
    "NK1-16": "TS",
    "NK1-33": "CX",
    **{f"PV1-{i}": "XCN" for i in (7, 8, 9, 17, 52)},
    **{f"PV1-{i}": "CX" for i in (19, 50)},
    "DG1-3": "CE",
    "DG1-4": "DXT",
    "DG1-16": "XCN",
    "OBX-16": "XCN",
    "OBX-25": "XCN",  # performing organisation's medical director (v2.5+)
    "GT1-3": "XPN",
    "GT1-5": "XAD",
    "GT1-6": "XTN",
    "GT1-7": "XTN",
    "GT1-8": "TS",
    "IN1-16": "XPN",
    "IN1-18": "TS",
    "IN1-19": "XAD",
}
HANDLERS: dict[str, Handler] = {path: BY_TYPE[t] for path, t in FIELD_TYPES.items()}
WHOLE_FIELD = frozenset({"OBX-5"})  # observation values: the whole field is the health fact


def extract_hl7(text: str, spec: StructuredSpec, tools: Hl7Tools) -> list[Hit]:
    lead = len(text) - len(text.lstrip(_LEAD))
    msh = text[lead:]
    fs = msh[3]
    enc = msh[4:8].split(fs)[0]
    comp_sep = enc[0] if len(enc) > 0 else "^"
    rep_sep = enc[1] if len(enc) > 1 else "~"
    out: list[Hit] = []
    for seg in _segments(text):
        name = seg.text[:3]
        if name == "MSH" or len(seg.text) < 4 or seg.text[3] != fs:
            continue
        fields = _split(seg, fs)
        for path, f in spec.fields.items():
            seg_name, _, num = path.partition("-")
            idx = int(num)
            if seg_name != name or idx >= len(fields):
                continue
            if path in WHOLE_FIELD:
                out.extend(_whole(spec, f, fields[idx], tools))
                continue
            handler = HANDLERS.get(path, _plain)
            for rep in _split(fields[idx], rep_sep):
                out.extend(handler(spec, f, _split(rep, comp_sep), tools))
    return out
