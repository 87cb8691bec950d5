"""Gold for bench/eval_structured.py: independent readers of HL7 v2, FHIR (JSON, and XML written
from it), CDA, DICOM and CSV / JSON API bodies, each giving the exact character spans of every
personal field of a scanned text.

Nothing here imports the extractors (``detectors/structured``): HL7 is split by its separators,
JSON positions come from a small tokenizer below, XML positions from ``xml.parsers.expat``, DICOM
offsets from pydicom's ``value_tell``, CSV cells from a line split. What counts as a personal field
is written from the standards (HL7 v2 data types, FHIR R4 elements, C-CDA templates, DICOM VRs),
not from what the extractors read; the rules are in docs/evaluation.md, "Structured payloads".

A :class:`Doc` holds gold fields (a miss is a false negative), neutral zones (a finding of a
compatible type there is neither right nor wrong: narrative free text, a clinician's work phone,
the code naming a test) and, for formats scored by region, the regions whose findings count.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

# entity types a finding may carry to count for a field of each kind
ID = frozenset(
    {
        "MEDICAL_RECORD_NUMBER",
        "CN_RESIDENT_ID",
        "US_SSN",
        "MEDICAL_INSURANCE_NUMBER",
        "SOCIAL_SECURITY_NUMBER",
        "PASSPORT",
        "HK_MACAU_TW_ID",
    }
)
NAME = frozenset({"PERSON_NAME"})
DOB = frozenset({"DATE_OF_BIRTH"})
ADDR = frozenset({"ADDRESS"})
TEL = frozenset({"PHONE_NUMBER", "EMAIL_ADDRESS"})
CARD = frozenset({"BANK_CARD"})
DX = frozenset({"DIAGNOSIS", "SPECIAL_DISEASE", "ICD10_CODE"})
# a drug specific to a special-disease class (antiretroviral, cytostatic) is labelled by the class
DRUG = frozenset({"DRUG", "SPECIAL_DISEASE"})
# an observation value may be a coded finding ("Never smoker", a coded diagnosis)
LAB = frozenset({"LAB_RESULT", "DIAGNOSIS", "SPECIAL_DISEASE", "ICD10_CODE"})
HEALTH = DX | DRUG | LAB
ANY: frozenset[str] = frozenset()  # neutral zones: any type

PLACEHOLDERS = frozenset({"anonymized", "anonymous", "unknown", "none", "n/a", "na", "null", "removed"})


@dataclass
class Gold:
    label: str  # field name, e.g. "PID-5"
    spans: list[tuple[int, int]]
    types: frozenset[str]


@dataclass
class Zone:
    """Findings of these types here are not scored (ANY = every type)."""

    label: str
    span: tuple[int, int]
    types: frozenset[str]


@dataclass
class Doc:
    """One scanned text: gold fields, neutral zones, values excluded from gold (with reasons) and,
    if not the whole text, the regions whose findings are scored."""

    name: str
    data: bytes
    text: str
    gold: list[Gold] = field(default_factory=list)
    neutral: list[Zone] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    regions: list[tuple[int, int]] | None = None

    def add(self, label: str, spans: list[tuple[int, int]], types: frozenset[str], value: str) -> None:
        """A gold field if ``value`` is personal data of its kind (see :func:`why_not`), else excluded."""
        spans = [(s, e) for s, e in spans if e > s]
        reason = why_not(value, types)
        if reason or not spans:
            self.excluded.append(f"{label}: {reason or 'no value in the personal components'}")
        else:
            self.gold.append(Gold(label, spans, types))


def why_not(value: str, types: frozenset[str]) -> str:
    """Why a value in a personal field is not personal data ("" if it is).

    Written from what identifies a person, not from what the extractors accept: placeholders and
    de-identification marks, identifiers with fewer than 2 letters or digits (a sequence number
    ``1``), names without a letter, birth dates that are not calendar dates or lie before 1900 (the
    DICOM "unknown" 18000101, 11111111), telephone numbers under 7 digits (extensions, test stubs:
    no subscriber number is that short in China or North America), card numbers that are not 12-19
    digits (a spreadsheet's ``5.54563E+15``)."""
    s = value.strip()
    if not s or s.lower() in PLACEHOLDERS:
        return "empty or placeholder"
    if types <= ID | NAME | TEL | CARD | DOB and set(s) <= set("-*^ .()0"):  # 000-00-0000, (700)000-0000
        return "zeros: a placeholder"
    if types == ID and sum(c.isalnum() for c in s) < 2:
        return "identifier under 2 characters"
    if types == NAME and not any(c.isalpha() for c in s):
        return "name without a letter"
    if types == DOB and not _real_day(s):
        return "not a real birth date"
    if types == TEL and "@" not in s and sum(c.isdigit() for c in s) < 7:
        return "phone under 7 digits"
    if types == CARD and not (re.fullmatch(r"[\d -]+", s) and 12 <= sum(c.isdigit() for c in s) <= 19):
        return "not a card number"
    return ""


def _real_day(s: str) -> bool:
    """A calendar date from 1900 on: YYYYMMDD[...], YYYY-MM-DD, or M/D/YYYY (then D/M/YYYY)."""
    if m := re.match(r"(\d{4})-?(\d{2})-?(\d{2})", s):
        tries = [(m[1], m[2], m[3])]
    elif m := re.match(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\b", s):
        tries = [(m[3], m[1], m[2]), (m[3], m[2], m[1])]
    else:
        return False
    for y, mo, d in tries:
        try:
            return dt.date(int(y), int(mo), int(d)).year >= 1900
        except ValueError:
            continue
    return False


def decode(data: bytes) -> str:
    """The engine's decoding (UTF-8, GB18030, Latin-1), restated so gold offsets match its text."""
    for codec in ("utf-8", "gb18030"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1")


# == HL7 v2 ============================================================================================
# (segment, field) -> data type and entity types: every personal field of the five scored segments
# (HL7 v2.3-2.8 field definitions; names and contacts of persons, their identifiers, birth data,
# diagnoses and observation values)
HL7_FIELDS: dict[str, dict[int, tuple[str, frozenset[str]]]] = {
    "PID": {
        2: ("CX", ID), 3: ("CX", ID), 4: ("CX", ID), 5: ("XPN", NAME), 6: ("XPN", NAME), 7: ("TS", DOB),
        9: ("XPN", NAME), 11: ("XAD", ADDR), 13: ("XTN", TEL), 14: ("XTN", TEL), 18: ("CX", ID),
        19: ("ST", ID), 20: ("CX", ID), 21: ("CX", ID), 23: ("ST", ADDR),
    },
    "NK1": {
        2: ("XPN", NAME), 4: ("XAD", ADDR), 5: ("XTN", TEL), 6: ("XTN", TEL), 16: ("TS", DOB),
        30: ("XPN", NAME), 31: ("XTN", TEL), 32: ("XAD", ADDR), 33: ("CX", ID), 37: ("ST", ID),
        40: ("XTN", TEL), 41: ("XTN", TEL),
    },
    "PV1": {
        7: ("XCN", NAME), 8: ("XCN", NAME), 9: ("XCN", NAME), 17: ("XCN", NAME), 19: ("CX", ID),
        50: ("CX", ID), 52: ("XCN", NAME),
    },
    "DG1": {3: ("CE", DX), 4: ("ST", DX), 16: ("XCN", NAME)},
    "OBX": {5: ("OBX5", LAB), 16: ("XCN", NAME), 25: ("XCN", NAME)},
}
# fields of the scored segments that name what was observed or diagnosed: health context, not scored
HL7_NEUTRAL: dict[str, dict[int, frozenset[str]]] = {"OBX": {3: HEALTH, 6: HEALTH, 7: HEALTH}, "DG1": {}}
# which components of a data type carry the personal value (1-based)
HL7_COMPONENTS = {
    "CX": (1,), "XPN": (1, 2, 3), "XCN": (2, 3, 4), "XAD": (1, 2, 3, 4, 5), "TS": (1,), "ST": (1,), "CE": (1, 2),
}
HL7_SCORED = frozenset(HL7_FIELDS)


@dataclass(frozen=True)
class Piece:
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def _split(p: Piece, sep: str) -> list[Piece]:
    out, pos = [], p.start
    for part in p.text.split(sep) if sep else [p.text]:
        out.append(Piece(part, pos))
        pos += len(part) + 1
    return out


def hl7_doc(name: str, data: bytes) -> Doc:
    """Gold of one HL7 v2 message (a file): the five scored segments are the scored regions."""
    text = decode(data)
    doc = Doc(name, data, text, regions=[])
    lead = text.lstrip("\ufeff\x0b \r\n")
    fs, comp, rep, sub = "|", "^", "~", "&"
    if lead.startswith("MSH") and len(lead) > 8:
        fs, comp, rep, sub = lead[3], lead[4], lead[5], lead[7]
    pos = 0
    for line in text.replace("\n", "\r").split("\r"):
        seg = Piece(line.lstrip("\ufeff\x0b"), pos + len(line) - len(line.lstrip("\ufeff\x0b")))
        pos += len(line) + 1
        kind = seg.text[:3]
        if kind not in HL7_SCORED or seg.text[3:4] != fs:
            continue
        assert doc.regions is not None
        doc.regions.append((seg.start, seg.end))
        for idx, fv in enumerate(_split(seg, fs)):
            if idx in HL7_NEUTRAL.get(kind, {}):
                doc.neutral.append(Zone(f"{kind}-{idx}", (fv.start, fv.end), HL7_NEUTRAL[kind][idx]))
            spec = HL7_FIELDS[kind].get(idx)
            if spec is None:
                continue
            dtype, types = spec
            reps = [fv] if dtype == "OBX5" else _split(fv, rep)  # OBX-5: the whole value is the fact
            for r in reps:
                if not r.text.strip(comp + sub + " "):
                    continue
                pieces = _hl7_pieces(r, dtype, comp, sub)
                value = " ".join(p.text for p in pieces)
                doc.add(f"{kind}-{idx}", [(p.start, p.end) for p in pieces], types, value or r.text)
    return doc


def _hl7_pieces(r: Piece, dtype: str, comp: str, sub: str) -> list[Piece]:
    if dtype == "OBX5":
        return [r] if r.text.strip() else []
    comps = _split(r, comp)
    if dtype == "XTN":  # number (1), e-mail (4), area + local (6, 7), unformatted (12): each alone
        out = [c for i in (0, 11) if i < len(comps) and _digits(comps[i].text) >= 7 for c in [comps[i]]]
        if len(comps) > 3 and "@" in comps[3].text:
            out.append(comps[3])
        if len(comps) > 6 and _digits(comps[5].text + comps[6].text) >= 7:
            out += [c for c in comps[5:7] if c.text]
        if not out:  # no callable number: report what is there, why_not() excludes it
            return [c for i, c in enumerate(comps) if i in (0, 3, 5, 6, 11) and c.text.strip()]
        return sorted(out, key=lambda c: c.start)
    out = []
    for i, c in enumerate(comps, start=1):
        if i not in HL7_COMPONENTS[dtype]:
            continue
        first = _split(c, sub)[0] if dtype in ("XPN", "XCN", "XAD") else c  # XPN family = surname&...
        if dtype == "TS":
            first = Piece(first.text[:8], first.start)
        if first.text.strip():
            out.append(first)
    return out


def _digits(s: str) -> int:
    return sum(c.isdigit() for c in s)


# == JSON positions ====================================================================================
_JTOK = re.compile(
    r'\s*(?:(?P<s>"(?:[^"\\]|\\.)*")|(?P<n>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null)|(?P<p>[{}\[\]:,]))', re.S
)
Path_ = tuple[str | int, ...]


def json_spans(text: str, lo: int = 0, hi: int | None = None) -> dict[Path_, tuple[int, int]]:
    """Path (keys and list indices) -> span of each leaf: a string's content without its quotes, or
    the literal of a number. Independent of detectors/structured/jsonpos.py."""
    hi = len(text) if hi is None else hi
    toks: list[tuple[str, int, int]] = []
    pos = lo
    while pos < hi:
        m = _JTOK.match(text, pos, hi)
        if m is None or m.end() == pos:
            break
        kind = m.lastgroup or ""
        toks.append((kind, m.start(kind), m.end(kind)))
        pos = m.end()
    out: dict[Path_, tuple[int, int]] = {}

    def value(i: int, path: Path_) -> int:
        kind, s, e = toks[i]
        if kind == "p" and text[s] == "{":
            i += 1
            while toks[i][0] != "p" or text[toks[i][1]] != "}":
                ks, ke = toks[i][1], toks[i][2]
                key = json.loads(text[ks:ke])
                i = value(i + 2, (*path, key))  # skip ':'
                if text[toks[i][1]] == ",":
                    i += 1
            return i + 1
        if kind == "p" and text[s] == "[":
            i += 1
            n = 0
            while toks[i][0] != "p" or text[toks[i][1]] != "]":
                i = value(i, (*path, n))
                n += 1
                if text[toks[i][1]] == ",":
                    i += 1
            return i + 1
        out[path] = (s + 1, e - 1) if kind == "s" else (s, e)
        return i + 1

    if toks:
        value(0, ())
    return out


# == FHIR ==============================================================================================
FHIR_SCORED = ("Patient", "Condition", "Observation", "MedicationRequest")
PERSON_REFS = ("Practitioner", "Patient", "RelatedPerson")
ICD_SYSTEMS = ("icd-10", "icd10", "2.16.840.1.113883.6.3", "2.16.840.1.113883.6.90", "2.16.156.10011.2.3.3.11")
Field = tuple[str, list[Path_], frozenset[str]]


def fhir_fields(res: dict[str, Any]) -> tuple[list[Field], list[Field]]:
    """(gold, neutral) fields of one scored resource, as JSON paths inside the resource. Gold: the
    personal elements of FHIR R4 (identifier, name, telecom, address, birthDate, contact, the core
    extensions mothersMaidenName and birthPlace; Condition.code; Observation value[x];
    MedicationRequest medication[x] and reasons; any Reference(Practitioner|Patient|RelatedPerson)
    display). Neutral: the narrative (``text.div``) and the code naming an observation."""
    kind = res.get("resourceType")
    gold: list[Field] = []
    neutral: list[Field] = [("narrative", [("text", "div")], ANY)]
    if kind == "Patient":
        for i, _ in enumerate(res.get("identifier", [])):
            gold.append(("Patient.identifier", [("identifier", i, "value")], ID))
        for i, n in enumerate(res.get("name", [])):
            gold.append(("Patient.name", _name_paths(n, ("name", i)), NAME))
        for i, _ in enumerate(res.get("telecom", [])):
            gold.append(("Patient.telecom", [("telecom", i, "value")], TEL))
        for i, a in enumerate(res.get("address", [])):
            gold.append(("Patient.address", _addr_paths(a, ("address", i)), ADDR))
        gold.append(("Patient.birthDate", [("birthDate",)], DOB))
        for i, c in enumerate(res.get("contact", [])):
            gold.append(("Patient.contact.name", _name_paths(c.get("name", {}), ("contact", i, "name")), NAME))
            for j, _ in enumerate(c.get("telecom", [])):
                gold.append(("Patient.contact.telecom", [("contact", i, "telecom", j, "value")], TEL))
            if "address" in c:
                gold.append(("Patient.contact.address", _addr_paths(c["address"], ("contact", i, "address")), ADDR))
        for i, ext in enumerate(res.get("extension", [])):
            url = str(ext.get("url", ""))
            if url.endswith("/patient-mothersMaidenName"):
                gold.append(("Patient.ext.mothersMaidenName", [("extension", i, "valueString")], NAME))
            elif url.endswith("/patient-birthPlace"):
                gold.append(("Patient.ext.birthPlace", _addr_paths(ext.get("valueAddress", {}),
                                                                    ("extension", i, "valueAddress")), ADDR))
    elif kind == "Condition" and "code" in res:
        gold.append(("Condition.code", _cc_paths(res["code"], ("code",), icd=True), DX))
    elif kind == "Observation":
        paths = _value_paths(res, ())
        for j, comp in enumerate(res.get("component", [])):
            paths += _value_paths(comp, ("component", j))
            neutral.append(("Observation.component.code", [("component", j, "code")], HEALTH))
        if paths:
            gold.append(("Observation.value", paths, LAB))
        neutral.append(("Observation.code", [("code",)], HEALTH))
    elif kind == "MedicationRequest":
        paths = _cc_paths(res.get("medicationCodeableConcept", {}), ("medicationCodeableConcept",))
        if "display" in res.get("medicationReference", {}):
            paths.append(("medicationReference", "display"))
        gold.append(("MedicationRequest.medication", paths, DRUG))
        for i, c in enumerate(res.get("reasonCode", [])):
            gold.append(("MedicationRequest.reasonCode", _cc_paths(c, ("reasonCode", i), icd=True), DX))
        for i, r in enumerate(res.get("reasonReference", [])):
            if str(r.get("reference", "")).startswith("Condition") and "display" in r:
                gold.append(("MedicationRequest.reasonReference", [("reasonReference", i, "display")], DX))
    for label, path in _person_refs(res, ()):
        gold.append((f"{kind}.{label}", [path], NAME))
    return gold, neutral


def _name_paths(n: dict[str, Any], base: Path_) -> list[Path_]:
    out: list[Path_] = [(*base, k) for k in ("text", "family") if k in n]
    return out + [(*base, "given", j) for j in range(len(n.get("given", [])))]


def _addr_paths(a: dict[str, Any], base: Path_) -> list[Path_]:
    out: list[Path_] = [(*base, "text")] if "text" in a else []
    out += [(*base, "line", j) for j in range(len(a.get("line", [])))]
    return out + [(*base, k) for k in ("city", "district", "state") if k in a]


def _cc_paths(c: dict[str, Any], base: Path_, icd: bool = False) -> list[Path_]:
    out: list[Path_] = [(*base, "text")] if "text" in c else []
    for j, coding in enumerate(c.get("coding", [])):
        if "display" in coding:
            out.append((*base, "coding", j, "display"))
        if icd and "code" in coding and any(s in str(coding.get("system", "")).lower() for s in ICD_SYSTEMS):
            out.append((*base, "coding", j, "code"))
    return out


def _value_paths(holder: dict[str, Any], base: Path_) -> list[Path_]:
    out: list[Path_] = []
    for k, v in holder.items():
        if not k.startswith("value") or isinstance(v, bool):
            continue
        if isinstance(v, dict):
            if "coding" in v or "text" in v:
                out += _cc_paths(v, (*base, k))
            elif "value" in v:
                out.append((*base, k, "value"))
        else:
            out.append((*base, k))
    return out


def _person_refs(node: object, path: Path_) -> Iterator[tuple[str, Path_]]:
    """Reference(Practitioner|Patient|RelatedPerson).display anywhere in a resource: a person name."""
    if isinstance(node, dict):
        ref, disp = node.get("reference"), node.get("display")
        if isinstance(ref, str) and isinstance(disp, str) and ref.startswith(PERSON_REFS):
            yield str(next((p for p in reversed(path) if isinstance(p, str)), "reference")), (*path, "display")
        for k, v in node.items():
            if k not in ("contained", "text"):
                yield from _person_refs(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _person_refs(v, (*path, i))


def _get(node: Any, path: Path_) -> Any:
    for p in path:
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def fhir_add(doc: Doc, res: dict[str, Any], spans: dict[Path_, tuple[int, int]], base: Path_) -> None:
    """Gold and neutral zones of one resource whose leaves sit at ``spans[base + path]``."""
    gold, neutral = fhir_fields(res)
    for label, paths, types in gold:
        found = [(p, spans[(*base, *p)]) for p in paths if (*base, *p) in spans]
        values = [str(_get(res, p)) for p, _ in found]
        doc.add(label, [sp for _, sp in found], types, " ".join(values))
    for label, paths, types in neutral:
        for p in paths:
            for q, sp in spans.items():
                if q[: len(base) + len(p)] == (*base, *p):
                    doc.neutral.append(Zone(label, sp, types))


def fhir_json_docs(name: str, data: bytes) -> Iterator[Doc]:
    """One Doc per file: a resource, or a Bundle whose scored entries are the scored regions."""
    text = decode(data)
    lead = len(text) - len(text.lstrip("\ufeff \t\r\n"))  # a UTF-8 BOM stays in the engine's text
    obj = json.loads(text[lead:])
    if not isinstance(obj, dict) or "resourceType" not in obj:
        return  # not FHIR (FHIR-converter's Json/ExamplePatient.json is an API body)
    spans = json_spans(text, lead)
    doc = Doc(name, data, text, regions=[])
    entries: list[tuple[Path_, dict[str, Any]]]
    if obj.get("resourceType") == "Bundle":
        entries = [(("entry", i, "resource"), e["resource"]) for i, e in enumerate(obj.get("entry", []))
                   if isinstance(e.get("resource"), dict)]
    else:
        entries = [((), obj)]
    assert doc.regions is not None
    for base, res in entries:
        if res.get("resourceType") not in FHIR_SCORED:
            continue
        inside = [sp for p, sp in spans.items() if p[: len(base)] == base]
        if inside:
            doc.regions.append((min(s for s, _ in inside) - 1, max(e for _, e in inside) + 1))
        fhir_add(doc, res, spans, base)
    yield doc


def ndjson_doc(name: str, lines: list[str]) -> Doc:
    """Several bulk-export lines as one event (as a sensor sees a $export download)."""
    text = "\n".join(lines) + "\n"
    doc = Doc(name, text.encode(), text, regions=[])
    pos = 0
    assert doc.regions is not None
    for ln in lines:
        res = json.loads(ln)
        if res.get("resourceType") in FHIR_SCORED:
            doc.regions.append((pos, pos + len(ln)))
            fhir_add(doc, res, json_spans(text, pos, pos + len(ln)), ())
        pos += len(ln) + 1
    return doc


# -- FHIR XML, written from the JSON ------------------------------------------------------------------
def fhir_xml_doc(name: str, res: dict[str, Any]) -> Doc:
    """The resource in the FHIR XML format (R4 "XML representation": elements named as the JSON
    keys, primitives as ``value`` attributes, ``url``/``id`` as attributes, the narrative as XHTML),
    with gold from the JSON paths. The corpora hold no FHIR XML; this measures the XML reader on
    third-party values, not on third-party XML layout."""
    w = _XmlWriter()
    if "resourceType" in res:
        w.resource(res, ())
    text = "".join(w.out)
    doc = Doc(name, text.encode(), text, regions=[])
    assert doc.regions is not None
    for base, r, span in w.resources:
        if r.get("resourceType") in FHIR_SCORED:
            doc.regions.append(span)
            fhir_add(doc, r, w.spans, base)
    return doc


class _XmlWriter:
    NS = "http://hl7.org/fhir"

    def __init__(self) -> None:
        self.out: list[str] = []
        self.pos = 0
        self.spans: dict[Path_, tuple[int, int]] = {}
        self.resources: list[tuple[Path_, dict[str, Any], tuple[int, int]]] = []

    def put(self, s: str) -> None:
        self.out.append(s)
        self.pos += len(s)

    def resource(self, res: dict[str, Any], path: Path_) -> None:
        start = self.pos
        kind = res["resourceType"]
        self.put(f'<{kind} xmlns="{self.NS}">' if not path else f"<{kind}>")
        self.children(res, path)
        self.put(f"</{kind}>")
        self.resources.append((path, res, (start, self.pos)))

    def children(self, node: dict[str, Any], path: Path_) -> None:
        for k, v in node.items():
            if k in ("resourceType", "url") or k.startswith("_"):
                continue
            for i, item in enumerate(v if isinstance(v, list) else [v]):
                p: Path_ = (*path, k, i) if isinstance(v, list) else (*path, k)
                self.element(k, item, p)

    def element(self, k: str, v: Any, p: Path_) -> None:
        if k == "div" and isinstance(v, str):
            self.spans[p] = (self.pos, self.pos + len(v))
            self.put(v)
        elif isinstance(v, dict) and "resourceType" in v:
            self.put(f"<{k}>")
            self.resource(v, p)
            self.put(f"</{k}>")
        elif isinstance(v, dict):
            url = f' url="{_xml_attr(v["url"])}"' if "url" in v else ""
            self.put(f"<{k}{url}>")
            self.children(v, p)
            self.put(f"</{k}>")
        else:
            raw = v if isinstance(v, str) else json.dumps(v)
            esc = _xml_attr(raw)
            self.put(f'<{k} value="')
            self.spans[p] = (self.pos, self.pos + len(esc))
            self.put(esc + '"/>')


def _xml_attr(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


# == XML positions (expat) ============================================================================
@dataclass
class XEl:
    tag: str  # local name
    attrs: dict[str, tuple[str, tuple[int, int]]]  # local name -> (value, span of the raw value)
    start: int
    end: int = 0
    parent: XEl | None = None
    children: list[XEl] = field(default_factory=list)
    text: tuple[str, tuple[int, int]] | None = None  # own text (trimmed) and its span

    def iter(self) -> Iterator[XEl]:
        yield self
        for c in self.children:
            yield from c.iter()

    def find(self, tag: str) -> XEl | None:
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag: str) -> list[XEl]:
        return [c for c in self.children if c.tag == tag]

    def ancestors(self) -> Iterator[XEl]:
        p = self.parent
        while p is not None:
            yield p
            p = p.parent

    def span(self) -> tuple[int, int]:
        return self.start, self.end


_ATTR_RAW = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def parse_xml(data: bytes, text: str) -> XEl:
    """Element tree with character offsets (expat byte offsets mapped onto ``text``)."""
    b2c = _ByteToChar(data)
    root = XEl("#document", {}, 0, len(text))
    stack = [root]
    parser = expat.ParserCreate(namespace_separator=" ")

    def start(name: str, attrs: dict[str, str]) -> None:
        pos = b2c(parser.CurrentByteIndex)
        close = text.find(">", pos)
        el = XEl(name.rpartition(" ")[2], {}, pos, parent=stack[-1])
        for m in _ATTR_RAW.finditer(text, pos, close):
            g = 2 if m.group(2) is not None else 3
            el.attrs[m.group(1).rpartition(":")[2]] = (_unesc(m.group(g)), (m.start(g), m.end(g)))
        stack[-1].children.append(el)
        stack.append(el)

    def end(name: str) -> None:
        el = stack.pop()
        pos = b2c(parser.CurrentByteIndex)
        el.end = text.find(">", pos) + 1
        if not el.children:
            body_start = text.find(">", el.start) + 1
            if body_start <= pos:
                raw = text[body_start:pos]
                s = body_start + len(raw) - len(raw.lstrip())
                e = body_start + len(raw.rstrip())
                if e > s:
                    el.text = (_unesc(text[s:e]), (s, e))

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(data, True)
    return root


def _unesc(s: str) -> str:
    import html

    return html.unescape(s)


class _ByteToChar:
    """Byte offset -> character offset for monotonically rising queries (UTF-8 data)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.b, self.c = data, 0, 0

    def __call__(self, b: int) -> int:
        if b < self.b:
            self.b, self.c = 0, 0
        self.c += len(self.data[self.b : b].decode("utf-8", "replace"))
        self.b = b
        return self.c


# == CDA ===============================================================================================
PERSON_TAGS = frozenset(
    {"patient", "guardianPerson", "assignedPerson", "associatedPerson", "relatedPerson", "informationRecipient",
     "subject", "person"}
)
# roles whose addr/telecom belong to the patient or a relative (gold), or to a clinician at work
# (neutral); those of an organization are neither: a finding there is a false positive
PRIVATE_ROLES = frozenset({"patientRole", "guardian", "associatedEntity", "relatedEntity", "place", "relatedSubject"})
WORK_ROLES = frozenset(
    {"assignedEntity", "assignedAuthor", "intendedRecipient", "participantRole", "healthCareFacility"}
)
PATIENT_ID_ROOTS = ("2.16.840.1.113883.4.1", "2.16.156.10011.1.")  # US SSN, WS/T 500 patient ids
CDA_ICD = ("2.16.840.1.113883.6.3", "2.16.840.1.113883.6.90", "2.16.840.1.113883.6.103", "2.16.156.10011.2.3.3.11")
T = "2.16.840.1.113883.10.20.22.4."
PROBLEM, ALLERGY, REACTION = T + "4", T + "7", T + "9"
RESULTS = frozenset({T + "2", T + "27"})  # result observation, vital sign observation


def cda_doc(name: str, data: bytes) -> Doc:
    """Gold of one CDA document, whole text scored: persons (names, the patient's and relatives'
    ids, addresses, telecoms, birth times), problems, allergens, medications, results."""
    text = decode(data)
    doc = Doc(name, data, text)
    root = parse_xml(data, text)
    for el in root.iter():
        up = el.parent.tag if el.parent else ""
        in_body = any(a.tag == "structuredBody" for a in el.ancestors())
        if el.tag == "name" and (up in PERSON_TAGS or (up == "playingEntity" and _is_person(el))):
            parts = [c for c in el.children if c.tag in ("given", "family") and c.text]
            pieces = [c.text for c in parts if c.text] or ([el.text] if el.text else [])
            doc.add(f"{up}/name", [sp for _, sp in pieces], NAME, " ".join(v for v, _ in pieces))
        elif el.tag == "id" and "extension" in el.attrs:
            _cda_id(doc, el, up)
        elif el.tag in ("addr", "telecom") and (up in PRIVATE_ROLES or up in WORK_ROLES):
            _cda_contact(doc, el, up)
        elif el.tag == "birthTime" and "value" in el.attrs:
            v, (s, _) = el.attrs["value"]
            doc.add("birthTime", [(s, s + 8)], DOB, v[:8])
        elif el.tag == "text" and (up == "section" or in_body):
            doc.neutral.append(Zone("narrative", el.span(), ANY))
        elif el.tag in ("code", "originalText", "translation") and in_body:
            doc.neutral.append(Zone("body code", el.span(), HEALTH))
        elif el.tag == "value" and in_body and up in ("observation", "value"):
            _cda_value(doc, el) if up == "observation" else doc.neutral.append(Zone("qualifier", el.span(), HEALTH))
        elif el.tag == "manufacturedMaterial":
            code = el.find("code")
            pieces = [code.attrs["displayName"]] if code is not None and "displayName" in code.attrs else []
            nm = el.find("name")
            if nm is not None and nm.text:
                pieces.append(nm.text)
            doc.add("manufacturedMaterial", [sp for _, sp in pieces], DRUG, " ".join(v for v, _ in pieces))
        elif el.tag == "playingEntity" and _template(el, ALLERGY):
            code = el.find("code")
            if code is not None and "displayName" in code.attrs:
                v, sp = code.attrs["displayName"]
                doc.add("allergen", [sp], DRUG | DX, v)
    return doc


def _is_person(name: XEl) -> bool:
    """A playingEntity is a person (a coverage subscriber) when its name has person-name parts
    (HL7 v3 PN: given, family) or it has a birth time; otherwise it is a substance or a device."""
    holder = name.parent
    return any(c.tag in ("given", "family") for c in name.children) or (
        holder is not None and holder.find("birthTime") is not None
    )


def _template(el: XEl, root: str) -> bool:
    """Whether the nearest enclosing clinical statement carries templateId ``root``."""
    for a in [el, *el.ancestors()]:
        if a.tag in ("observation", "act", "substanceAdministration", "supply", "procedure", "encounter"):
            return any(t.attrs.get("root", ("", (0, 0)))[0] == root for t in a.findall("templateId"))
    return False


def _cda_id(doc: Doc, el: XEl, up: str) -> None:
    v, sp = el.attrs["extension"]
    root = el.attrs.get("root", ("", (0, 0)))[0]
    if up == "patientRole" or root.startswith(PATIENT_ID_ROOTS):
        doc.add(f"{up}/id", [sp], ID, v)
    elif up in WORK_ROLES or up in PRIVATE_ROLES:  # a clinician's NPI, a relative's id: a person's
        doc.neutral.append(Zone(f"{up}/id", sp, ID))


def _cda_contact(doc: Doc, el: XEl, up: str) -> None:
    if el.tag == "telecom":
        if "value" not in el.attrs:
            return
        v, (s, e) = el.attrs["value"]
        cut = len(v) - len(v.split(":", 1)[-1]) if v.startswith(("tel:", "mailto:")) else 0
        spans, value = [(s + cut, e)], v[cut:]
    else:
        parts = [c.text for c in el.children if c.tag in ("streetAddressLine", "city", "state", "county") and c.text]
        parts = parts or ([el.text] if el.text else [])
        spans, value = [sp for _, sp in parts], " ".join(v for v, _ in parts)
    if up in PRIVATE_ROLES:
        doc.add(f"{up}/{el.tag}", spans, ADDR if el.tag == "addr" else TEL, value)
    else:
        doc.neutral.append(Zone(f"{up}/{el.tag}", el.span(), ADDR | TEL | NAME))


def _cda_value(doc: Doc, el: XEl) -> None:
    """Observation values in the body: problems and reactions (DX), results and vital signs (LAB);
    other observation values are health context (neutral for health types)."""
    pieces = [el.attrs[a] for a in ("displayName", "value") if a in el.attrs]
    sysm = el.attrs.get("codeSystem", ("", (0, 0)))[0]
    if "code" in el.attrs and sysm in CDA_ICD:
        pieces.append(el.attrs["code"])
    if el.text:
        pieces.append(el.text)
    if _template(el, PROBLEM) or _template(el, REACTION):
        label, types = "problem value", DX
    elif any(_template(el, r) for r in RESULTS):
        label, types = "result value", LAB
    else:
        doc.neutral.append(Zone("observation value", el.span(), HEALTH))
        return
    if pieces:
        doc.add(label, [sp for _, sp in pieces], types, " ".join(v for v, _ in pieces))
    doc.neutral.append(Zone(label, el.span(), HEALTH))  # its other attributes (unit, code)


# == DICOM =============================================================================================
DICOM_GOLD: dict[str, frozenset[str]] = {
    "PatientID": ID, "OtherPatientIDs": ID, "AccessionNumber": ID, "PatientBirthDate": DOB,
    "PatientAddress": ADDR, "PatientTelephoneNumbers": TEL, "AdmittingDiagnosesDescription": DX,
    "AdditionalPatientHistory": DX,
}  # plus every element of VR PN (a person name, whoever it names)


def is_dicom(data: bytes, inventory: dict[str, Any]) -> bool:
    """A Part-10 file (DICM at 128) or a data set the inventory read tags from; not README, zip,
    DICOM JSON or the inventory itself."""
    return data[128:132] == b"DICM" or len(set(inventory) - {"file", "size"}) > 0


def dicom_doc(name: str, data: bytes) -> Doc | None:
    """Gold of one DICOM object, whole text scored (binary included: the engine scans it too).
    Nested sequence items are read; their offsets are checked against the bytes."""
    import pydicom

    text = decode(data)
    doc = Doc(name, data, text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=True)
        except Exception:  # unreadable object: scored with no gold
            return doc
        codec = "latin-1" if text == data.decode("latin-1") else ("utf-8" if text == data.decode("utf-8", "replace")
                                                                   else "gb18030")
        for el, start, stored in _dicom_elements(ds, data, 0):
            _dicom_gold(doc, el, start, stored, codec)
    return doc


def _dicom_elements(ds: Any, data: bytes, base: int) -> Iterator[tuple[Any, int, bytes]]:
    """(element, absolute byte offset, stored value bytes) of a data set and its sequence items.
    pydicom 3 gives items of a defined-length sequence offsets relative to the sequence's value
    and items of an undefined-length one (parsed at once, no ``value_tell``) absolute offsets;
    either reading is checked against the bytes, and an element not found there is left out."""
    for tag in list(ds.keys()):
        try:
            raw = ds.get_item(tag)
            el = ds[tag]
        except Exception:  # a damaged element has no gold
            continue
        tell, stored = getattr(raw, "value_tell", None), getattr(raw, "value", None)
        stored = bytes(stored) if isinstance(stored, (bytes, bytearray)) else b""
        at = [c for c in ((base + tell, tell) if tell is not None else ()) if stored
              and data[c : c + len(stored)] == stored]
        if el.VR == "SQ":
            child = at[0] if at else (base + tell if tell is not None else 0)
            for item in el.value or []:
                yield from _dicom_elements(item, data, child)
        elif at:
            yield el, at[0], stored


def _dicom_gold(doc: Doc, el: Any, start: int, stored: bytes, codec: str) -> None:
    """PN elements and the listed attributes are gold; other text values are the study's
    descriptions (reason for the study, contrast agent, code meanings): health context, neutral
    for health types; numbers, UIDs, binary values are neither (a finding there is wrong)."""
    kw = el.keyword or str(el.tag)
    types = NAME if el.VR == "PN" else DICOM_GOLD.get(kw)
    value = stored.rstrip(b"\x00 ")
    s = len(doc.data[:start].decode(codec, "replace"))
    e = s + len(value.decode(codec, "replace"))
    if types is None:
        if el.VR in ("LO", "LT", "SH", "ST", "UT", "UC"):
            doc.neutral.append(Zone(f"text element {kw}", (s, e), HEALTH))
        return
    shown = str(el.value).replace("^", " ").replace("=", " ")
    doc.add(kw, [(s, e)], types, shown)


# == CSV and JSON API bodies ==========================================================================
# FakeNameGenerator export (presidio-research): columns and what they hold
CSV_GOLD: dict[str, frozenset[str]] = {
    "GivenName": NAME, "Surname": NAME, "MothersMaiden": NAME, "StreetAddress": ADDR, "EmailAddress": TEL,
    "TelephoneNumber": TEL, "Birthday": DOB, "NationalID": ID, "CCNumber": CARD,
}
CSV_NEUTRAL: dict[str, frozenset[str]] = {  # parts of a name or an address: not wrong, not required
    "MiddleInitial": NAME, "City": ADDR, "State": ADDR, "StateFull": ADDR, "ZipCode": ADDR, "Country": ADDR,
    "CountryFull": ADDR,
}


def fng_rows(path: str) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def csv_doc(name: str, header: list[str], rows: list[list[str]]) -> Doc:
    """Rows written as a CSV export (``csv`` module quoting), gold by column."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    lines = [buf.getvalue()]
    cells: list[tuple[str, str, int]] = []  # column, value, start
    pos = len(lines[0])
    for row in rows:
        b = io.StringIO()
        csv.writer(b, lineterminator="\n").writerow(row)
        line = b.getvalue()
        col = 0
        for col, v in enumerate(row):
            at = _cell_start(line, col)
            cells.append((header[col], v, pos + at))
        lines.append(line)
        pos += len(line)
    text = "".join(lines)
    doc = Doc(name, text.encode(), text)
    _cells(doc, cells)
    return doc


def _cell_start(line: str, col: int) -> int:
    """Start of the value of cell ``col`` in one CSV line (inside quotes if quoted)."""
    pos, i = 0, 0
    while True:
        quoted = line.startswith('"', pos)
        if i == col:
            return pos + (1 if quoted else 0)
        if quoted:
            end = pos + 1
            while True:
                end = line.index('"', end)
                if line.startswith('""', end):
                    end += 2
                    continue
                break
            pos = end + 2
        else:
            pos = line.index(",", pos) + 1
        i += 1


# FHIR-converter's JSON samples (input of its JSON→FHIR templates): keys and what they hold
API_KEYS: dict[str, frozenset[str]] = {
    "PatientId": ID, "MRN": ID, "FirstName": NAME, "LastName": NAME, "Phone Number": TEL, "DOB": DOB,
}


def json_keys_doc(name: str, data: bytes, keys: dict[str, frozenset[str]]) -> Doc:
    """A JSON body whose leaves under the given key names are gold (lists: each item)."""
    text = decode(data)
    doc = Doc(name, data, text)
    obj = json.loads(text)
    for path, sp in json_spans(text).items():
        key = next((k for k in reversed(path) if isinstance(k, str)), "")
        if key in keys:
            doc.add(key, [sp], keys[key], str(_get(obj, path)))
    return doc


def json_api_doc(name: str, header: list[str], rows: list[list[str]]) -> Doc:
    """Rows as a JSON API list response ``{"data": [{column: value, ...}, ...]}``, keys = columns."""
    body = {"total": len(rows), "data": [dict(zip(header, r, strict=True)) for r in rows]}
    text = json.dumps(body, ensure_ascii=False)
    spans = json_spans(text)
    doc = Doc(name, text.encode(), text)
    cells = [(col, v, spans[("data", i, col)][0]) for i, r in enumerate(rows) for col, v in zip(header, r, strict=True)]
    _cells(doc, cells)
    return doc


def _cells(doc: Doc, cells: Iterable[tuple[str, str, int]]) -> None:
    for col, v, start in cells:
        if not v.strip():  # an empty cell is no field
            continue
        if col in CSV_GOLD:
            doc.add(col, [(start, start + len(v))], CSV_GOLD[col], v)
        elif col in CSV_NEUTRAL and v:
            doc.neutral.append(Zone(col, (start, start + len(v)), CSV_NEUTRAL[col]))
