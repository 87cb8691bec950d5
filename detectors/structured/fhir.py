"""FHIR extractor: Patient, Condition, Observation, MedicationRequest resources, in JSON, XML,
Bundles and bulk ndjson (one resource per line).

The catalogue says which element of which resource is which entity ("Patient.identifier",
"Condition.code"...); this module knows how to read each FHIR data type (Identifier, HumanName,
ContactPoint, Address, CodeableConcept, value[x]). Identifier systems and type codes choose the
entity (``by_type_code``: the WS/T 500 ID-card OID 2.16.156.10011.1.3 or type NI is a resident ID,
MR a record number, SS an insurance number); the value is still validated.
Field paths are ``<record>::<element path>`` where the record is the resource (``Patient``,
``entry[3].Patient``, ``line[7].Patient``), so subjects are counted once per resource.
"""

from __future__ import annotations

from collections.abc import Iterator

from detectors.hit import Hit
from detectors.structured import jsonpos, xmlpos
from detectors.structured.base import Payload, StructuredTools, emit
from detectors.structured.jsonpos import JsonPosError, Leaf, Node
from detectors.terms import FieldSpec, StructuredSpec

FHIR_NS = "http://hl7.org/fhir"
ICD_SYSTEMS = ("icd-10", "icd10", "2.16.840.1.113883.6.3", "2.16.840.1.113883.6.90", "2.16.156.10011.2.3.3.11")


def sniff_fhir(p: Payload) -> bool:
    h = p.head
    if h.startswith("{"):
        return '"resourceType"' in p.text[:8192]
    if h.startswith("<"):
        return xmlpos.root_tag(h)[1] == FHIR_NS
    return p.content_type in ("application/fhir+json", "application/fhir+xml")


# -- tree helpers (JSON and converted XML have the same shape) ---------------------------------------
def as_list(n: Node | None) -> list[Node]:
    if n is None:
        return []
    return n if isinstance(n, list) else [n]


def get(n: Node | None, key: str) -> Node | None:
    return n.get(key) if isinstance(n, dict) else None


def leaf(n: Node | None, key: str) -> Leaf | None:
    v = get(n, key)
    if isinstance(v, list):
        v = v[0] if v else None
    return v if isinstance(v, Leaf) else None


def xml_to_node(e: xmlpos.Elem) -> Node:
    """FHIR XML → the JSON shape: ``<x value="v"/>`` is a leaf; a contained resource gets a
    ``resourceType``; repeated elements become lists."""
    if not e.children and "value" in e.attrs:
        return e.attrs["value"]
    out: dict[str, Node] = {}
    if e.tag in ("resource", "contained") and len(e.children) == 1:
        return xml_to_node_resource(e.children[0])
    for c in e.children:
        if c.tag == "div":
            continue
        val = xml_to_node(c)
        cur = out.get(c.tag)
        if cur is None:
            out[c.tag] = val
        elif isinstance(cur, list):
            cur.append(val)
        else:
            out[c.tag] = [cur, val]
    for attr in ("value", "url"):  # an extension's url is an attribute in XML
        if attr in e.attrs:
            out[attr] = e.attrs[attr]
    return out


def xml_to_node_resource(e: xmlpos.Elem) -> Node:
    node = xml_to_node(e)
    if isinstance(node, dict):
        node["resourceType"] = Leaf(e.tag, e.start, e.start)
    return node


def resources(node: Node, record: str) -> Iterator[tuple[str, dict[str, Node]]]:
    """(record key, resource) for a resource and, for a Bundle, its entries."""
    if not isinstance(node, dict):
        return
    rt = leaf(node, "resourceType")
    kind = rt.value if rt else ""
    if kind == "Bundle":
        for i, entry in enumerate(as_list(get(node, "entry"))):
            res = get(entry, "resource")
            if isinstance(res, dict):
                yield from resources(res, f"{record}entry[{i}].")
        return
    if kind:
        yield f"{record}{kind}", node


# -- data-type readers --------------------------------------------------------------------------------
class Ctx:
    def __init__(self, spec: StructuredSpec, tools: StructuredTools, out: list[Hit]) -> None:
        self.spec, self.tools, self.out = spec, tools, out

    def emit(self, path: str, entity: str, lf: Leaf, key: str) -> bool:
        return emit(self.out, self.spec, self.tools, path, entity, lf.start, lf.end, lf.value, key, True)

    def emit_span(self, path: str, entity: str, leaves: list[Leaf], value: str, key: str) -> bool:
        if not leaves:
            return False
        s, e = min(lf.start for lf in leaves), max(lf.end for lf in leaves)
        return emit(self.out, self.spec, self.tools, path, entity, s, e, value, key, True)


def _system_key(system: str) -> str:
    return system.removeprefix("urn:oid:").strip()


