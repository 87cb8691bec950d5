"""CDA extractor: WS/T 500-style Chinese shared documents (2.16.156.10011.* OIDs) and C-CDA.

Three cues, all from the catalogue:
* ``<id root="OID" extension="..."/>``: the OID names the identifier (2.16.156.10011.1.3 patient
  ID card, .1.12 inpatient no., .1.13 case no., .1.19 health card; 2.16.840.1.113883.4.1 US SSN);
* data-element codes ``<code code="DE05.01.024.00" codeSystem="2.16.156.10011.2.2.1"/>`` say what
  the sibling ``<value>`` holds (diagnosis code, diagnosis name, lab result...);
* the header ``recordTarget/patientRole``: patient name, birth time, address, telecom.
Diagnosis ``value`` codes in an ICD-10 code system are checked against the ICD-10 list.
Field paths are ``ClinicalDocument::<element>``: one document is one subject's record.
"""

from __future__ import annotations

from detectors.hit import Hit
from detectors.structured import xmlpos
from detectors.structured.base import Payload, StructuredTools, emit
from detectors.terms import StructuredSpec

ICD_SYSTEMS = frozenset({"2.16.156.10011.2.3.3.11", "2.16.840.1.113883.6.3", "2.16.840.1.113883.6.90"})
RECORD = "ClinicalDocument"


def sniff_cda(p: Payload) -> bool:
    h = p.head
    if not h.startswith("<"):
        return False
    tag, ns = xmlpos.root_tag(h)
    return tag == "ClinicalDocument" or (ns == "urn:hl7-org:v3" and tag != "")


def _emit_attr(
    out: list[Hit],
    spec: StructuredSpec,
    tools: StructuredTools,
    path: str,
    entity: str,
    el: xmlpos.Elem,
    attr: str,
    key: str,
) -> bool:
    lf = el.attrs.get(attr)
    if lf is None:
        return False
    value = lf.value.removeprefix("tel:").removeprefix("mailto:")
    shift = len(lf.value) - len(value)
    return emit(out, spec, tools, path, entity, lf.start + shift, lf.end, value, key)


def _text(el: xmlpos.Elem) -> tuple[str, int, int] | None:
    """The text of an element and its descendants (e.g. <name><family>张</family>...), with a span."""
    leaves = [e.text for e in el.iter() if e.text is not None]
    if not leaves:
        return None
    return "".join(lf.value for lf in leaves), min(lf.start for lf in leaves), max(lf.end for lf in leaves)


def _emit_text(
    out: list[Hit], spec: StructuredSpec, tools: StructuredTools, path: str, entity: str, el: xmlpos.Elem, key: str
) -> bool:
    t = _text(el)
    return bool(t) and emit(out, spec, tools, path, entity, t[1], t[2], t[0], key)  # type: ignore[index]


def _value(
    out: list[Hit], spec: StructuredSpec, tools: StructuredTools, path: str, entity: str, val: xmlpos.Elem, key: str
) -> None:
    system = val.attr("codeSystem")
    if entity in ("ICD10_CODE", "DIAGNOSIS", "SPECIAL_DISEASE") and "code" in val.attrs:
        if system in ICD_SYSTEMS or entity == "ICD10_CODE":
            _emit_attr(out, spec, tools, f"{path}/@code", "ICD10_CODE", val, "code", key)
        if "displayName" in val.attrs:
            _emit_attr(out, spec, tools, f"{path}/@displayName", "DIAGNOSIS", val, "displayName", key)
        return
    for attr in ("value", "displayName", "extension"):
        if attr in val.attrs:
            _emit_attr(out, spec, tools, f"{path}/@{attr}", entity, val, attr, key)
            return
    _emit_text(out, spec, tools, path, entity, val, key)


