"""CDA extractor: WS/T 500-style Chinese shared documents (2.16.156.10011.* OIDs) and C-CDA.

Three cues, all from the catalogue:
* ``<id root="OID" extension="..."/>``: the OID names the identifier (2.16.156.10011.1.3 patient
  ID card, .1.12 inpatient no., .1.13 case no., .1.19 health card; 2.16.840.1.113883.4.1 US SSN);
* data-element codes ``<code code="DE05.01.024.00" codeSystem="2.16.156.10011.2.2.1"/>`` say what
  the sibling ``<value>`` holds (diagnosis code, diagnosis name, lab result...);
* the header ``recordTarget/patientRole``: patient name, birth time, address, telecom.
Diagnosis ``value`` codes in an ICD-10 code system are checked against the ICD-10 list.
Beyond the patient, the layout says who else a value belongs to: every person element
(assignedPerson, associatedPerson, relatedPerson, guardianPerson, informationRecipient, a family
member's subject, a playingEntity named with given/family parts) carries a person's name and
birth time; the addresses and telecoms of the
patient's relatives and guardians (guardian, associatedEntity, relatedEntity, birthplace) are
theirs. C-CDA R2.1 templates name clinical statements: problem and reaction observations hold a
diagnosis in ``value``, allergy observations an allergen in ``participant/playingEntity``.
An organisation's name, address and telecom and the code-system metadata (``codeSystemName``,
OIDs) are no personal data: they are marked quiet, so free-text detectors do not report them.
Field paths are ``ClinicalDocument::<element>``: one document is one subject's record.
"""

from __future__ import annotations

from detectors.hit import Hit
from detectors.structured import xmlpos
from detectors.structured.base import Payload, StructuredTools, emit
from detectors.structured.jsonpos import Leaf
from detectors.terms import StructuredSpec

ICD_SYSTEMS = frozenset({"2.16.156.10011.2.3.3.11", "2.16.840.1.113883.6.3", "2.16.840.1.113883.6.90"})
RECORD = "ClinicalDocument"
#: elements that stand for a person: their <name> is a person's name (the patient's is read apart)
PERSONS = frozenset(
    {"assignedPerson", "associatedPerson", "relatedPerson", "guardianPerson", "informationRecipient", "subject"}
)
#: roles whose addr/telecom are a relative's or guardian's own (a clinician's are the workplace's)
PRIVATE_ROLES = frozenset({"guardian", "associatedEntity", "relatedEntity", "place"})
#: C-CDA R2.1 clinical statement templates (2.16.840.1.113883.10.20.22.4.x)
_T = "2.16.840.1.113883.10.20.22.4."
DIAGNOSIS_TEMPLATES = frozenset({_T + "4", _T + "9"})  # problem observation, reaction observation
ALLERGY_TEMPLATE = _T + "7"
DRUG_SYSTEMS = frozenset({"2.16.840.1.113883.6.88", "2.16.840.1.113883.6.69", "2.16.840.1.113883.4.9"})
#: attributes that name code systems and assigning authorities: metadata, never personal data
META_ATTRS = ("codeSystem", "codeSystemName", "codeSystemVersion", "root", "assigningAuthorityName")


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


def _people(out: list[Hit], spec: StructuredSpec, tools: StructuredTools, root: xmlpos.Elem) -> None:
    """Names and birth times of every person element but the patient; relatives' contacts."""
    n = 0
    for el in root.iter():
        if el.tag in PERSONS or (el.tag == "playingEntity" and _is_person(el)):
            for name in el.findall("name"):
                _name(out, spec, tools, f"{RECORD}::{el.tag}/name[{n}]", name)
                n += 1
            bt = el.find("birthTime")
            if bt is not None and len(bt.attr("value")) >= 8:
                lf = bt.attrs["value"]
                emit(out, spec, tools, f"{RECORD}::{el.tag}/birthTime", "DATE_OF_BIRTH", lf.start, lf.start + 8,
                     lf.value[:8], "person/birthTime")
        elif el.tag in PRIVATE_ROLES:
            _contacts(out, spec, tools, f"{RECORD}::{el.tag}", el)


def _is_person(entity: xmlpos.Elem) -> bool:
    """A playingEntity (usually a substance or a device) is a person, e.g. a coverage subscriber,
    when its name has person-name parts (HL7 v3 PN: given, family) or it has a birth time."""
    if entity.find("birthTime") is not None:
        return True
    return any(c.tag in ("given", "family") for n in entity.findall("name") for c in n.children)


def _contacts(out: list[Hit], spec: StructuredSpec, tools: StructuredTools, base: str, role: xmlpos.Elem) -> None:
    for i, tel in enumerate(role.findall("telecom")):
        ent = "EMAIL_ADDRESS" if tel.attr("value").startswith("mailto:") else "PHONE_NUMBER"
        _emit_attr(out, spec, tools, f"{base}/telecom[{i}]", ent, tel, "value", f"{role.tag}/telecom")
    for i, addr in enumerate(role.findall("addr")):
        _emit_text(out, spec, tools, f"{base}/addr[{i}]", "ADDRESS", addr, f"{role.tag}/addr")


def _templates(el: xmlpos.Elem) -> set[str]:
    return {t.attr("root") for t in el.findall("templateId")}


def _clinical(out: list[Hit], spec: StructuredSpec, tools: StructuredTools, el: xmlpos.Elem) -> None:
    """Problem/reaction observation values (diagnoses) and allergy observations' allergens."""
    tids = _templates(el)
    if tids & DIAGNOSIS_TEMPLATES:
        for j, val in enumerate(el.findall("value")):
            _value(out, spec, tools, f"{RECORD}::problem/value[{j}]", "DIAGNOSIS", val, "problem/value")
    if ALLERGY_TEMPLATE in tids:
        for part in el.findall("participant"):
            role = part.find("participantRole")
            ent = role.find("playingEntity") if role is not None else None
            code = ent.find("code") if ent is not None else None
            if code is not None and "displayName" in code.attrs:
                kind = "DRUG" if code.attr("codeSystem") in DRUG_SYSTEMS else "DIAGNOSIS"
                _emit_attr(out, spec, tools, f"{RECORD}::allergy/allergen", kind, code, "displayName", "allergen")


def _quiet(p: Payload, root: xmlpos.Elem) -> None:
    """Organisations' names, addresses and telecoms, and code-system metadata: no personal data."""
    for el in root.iter():
        for a in META_ATTRS:
            if a in el.attrs:
                p.quiet.append((el.attrs[a].start, el.attrs[a].end))
        if el.tag.endswith("Organization"):
            for part in el.children:
                if part.tag in ("name", "addr", "telecom"):
                    for leaf in _leaves(part):
                        p.quiet.append((leaf.start, leaf.end))


def _leaves(el: xmlpos.Elem) -> list[Leaf]:
    return [x for e in el.iter() for x in [e.text, *e.attrs.values()] if x is not None]


def extract_cda(p: Payload, spec: StructuredSpec, tools: StructuredTools) -> list[Hit]:
    out: list[Hit] = []
    try:
        root = xmlpos.parse(p.text, len(p.text) - len(p.text.lstrip("\ufeff \t\r\n")))
    except xmlpos.XmlPosError:
        tools.stats["structured_cda_broken"] += 1
        return out
    fields = spec.fields
    _patient(out, spec, tools, root)
    _people(out, spec, tools, root)
    _quiet(p, root)
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
        if el.tag in ("observation", "act"):
            _clinical(out, spec, tools, el)
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