def _identifier(c: Ctx, f: FieldSpec, path: str, n: Node) -> None:
    val = leaf(n, "value")
    if val is None:
        return
    system = leaf(n, "system")
    entity = f.by_type_code.get(_system_key(system.value)) if system else None
    if entity is None:
        for coding in as_list(get(get(n, "type"), "coding")):
            code = leaf(coding, "code")
            if code and code.value in f.by_type_code:
                entity = f.by_type_code[code.value]
                break
    c.emit(f"{path}.value", entity or f.entity, val, f.path)


def _name(c: Ctx, f: FieldSpec, path: str, n: Node) -> None:
    text = leaf(n, "text")
    family = leaf(n, "family")
    given = [g for g in as_list(get(n, "given")) if isinstance(g, Leaf)]
    parts = ([family] if family else []) + given
    if parts:
        cjk = all(ord(ch) > 0x2E7F for p in parts for ch in p.value.strip())
        value = ("" if cjk else " ").join(p.value.strip() for p in parts)
        c.emit_span(path, f.entity, parts, value, f.path)
    elif text:
        c.emit(path, f.entity, text, f.path)


def _telecom(c: Ctx, f: FieldSpec, path: str, n: Node) -> None:
    val = leaf(n, "value")
    if val is None:
        return
    system = leaf(n, "system")
    entity = f.by_type_code.get(system.value if system else "", f.entity)
    if not system and "@" in val.value:
        entity = "EMAIL_ADDRESS"
    c.emit(path, entity, val, f.path)


def _address(c: Ctx, f: FieldSpec, path: str, n: Node) -> None:
    text = leaf(n, "text")
    if text:
        c.emit(path, f.entity, text, f.path)
        return
    parts = [p for p in as_list(get(n, "line")) if isinstance(p, Leaf)]
    parts += [lf for k in ("district", "city", "state") if (lf := leaf(n, k))]
    parts.sort(key=lambda lf: lf.start)
    c.emit_span(path, f.entity, parts, " ".join(p.value for p in parts), f.path)


def _date(c: Ctx, f: FieldSpec, path: str, n: Node) -> None:
    if isinstance(n, Leaf):
        c.emit(path, f.entity, n, f.path)


def _codeable_diagnosis(c: Ctx, f: FieldSpec, path: str, n: Node) -> None:
    done = False
    for i, coding in enumerate(as_list(get(n, "coding"))):
        code, system, display = leaf(coding, "code"), leaf(coding, "system"), leaf(coding, "display")
        sys_l = system.value.lower() if system else ""
        if code and (not sys_l or any(s in sys_l for s in ICD_SYSTEMS)):
            done |= c.emit(f"{path}.coding[{i}].code", "ICD10_CODE", code, f.path)
        if display:
            done |= c.emit(f"{path}.coding[{i}].display", f.entity, display, f.path)
    text = leaf(n, "text")
    if text:
        c.emit(f"{path}.text", f.entity, text, f.path)


def _codeable_text(c: Ctx, f: FieldSpec, path: str, n: Node) -> None:
    text = leaf(n, "text")
    if text:
        c.emit(f"{path}.text", f.entity, text, f.path)
    for i, coding in enumerate(as_list(get(n, "coding"))):
        display = leaf(coding, "display")
        if display:
            c.emit(f"{path}.coding[{i}].display", f.entity, display, f.path)
    ref = leaf(n, "display")  # a Reference
    if ref:
        c.emit(f"{path}.display", f.entity, ref, f.path)


def _value_x(c: Ctx, f: FieldSpec, path: str, res: dict[str, Node]) -> None:
    for key, n in res.items():
        if not key.startswith("value"):
            continue
        if isinstance(n, Leaf):
            c.emit(f"{path}{key}", f.entity, n, f.path)
        elif key == "valueQuantity":
            v = leaf(n, "value")
            if v:
                c.emit(f"{path}{key}.value", f.entity, v, f.path)
        elif key == "valueCodeableConcept":
            _codeable_text(c, f, f"{path}{key}", n)
    for i, comp in enumerate(as_list(res.get("component"))):
        if isinstance(comp, dict):
            _value_x(c, f, f"{path}component[{i}].", comp)


#: core extensions (url suffix) read like the element they stand for
EXTENSIONS = {"mothersMaidenName": "patient-mothersMaidenName", "birthPlace": "patient-birthPlace"}


def _extension(c: Ctx, f: FieldSpec, record: str, res: dict[str, Node], attr: str) -> None:
    """``Patient.mothersMaidenName`` and ``Patient.birthPlace`` are FHIR core extensions: a
    valueString name, a valueAddress place."""
    for i, ext in enumerate(as_list(res.get("extension"))):
        url = leaf(ext, "url")
        if url is None or not url.value.endswith("/" + EXTENSIONS[attr]):
            continue
        path = f"{record}::extension[{i}]"
        if (name := leaf(ext, "valueString")) is not None:
            c.emit(path, f.entity, name, f.path)
        if (addr := get(ext, "valueAddress")) is not None:
            _address(c, f, path, addr)