def _patient(out: list[Hit], spec: StructuredSpec, tools: StructuredTools, root: xmlpos.Elem) -> None:
    for rt in (e for e in root.children if e.tag == "recordTarget"):
        role = rt.find("patientRole")
        if role is None:
            continue
        base = f"{RECORD}::recordTarget/patientRole"
        for i, pid in enumerate(role.findall("id")):  # an id of the patient role names the patient
            if pid.attr("root") not in spec.fields and "extension" in pid.attrs:
                _emit_attr(
                    out, spec, tools, f"{base}/id[{i}]", "MEDICAL_RECORD_NUMBER", pid, "extension", "patientRole/id"
                )
        for i, tel in enumerate(role.findall("telecom")):
            v = tel.attr("value")
            ent = "EMAIL_ADDRESS" if v.startswith("mailto:") else "PHONE_NUMBER"
            _emit_attr(out, spec, tools, f"{base}/telecom[{i}]", ent, tel, "value", "patientRole/telecom")
        for i, addr in enumerate(role.findall("addr")):
            _emit_text(out, spec, tools, f"{base}/addr[{i}]", "ADDRESS", addr, "patientRole/addr")
        pat = role.find("patient")
        if pat is None:
            continue
        for i, name in enumerate(pat.findall("name")):
            _name(out, spec, tools, f"{base}/patient/name[{i}]", name)
        bt = pat.find("birthTime")
        if bt is not None:
            lf = bt.attrs.get("value")
            if lf is not None and len(lf.value) >= 8:
                emit(
                    out,
                    spec,
                    tools,
                    f"{base}/patient/birthTime",
                    "DATE_OF_BIRTH",
                    lf.start,
                    lf.start + 8,
                    lf.value[:8],
                    "patient/birthTime",
                )


def _name(out: list[Hit], spec: StructuredSpec, tools: StructuredTools, path: str, name: xmlpos.Elem) -> None:
    fam = name.find("family")
    given = name.findall("given")
    parts = [p.text for p in ([fam] if fam else []) + given if p.text is not None]
    if parts:
        cjk = all(ord(ch) > 0x2E7F for p in parts for ch in p.value)
        value = ("" if cjk else " ").join(p.value for p in parts)
        emit(
            out,
            spec,
            tools,
            path,
            "PERSON_NAME",
            min(p.start for p in parts),
            max(p.end for p in parts),
            value,
            "patient/name",
        )
    else:
        t = _text(name)
        if t:
            emit(out, spec, tools, path, "PERSON_NAME", t[1], t[2], t[0], "patient/name", trusted=True)


def extract_cda(p: Payload, spec: StructuredSpec, tools: StructuredTools) -> list[Hit]:
    out: list[Hit] = []
    try:
        root = xmlpos.parse(p.text, len(p.text) - len(p.text.lstrip("\ufeff \t\r\n")))
    except xmlpos.XmlPosError:
        tools.stats["structured_cda_broken"] += 1
        return out
    fields = spec.fields
    _patient(out, spec, tools, root)
    n_id = 0
    for el in root.iter():
        if el.tag == "id":
            f = fields.get(el.attr("root"))
            if f is not None and "extension" in el.attrs:
                _emit_attr(out, spec, tools, f"{RECORD}::id[{n_id}]", f.entity, el, "extension", f.path)
                n_id += 1
            continue
        if el.tag == "manufacturedMaterial":  # medication: its code's name or the material name
            mcode = el.find("code")
            if mcode is not None and "displayName" in mcode.attrs:
                _emit_attr(
                    out,
                    spec,
                    tools,
                    f"{RECORD}::manufacturedMaterial/code",
                    "DRUG",
                    mcode,
                    "displayName",
                    "manufacturedMaterial",
                )
            continue
        code = el.find("code")
        f = fields.get(code.attr("code")) if code is not None else None
        if f is None:
            if el.tag == "observation":  # measured results (xsi:type PQ) are lab/exam data
                for j, val in enumerate(el.findall("value")):
                    if val.attr("type") == "PQ" and "value" in val.attrs:
                        _emit_attr(
                            out,
                            spec,
                            tools,
                            f"{RECORD}::observation/value[{j}]",
                            "LAB_RESULT",
                            val,
                            "value",
                            "observation/value",
                        )
            continue
        for j, val in enumerate(el.findall("value")):
            _value(out, spec, tools, f"{RECORD}::{f.path}[{j}]", f.entity, val, f.path)
    return out