def _references(c: Ctx, f: FieldSpec, record: str, node: Node, path: str = "") -> None:
    """Reference.display anywhere in a resource, typed by the referenced resource type
    (``by_type_code``: Practitioner/Patient/RelatedPerson → a person's name, Condition → a
    diagnosis, Medication → a drug). Contained resources are read as resources of their own."""
    if isinstance(node, list):
        for i, n in enumerate(node):
            _references(c, f, record, n, f"{path}[{i}]")
        return
    if not isinstance(node, dict):
        return
    ref, disp = leaf(node, "reference"), leaf(node, "display")
    if ref is not None and disp is not None:
        entity = f.by_type_code.get(ref.value.split("/")[-2] if "/" in ref.value else "")
        if entity:
            c.emit(f"{record}::{path.lstrip('.')}.display", entity, disp, f.path)
    for k, v in node.items():
        if k not in ("contained", "text", "resourceType") and not isinstance(v, Leaf):
            _references(c, f, record, v, f"{path}.{k}")


def _contact(c: Ctx, f: FieldSpec, path: str, n: Node) -> None:
    """Patient.contact (next of kin, guardian): a name, telecoms and an address of a person."""
    for key, reader, entity in (("name", _name, "PERSON_NAME"), ("address", _address, "ADDRESS")):
        for i, part in enumerate(as_list(get(n, key))):
            reader(c, FieldSpec(f.path, entity, {}), f"{path}.{key}[{i}]", part)
    for i, tel in enumerate(as_list(get(n, "telecom"))):
        _telecom(c, FieldSpec(f.path, "PHONE_NUMBER", TELECOM_SYSTEMS), f"{path}.telecom[{i}]", tel)


TELECOM_SYSTEMS = {"phone": "PHONE_NUMBER", "sms": "PHONE_NUMBER", "email": "EMAIL_ADDRESS"}


def extract_resource(c: Ctx, record: str, kind: str, res: dict[str, Node]) -> None:
    for key, f in c.spec.fields.items():
        rtype, _, attr = key.partition(".")
        if rtype == "Reference" and attr == "display":
            _references(c, f, record, res)
            continue
        if rtype != kind:
            continue
        if attr in EXTENSIONS:
            _extension(c, f, record, res, attr)
            continue
        if attr == "value":
            _value_x(c, f, f"{record}::", res)
            continue
        if attr == "medication":
            for k in ("medicationCodeableConcept", "medicationReference", "medication"):
                for n in as_list(res.get(k)):
                    node = get(n, "concept") or n
                    _codeable_text(c, f, f"{record}::{k}", node)
            continue
        reader = READERS.get(attr)
        if reader is None:
            continue
        for i, n in enumerate(as_list(res.get(attr))):
            reader(c, f, f"{record}::{attr}[{i}]", n)


READERS = {
    "identifier": _identifier,
    "name": _name,
    "telecom": _telecom,
    "address": _address,
    "birthDate": _date,
    "code": _codeable_diagnosis,
    "reasonCode": _codeable_diagnosis,
    "contact": _contact,
}


def _documents(p: Payload, tools: StructuredTools) -> Iterator[tuple[Node, str]]:
    text = p.text
    if p.head.startswith("<"):
        root = xmlpos.parse(text, len(text) - len(text.lstrip("\ufeff \t\r\n")))
        yield xml_to_node_resource(root), ""
        return
    lead = len(text) - len(text.lstrip("\ufeff \t\r\n"))
    try:
        yield jsonpos.loads(text, lead), ""
        return
    except JsonPosError:
        pass
    pos, line_no = lead, 0
    while pos < len(text):  # bulk ndjson: one resource per line; a broken line is counted, not fatal
        nl = text.find("\n", pos)
        end = len(text) if nl < 0 else nl
        if text[pos:end].strip():
            try:
                yield jsonpos.loads(text, pos, end), f"line[{line_no}]."
            except JsonPosError:
                tools.stats["structured_fhir_bad_line"] += 1
            line_no += 1
        pos = end + 1


def extract_fhir(p: Payload, spec: StructuredSpec, tools: StructuredTools) -> list[Hit]:
    out: list[Hit] = []
    c = Ctx(spec, tools, out)
    try:
        for node, record in _documents(p, tools):
            for rec, res in resources(node, record):
                kind = rec.rpartition(".")[2]
                extract_resource(c, rec, kind, res)
    except (JsonPosError, xmlpos.XmlPosError):
        tools.stats["structured_fhir_broken"] += 1
    return out
